"""Signed ledger checkpoints and inclusion proofs over the JSON API (security auditors only).

A proof fetched here, with the JWKS from `/api/v1/ledger/jwks`, is checked offline by
`scripts/verify_inclusion.py`: the checkpoint's ES256 signature, then the audit path from the
entry's hash to the signed root (RFC 9162 §2.1.3).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import select

from access import checkpoints
from access.checkpoints import LedgerCheckpoint, LedgerTampered
from access.policy import Action, collection
from portal.api import guard
from portal.auth import DB, Caller, wired_of
from portal.params import MAX_SEQ, Seq, SeqBelow

router = APIRouter(prefix="/api/v1/ledger", tags=["internal"])


@router.get("/checkpoints")
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


@router.get("/entries/{seq}/proof")
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


@router.get("/jwks")
def ledger_jwks(request: Request, session: DB, caller: Caller) -> dict[str, Any]:
    """The archive's public keys (every one ever used), to check checkpoint signatures offline."""
    guard(request, session, caller, Action.ledger_read, collection("ledger"))
    return wired_of(request).keyring.jwks()
