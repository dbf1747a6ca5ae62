"""Registered retrieval (调取登记): requests, decisions, grants, revocation, the register, notices.

A supervisor files which records of a case they need, why, on what legal basis, how (view,
download) and for how long; an archive manager approves or refuses with reasons; approval
makes the grant the policy checks on every request; a manager may revoke it at any time.

Every step goes through the policy decision point and is ledgered in the caller's
transaction; the caller commits. A policy refusal is ledgered and committed at once, then
raised as `access.policy.Denied`. Bad input raises `Refused` naming the field, an unknown case
or request `NotFound`, a request in the wrong state `Conflict` (both are `Refused`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import Text, select, type_coerce
from sqlalchemy.orm import Session, selectinload

from access import fields
from access.errors import Conflict, NotFound
from access.ledger import LedgerEntry
from access.models import RequestStatus, RetrievalGrant, RetrievalRequest, User, department_name
from access.policy import (
    Action,
    Context,
    Resource,
    Subject,
    collection,
    decide,
    permits,
    record,
    request_of,
    require,
)
from archive.db import claim_row
from archive.errors import Refused
from archive.models import Bundle
from archive.service import latest_bundle

VIEW, DOWNLOAD = "view", "download"
MAX_DAYS = 90
EXPIRY_WARNING = timedelta(hours=24)  # grantees are told this long before a grant ends
RECENT_DECISIONS = timedelta(days=7)  # requesters are told of decisions this recent
CHINA = timezone(timedelta(hours=8), "CST")  # the office's time, for dates and the CSV export
LIMITS = {"case_no": 128, "purpose": 2000, "legal_basis": 1000, "reason": 2000}


# --- the policy, once per step ---------------------------------------------------------------


def _resource(row: RetrievalRequest) -> Resource:
    """The policy's view of a request: its case, bundle and who filed it."""
    return request_of("retrieval", case_no=row.case_no, owner=row.requester.username, bundle_id=row.bundle_id)


def _account(subject: Subject) -> int:
    if subject.user_id is None:
        raise Refused("user: retrieval steps are taken by signed-in accounts only", code="retrieval.account")
    return subject.user_id


# --- input -----------------------------------------------------------------------------------


def _text(field: str, value: str | None, *, required: bool = True) -> str:
    return fields.text(field, value, limit=LIMITS[field], required=required)


def _actions(actions: Iterable[str] | None) -> list[str]:
    """View, and download only when asked for (download implies view)."""
    wanted = [a.strip() for a in actions or ()] or [VIEW]
    unknown = sorted({a for a in wanted if a not in (VIEW, DOWNLOAD)})
    if unknown:
        raise Refused(
            f"actions: unknown {', '.join(map(repr, unknown))}; each one of view, download",
            code="retrieval.actions",
            actions="、".join(unknown),
        )
    return [VIEW, DOWNLOAD] if DOWNLOAD in wanted else [VIEW]


def _days(days: int) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise Refused(f"days: a period of 1 to {MAX_DAYS} days", code="retrieval.days", max=MAX_DAYS)
    return days


def _scope(bundle: Bundle, record_ids: Sequence[str] | None) -> list[str]:
    """The records asked for, in the bundle's order; none named means the whole case."""
    known = [r.record_id for r in bundle.records]
    if not record_ids:
        return known
    unknown = [r for r in dict.fromkeys(record_ids) if r not in known]
    if unknown:
        raise Refused(
            f"record_ids: no record {', '.join(map(repr, unknown))} in case {bundle.case.case_no}",
            code="retrieval.records",
            records=", ".join(unknown),
            case_no=bundle.case.case_no,
        )
    return [r for r in known if r in set(record_ids)]


def _request(session: Session, request_id: int, *, lock: bool = False) -> RetrievalRequest:
    if lock:  # a second manager deciding the same request waits, then reads the decided state
        claim_row(session, RetrievalRequest, request_id)
    row = session.get(RetrievalRequest, request_id, with_for_update=lock, populate_existing=lock)
    if row is None:
        raise NotFound(
            f"request: no retrieval request {request_id}", code="retrieval.no_request", id=request_id
        )
    return row


# --- the steps -------------------------------------------------------------------------------


