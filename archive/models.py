"""The system of record: cases (案件), sealed bundles (封存案卷包), their files and records."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.db import Base, UTCDateTime


class Case(Base):
    """A closed enforcement case; its bundles are its archived versions."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(128), unique=True)
    title: Mapped[str] = mapped_column(String(512))
    enforcement_type: Mapped[str] = mapped_column(String(32))
    closed_at: Mapped[date]

    bundles: Mapped[list[Bundle]] = relationship(back_populates="case", order_by="Bundle.version")
    # As the newest version's case.json names them, for finding the case (检索); no ID numbers.
    parties: Mapped[list[CaseParty]] = relationship(order_by="CaseParty.id", cascade="all, delete-orphan")


class CaseParty(Base):
    """A party or interested party (当事人) of a case, by name: what the catalogue is searched by."""

    __tablename__ = "case_parties"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    name: Mapped[str] = mapped_column(String(512), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(24))


class Bundle(Base):
    """One sealed, immutable version of a case file."""

    __tablename__ = "bundles"
    __table_args__ = (UniqueConstraint("case_id", "version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    version: Mapped[int]
    previous_id: Mapped[str | None] = mapped_column(ForeignKey("bundles.id"))
    prefix: Mapped[str] = mapped_column(String(128))
    classification: Mapped[str] = mapped_column(String(32))
    grade: Mapped[str | None] = mapped_column(String(16))
    digests: Mapped[str] = mapped_column(String(64))
    payload_bytes: Mapped[int] = mapped_column(BigInteger)
    payload_files: Mapped[int]
    tagmanifest_sha256: Mapped[str] = mapped_column(String(64))
    seal_kid: Mapped[str] = mapped_column(String(64))
    seal_digest: Mapped[str] = mapped_column(String(64), unique=True)
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sealed_by: Mapped[str] = mapped_column(String(128))
    retain_until: Mapped[datetime] = mapped_column(UTCDateTime())
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)

    case: Mapped[Case] = relationship(back_populates="bundles")
    previous: Mapped[Bundle | None] = relationship(remote_side="Bundle.id")
    files: Mapped[list[BundleFile]] = relationship(order_by="BundleFile.path")
    records: Mapped[list[CaseRecord]] = relationship(order_by="CaseRecord.id")


class BundleFile(Base):
    """Every stored object of a bundle: payload and tag files, with digests and S3 version."""

    __tablename__ = "bundle_files"
    __table_args__ = (UniqueConstraint("bundle_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bundle_id: Mapped[str] = mapped_column(ForeignKey("bundles.id"), index=True)
    path: Mapped[str] = mapped_column(String(1024))
    key: Mapped[str] = mapped_column(String(1200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    sm3: Mapped[str | None] = mapped_column(String(64))
    version_id: Mapped[str | None] = mapped_column(String(128))


class CaseRecord(Base):
    """A record (文字记录 or 音像记录) of a bundle, as case.json described it."""

    __tablename__ = "case_records"
    __table_args__ = (UniqueConstraint("bundle_id", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bundle_id: Mapped[str] = mapped_column(ForeignKey("bundles.id"), index=True)
    record_id: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(1024))
    kind: Mapped[str] = mapped_column(String(8))
    doc_type: Mapped[str] = mapped_column(String(32))
    stage: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    classification: Mapped[str] = mapped_column(String(32))
    grade: Mapped[str | None] = mapped_column(String(16))
    av: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
