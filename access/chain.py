"""Verifying the access ledger (台账校验): walk the hash chain and hold it to the signed checkpoints.

Builds on both `access.ledger` (the entries) and `access.checkpoints` (the signed tree heads):
each entry is re-hashed and its link checked, and the same digests feed every checkpoint's
Merkle root, so one pass over the entries checks both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from access import ledger
from access.checkpoints import (
    CheckpointAudit,
    LedgerCheckpoint,
    locked_witnesses,
    publish_pending,
)
from access.ledger import GENESIS, LedgerHead, Page
from archive.store import ObjectStore


@dataclass(frozen=True)
class ChainReport:
    """The outcome of walking the chain: where it first breaks, if it does."""

    intact: bool
    entries: int
    first_bad_seq: int | None = None
    reason: str | None = None
    # Signed checkpoints: how many there are, the tree size of the first that does not hold
    # (its root, its signed claims or, given a JWKS, its signature), and why.
    checkpoints: int = 0
    first_bad_checkpoint: int | None = None
    checkpoint_reason: str | None = None
    signatures_checked: bool = False
    # The newest checkpoint the archive store holds a locked copy of (what the database was
    # held to), and the entries known to be gone at the end of the chain, first and last.
    locked_checkpoint: int | None = None
    missing_range: tuple[int, int] | None = None
    # Witnesses' cosignatures found on the checkpoints, each checked (`access.witnessing`).
    cosignatures: tuple[dict[str, Any], ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The `ledger verify --json` and `GET /api/v1/ledger/verify` body."""
        return {
            "intact": self.intact,
            "entries": self.entries,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
            "checkpoints": self.checkpoints,
            "first_bad_checkpoint": self.first_bad_checkpoint,
            "checkpoint_reason": self.checkpoint_reason,
            "signatures_checked": self.signatures_checked,
            "locked_checkpoint": self.locked_checkpoint,
            "missing_range": list(self.missing_range) if self.missing_range else None,
            "cosignatures": list(self.cosignatures),
        }


# `at` as the canonical ISO text, straight from the database (UTC, microseconds).

@dataclass(slots=True)
class _Walk:
    """How far a walk of the chain has got: the entries seen, the last link and the first break."""

    audit: CheckpointAudit
    walked: int = 0
    previous: str = GENESIS
    expected: int = 1
    broken: tuple[int, int, str] | None = None  # (entries walked, seq, reason) of the first break

    def run(self, pages: Generator[Page, None, None]) -> None:
        """Re-hash every entry of `pages`, check its sequence number and link, feed the checkpoints."""
        sha256, audit = hashlib.sha256, self.audit
        walked, previous, expected, broken = self.walked, self.previous, self.expected, self.broken
        try:
            for page in pages:
                digests: list[bytes] = []
                for seq, body, prev, stored in ledger.rebuilt_entries(page):
                    # The digest's bytes feed the Merkle leaves; hex only for the comparison.
                    digest = sha256(body.encode()).digest()
                    digests.append(digest)
                    walked += 1
                    if broken is not None:
                        continue  # keep hashing only for the checkpoints
                    if seq != expected:
                        broken = (walked, expected, f"entry {expected} is missing")
                    elif prev != previous:
                        broken = (walked, seq, "does not link to the entry before it")
                    elif digest.hex() != stored:
                        broken = (walked, seq, "content does not match its hash")
                    previous = stored
                    expected += 1
                audit.extend(digests)
                if broken is not None and audit.done:
                    break  # the break is found and no checkpoint needs the rest
        finally:
            pages.close()
        self.walked, self.previous, self.expected, self.broken = walked, previous, expected, broken


def verify_chain(
    session: Session,
    *,
    batch: int = 20_000,
    jwks: Mapping[str, Any] | None = None,
    locked: Sequence[LedgerCheckpoint] = (),
) -> ChainReport:
    """Recompute every hash, link and checkpoint root; name the first bad entry and checkpoint.

    Each checkpoint's root is recomputed from the entries' contents, so an entry changed and
    re-hashed together with everything after it still fails the checkpoints covering it.
    Signatures are verified when a JWKS is given; without one only the signed claims are.
    `locked` are checkpoints read back from the archive store: the chain must reach the newest,
    and each must match its row or stand in for a row that is gone.
    """
    audit = CheckpointAudit(session, jwks=jwks, locked=locked)
    walk = _Walk(audit)
    walk.run(ledger.entry_pages(session, batch=batch))
    newest = max((copy.tree_size for copy in locked), default=0)
    missing: tuple[int, int] | None = None
    if walk.broken is None:
        # Read now, not from the session's identity map: the head as last committed.
        query = select(LedgerHead.seq, LedgerHead.entry_hash).where(LedgerHead.id == 1)
        head = session.execute(query).first()
        last = walk.expected - 1
        if head is not None and head.seq > last:
            # Each page is a statement of its own, so entries committed after the last page was
            # read are behind this head: walk on up to it (only entries truly gone stay missing).
            walk.run(ledger.entry_pages(session, after=last, upto=head.seq, batch=batch))
            last = walk.expected - 1
        if walk.broken is None and (head is None or (head.seq, head.entry_hash) != (last, walk.previous)):
            upto = head.seq if head else "?"
            walk.broken = (walk.walked, last + 1, f"entries after {last} up to {upto} are missing")
            missing = (last + 1, max(head.seq, newest)) if head else None
        elif walk.broken is None and newest > last:
            # A tail cut with the head moved back to match: only the locked copy remembers it.
            walk.broken = (
                walk.walked,
                last + 1,
                f"entries {last + 1}–{newest} are missing: the locked checkpoint at {newest} covers them",
            )
            missing = (last + 1, newest)
    broken = walk.broken
    failure = audit.finish()
    checkpoint_reason = f"checkpoint at {failure.tree_size} entries: {failure.reason}" if failure else None
    walked, first_bad_seq, reason = broken if broken else (walk.walked, None, checkpoint_reason)
    return ChainReport(
        broken is None and failure is None,
        walked,
        first_bad_seq,
        reason,
        checkpoints=audit.checkpoints,
        first_bad_checkpoint=failure.tree_size if failure else None,
        checkpoint_reason=checkpoint_reason,
        signatures_checked=jwks is not None,
        locked_checkpoint=newest or None,
        missing_range=missing,
    )


def verify_with_store(
    session: Session,
    *,
    store: ObjectStore,
    jwks: Mapping[str, Any],
    retain_for: timedelta,
    batch: int = 20_000,
) -> ChainReport:
    """`verify_chain`, held to the store's locked checkpoints; copies any still pending first."""
    publish_pending(session, store=store, jwks=jwks, retain_for=retain_for)
    locked = locked_witnesses(session, store=store)
    return verify_chain(session, batch=batch, jwks=jwks, locked=locked)
