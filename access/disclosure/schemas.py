"""The choices an applicant or officer makes on a request, and the views pages, the API and
letters are given (deadlines worked out on the calendar)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import BinaryIO

from access import workdays
from access.disclosure.deadlines import correction_notice_by, deadline
from access.disclosure.models import OPEN, DisclosureRequest


class Relation(StrEnum):
    """How the applicant stands to the case."""

    party = "party"  # 行政相对人
    interested_party = "interested_party"  # 利害关系人


class Delivery(StrEnum):
    """How the applicant wants the material."""

    online = "online"  # 网上查阅
    paper = "paper"  # 纸质邮寄


class DecisionType(StrEnum):
    """The reply types of art. 36."""

    released = "released"  # 予以公开
    partly_released = "partly_released"  # 部分公开
    not_released = "not_released"  # 不予公开
    not_exist = "not_exist"  # 信息不存在
    not_this_office = "not_this_office"  # 非本机关负责公开
    repeated = "repeated"  # 重复申请


class Basis(StrEnum):
    """Why information is withheld."""

    art14_state_secret = "art14_state_secret"  # 国家秘密
    art15_commercial_privacy = "art15_commercial_privacy"  # 商业秘密、个人隐私
    art16_case_file = "art16_case_file"  # 行政执法案卷信息


RELEASING = frozenset({DecisionType.released, DecisionType.partly_released})
# Withholding anything needs its legal basis.
NEEDS_BASIS = frozenset({DecisionType.partly_released, DecisionType.not_released})
OFFICE = "office"  # the author applicants see on the office's messages


@dataclass(frozen=True)
class MessageView:
    """One message on a request."""

    kind: str
    from_office: bool
    author: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class ItemView:
    """One released item, as the applicant and the office see it."""

    id: int
    record_id: str
    title: str
    filename: str
    media_type: str
    size: int
    sha256: str
    redacted: bool
    released_at: datetime


@dataclass(frozen=True)
class RequestView:
    """A request with its deadlines worked out on the calendar, for pages, the API and letters."""

    id: int
    tracking_code: str
    status: str
    relation: str
    case_no: str | None
    description: str
    delivery: str
    applicant_name: str
    applicant_username: str
    applicant_id_type: str
    applicant_id_masked: str
    applicant_phone: str
    applicant_email: str
    applicant_address: str | None
    received_on: date
    clock_from: date
    due_on: date | None
    # Years the count ran through on the Monday–Friday fallback: the deadline is an estimate.
    estimated_years: tuple[int, ...]
    working_days_left: int | None
    assignee: str | None
    correction_notice_by: date
    correction_asked_on: date | None
    correction_asked: str | None
    correct_by: date | None
    corrected_on: date | None
    correction: str | None
    consultation_party: str | None
    consultation_from: date | None
    consultation_until: date | None
    consultation_ended_on: date | None
    consultation_reply: str | None
    extension_days: int | None
    extension_reason: str | None
    extension_status: str | None
    extension_requested_by: str | None
    decision: str | None
    decision_basis: str | None
    reasons: str | None
    decided_on: date | None
    decided_by: str | None
    release_until: datetime | None
    created_at: datetime
    messages: tuple[MessageView, ...] = field(default=())
    items: tuple[ItemView, ...] = field(default=())

    @property
    def is_open(self) -> bool:
        """Still waiting for a reply."""
        return self.status in OPEN

    @property
    def overdue(self) -> bool:
        """Open and past its deadline."""
        return self.is_open and self.working_days_left is not None and self.working_days_left < 0


@dataclass(frozen=True)
class Candidate:
    """A record of the requested case, and whether it may be released at all."""

    bundle_id: str
    record_id: str
    title: str | None  # None above the officer's clearance, as the catalogue withholds it
    path: str
    kind: str
    classification: str
    grade: str | None
    releasable: bool  # never for state secrets (art. 14)


@dataclass(frozen=True)
class Redaction:
    """A redacted derivative (删除不应公开内容后的版本) of one record, uploaded by the officer."""

    record_id: str
    filename: str
    stream: BinaryIO


def request_view(
    row: DisclosureRequest, *, calendar: workdays.WorkCalendar, today: date, full: bool = True
) -> RequestView:
    """The request as of `today`; `full` for the office, else what the applicant may see."""
    found = deadline(calendar, row)
    applicant = row.applicant
    return RequestView(
        id=row.id,
        tracking_code=row.tracking_code,
        status=row.status,
        relation=row.relation,
        case_no=row.case_no,
        description=row.description,
        delivery=row.delivery,
        applicant_name=applicant.name,
        applicant_username=applicant.user.username,
        applicant_id_type=applicant.id_type,
        applicant_id_masked=applicant.id_number_masked,
        applicant_phone=applicant.phone,
        applicant_email=applicant.email,
        applicant_address=applicant.address,
        received_on=row.received_on,
        clock_from=row.clock_from,
        due_on=found.due_on if found else None,
        estimated_years=found.estimated_years if found else (),
        working_days_left=(
            workdays.working_days_left(calendar, today=today, due_on=found.due_on)
            if found and row.status in OPEN
            else None
        ),
        # Applicants see the office, never which member of staff: names are kept to the office side.
        assignee=row.assignee.username if row.assignee and full else None,
        correction_notice_by=correction_notice_by(calendar, row),
        correction_asked_on=row.correction_asked_on,
        correction_asked=row.correction_asked,
        correct_by=row.correct_by,
        corrected_on=row.corrected_on,
        correction=row.correction,
        consultation_party=row.consultation_party if full else None,
        consultation_from=row.consultation_from,
        consultation_until=row.consultation_until,
        consultation_ended_on=row.consultation_ended_on,
        consultation_reply=row.consultation_reply if full else None,
        extension_days=row.extension_days,
        extension_reason=row.extension_reason,
        extension_status=row.extension_status,
        extension_requested_by=(
            row.extension_requested_by.username if row.extension_requested_by and full else None
        ),
        decision=row.decision,
        decision_basis=row.decision_basis,
        reasons=row.reasons,
        decided_on=row.decided_on,
        decided_by=row.decided_by.display_name if row.decided_by and full else None,
        release_until=row.release_until,
        created_at=row.created_at,
        messages=tuple(
            MessageView(
                m.kind, m.from_office, m.author if full or not m.from_office else OFFICE, m.body, m.created_at
            )
            for m in row.messages
        ),
        items=tuple(
            ItemView(
                i.id,
                i.record_id,
                i.title,
                i.filename,
                i.media_type,
                i.size,
                i.sha256,
                i.redacted,
                i.released_at,
            )
            for i in row.items
        ),
    )
