"""The access ledger (访问留痕台账): append-only, every entry hash-chained to the one before.

Entries are appended inside the caller's transaction, so an action and its entry commit or
roll back together. A one-row head holds the last sequence number and hash; locking it
serialises writers so the chain never forks. The database refuses UPDATE and DELETE on the
entries (a trigger, see the migrations); `verify_chain` finds what went around that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from archive.db import Base, UTCDateTime

GENESIS = "0" * 64
_HASHED = (
    "seq",
    "at",
    "actor",
    "action",
    "outcome",
    "case_no",
    "bundle_id",
    "record_id",
    "source",
    "detail",
    "prev_hash",
)


class LedgerEntry(Base):
    """One ledgered event: who did what to which case, and whether it was allowed."""

    __tablename__ = "ledger_entries"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(128), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    case_no: Mapped[str | None] = mapped_column(String(128), index=True)
    bundle_id: Mapped[str | None] = mapped_column(String(32))
    record_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class LedgerHead(Base):
    """The chain's tip: a single row (id 1) that writers lock."""

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))


def _canonical_time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(fields: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of an entry's fields (sorted keys, no spaces)."""
    body = {name: fields[name] for name in _HASHED}
    body["at"] = _canonical_time(body["at"])
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    outcome: str,
    case_no: str | None = None,
    bundle_id: str | None = None,
    record_id: str | None = None,
    source: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> LedgerEntry:
    """Append one entry in the caller's transaction; the caller commits."""
    head = session.execute(select(LedgerHead).where(LedgerHead.id == 1).with_for_update()).scalar_one()
    fields: dict[str, Any] = {
        "seq": head.seq + 1,
        "at": (at or datetime.now(UTC)).astimezone(UTC),
        "actor": actor,
        "action": action,
        "outcome": outcome,
        "case_no": case_no,
        "bundle_id": bundle_id,
        "record_id": record_id,
        "source": source,
        "detail": detail or {},
        "prev_hash": head.entry_hash,
    }
    entry = LedgerEntry(**fields, entry_hash=entry_hash(fields))
    session.add(entry)
    head.seq, head.entry_hash = entry.seq, entry.entry_hash
    session.flush()
    return entry


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
        }


def _rows(session: Session, batch: int) -> Iterator[dict[str, Any]]:
    columns = [getattr(LedgerEntry, name) for name in (*_HASHED, "entry_hash")]
    result = session.execute(select(*columns).order_by(LedgerEntry.seq).execution_options(yield_per=batch))
    for row in result:
        yield row._asdict()


def verify_chain(
    session: Session, *, batch: int = 20_000, jwks: Mapping[str, Any] | None = None
) -> ChainReport:
    """Recompute every hash, link and checkpoint root; name the first bad entry and checkpoint.

    Each checkpoint's root is recomputed from the entries' contents, so an entry changed and
    re-hashed together with everything after it still fails the checkpoints covering it.
    Signatures are verified when a JWKS is given; without one only the signed claims are.
    """
    from access.checkpoints import CheckpointAudit  # that module builds on this one

    audit = CheckpointAudit(session, jwks=jwks)
    previous = GENESIS
    expected = 1
    count = 0
    broken: tuple[int, int, str] | None = None  # (entries walked, seq, reason) of the first break
    for row in _rows(session, batch):
        count += 1
        recomputed = entry_hash(row)
        audit.add(recomputed)
        if broken is not None:
            continue  # keep walking only to recompute the checkpoints
        seq = row["seq"]
        if seq != expected:
            broken = (count, expected, f"entry {expected} is missing")
        elif row["prev_hash"] != previous:
            broken = (count, seq, "does not link to the entry before it")
        elif recomputed != row["entry_hash"]:
            broken = (count, seq, "content does not match its hash")
        previous = row["entry_hash"]
        expected += 1
    if broken is None:
        head = session.get(LedgerHead, 1)
        if head is None or head.seq != expected - 1 or head.entry_hash != previous:
            last = head.seq if head else "?"
            broken = (count, expected, f"entries after {expected - 1} up to {last} are missing")
    failure = audit.finish()
    checkpoint_reason = f"checkpoint at {failure.tree_size} entries: {failure.reason}" if failure else None
    walked, first_bad_seq, reason = broken if broken else (count, None, checkpoint_reason)
    return ChainReport(
        broken is None and failure is None,
        walked,
        first_bad_seq,
        reason,
        checkpoints=audit.checkpoints,
        first_bad_checkpoint=failure.tree_size if failure else None,
        checkpoint_reason=checkpoint_reason,
        signatures_checked=jwks is not None,
    )
