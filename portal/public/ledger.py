"""The ledger's public checkpoint feed (`/public/api/v1/ledger/…`): for monitors and witnesses.

No sign-in, and nothing of any entry: the signed tree heads (size, root, time, the C2SP signed
note with the witnesses' cosignatures), RFC 9162 consistency proofs between them (interior
hashes of the Merkle tree only), and the checkpoint key. Each address may make
`PER_MINUTE` calls a minute (429 past that), at most `AT_ONCE` proofs are computed at a time (503
when busy), and a proof once computed is kept, since a signed tree never changes.
"""

from __future__ import annotations

import base64
import threading
import time
from collections import OrderedDict, deque
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from sqlalchemy import select

from access import witnessing
from access.checkpoints import LedgerCheckpoint
from access.ledger import canonical_time
from portal.public.schemas import LedgerKey, PublicCheckpoints, PublicConsistency
from portal.web.api import service_errors
from portal.web.auth import DB, client_address, public_wired_of
from portal.web.params import MAX_SEQ, SeqBelow
from portal.web.schemas import api_router, errors

PER_MINUTE = 120
AT_ONCE = 2
CACHED_PROOFS = 256


class _Window:
    """Calls per address in the last minute; refuses past the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, address: str) -> bool:
        """Count a call from the address; False when it is over its limit."""
        now = time.monotonic()
        with self._lock:
            if len(self._calls) > 10_000:  # forget quiet addresses rather than grow without bound
                self._calls = {a: q for a, q in self._calls.items() if q and now - q[-1] < 60}
            calls = self._calls.setdefault(address, deque())
            while calls and now - calls[0] >= 60:
                calls.popleft()
            if len(calls) >= self.limit:
                return False
            calls.append(now)
            return True


WINDOW = _Window(PER_MINUTE)
_COMPUTING = threading.BoundedSemaphore(AT_ONCE)
_PROOFS: OrderedDict[tuple[int, int, str], dict[str, Any]] = OrderedDict()
_PROOFS_LOCK = threading.Lock()


def rate_limited(request: Request) -> None:
    """429 with Retry-After for an address past its calls a minute."""
    if not WINDOW.admit(client_address(request) or "-"):
        raise HTTPException(429, f"at most {PER_MINUTE} calls a minute", headers={"Retry-After": "60"})


router = api_router(prefix="/api/v1/ledger", tag="public", dependencies=[Depends(rate_limited)])
Limited = errors(422, 429)


@router.get("/checkpoints", response_model=PublicCheckpoints, responses=Limited)
def public_checkpoints(
    request: Request,
    session: DB,
    before: SeqBelow = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    """The ledger's signed checkpoints, newest first, each as a C2SP signed note with its cosignatures."""
    query = (
        select(LedgerCheckpoint, witnessing.LedgerNote.note)
        .join(witnessing.LedgerNote, witnessing.LedgerNote.tree_size == LedgerCheckpoint.tree_size)
        .order_by(LedgerCheckpoint.tree_size.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(LedgerCheckpoint.tree_size < before)
    rows = [(row[0], row[1]) for row in session.execute(query)]
    found = [
        {
            "tree_size": checkpoint.tree_size,
            "root_hash": checkpoint.root_hash,
            "created_at": canonical_time(checkpoint.created_at),
            "note": witnessing.published_note(session, tree_size=checkpoint.tree_size, note=note),
        }
        for checkpoint, note in rows
    ]
    following = rows[-1][0].tree_size if len(rows) == limit else None
    return {
        "origin": public_wired_of(request).settings.ledger_origin,
        "checkpoints": found,
        "next_before": following,
    }


@router.get("/consistency", response_model=PublicConsistency, responses=errors(404, 409, 422, 429))
def public_consistency(
    session: DB,
    first: Annotated[int, Query(alias="from", ge=1, le=MAX_SEQ, description="the earlier tree size")],
    second: Annotated[
        int, Query(alias="to", ge=1, le=MAX_SEQ, description="a signed checkpoint's tree size")
    ],
) -> dict[str, Any]:
    """The consistency proof (RFC 9162 §2.1.4) from the first `from` entries to the checkpoint at `to`."""
    checkpoint = session.get(LedgerCheckpoint, second)
    key = (first, second, checkpoint.root_hash if checkpoint else "")
    with _PROOFS_LOCK:
        if key in _PROOFS:
            _PROOFS.move_to_end(key)
            return _PROOFS[key]
    if not _COMPUTING.acquire(blocking=False):
        raise HTTPException(
            503, "busy proving consistency for others; try again shortly", headers={"Retry-After": "5"}
        )
    try:
        with service_errors():
            answer = witnessing.prove(session, first=first, second=second).as_json()
    except ValueError as exc:
        raise HTTPException(422, [{"field": "from", "message": str(exc)}]) from exc
    finally:
        _COMPUTING.release()
    with _PROOFS_LOCK:
        _PROOFS[key] = answer
        while len(_PROOFS) > CACHED_PROOFS:
            _PROOFS.popitem(last=False)
    return answer


@router.get("/key", response_model=LedgerKey, responses=errors(404, 429))
def public_key(request: Request) -> dict[str, Any]:
    """The Ed25519 key the checkpoints' notes are signed with, and the witnesses' keys."""
    wired = public_wired_of(request)
    key = wired.ledger_key
    if key is None:
        raise HTTPException(
            404, "this portal does not know the checkpoint key (set CASEVAULT_LEDGER_NOTE_VKEY)"
        )
    return {
        "origin": wired.settings.ledger_origin,
        "vkey": key.vkey,
        "key_id": key.key_id.hex(),
        "public_key": base64.b64encode(key.public).decode(),
        "witnesses": [{"name": w.key.name, "vkey": w.key.vkey} for w in wired.witnesses],
    }
