"""The JSON API (`/api/v1`): the contract in DESIGN.md, every access through the policy."""

from __future__ import annotations

import contextlib
import functools
import mimetypes
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime
from sqlalchemy import select
from sqlalchemy.orm import Session

from access import ledger
from access.ledger import LedgerEntry
from access.policy import Action, Context, Decision, Resource, Subject, decide, enforce, record, require
from access.policy import Denied as PolicyDenied
from access.retrieval import Conflict, NotFound
from archive import catalogue
from archive.errors import ObjectMissing, Refused, StoreUnavailable, UnknownBundle
from archive.models import Bundle, CaseRecord
from archive.service import get_bundle
from portal.auth import (
    DB,
    INTERNAL,
    Caller,
    Principal,
    password_token,
    policy_context,
    wired_of,
)
from portal.params import SeqBelow
from portal.ranges import disposition, stream_object, wanted_range

router = APIRouter(prefix="/api/v1", tags=["internal"])


class Denied(HTTPException):
    """403 naming the rule that refused."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(403, {"rule": decision.rule, "reason": decision.reason})


@contextlib.contextmanager
def service_errors() -> Iterator[None]:
    """A workflow service's refusals as HTTP answers: 403 naming the rule, 404 unknown, 409 wrong
    state. Other refusals pass on (422, naming the field)."""
    try:
        yield
    except PolicyDenied as exc:
        raise Denied(exc.decision) from exc
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from exc


def refused_field(exc: Refused, *, default: str, known: Iterable[str] | None = None) -> tuple[str, str]:
    """The field a service refusal names (`"field: message"`) and its message."""
    name, sep, message = str(exc).partition(": ")
    named = name in known if known is not None else name.replace("_", "").isalnum()
    return (name, message) if sep and named else (default, str(exc))


def guard(
    request: Request, session: Session, caller: Principal, action: Action, resource: Resource
) -> Decision:
    """Decide, ledger and commit the decision; raise 403 when denied."""
    decision = enforce(
        session,
        subject=caller.subject,
        action=action,
        resource=resource,
        context=policy_context(request, session, caller),
    )
    session.commit()
    if not decision.allowed:
        raise Denied(decision)
    return decision


@contextlib.contextmanager
def ledgered_read(
    session: Session,
    *,
    subject: Subject,
    action: Action,
    resource: Resource,
    context: Context,
    decision: Decision,
) -> Iterator[None]:
    """Ledger an allowed read with how opening it went, committed before a byte leaves: `allowed`,
    `damaged` (the store lacks the object), `unavailable` (the store is down) or `failed`."""
    outcome = "allowed"
    try:
        yield
    except ObjectMissing:
        outcome = "damaged"
        raise
    except StoreUnavailable:
        outcome = "unavailable"
        raise
    except Exception:
        outcome = "failed"
        raise
    finally:
        record(
            session,
            subject=subject,
            action=action,
            resource=resource,
            context=context,
            decision=decision,
            outcome=outcome,
        )
        session.commit()


def bundle_or_404(session: Session, bundle_id: str) -> Bundle:
    """A sealed bundle, or 404 for unknown and malformed ids alike."""
    try:
        return get_bundle(session, bundle_id)
    except UnknownBundle as exc:
        raise HTTPException(404, "no such bundle") from exc


def record_resource(bundle: Bundle, record: CaseRecord) -> Resource:
    """The policy's view of one record."""
    return Resource(
        "record", bundle.case.case_no, bundle.id, record.record_id, record.classification, record.grade
    )


def visible_records(
    request: Request, session: Session, caller: Principal, bundle: Bundle
) -> list[CaseRecord]:
    """Records whose metadata the caller may see (same rules as viewing, not ledgered one by one)."""
    context = policy_context(request, session, caller)
    return [
        r
        for r in bundle.records
        if decide(caller.subject, Action.bundle_read, record_resource(bundle, r), context).allowed
    ]


