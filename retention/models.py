"""The retention schedule as data: versions, their rules, and the bundles each change moved."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.db import Base, UTCDateTime
from archive.models import Bundle


class ScheduleVersion(Base):
    """One version of the schedule (保管期限表); the newest is in force. Never changed once made."""

    __tablename__ = "retention_schedule_versions"

    id: Mapped[int] = mapped_column(primary_key=True)  # the version number
    # The version this one changed; unique, so two edits of the same version cannot both commit.
    based_on: Mapped[int | None] = mapped_column(ForeignKey("retention_schedule_versions.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    change: Mapped[str] = mapped_column(String(16))  # seed, add, change, retire
    rule_code: Mapped[str | None] = mapped_column(String(32))  # the rule the change was about

    rules: Mapped[list[RetentionRule]] = relationship(order_by="RetentionRule.code")
    moves: Mapped[list[ScheduleMove]] = relationship(order_by="ScheduleMove.id")


class RetentionRule(Base):
    """A rule of one version; `code` names the same rule across versions."""

    __tablename__ = "retention_rules"
    __table_args__ = (UniqueConstraint("version_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("retention_schedule_versions.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(256))
    enforcement_type: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str | None] = mapped_column(String(8))
    doc_type: Mapped[str | None] = mapped_column(String(32))
    evidence: Mapped[bool | None]
    term: Mapped[str] = mapped_column(String(16))
    count: Mapped[int | None]
    counts_from: Mapped[str] = mapped_column(String(16))
    basis: Mapped[str] = mapped_column(String(256))


class ScheduleMove(Base):
    """A bundle whose disposition date a schedule change moved, and the lock it needs."""

    __tablename__ = "retention_schedule_moves"
    __table_args__ = (UniqueConstraint("version_id", "bundle_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("retention_schedule_versions.id"), index=True)
    bundle_id: Mapped[str] = mapped_column(ForeignKey("bundles.id"), index=True)
    old_date: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: permanent
    new_date: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: permanent
    # What the objects' locks must be extended to; None when the change shortened the date
    # (an Object Lock in COMPLIANCE mode is never shortened: it stays where it was).
    lock_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when the extension was done

    bundle: Mapped[Bundle] = relationship()
