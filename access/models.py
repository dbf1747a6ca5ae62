"""Identities (用户) and retrieval grants (调取授权)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from archive.db import Base, UTCDateTime


class Role(StrEnum):
    """Who a user is to the archive; the three admin roles (三员) never read content."""

    archivist = "archivist"  # 档案管理员
    archive_manager = "archive_manager"  # 档案负责人
    supervisor = "supervisor"  # 上级部门、监察、法制、信访
    disclosure_officer = "disclosure_officer"  # 信息公开经办人
    security_auditor = "security_auditor"  # 安全审计员
    security_admin = "security_admin"  # 安全保密管理员
    sysadmin = "sysadmin"  # 系统管理员
    applicant = "applicant"  # 申请人 (public portal only)


class Department(StrEnum):
    """Supervisory departments that may retrieve records (rules art. 18)."""

    superior = "superior"  # 上级部门
    supervision = "supervision"  # 监察
    legal = "legal"  # 法制
    petition = "petition"  # 信访


class Clearance(StrEnum):
    """The highest state-secret grade a user may read."""

    none = "none"
    confidential = "confidential"
    secret = "secret"
    top_secret = "top_secret"


class User(Base):
    """A person who signs in, locally (argon2id) or through single sign-on."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    department: Mapped[str | None] = mapped_column(String(32))
    clearance: Mapped[str] = mapped_column(String(16), default=Clearance.none.value)
    password_hash: Mapped[str | None] = mapped_column(String(256))
    sso_subject: Mapped[str | None] = mapped_column(String(256), unique=True)
    disabled: Mapped[bool] = mapped_column(default=False)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Bumped on password change or disable: every token issued before stops working.
    token_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RetrievalGrant(Base):
    """An approved, time-limited permission for one supervisor to use chosen records."""

    __tablename__ = "retrieval_grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    grantee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    bundle_id: Mapped[str] = mapped_column(ForeignKey("bundles.id"), index=True)
    record_ids: Mapped[list[str]] = mapped_column(JSON)
    actions: Mapped[list[str]] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebSession(Base):
    """A signed-in browser: only the SHA-256 of its cookie value is stored."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    token_version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
