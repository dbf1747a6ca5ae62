"""The public API's answers (`portal.public.api`), as the public OpenAPI document describes them;
the handlers build the bodies, these models check them on the way out."""

from __future__ import annotations

from pydantic import Field

from portal.web.schemas import Body, Day, Timestamp


class Registered(Body):
    """`POST /api/v1/register` → 201: the new account, its id number masked."""

    username: str
    name: str
    id_type: str
    id_number_masked: str


class RequestSummary(Body):
    """A disclosure request as the applicant's list shows it."""

    id: int
    tracking_code: str
    status: str
    case_no: str | None
    received_on: Day
    due_on: Day | None
    due_estimated: bool
    estimated_years: list[int]
    working_days_left: int | None
    decision: str | None


class Requests(Body):
    """`GET /api/v1/disclosures`: the caller's own requests, newest first."""

    requests: list[RequestSummary]


class Correction(Body):
    """The office's correction notice (补正) and the applicant's answer."""

    asked_on: Day | None
    asked: str | None
    correct_by: Day | None
    corrected_on: Day | None
    answer: str | None


class Consultation(Body):
    """That the clock paused while a third party was consulted (who it was stays internal)."""

    from_: Day = Field(alias="from")
    until: Day | None
    ended_on: Day | None


class Extension(Body):
    """An approved extension of the deadline."""

    days: int | None
    status: str


class Message(Body):
    """A message between the office and the applicant."""

    kind: str
    from_office: bool
    body: str
    at: Timestamp


class Reply(Body):
    """The office's reply (答复): its decision, basis and reasons."""

    decision: str
    basis: str | None
    reasons: str | None
    decided_on: Day | None


class ReleasedItem(Body):
    """A released copy, and where to fetch it in its release period."""

    id: int
    title: str
    filename: str
    media_type: str
    size: int
    sha256: str
    redacted: bool
    url: str


class RequestDetail(RequestSummary):
    """One request as its applicant sees it: deadlines, office messages, reply, released items."""

    relation: str
    description: str
    delivery: str
    clock_from: Day
    correction: Correction | None
    consultation: Consultation | None
    extension: Extension | None
    messages: list[Message]
    reply: Reply | None
    items: list[ReleasedItem]
    release_until: Timestamp | None
    release_open: bool


class RecordedActivity(Body):
    """One kind of enforcement activity the office records on video (rules art. 12)."""

    code: str
    name_zh: str
    name_en: str
    continuous: bool = Field(description="recorded throughout, without interruption (全过程无间断)")
    basis: str
    position: int
    changed_at: Timestamp


class RecordedActivities(Body):
    """The published list, in order."""

    activities: list[RecordedActivity]
    count: int


class DisclosureStatistics(Body):
    """The requests received in one year (by receipt day): by outcome and by deadline met."""

    year: int
    received: int
    outcomes: dict[str, int] = Field(
        description="released, partly_released, not_released, not_exist, not_this_office, repeated, "
        "withdrawn, open"
    )
    timeliness: dict[str, int] = Field(
        description="in_time, late (answered after the deadline), open_in_time, open_overdue, no_deadline"
    )


class PublicCheckpoint(Body):
    """A signed tree head of the access ledger: its size, root and C2SP signed note, nothing of any entry."""

    tree_size: int
    root_hash: str
    created_at: Timestamp
    note: str


class PublicCheckpoints(Body):
    """`GET /public/api/v1/ledger/checkpoints`: newest first; `next_before` asks for the page after."""

    origin: str
    checkpoints: list[PublicCheckpoint]
    next_before: int | None


class PublicConsistency(Body):
    """`GET /public/api/v1/ledger/consistency`: RFC 9162 §2.1.4 proof between two tree sizes."""

    from_size: int
    to_size: int
    from_root: str
    to_root: str
    proof: list[str]


class WitnessKey(Body):
    """A witness whose cosignatures the archive collects: its name and verifier key."""

    name: str
    vkey: str


class LedgerKey(Body):
    """`GET /public/api/v1/ledger/key`: the key checkpoints are signed with, as a C2SP verifier key."""

    origin: str
    vkey: str
    key_id: str
    public_key: str
    witnesses: list[WitnessKey]
