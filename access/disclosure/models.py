"""The tables of information-disclosure requests: the request, its messages, its released items."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from access.models import Applicant, User
from archive.db import Base, UTCDateTime


class DisclosureStatus(StrEnum):
    """Where a disclosure request stands."""

    received = "received"  # 已受理，办理中
    awaiting_correction = "awaiting_correction"  # 待补正
    in_consultation = "in_consultation"  # 征求第三方意见
    decided = "decided"  # 已答复
    withdrawn = "withdrawn"  # 撤回, or 视为放弃申请 (no correction in time)


# Still waiting for a reply.
OPEN = (DisclosureStatus.received, DisclosureStatus.awaiting_correction, DisclosureStatus.in_consultation)


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
    # Who gave it to the assignee, and when (分办): the assignee is told when it was someone else.
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
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
    assigned_by: Mapped[User | None] = relationship(foreign_keys=[assigned_by_id])
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
