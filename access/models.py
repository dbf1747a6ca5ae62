"""Identities (用户), retrieval grants (调取授权) and information-disclosure requests (依申请公开)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Text
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


class DisclosureStatus(StrEnum):
    """Where a disclosure request stands."""

    received = "received"  # 已受理，办理中
    awaiting_correction = "awaiting_correction"  # 待补正
    in_consultation = "in_consultation"  # 征求第三方意见
    decided = "decided"  # 已答复
    withdrawn = "withdrawn"  # 视为放弃申请 (no correction in time)


class DisclosureRequest(Base):
    """An information-disclosure request (政府信息公开申请) and every date its deadline depends on."""

    __tablename__ = "disclosure_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(24), unique=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("applicants.id"), index=True)
    relation: Mapped[str] = mapped_column(String(24))
    case_no: Mapped[str | None] = mapped_column(String(128), index=True)
    description: Mapped[str] = mapped_column(Text)
    delivery: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(24), index=True, default=DisclosureStatus.received.value)
    received_on: Mapped[date]
    # The day the 20 working days run from: receipt, or the day a correction arrived (art. 30).
    clock_from: Mapped[date]
    due_on: Mapped[date | None] = mapped_column(index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # 补正: one notice, within 7 working days of receipt.
    correction_asked_on: Mapped[date | None]
    correction_asked: Mapped[str | None] = mapped_column(Text)
    correct_by: Mapped[date | None]
    corrected_on: Mapped[date | None]
    correction: Mapped[str | None] = mapped_column(Text)
    # 征求第三方意见: the third party has 15 working days; that time is not counted.
    consultation_party: Mapped[str | None] = mapped_column(String(256))
    consultation_from: Mapped[date | None]
    consultation_until: Mapped[date | None]
    consultation_ended_on: Mapped[date | None]
    consultation_reply: Mapped[str | None] = mapped_column(Text)
    # 延期: one, up to 20 working days, approved by an archive manager.
    extension_days: Mapped[int | None]
    extension_reason: Mapped[str | None] = mapped_column(Text)
    extension_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    extension_status: Mapped[str | None] = mapped_column(String(16))
    extension_decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # 答复 (art. 36).
    decision: Mapped[str | None] = mapped_column(String(24))
    decision_basis: Mapped[str | None] = mapped_column(String(24))
    reasons: Mapped[str | None] = mapped_column(Text)
    decided_on: Mapped[date | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    release_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    applicant: Mapped[Applicant] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    extension_requested_by: Mapped[User | None] = relationship(foreign_keys=[extension_requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    messages: Mapped[list[DisclosureMessage]] = relationship(order_by="DisclosureMessage.id")
    items: Mapped[list[ReleasedItem]] = relationship(order_by="ReleasedItem.id")


class DisclosureMessage(Base):
    """A message on a request: notices from the office, and what the applicant sent back."""

    __tablename__ = "disclosure_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("disclosure_requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    from_office: Mapped[bool]
    author: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReleasedItem(Base):
    """A copy in the release realm (公开件): a sealed record, or a redacted derivative of one."""

    __tablename__ = "released_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("disclosure_requests.id"), index=True)
    bundle_id: Mapped[str] = mapped_column(ForeignKey("bundles.id"))
    record_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(512))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(1200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # A redacted derivative (删除不应公开内容后的版本) keeps the SHA-256 of the original it came from.
    redacted: Mapped[bool] = mapped_column(default=False)
    original_sha256: Mapped[str] = mapped_column(String(64))
    released_at: Mapped[datetime] = mapped_column(UTCDateTime())


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
