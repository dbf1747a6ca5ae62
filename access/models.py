"""Identities (用户), retrieval grants (调取授权), applicants (申请人) and holiday tables (节假日安排).

The disclosure requests' own tables are in `access.disclosure.models`."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

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

    @property
    def zh(self) -> str:
        """The department's name in Chinese, as pages, the register's CSV and `trace` say it."""
        return DEPARTMENT_NAMES[self]


DEPARTMENT_NAMES = {
    Department.superior: "上级部门",
    Department.supervision: "监察",
    Department.legal: "法制",
    Department.petition: "信访",
}


def department_name(value: str | None) -> str | None:
    """A stored department code in Chinese (an unknown code as it is; None for none)."""
    if not value:
        return None
    return Department(value).zh if value in Department.__members__ else value


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
    # The registered request (调取登记) this grant answers; None only for grants made by hand.
    request_id: Mapped[int | None] = mapped_column(ForeignKey("retrieval_requests.id"), index=True)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoke_reason: Mapped[str | None] = mapped_column(Text)

    request: Mapped[RetrievalRequest | None] = relationship(back_populates="grant")
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])


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


class RequestStatus(StrEnum):
    """Where a retrieval request stands."""

    pending = "pending"  # 待审批
    approved = "approved"  # 已批准
    refused = "refused"  # 不予批准
    revoked = "revoked"  # 已撤销


class RetrievalRequest(Base):
    """A registered retrieval request (调取登记): who wants which records of a case, why, for how long."""

    __tablename__ = "retrieval_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # Copied from the requester's account when filed, so the register keeps it if the account changes.
    department: Mapped[str | None] = mapped_column(String(32), index=True)
    case_no: Mapped[str] = mapped_column(String(128), index=True)
    bundle_id: Mapped[str] = mapped_column(ForeignKey("bundles.id"), index=True)
    record_ids: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    actions: Mapped[list[str]] = mapped_column(JSON)
    days: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), index=True, default=RequestStatus.pending.value)
    decider_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
    decider: Mapped[User | None] = relationship(foreign_keys=[decider_id])
    grant: Mapped[RetrievalGrant | None] = relationship(back_populates="request")


class Applicant(Base):
    """A party or interested party (申请人) registered on the public portal; the ID number is sealed."""

    __tablename__ = "applicants"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    id_type: Mapped[str] = mapped_column(String(24))
    # AES-256-GCM, bound to the applicant's username; only the masked form is ever shown.
    id_number_sealed: Mapped[str] = mapped_column(Text)
    id_number_masked: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32))
    email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class HolidayYear(Base):
    """A year's holiday table (节假日安排) entered by an administrator for years the official data lacks."""

    __tablename__ = "holiday_years"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    entered_by: Mapped[str] = mapped_column(String(64))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HolidayDay(Base):
    """One exception to Monday–Friday: a weekday holiday, or a swapped working weekend day (调休)."""

    __tablename__ = "holiday_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(index=True)
    workday: Mapped[bool]
    name: Mapped[str | None] = mapped_column(String(64))


class NoticeRead(Base):
    """Which of a user's notices they have read: the keys of those shown the last time they looked."""

    __tablename__ = "notice_reads"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, autoincrement=False)
    seen: Mapped[list[str]] = mapped_column(JSON)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime())