def file_request(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    case_no: str,
    record_ids: Sequence[str] | None,
    purpose: str,
    legal_basis: str,
    actions: Iterable[str] | None = (VIEW,),
    days: int,
) -> RetrievalRequest:
    """File a retrieval request (调取申请) for records of the newest bundle of a case."""
    case_no = _text("case_no", case_no)
    purpose, legal_basis = _text("purpose", purpose), _text("legal_basis", legal_basis)
    wanted, period = _actions(actions), _days(days)
    requester_id = _account(subject)
    decision = require(
        session,
        subject=subject,
        context=context,
        action=Action.retrieval_request,
        resource=request_of("retrieval", case_no=case_no, owner=subject.username),
    )
    bundle = latest_bundle(session, case_no)
    if bundle is None:
        raise NotFound(f"case_no: no archived case {case_no!r}", code="retrieval.no_case", case_no=case_no)
    row = RetrievalRequest(
        requester_id=requester_id,
        department=subject.department,
        case_no=case_no,
        bundle_id=bundle.id,
        record_ids=_scope(bundle, record_ids),
        purpose=purpose,
        legal_basis=legal_basis,
        actions=wanted,
        days=period,
        status=RequestStatus.pending.value,
        created_at=context.now,
    )
    session.add(row)
    session.flush()
    record(
        session,
        subject=subject,
        action=Action.retrieval_request,
        resource=request_of("retrieval", case_no=case_no, owner=subject.username, bundle_id=bundle.id),
        context=context,
        decision=decision,
        outcome="filed",
        detail={
            "request": row.id,
            "department": row.department,
            "records": row.record_ids,
            "actions": row.actions,
            "days": row.days,
        },
    )
    return row


def decide_request(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    request_id: int,
    approve: bool,
    reason: str | None,
) -> RetrievalRequest:
    """Approve (making the grant) or refuse a pending request (审批); a refusal needs a reason."""
    row = _request(session, request_id, lock=True)
    decision = require(
        session, subject=subject, context=context, action=Action.retrieval_decide, resource=_resource(row)
    )
    if row.status != RequestStatus.pending:
        raise Conflict(
            f"status: request {row.id} is already {row.status}", code="retrieval.decided", id=row.id
        )
    said = _text("reason", reason, required=not approve)
    now = context.now
    row.status = (RequestStatus.approved if approve else RequestStatus.refused).value
    row.decider_id, row.decided_at, row.reason = _account(subject), now, said or None
    detail: dict[str, Any] = {"request": row.id, "reason": said}
    if approve:
        grant = RetrievalGrant(
            grantee_id=row.requester_id,
            bundle_id=row.bundle_id,
            record_ids=list(row.record_ids),
            actions=list(row.actions),
            starts_at=now,
            expires_at=now + timedelta(days=row.days),
            approved_by_id=row.decider_id,
            request=row,
        )
        session.add(grant)
        session.flush()
        detail |= {"grant": grant.id, "expires_at": grant.expires_at.isoformat()}
    record(
        session,
        subject=subject,
        action=Action.retrieval_decide,
        resource=_resource(row),
        context=context,
        decision=decision,
        outcome=row.status,
        detail=detail,
    )
    return row


def revoke_grant(
    session: Session, *, subject: Subject, context: Context, request_id: int, reason: str
) -> RetrievalRequest:
    """Revoke the grant of an approved request at once (撤销授权); the reason is required."""
    row = _request(session, request_id, lock=True)
    decision = require(
        session, subject=subject, context=context, action=Action.retrieval_revoke, resource=_resource(row)
    )
    grant = row.grant
    if row.status != RequestStatus.approved or grant is None:
        raise Conflict(
            f"status: request {row.id} is {row.status}; only an approved grant can be revoked",
            code="retrieval.not_approved",
            id=row.id,
        )
    if grant.expires_at <= context.now:
        raise Conflict(
            f"status: the grant of request {row.id} expired at {grant.expires_at.isoformat()}",
            code="retrieval.expired",
            id=row.id,
        )
    said = _text("reason", reason)
    grant.revoked_at, grant.revoked_by_id, grant.revoke_reason = context.now, _account(subject), said
    row.status = RequestStatus.revoked.value
    record(
        session,
        subject=subject,
        action=Action.retrieval_revoke,
        resource=_resource(row),
        context=context,
        decision=decision,
        outcome="revoked",
        detail={"request": row.id, "grant": grant.id, "reason": said},
    )
    return row


# --- the register (调取登记簿) -----------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """One ledgered use of a record under a grant."""

    at: datetime
    record_id: str | None
    action: str
    outcome: str
    fingerprint: str | None = None


