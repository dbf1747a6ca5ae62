"""Trails over the JSON API (security auditors only): one person's, case's or record's entries in
the ledger, as JSON, as CSV and as a signed evidence package (a ZIP that
`scripts/verify_evidence.py` checks without casevault). Each call is decided and ledgered
(`trail.read`, `trail.export`) before anything is read."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime

from access import retrieval, trails
from access.checkpoints import LedgerTampered
from access.ledger import LedgerEntry
from access.policy import Action, Decision, collection, enforce
from access.policy import record as ledger_decision
from access.trails import TrailQuery
from archive.errors import Refused
from portal.internal.trails import operations
from portal.internal.trails.schemas import TrailPage
from portal.web.api import Denied
from portal.web.auth import API_CSRF, DB, Caller, Principal, policy_context, wired_of
from portal.web.params import SeqBelow
from portal.web.schemas import api_router, errors, file_answer

router = api_router(prefix="/api/v1", tag="internal", dependencies=[API_CSRF])

DateOrTime = AwareDatetime | date
Actor = Annotated[str | None, Query(max_length=128, description="the person: their account name")]
CaseNo = Annotated[str | None, Query(max_length=128, description="the case number")]
Record = Annotated[
    str | None, Query(max_length=64, description="the record id (of the case, if case_no is given)")
]
Since = Annotated[DateOrTime | None, Query(description="on or after: a date (China time) or an aware time")]
Until = Annotated[DateOrTime | None, Query(description="before the end of this date, or before this time")]
ZIP = "application/zip"


def trail_query(
    *,
    actor: str | None,
    case_no: str | None,
    record: str | None,
    since: date | datetime | None,
    until: date | datetime | None,
) -> TrailQuery:
    """The trail asked for; 422 naming the field when it names nobody, no case and no record."""
    actor, case_no, record = (v.strip() if v and v.strip() else None for v in (actor, case_no, record))
    if actor is None and case_no is None and record is None:
        raise HTTPException(422, [{"field": "actor", "message": "give actor, case_no or record"}])
    try:
        start = retrieval.day_start(since) if since is not None else None
        end = retrieval.day_start(until, after=True) if until is not None else None
    except Refused as exc:
        raise HTTPException(422, [{"field": "since", "message": str(exc)}]) from exc
    if start is not None and end is not None and end <= start:
        raise HTTPException(422, [{"field": "until", "message": "until must be after since"}])
    return TrailQuery(actor=actor, case_no=case_no, record_id=record, since=start, until=end)


def trail_asked(
    actor: Actor = None,
    case_no: CaseNo = None,
    record: Record = None,
    since: Since = None,
    until: Until = None,
) -> TrailQuery:
    """The trail a route's query string asks for (its dependency): `trail_query` of the parameters."""
    return trail_query(actor=actor, case_no=case_no, record=record, since=since, until=until)


Asked = Annotated[TrailQuery, Depends(trail_asked)]


def decide(
    request: Request, session: DB, caller: Principal, action: Action, query: TrailQuery, **detail: Any
) -> Decision:
    """Decide and ledger the call (with the trail's filter) and commit; 403 when refused."""
    decision = enforce(
        session,
        subject=caller.subject,
        action=action,
        resource=collection("ledger"),
        context=policy_context(request, session, caller),
        detail={"trail": query.as_json(), **detail},
    )
    session.commit()
    if not decision.allowed:
        raise Denied(decision)
    return decision
    return decision


def entry_json(entry: LedgerEntry, row: operations.TrailRow) -> dict[str, Any]:
    """One entry of a trail for the API: the ledger's values, and its reason said in Chinese."""
    detail = entry.detail if isinstance(entry.detail, dict) else {}
    role, rule, reason = detail.get("role"), detail.get("rule"), detail.get("reason")
    return {
        "seq": entry.seq,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "name": row.name or entry.actor,
        "role": role if isinstance(role, str) else None,
        "action": entry.action,
        "outcome": entry.outcome,
        "case_no": entry.case_no,
        "bundle_id": entry.bundle_id,
        "record_id": entry.record_id,
        "source": entry.source,
        "rule": rule if isinstance(rule, str) else None,
        "reason": reason if isinstance(reason, str) else None,
        "reason_zh": row.reason,
        "entry_hash": entry.entry_hash,
    }


