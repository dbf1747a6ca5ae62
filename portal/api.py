"""The JSON API (`/api/v1`): the contract in docs/design.md, every access through the policy."""

from __future__ import annotations

import contextlib
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

from access.errors import Conflict, NotFound
from access.ledger import LedgerEntry
from access.policy import (
    Action,
    Decision,
    Resource,
    above_clearance,
    collection,
    decide,
    enforce,
    record,
    require,
    resource_of,
)
from access.policy import Denied as PolicyDenied
from archive import catalogue
from archive.errors import Refused, UnknownBundle
from archive.models import Bundle, CaseRecord
from archive.service import get_bundle
from portal import dispositions, operations
from portal.auth import (
    DB,
    INTERNAL,
    Caller,
    Principal,
    password_token,
    policy_context,
    wired_of,
)
from portal.delivery import deliver_record
from portal.i18n import translate
from portal.params import SeqBelow
from retention import service as retention

router = APIRouter(prefix="/api/v1", tags=["internal"])
# What stands for a title above the caller's clearance; pages show it in the reader's language.
WITHHELD_TITLE = translate("zh", "withheld.title")


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


def bundle_or_404(session: Session, bundle_id: str) -> Bundle:
    """A sealed bundle, or 404 for unknown and malformed ids alike."""
    try:
        return get_bundle(session, bundle_id)
    except UnknownBundle as exc:
        raise HTTPException(404, "no such bundle") from exc


def visible_records(
    request: Request, session: Session, caller: Principal, bundle: Bundle
) -> list[CaseRecord]:
    """Records whose metadata the caller may see (same rules as viewing, not ledgered one by one)."""
    context = policy_context(request, session, caller)
    return [
        r
        for r in bundle.records
        if decide(caller.subject, Action.bundle_read, resource_of(bundle, r), context).allowed
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
    guard(request, session, caller, Action.case_list, collection("catalogue"))
    context = policy_context(request, session, caller)
    found, destroyed = [], []
    rows = catalogue.search_cases(session, q=q)
    stones = dispositions.destroyed(session, [bundle.id for _case, bundle in rows])
    for case, bundle in rows:
        resource = resource_of(bundle)
        decision = decide(caller.subject, Action.bundle_read, resource, context)
        withheld = above_clearance(caller.subject, resource, context, decision)
        if not decision.allowed and not withheld:
            continue
        if withheld and q and q.strip().lower() not in case.case_no.lower():
            continue  # matched by its title: listing it would answer what the title says
        if (stone := stones.get(bundle.id)) is not None:  # reported apart: nothing of it is left to read
            destroyed.append(
                {
                    "case_no": case.case_no,
                    "title": WITHHELD_TITLE if withheld else case.title,
                    "bundle_id": bundle.id,
                    "version": bundle.version,
                    "destroyed_at": stone.destroyed_at.isoformat(),
                    "certificate_no": stone.certificate_no,
                }
            )
            continue
        found.append(
            {
                "case_no": case.case_no,
                "title": WITHHELD_TITLE if withheld else case.title,
                "withheld": withheld,
                "enforcement_type": case.enforcement_type,
                "closed_at": case.closed_at.isoformat(),
                "bundle_id": bundle.id,
                "version": bundle.version,
                "classification": bundle.classification,
                "grade": bundle.grade,
            }
        )
    return {"cases": found, "destroyed": destroyed}


@router.get("/bundles/{bundle_id}")
def bundle_detail(request: Request, session: DB, caller: Caller, bundle_id: str) -> dict[str, Any]:
    """Bundle metadata, the records the caller may see with their classification, and findings."""
    bundle = bundle_or_404(session, bundle_id)
    resource, context = resource_of(bundle), policy_context(request, session, caller)
    decision = enforce(
        session, subject=caller.subject, action=Action.bundle_read, resource=resource, context=context
    )
    session.commit()
    withheld = above_clearance(caller.subject, resource, context, decision)
    if not decision.allowed and not withheld:
        raise Denied(decision)
    records = visible_records(request, session, caller, bundle)
    shown = {r.record_id for r in records}
    disposition = retention.bundle_disposition(
        session=session, bundle=bundle, default_years=wired_of(request).settings.retention_years
    )
    return {
        "bundle_id": bundle.id,
        "case_no": bundle.case.case_no,
        "title": WITHHELD_TITLE if withheld else bundle.case.title,
        "withheld": withheld,
        "version": bundle.version,
        "previous_bundle_id": bundle.previous_id,
        "sealed_at": bundle.sealed_at.isoformat(),
        "sealed_by": bundle.sealed_by,
        "seal_digest": bundle.seal_digest,
        "classification": bundle.classification,
        "grade": bundle.grade,
        "retain_until": bundle.retain_until.isoformat(),
        # the bundle's own date (the schedule's, or an appraisal's); None: kept permanently
        "disposition_date": None if disposition.permanent else bundle.retain_until.isoformat(),
        "retention_rule": disposition.as_json(),
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
        # a finding quotes what it is about: none above clearance, none on a record not shown
        "findings": []
        if withheld
        else [f for f in bundle.findings if not f.get("record_id") or f["record_id"] in shown],
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
    """The record's bytes as the caller may have them (portal.delivery): the original streamed
    with a single Range (206, 416 past the end), a stamped PDF, or footage's watermarked rendition
    (202 with a status URL until it is ready).

    The policy decides (and the ledger records) before the record's existence, size or Range is
    looked at: whoever may not read it learns nothing of it, not even from a 416."""
    bundle = bundle_or_404(session, bundle_id)
    found = catalogue.find_record(bundle, record_id)
    if found is None:  # whether a record exists is the bundle's metadata
        guard(request, session, caller, Action.bundle_read, resource_of(bundle))
        raise HTTPException(404, "no such record in this bundle")
    record, stored = found
    with service_errors():
        return deliver_record(
            request,
            session,
            caller,
            bundle=bundle,
            record_=record,
            stored=stored,
            resource=resource_of(bundle, record),
            download=download,
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
    guard(request, session, caller, Action.ledger_read, collection("ledger"))
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
    resource, context = collection("ledger"), policy_context(request, session, caller)
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
        report = operations.verify_against_store(wired_of(request), session=session)
    except Exception as exc:
        session.rollback()
        ledgered("failed", {"error": type(exc).__name__})  # the walk did not finish
        raise
    ledgered("ok" if report.intact else "failed", {"result": report.as_json()})
    return report.as_json()