@router.post("/token")
def token(
    request: Request,
    session: DB,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> dict[str, Any]:
    """Exchange a username and password for a short-lived bearer token."""
    return password_token(INTERNAL, request, session, username=username, password=password)


@router.get("/cases")
def cases(request: Request, session: DB, caller: Caller, q: str | None = None) -> dict[str, Any]:
    """Cases the caller may know of: metadata only."""
    guard(request, session, caller, Action.case_list, Resource("catalogue"))
    context = policy_context(request, session, caller)
    found = []
    for case, bundle in catalogue.search_cases(session, q=q):
        resource = Resource("bundle", case.case_no, bundle.id)
        if not decide(caller.subject, Action.bundle_read, resource, context).allowed:
            continue
        found.append(
            {
                "case_no": case.case_no,
                "title": case.title,
                "enforcement_type": case.enforcement_type,
                "closed_at": case.closed_at.isoformat(),
                "bundle_id": bundle.id,
                "version": bundle.version,
                "classification": bundle.classification,
                "grade": bundle.grade,
            }
        )
    return {"cases": found}


@router.get("/bundles/{bundle_id}")
def bundle_detail(request: Request, session: DB, caller: Caller, bundle_id: str) -> dict[str, Any]:
    """Bundle metadata, the records the caller may see with their classification, and findings."""
    bundle = bundle_or_404(session, bundle_id)
    guard(request, session, caller, Action.bundle_read, Resource("bundle", bundle.case.case_no, bundle.id))
    records = visible_records(request, session, caller, bundle)
    return {
        "bundle_id": bundle.id,
        "case_no": bundle.case.case_no,
        "title": bundle.case.title,
        "version": bundle.version,
        "previous_bundle_id": bundle.previous_id,
        "sealed_at": bundle.sealed_at.isoformat(),
        "sealed_by": bundle.sealed_by,
        "seal_digest": bundle.seal_digest,
        "classification": bundle.classification,
        "grade": bundle.grade,
        "retain_until": bundle.retain_until.isoformat(),
        "records": [
            {
                "record_id": r.record_id,
                "title": r.title,
                "kind": r.kind,
                "doc_type": r.doc_type,
                "stage": r.stage,
                "created_at": r.created_at.isoformat(),
                "classification": r.classification,
                "grade": r.grade,
                "file_name": PurePosixPath(r.path).name,
                "av": r.av,
            }
            for r in records
        ],
        "withheld_records": len(bundle.records) - len(records),
        "findings": bundle.findings,
    }


@router.get("/bundles/{bundle_id}/records/{record_id}/content")
def record_content(
    request: Request,
    session: DB,
    caller: Caller,
    bundle_id: str,
    record_id: str,
    download: bool = False,
) -> Response:
    """The record's bytes, streamed; honours a single Range (206) and answers 416 past the end."""
    bundle = bundle_or_404(session, bundle_id)
    found = catalogue.find_record(bundle, record_id)
    if found is None:
        raise HTTPException(404, "no such record in this bundle")
    record, stored = found
    wanted = wanted_range(request.headers.get("range"), stored.size)
    action = Action.record_original if download else Action.record_view
    resource, context = record_resource(bundle, record), policy_context(request, session, caller)
    with service_errors():
        decision = require(session, subject=caller.subject, action=action, resource=resource, context=context)
    name = PurePosixPath(stored.path).name
    store = wired_of(request).store
    with ledgered_read(
        session, subject=caller.subject, action=action, resource=resource, context=context, decision=decision
    ):
        return stream_object(
            functools.partial(store.read, stored.key, version_id=stored.version_id),
            size=stored.size,
            wanted=wanted,
            media_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
            headers={
                "ETag": f'"{bundle.seal_digest}.{record.record_id}"',
                "Cache-Control": "private, no-store",
                "Content-Disposition": disposition("attachment" if download else "inline", name),
            },
        )


def _entry_json(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "outcome": entry.outcome,
        "case_no": entry.case_no,
        "bundle_id": entry.bundle_id,
        "record_id": entry.record_id,
        "source": entry.source,
        "detail": entry.detail,
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
    }


@router.get("/ledger")
def ledger_search(
    request: Request,
    session: DB,
    caller: Caller,
    actor: str | None = None,
    action: str | None = None,
    outcome: str | None = None,
    case_no: str | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    before: SeqBelow = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Search the ledger, newest first (security auditors only)."""
    guard(request, session, caller, Action.ledger_read, Resource("ledger"))
    query = select(LedgerEntry).order_by(LedgerEntry.seq.desc()).limit(limit)
    for column, value in (
        (LedgerEntry.actor, actor),
        (LedgerEntry.action, action),
        (LedgerEntry.outcome, outcome),
        (LedgerEntry.case_no, case_no),
    ):
        if value:
            query = query.where(column == value)
    if since:
        query = query.where(LedgerEntry.at >= since)
    if until:
        query = query.where(LedgerEntry.at < until)
    if before:
        query = query.where(LedgerEntry.seq < before)
    entries = list(session.scalars(query))
    following = entries[-1].seq if len(entries) == limit else None
    return {"entries": [_entry_json(e) for e in entries], "next_before": following}


@router.get("/ledger/verify")
def ledger_verify(request: Request, session: DB, caller: Caller) -> dict[str, Any]:
    """Walk the chain and name the first bad entry (security auditors only).

    A refusal is ledgered before anything is read. An allowed verification is ledgered when it
    ends: outcome `ok` (intact) or `failed`, the report under `result` and `duration_ms` in the
    detail, so the ledger page can show the latest one without walking the chain itself.
    """
    resource, context = Resource("ledger"), policy_context(request, session, caller)
    with service_errors():
        decision = require(
            session, subject=caller.subject, action=Action.ledger_verify, resource=resource, context=context
        )
    started = time.perf_counter()

    def ledgered(outcome: str, detail: dict[str, Any]) -> None:
        duration_ms = round((time.perf_counter() - started) * 1000)
        record(
            session,
            subject=caller.subject,
            action=Action.ledger_verify,
            resource=resource,
            context=replace(context, now=wired_of(request).clock()),
            decision=decision,
            outcome=outcome,
            detail=detail | {"duration_ms": duration_ms},
        )
        session.commit()

    try:
        report = ledger.verify_chain(session, jwks=wired_of(request).keyring.jwks())
    except Exception as exc:
        session.rollback()
        ledgered("failed", {"error": type(exc).__name__})  # the walk did not finish
        raise
    ledgered("ok" if report.intact else "failed", {"result": report.as_json()})
    return report.as_json()