def trail_entries(
    request: Request, session: DB, caller: Principal, query: TrailQuery, *, before: int | None, limit: int
) -> tuple[list[LedgerEntry], int, int | None]:
    """A page of the trail newest first, how many entries it holds, and where the next page
    starts; read after the look is decided and ledgered."""
    decide(request, session, caller, Action.trail_read, query)
    found = trails.find(session, query=query, limit=limit, before=before)
    following = found[-1].seq if len(found) == limit else None
    return found, trails.count(session, query=query), following


def read_trail(
    request: Request, session: DB, caller: Principal, query: TrailQuery, *, before: int | None, limit: int
) -> dict[str, Any]:
    """A page of the trail as the API answers it."""
    found, total, following = trail_entries(request, session, caller, query, before=before, limit=limit)
    rows = operations.rows_of("zh", found, operations.names_of(session, found))
    return {
        "trail": query.kind,
        "query": query.as_json(),
        "count": total,
        "entries": [entry_json(entry, row) for entry, row in zip(found, rows, strict=True)],
        "next_before": following,
    }


@router.get("/trails", response_model=TrailPage, responses=errors(401, 403, 422))
def trail(
    request: Request,
    session: DB,
    caller: Caller,
    query: Asked,
    before: SeqBelow = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """One person's (`actor`), case's or record's trail, newest first (security auditors only)."""
    return read_trail(request, session, caller, query, before=before, limit=limit)


def export_entries(
    request: Request, session: DB, caller: Principal, query: TrailQuery, kind: str
) -> tuple[list[LedgerEntry], Decision]:
    """Decide and ledger an export; the trail's entries oldest first, and the decision. 422 past
    MAX_EXPORT."""
    decision = decide(request, session, caller, Action.trail_export, query, format=kind)
    found = trails.find(session, query=query, limit=trails.MAX_EXPORT + 1, oldest_first=True)
    if len(found) > trails.MAX_EXPORT:
        raise HTTPException(
            422,
            [
                {
                    "field": "since",
                    "message": f"more than {trails.MAX_EXPORT} entries: ask for a shorter period",
                }
            ],
        )
    return found, decision


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"}


def _stamp(request: Request) -> str:
    return wired_of(request).clock().astimezone(retrieval.CHINA).strftime("%Y%m%d-%H%M%S")


@router.get(
    "/trails.csv",
    response_class=Response,
    responses={
        200: file_answer("The trail as CSV (UTF-8 with a byte-order mark, Chinese headers)", "text/csv"),
        **errors(401, 403, 422),
    },
)
def trail_csv(
    request: Request,
    session: DB,
    caller: Caller,
    query: Asked,
) -> Response:
    """The whole trail, oldest first, as CSV for a spreadsheet; ledgered as `trail.export`."""
    found, _decision = export_entries(request, session, caller, query, "csv")
    rows = operations.rows_of("zh", found, operations.names_of(session, found))
    return Response(
        operations.trail_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers=_attachment(f"trail-{query.kind}-{_stamp(request)}.csv"),
    )


@router.get(
    "/trails/evidence",
    response_class=Response,
    responses={
        200: file_answer(
            "The signed evidence package: trail.pdf, entries.json (each entry with its inclusion "
            "proof against a signed checkpoint), jwks.json, README.txt, manifest.json and manifest.jws",
            ZIP,
        ),
        **errors(401, 403, 409, 422),
    },
)
def trail_evidence(
    request: Request,
    session: DB,
    caller: Caller,
    query: Asked,
) -> Response:
    """The whole trail as a signed evidence package (ZIP); ledgered as `trail.export`. A checkpoint
    covering the entries is signed first when the latest does not; 409 if the ledger was tampered with."""
    found, decision = export_entries(request, session, caller, query, "evidence")
    try:
        data = operations.evidence_package(
            wired_of(request), session, query=query, entries=found, generated_by=caller.subject.username
        )
    except LedgerTampered as exc:
        # The export was allowed and ledgered; that it failed, and why, is ledgered too.
        session.rollback()
        ledger_decision(
            session,
            subject=caller.subject,
            action=Action.trail_export,
            resource=collection("ledger"),
            context=policy_context(request, session, caller),
            decision=decision,
            outcome="failed",
            detail={"trail": query.as_json(), "format": "evidence", "error": str(exc)},
        )
        session.commit()
        raise HTTPException(409, str(exc)) from exc
    return Response(data, media_type=ZIP, headers=_attachment(f"trail-{query.kind}-{_stamp(request)}.zip"))
