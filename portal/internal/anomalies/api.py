"""Anomalies over the JSON API (security auditors only): the flags, filtered by time and rule,
and acknowledging one with a note. Each call first evaluates what the ledger gained since the
last evaluation (at most `PAGE_BUDGET` entries; the serve loop takes the rest)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import HTTPException, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from access import anomalies
from access.anomalies import AnomalyFlag, AnomalyKind
from access.errors import Conflict, NotFound
from access.policy import Action, collection
from archive.errors import Refused
from portal.internal.anomalies.schemas import Anomaly, AnomalyPage
from portal.web.api import guard, service_errors
from portal.web.auth import API_CSRF, DB, Caller, policy_context, wired_of
from portal.web.params import RowId
from portal.web.schemas import api_router, errors

router = api_router(prefix="/api/v1", tag="internal", dependencies=[API_CSRF])
PAGE_BUDGET = 20_000  # entries one request evaluates at most before it answers


class AcknowledgeBody(BaseModel):
    """Why the flag is closed: a note is required."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(max_length=anomalies.NOTE_MAX)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def flag_json(flag: AnomalyFlag, entries: list[int]) -> dict[str, Any]:
    """A flag as the API answers it."""
    return {
        "id": flag.id,
        "kind": flag.kind,
        "seq": flag.seq,
        "at": flag.at.isoformat(),
        "actor": flag.actor,
        "source": flag.source,
        "case_no": flag.case_no,
        "detail": flag.detail,
        "entries": entries,
        "raised_at": flag.raised_at.isoformat(),
        "acknowledged_at": _time(flag.acknowledged_at),
        "acknowledged_by": flag.acknowledged_by,
        "note": flag.note,
    }


def catch_up(request: Request, session: Session) -> anomalies.Evaluation:
    """Evaluate the entries since the cursor, up to the budget of one request."""
    return anomalies.evaluate(session, now=wired_of(request).clock(), limit=PAGE_BUDGET)


@router.get("/anomalies", response_model=AnomalyPage, responses=errors(401, 403, 422))
def anomaly_list(
    request: Request,
    session: DB,
    caller: Caller,
    since: Annotated[AwareDatetime | None, Query(description="flags on entries from this moment on")] = None,
    until: Annotated[AwareDatetime | None, Query(description="flags on entries before this moment")] = None,
    kind: Annotated[AnomalyKind | None, Query(description="one rule's flags only")] = None,
    open: Annotated[bool, Query(description="only the flags not acknowledged yet")] = False,
    before: Annotated[
        int | None, Query(ge=1, le=2**31, description="flags with a lower id (the next page)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """The anomalies, newest first (security auditors only); evaluates new entries first."""
    guard(request, session, caller, Action.anomaly_read, collection("anomalies"))
    done = catch_up(request, session)
    found = anomalies.find_flags(
        session,
        since=since,
        until=until,
        kind=kind.value if kind else None,
        open_only=open,
        before=before,
        limit=limit,
    )
    linked = anomalies.linked_entries(session, flag_ids=[f.id for f in found])
    following = found[-1].id if len(found) == limit else None
    return {
        "anomalies": [flag_json(f, linked[f.id]) for f in found],
        "next_before": following,
        "evaluated_to": done.cursor,
        "head": done.head,
    }


@router.post(
    "/anomalies/{flag_id}/acknowledge", response_model=Anomaly, responses=errors(401, 403, 404, 409, 422)
)
def anomaly_acknowledge(
    request: Request, session: DB, caller: Caller, flag_id: RowId, body: AcknowledgeBody
) -> dict[str, Any]:
    """Acknowledge a flag with a note (required), ledgered as `anomaly.acknowledge`."""
    context = policy_context(request, session, caller)
    with service_errors():
        try:
            flag = anomalies.acknowledge(
                session, subject=caller.subject, context=context, flag_id=flag_id, note=body.note
            )
        except Refused as exc:
            if isinstance(exc, (NotFound, Conflict)):
                raise
            raise HTTPException(422, [{"field": "note", "message": str(exc).partition(": ")[2]}]) from exc
    return flag_json(flag, anomalies.linked_entries(session, flag_ids=[flag.id])[flag.id])