@dataclass(frozen=True)
class RegisterRow:
    """A request with its decision, its grant and the accesses made under the grant."""

    id: int
    created_at: datetime
    requester: str
    requester_name: str
    requester_role: str
    department: str | None
    case_no: str
    bundle_id: str
    record_ids: tuple[str, ...]
    purpose: str
    legal_basis: str
    actions: tuple[str, ...]
    days: int
    status: str  # pending, approved, refused, revoked
    state: str  # status, with approved grants split into active and expired
    decider: str | None
    decider_name: str | None  # as people know them (陈军), for pages; `decider` is the username
    decided_at: datetime | None
    reason: str | None
    grant_id: int | None
    grant_starts_at: datetime | None
    grant_expires_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    revoked_by_name: str | None
    revoke_reason: str | None
    accesses: tuple[Access, ...]

    def as_json(self) -> dict[str, Any]:
        """The row as the JSON API gives it (times in ISO 8601, UTC)."""
        row: dict[str, Any] = _jsonable(asdict(self))
        return row | {"access_count": len(self.accesses)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _state(row: RetrievalRequest, now: datetime) -> str:
    if row.status == RequestStatus.approved and row.grant is not None and row.grant.expires_at <= now:
        return "expired"
    return "active" if row.status == RequestStatus.approved else row.status


def _accesses(session: Session, rows: Sequence[RetrievalRequest]) -> dict[int, list[Access]]:
    """Ledgered record accesses under each grant (entries whose detail names the grant)."""
    grants = {r.grant.id: r for r in rows if r.grant is not None}
    if not grants:
        return {}
    query = (
        select(LedgerEntry)
        .where(LedgerEntry.bundle_id.in_({r.bundle_id for r in grants.values()}))
        .where(LedgerEntry.actor.in_({r.requester.username for r in grants.values()}))
        .where(LedgerEntry.action.like("record.%"))
        .where(type_coerce(LedgerEntry.detail, Text).like('%"grant":%'))  # canonical JSON: no spaces
        .order_by(LedgerEntry.seq)
    )
    found: dict[int, list[Access]] = {}
    for entry in session.scalars(query):
        grant_id = entry.detail.get("grant")
        if not isinstance(grant_id, int) or grant_id not in grants:
            continue
        if grants[grant_id].requester.username != entry.actor:
            continue
        found.setdefault(grant_id, []).append(
            Access(entry.at, entry.record_id, entry.action, entry.outcome, entry.detail.get("fingerprint"))
        )
    return found


def _rows(session: Session, query: Any, now: datetime) -> list[RegisterRow]:
    requests = list(
        session.scalars(
            query.options(
                selectinload(RetrievalRequest.requester),
                selectinload(RetrievalRequest.decider),
                selectinload(RetrievalRequest.grant).selectinload(RetrievalGrant.revoked_by),
            )
        )
    )
    accesses = _accesses(session, requests)
    out = []
    for r in requests:
        g = r.grant
        out.append(
            RegisterRow(
                id=r.id,
                created_at=r.created_at,
                requester=r.requester.username,
                requester_name=r.requester.display_name,
                requester_role=r.requester.role,
                department=r.department,
                case_no=r.case_no,
                bundle_id=r.bundle_id,
                record_ids=tuple(r.record_ids),
                purpose=r.purpose,
                legal_basis=r.legal_basis,
                actions=tuple(r.actions),
                days=r.days,
                status=r.status,
                state=_state(r, now),
                decider=r.decider.username if r.decider else None,
                decider_name=r.decider.display_name if r.decider else None,
                decided_at=r.decided_at,
                reason=r.reason,
                grant_id=g.id if g else None,
                grant_starts_at=g.starts_at if g else None,
                grant_expires_at=g.expires_at if g else None,
                revoked_at=g.revoked_at if g else None,
                revoked_by=g.revoked_by.username if g and g.revoked_by else None,
                revoked_by_name=g.revoked_by.display_name if g and g.revoked_by else None,
                revoke_reason=g.revoke_reason if g else None,
                accesses=tuple(accesses.get(g.id, ())) if g else (),
            )
        )
    return out


def day_start(value: date | datetime, *, after: bool = False) -> datetime:
    """An aware time as is; a date as the start of that day (or of the next) in China time."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise Refused("from/to: give a date or a time with its UTC offset", code="retrieval.naive_time")
        return value
    return datetime.combine(value + timedelta(days=1 if after else 0), time(), CHINA)


def read_register(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    department: str | None = None,
    status: str | None = None,
    requester: str | None = None,
    case_no: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 1000,
    export: str | None = None,
) -> list[RegisterRow]:
    """The register (调取登记簿), newest first, filtered; reading it is ledgered."""
    if status and status not in RequestStatus.__members__:
        raise Refused(
            f"status: {status!r} is not one of {', '.join(RequestStatus)}",
            code="retrieval.status",
            status=status,
        )
    decision = require(
        session,
        subject=subject,
        context=context,
        action=Action.register_read,
        resource=collection("register"),
    )
    query = select(RetrievalRequest).order_by(RetrievalRequest.created_at.desc(), RetrievalRequest.id.desc())
    if department:
        query = query.where(RetrievalRequest.department == department)
    if status:
        query = query.where(RetrievalRequest.status == status)
    if requester:
        query = query.join(User, User.id == RetrievalRequest.requester_id).where(
            User.username == requester.strip().lower()
        )
    if case_no:
        query = query.where(RetrievalRequest.case_no == case_no.strip())
    if since:
        query = query.where(RetrievalRequest.created_at >= since)
    if until:
        query = query.where(RetrievalRequest.created_at < until)
    rows = _rows(session, query.limit(limit), context.now)
    filters = {"department": department, "status": status, "requester": requester, "case_no": case_no}
    record(
        session,
        subject=subject,
        action=Action.register_read,
        resource=collection("register", case_no=case_no),
        context=context,
        decision=decision,
        outcome="ok",
        detail={
            "filters": {k: v for k, v in filters.items() if v}
            | ({"from": since.isoformat()} if since else {})
            | ({"to": until.isoformat()} if until else {}),
            "rows": len(rows),
            **({"export": export} if export else {}),
        },
    )
    return rows


def own_requests(session: Session, *, subject: Subject, now: datetime, limit: int = 200) -> list[RegisterRow]:
    """The caller's own requests, newest first (no register permission needed)."""
    query = (
        select(RetrievalRequest)
        .where(RetrievalRequest.requester_id == _account(subject))
        .order_by(RetrievalRequest.created_at.desc(), RetrievalRequest.id.desc())
        .limit(limit)
    )
    return _rows(session, query, now)


def get_request(session: Session, *, subject: Subject, context: Context, request_id: int) -> RegisterRow:
    """One request as a register row: for its requester, or for readers of the register (ledgered)."""
    row = _request(session, request_id)
    # what is asked: one's own request, or a row of the register; the policy checks which it is
    action = Action.retrieval_read if row.requester_id == subject.user_id else Action.register_read
    decision = require(session, subject=subject, context=context, action=action, resource=_resource(row))
    record(
        session,
        subject=subject,
        action=action,
        resource=_resource(row),
        context=context,
        decision=decision,
        outcome="ok",
        detail={"request": row.id},
    )
    query = select(RetrievalRequest).where(RetrievalRequest.id == row.id)
    return _rows(session, query, context.now)[0]


# --- the CSV export --------------------------------------------------------------------------

CSV_COLUMNS = [
    "id 编号",
    "filed_at 登记时间",
    "requester 申请人",
    "department 部门",
    "case_no 案号",
    "legal_basis 依据",
    "purpose 事由",
    "scope 调取范围",
    "actions 方式",
    "days 期限(天)",
    "decision 审批结果",
    "reason 审批意见",
    "decider 审批人",
    "decided_at 审批时间",
    "grant 授权编号",
    "grant_period 授权期间",
    "revoked 撤销",
    "access_count 调阅次数",
    "accesses 调阅记录",
]
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """Text for a cell; a leading formula character is quoted so Excel never runs it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(CHINA).isoformat(timespec="seconds")
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _csv_line(row: RegisterRow) -> list[str]:
    period = f"{_cell(row.grant_starts_at)} – {_cell(row.grant_expires_at)}" if row.grant_starts_at else ""
    revoked = (
        f"{_cell(row.revoked_at)} {row.revoked_by_name or row.revoked_by or ''}: {row.revoke_reason or ''}"
        if row.revoked_at
        else ""
    )
    accesses = "; ".join(
        f"{_cell(a.at)} {a.record_id or '-'} {a.action} {a.outcome}"
        + (f" fp {a.fingerprint}" if a.fingerprint else "")
        for a in row.accesses
    )
    who = f"{row.requester} ({row.requester_name})" if row.requester_name != row.requester else row.requester
    decider = (
        f"{row.decider} ({row.decider_name})" if row.decider_name not in (None, row.decider) else row.decider
    )
    values = [
        row.id,
        row.created_at,
        who,
        department_name(row.department) or row.requester_role,
        row.case_no,
        row.legal_basis,
        row.purpose,
        " ".join(row.record_ids),
        " ".join(row.actions),
        row.days,
        row.state,
        row.reason,
        decider,
        row.decided_at,
        row.grant_id,
        period,
        revoked,
        len(row.accesses),
        accesses,
    ]
    return [_cell(v) for v in values]


def register_csv(rows: Iterable[RegisterRow]) -> bytes:
    """The register as CSV, UTF-8 with a byte-order mark so Excel shows the Chinese."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_csv_line(r) for r in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- notifications ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """Something a user should act on or know: a request to decide, a decision, a grant ending.
    `facts` are what its text names besides these; the portal words it in the reader's language."""

    kind: str  # "pending" (to decide), "decided" (on one's request), "expiring" (one's grant)
    request_id: int | None
    grant_id: int | None
    case_no: str | None  # None on a disclosure request that names no case
    at: datetime  # filed, decided, or when the grant ends
    facts: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The notice's fields as the JSON API gives them (its words are the portal's)."""
        return _jsonable({k: v for k, v in asdict(self).items() if k != "facts"})  # type: ignore[no-any-return]


def _pending(session: Session, subject: Subject, now: datetime) -> list[Notice]:
    if not permits(subject, Action.retrieval_decide):  # spares the query; each row is still decided
        return []
    context = Context(now=now)
    query = (
        select(RetrievalRequest)
        .where(RetrievalRequest.status == RequestStatus.pending.value)
        .options(selectinload(RetrievalRequest.requester))
        .order_by(RetrievalRequest.created_at)
    )
    return [
        Notice(
            "pending",
            r.id,
            None,
            r.case_no,
            r.created_at,
            {
                "requester": r.requester.display_name,
                "department": r.department,
                "role": r.requester.role,
                "records": len(r.record_ids),
            },
        )
        for r in session.scalars(query)
        if decide(subject, Action.retrieval_decide, _resource(r), context).allowed  # not their own
    ]


def _decided(session: Session, subject: Subject, now: datetime) -> list[Notice]:
    query = (
        select(RetrievalRequest)
        .where(RetrievalRequest.requester_id == subject.user_id)
        .where(RetrievalRequest.status != RequestStatus.pending.value)
        .options(
            selectinload(RetrievalRequest.decider),
            selectinload(RetrievalRequest.grant).selectinload(RetrievalGrant.revoked_by),
        )
    )
    notices = []
    for r in session.scalars(query):
        at = r.grant.revoked_at if r.grant and r.grant.revoked_at else r.decided_at
        if at is None or at < now - RECENT_DECISIONS:
            continue
        revoked = r.status == RequestStatus.revoked and r.grant is not None
        said = r.grant.revoke_reason if revoked and r.grant else r.reason
        by = r.grant.revoked_by if revoked and r.grant else r.decider
        notices.append(
            Notice(
                "decided",
                r.id,
                r.grant.id if r.grant else None,
                r.case_no,
                at,
                {"status": r.status, "reason": said or "", "by": by.display_name if by else ""},
            )
        )
    return notices


def _expiring(session: Session, subject: Subject, now: datetime) -> list[Notice]:
    query = (
        select(RetrievalGrant, Bundle)
        .join(Bundle, Bundle.id == RetrievalGrant.bundle_id)
        .where(RetrievalGrant.grantee_id == subject.user_id)
        .where(RetrievalGrant.revoked_at.is_(None))
        .where(RetrievalGrant.starts_at <= now)
        .where(RetrievalGrant.expires_at > now)
        .where(RetrievalGrant.expires_at <= now + EXPIRY_WARNING)
    )
    return [
        Notice(
            "expiring",
            g.request_id,
            g.id,
            b.case.case_no,
            g.expires_at,
        )
        for g, b in session.execute(query)
    ]


def notifications(session: Session, *, subject: Subject, now: datetime) -> list[Notice]:
    """What this user should see: requests to decide, decisions on theirs, grants ending within 24 h."""
    if (
        subject.user_id is None
        or not decide(subject, Action.notices_read, collection("register"), Context(now=now)).allowed
    ):
        return []
    found = (
        _pending(session, subject, now) + _decided(session, subject, now) + _expiring(session, subject, now)
    )
    return sorted(found, key=lambda n: n.at, reverse=True)
