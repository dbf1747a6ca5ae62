"""The access ledger over the JSON API (security auditors only): search, verification of the
chain, signed checkpoints and inclusion proofs.

A proof fetched here, with the JWKS from `/api/v1/ledger/jwks`, is checked offline by
`scripts/verify_inclusion.py`: the checkpoint's ES256 signature, then the audit path from the
entry's hash to the signed root (RFC 9162 §2.1.3).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Annotated, Any

from fastapi import HTTPException, Query, Request
from pydantic import AwareDatetime
from sqlalchemy import or_, select

from access import checkpoints, witnessing
from access.checkpoints import LedgerCheckpoint, LedgerTampered
from access.ledger import LedgerEntry
from access.models import Role, User
from access.policy import (
    Action,
    collection,
    record,
    require,
)
from portal.internal.ledger import operations
from portal.internal.ledger.schemas import (
    ChainReport,
    CheckpointPage,
    ConsistencyProof,
    EntryPage,
    InclusionProof,
    KeySet,
)
from portal.web.api import guard, service_errors
from portal.web.auth import (
    API_CSRF,
    DB,
    Caller,
    policy_context,
    wired_of,
)
from portal.web.params import MAX_SEQ, Seq, SeqBelow
from portal.web.schemas import api_router, errors

router = api_router(prefix="/api/v1", tag="internal", dependencies=[API_CSRF])
# The administrators the security auditor audits (三员分立): what their accounts did, and every
# change of an account, whoever made it (`casevault users` too).
ADMIN_ROLES = (Role.security_admin.value, Role.sysadmin.value)


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


@router.get("/ledger", response_model=EntryPage, responses=errors(401, 403, 422))
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
    admins: Annotated[
        bool, Query(description="only the security and system administrators' actions, and account changes")
    ] = False,
) -> dict[str, Any]:
    """Search the ledger, newest first (security auditors only)."""
    guard(request, session, caller, Action.ledger_read, collection("ledger"))
    query = select(LedgerEntry).order_by(LedgerEntry.seq.desc()).limit(limit)
    if admins:
        administrators = select(User.username).where(User.role.in_(ADMIN_ROLES))
        account_changes = LedgerEntry.action.startswith("user.")
        query = query.where(or_(LedgerEntry.actor.in_(administrators), account_changes))
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


@router.get("/ledger/verify", response_model=ChainReport, responses=errors(401, 403, 409))
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


@router.get(
    "/ledger/checkpoints", response_model=CheckpointPage, responses=errors(401, 403, 422)
)
def checkpoint_list(
    request: Request,
    session: DB,
    caller: Caller,
    before: SeqBelow = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Signed checkpoints, newest first."""
    guard(request, session, caller, Action.ledger_read, collection("ledger"))
    query = select(LedgerCheckpoint).order_by(LedgerCheckpoint.tree_size.desc()).limit(limit)
    if before is not None:
        query = query.where(LedgerCheckpoint.tree_size < before)
    found = list(session.scalars(query))
    following = found[-1].tree_size if len(found) == limit else None
    return {"checkpoints": [c.as_json() for c in found], "next_before": following}


@router.get(
    "/ledger/entries/{seq}/proof",
    response_model=InclusionProof,
    responses=errors(401, 403, 404, 409, 422),
)
def entry_proof(
    request: Request,
    session: DB,
    caller: Caller,
    seq: Seq,
    tree_size: Annotated[
        int | None,
        Query(ge=1, le=MAX_SEQ, description="a checkpoint's tree size; default: the latest checkpoint"),
    ] = None,
) -> dict[str, Any]:
    """The audit path from one entry to a signed checkpoint's root."""
    guard(request, session, caller, Action.ledger_read, collection("ledger"))
    if tree_size is None:
        checkpoint = checkpoints.latest(session)
        if checkpoint is None:
            raise HTTPException(404, "no checkpoint has been signed yet")
    else:
        checkpoint = session.get(LedgerCheckpoint, tree_size)
        if checkpoint is None:
            raise HTTPException(404, f"no checkpoint at tree size {tree_size}")
    if seq < 1:
        raise HTTPException(404, "no such ledger entry")
    if seq > checkpoint.tree_size:
        raise HTTPException(
            409,
            f"entry {seq} is not covered by the checkpoint at {checkpoint.tree_size} entries; "
            "ask again after the next checkpoint",
        )
    try:
        return checkpoints.inclusion_proof(session, seq=seq, checkpoint=checkpoint)
    except LedgerTampered as exc:
        raise HTTPException(409, str(exc)) from exc


@router.get(
    "/ledger/consistency",
    response_model=ConsistencyProof,
    responses=errors(401, 403, 404, 409, 422),
)
def ledger_consistency(
    request: Request,
    session: DB,
    caller: Caller,
    first: Annotated[int, Query(alias="from", ge=1, le=MAX_SEQ, description="the earlier tree size")],
    second: Annotated[int, Query(alias="to", ge=1, le=MAX_SEQ, description="a checkpoint's tree size")],
) -> dict[str, Any]:
    """The consistency proof (RFC 9162 §2.1.4) from the first `from` entries to the checkpoint at `to`."""
    guard(request, session, caller, Action.ledger_read, collection("ledger"))
    try:
        with service_errors():
            return witnessing.prove(session, first=first, second=second).as_json()
    except ValueError as exc:
        raise HTTPException(422, [{"field": "from", "message": str(exc)}]) from exc


@router.get("/ledger/jwks", response_model=KeySet, responses=errors(401, 403))
def ledger_jwks(request: Request, session: DB, caller: Caller) -> dict[str, Any]:
    """The archive's public keys (every one ever used), to check checkpoint signatures offline."""
    guard(request, session, caller, Action.ledger_read, collection("ledger"))
    return wired_of(request).keyring.jwks()
