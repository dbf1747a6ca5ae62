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

from sqlalchemy import BigInteger, Index, String, Text, select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator

from archive.db import Base, UTCDateTime

GENESIS = "0" * 64
_string = json.encoder.encode_basestring  # type: ignore[attr-defined]  # json.dumps's, unescaped


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 as is: one spelling for one value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class CanonicalJSON(TypeDecorator[dict[str, Any]]):
    """JSON kept as its canonical text, so the chain can be re-hashed without re-encoding."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Dialect) -> str | None:
        return None if value is None else canonical_json(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> dict[str, Any] | None:
        return None if value is None else json.loads(value)


class LedgerEntry(Base):
    """One ledgered event: who did what to which case, and whether it was allowed."""

    __tablename__ = "ledger_entries"
    # Searches filter on one of these and page newest first by seq: each index carries seq so
    # a rare filter never turns into a backwards scan of the whole table.
    __table_args__ = tuple(
        Index(f"ix_ledger_entries_{name}_seq", name, "seq")
        for name in ("actor", "action", "outcome", "case_no")
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    case_no: Mapped[str | None] = mapped_column(String(128))
    bundle_id: Mapped[str | None] = mapped_column(String(32))
    record_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON())
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


def _str(value: str | None) -> str:
    return "null" if value is None else _string(value)


def canonical_body(
    *,
    seq: int,
    at: str,
    actor: str,
    action: str,
    outcome: str,
    case_no: str | None,
    bundle_id: str | None,
    record_id: str | None,
    source: str | None,
    detail: str,
    prev_hash: str,
) -> str:
    """The text an entry's hash is taken over: canonical JSON of its fields, keys sorted.

    Built by hand rather than by json.dumps so that verifying a million entries needs no
    decoding and re-encoding: `at` and `detail` arrive from the database as this text.
    """
    return (
        f'{{"action":{_string(action)},"actor":{_string(actor)},"at":"{at}",'
        f'"bundle_id":{_str(bundle_id)},"case_no":{_str(case_no)},"detail":{detail},'
        f'"outcome":{_string(outcome)},"prev_hash":"{prev_hash}","record_id":{_str(record_id)},'
        f'"seq":{seq},"source":{_str(source)}}}'
    )


def hash_body(body: str) -> str:
    """SHA-256 of a canonical body, in hex."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def entry_hash(fields: Mapping[str, Any]) -> str:
    """The hash of an entry given its field values."""
    return hash_body(
        canonical_body(
            seq=fields["seq"],
            at=_canonical_time(fields["at"]),
            actor=fields["actor"],
            action=fields["action"],
            outcome=fields["outcome"],
            case_no=fields["case_no"],
            bundle_id=fields["bundle_id"],
            record_id=fields["record_id"],
            source=fields["source"],
            detail=canonical_json(fields["detail"]),
            prev_hash=fields["prev_hash"],
        )
    )


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


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as stored: its canonical body recomputed in SQL, and the hashes it carries."""

    seq: int
    body: str
    prev_hash: str
    entry_hash: str


# `at` as the canonical ISO text, straight from the database (UTC, microseconds).
_AT_SQL = {
    "postgresql": """to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')""",
    "sqlite": "replace(at, ' ', 'T') || '+00:00'",
}


def stored_entries(
    session: Session, *, after: int = 0, upto: int | None = None, batch: int = 20_000
) -> Iterator[StoredEntry]:
    """Entries in order with their bodies rebuilt from the columns, fast enough for millions."""
    at_sql = _AT_SQL[session.get_bind().dialect.name].replace(":", "\\:")  # not bind parameters
    query = text(
        f"SELECT seq, {at_sql}, actor, action, outcome, case_no, bundle_id, record_id, source,"
        " detail, prev_hash, entry_hash FROM ledger_entries"
        " WHERE seq > :after AND seq <= :upto ORDER BY seq"
    )
    bounds = {"after": after, "upto": upto if upto is not None else 2**62}
    result = session.connection().execute(query.execution_options(yield_per=batch), bounds)
    for part in result.partitions(batch):
        for (
            seq,
            at,
            actor,
            action,
            outcome,
            case_no,
            bundle_id,
            record_id,
            source,
            detail,
            prev,
            stored,
        ) in part:
            body = canonical_body(
                seq=seq,
                at=at,
                actor=actor,
                action=action,
                outcome=outcome,
                case_no=case_no,
                bundle_id=bundle_id,
                record_id=record_id,
                source=source,
                detail=detail,
                prev_hash=prev,
            )
            yield StoredEntry(seq, body, prev, stored)


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
    for row in stored_entries(session, batch=batch):
        count += 1
        recomputed = hash_body(row.body)
        audit.add(recomputed)
        if broken is not None:
            continue  # keep walking only to recompute the checkpoints
        seq = row.seq
        if seq != expected:
            broken = (count, expected, f"entry {expected} is missing")
        elif row.prev_hash != previous:
            broken = (count, seq, "does not link to the entry before it")
        elif recomputed != row.entry_hash:
            broken = (count, seq, "content does not match its hash")
        previous = row.entry_hash
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
