"""The access ledger (访问留痕台账): append-only, every entry hash-chained to the one before.

Entries are appended inside the caller's transaction, so an action and its entry commit or
roll back together. A one-row head holds the last sequence number and hash; locking it
serialises writers so the chain never forks. On PostgreSQL one statement locks the head,
inserts the entry and moves the head, so the lock is held for one round trip and the commit;
on SQLite the append writes to the head first, which takes the database's write lock.
The database refuses UPDATE and DELETE on the entries (a trigger, see the migrations);
`verify_chain` finds what went around that.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from sqlalchemy import BigInteger, Index, String, Text, select, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.engine.interfaces import DBAPIModule
from sqlalchemy.exc import DBAPIError, NoResultFound
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.types import TypeDecorator

from archive.db import Base, UTCDateTime

GENESIS = "0" * 64
_string = json.encoder.encode_basestring  # json.dumps's, unescaped


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


def canonical_time(at: datetime) -> str:
    """The canonical form of a time (entries, checkpoints): UTC ISO 8601 with microseconds."""
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
            at=canonical_time(fields["at"]),
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
    """Append one entry in the caller's transaction; the caller commits. Returns the entry as stored."""
    fields: dict[str, Any] = {
        "at": (at or datetime.now(UTC)).astimezone(UTC),
        "actor": actor,
        "action": action,
        "outcome": outcome,
        "case_no": case_no,
        "bundle_id": bundle_id,
        "record_id": record_id,
        "source": source,
        "detail": detail or {},
    }
    if session.get_bind().dialect.name == "postgresql":
        return _append_postgresql(session, fields)
    # SQLite has no row locks and ignores FOR UPDATE: a write to the head takes the database's
    # write lock (waiting out the busy timeout) before the head is read, so no two writers read
    # the same head. pysqlite opens the transaction at this first write; a session that already
    # wrote holds the lock since then.
    session.execute(
        update(LedgerHead).where(LedgerHead.id == 1).values(seq=LedgerHead.seq),
        execution_options={"synchronize_session": False},
    )
    query = select(LedgerHead).where(LedgerHead.id == 1).execution_options(populate_existing=True)
    head = session.execute(query).scalar_one()
    fields |= {"seq": head.seq + 1, "prev_hash": head.entry_hash}
    entry = LedgerEntry(**fields, entry_hash=entry_hash(fields))
    session.add(entry)
    head.seq, head.entry_hash = entry.seq, entry.entry_hash
    session.flush()
    return entry


# One statement locks the head, inserts the entry and moves the head, so the lock is held for a
# single round trip plus the caller's commit (the SQLite path above holds it across two
# statements and a flush). The hash is the one `entry_hash` defines: Python builds the canonical
# body around the two values only known under the lock, and the database splices in the previous hash and the
# sequence number (both ASCII) and takes SHA-256 of exactly the UTF-8 bytes `hash_body` would.
_APPEND_POSTGRESQL = (
    "WITH head AS (SELECT seq + 1 AS seq, entry_hash AS prev FROM ledger_head WHERE id = 1 FOR UPDATE),"
    " entry AS (INSERT INTO ledger_entries (seq, at, actor, action, outcome, case_no, bundle_id,"
    " record_id, source, detail, prev_hash, entry_hash)"
    " SELECT head.seq, %(at)s, %(actor)s, %(action)s, %(outcome)s, %(case_no)s, %(bundle_id)s,"
    " %(record_id)s, %(source)s, %(detail)s, head.prev, encode(sha256(%(before_prev)s"
    " || convert_to(head.prev, 'UTF8') || %(before_seq)s || convert_to(head.seq::text, 'UTF8')"
    " || %(after_seq)s), 'hex') FROM head RETURNING seq, prev_hash, entry_hash)"
    " UPDATE ledger_head SET seq = entry.seq, entry_hash = entry.entry_hash FROM entry"
    " WHERE ledger_head.id = 1 RETURNING entry.seq, entry.prev_hash, entry.entry_hash"
)
# Placeholders for the spliced values; neither can occur in a body (JSON escapes control characters).
_PREV_MARK, _SEQ_MARK = "\x00", "\x01"


def _append_postgresql(session: Session, fields: dict[str, Any]) -> LedgerEntry:
    """The one-statement append; the entry returned is not attached to the session."""
    detail = canonical_json(fields["detail"])
    body = canonical_body(
        seq=_SEQ_MARK,  # type: ignore[arg-type]  # a placeholder, split out below
        at=canonical_time(fields["at"]),
        actor=fields["actor"],
        action=fields["action"],
        outcome=fields["outcome"],
        case_no=fields["case_no"],
        bundle_id=fields["bundle_id"],
        record_id=fields["record_id"],
        source=fields["source"],
        detail=detail,
        prev_hash=_PREV_MARK,
    )
    before_prev, rest = body.split(_PREV_MARK)  # "prev_hash" sorts before "seq"
    before_seq, after_seq = rest.split(_SEQ_MARK)
    entry = LedgerEntry(**fields)
    if session.autoflush:
        session.flush()  # the caller's pending rows first, as the ORM path's SELECT does, before the lock
    parts = {
        "before_prev": before_prev.encode(),
        "before_seq": before_seq.encode(),
        "after_seq": after_seq.encode(),
    }
    params = fields | {"detail": detail} | parts
    # A bare DB-API cursor: SQLAlchemy's compilation and result wrapping cost about a third of the
    # CPU of an append and its commit, and concurrent writers share one interpreter (8 writers:
    # about a fifth more appends per second than through `exec_driver_sql`).
    connection = session.connection()
    cursor = connection.connection.cursor()
    try:
        cursor.execute(_APPEND_POSTGRESQL, params)
        row = cursor.fetchone()
    except connection.dialect.loaded_dbapi.Error as exc:
        _raise_wrapped(connection, exc, _APPEND_POSTGRESQL, params, cursor)
    finally:
        cursor.close()
    if row is None:
        raise NoResultFound("the ledger has no head row (id 1); is the database migrated?")
    entry.seq, entry.prev_hash, entry.entry_hash = row
    # A head this session already loaded stays current, as it does on the ORM path.
    head = session.identity_map.get(identity_key(LedgerHead, 1))
    if head is not None:
        set_committed_value(head, "seq", entry.seq)
        set_committed_value(head, "entry_hash", entry.entry_hash)
    return entry


def _raise_wrapped(
    connection: Connection, exc: DBAPIModule.Error, statement: str, params: Any, cursor: Any
) -> NoReturn:
    """Raise a DB-API error as SQLAlchemy would: wrapped, the connection invalidated if it was lost."""
    # Without this the bare cursors here would let a lost database past the app's OperationalError handler.
    dialect = connection.dialect
    lost = dialect.is_disconnect(exc, connection.connection.dbapi_connection, cursor)
    if lost:
        connection.invalidate(exc)
    raise DBAPIError.instance(
        statement, params, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
    ) from exc


_AT_SQL = {
    "postgresql": """to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')""",
    "sqlite": "replace(at, ' ', 'T') || '+00:00'",
}
_PARAM = {"postgresql": "%s", "sqlite": "?"}  # the DB-API's placeholder
_DONE = object()

Page = Sequence[tuple[Any, ...]]  # the DB-API cursor's rows


def _pages(session: Session, *, after: int, upto: int | None, batch: int) -> Generator[Page, None, None]:
    """Entries after..upto in order, as pages of plain DB-API rows with `at` as canonical text.

    Plain tuples, not SQLAlchemy Rows: at a million entries the per-row wrapping costs seconds.
    Keyset pages, each a short statement of its own, in the session's transaction.
    """
    dialect = session.get_bind().dialect.name
    mark = _PARAM[dialect]
    query = (
        f"SELECT seq, {_AT_SQL[dialect]}, actor, action, outcome, case_no, bundle_id, record_id, source,"
        f" detail, prev_hash, entry_hash FROM ledger_entries WHERE seq > {mark} AND seq <= {mark}"
        f" ORDER BY seq LIMIT {mark}"
    )
    # The connection is taken here, in the caller's thread: a reader thread never touches the session.
    connection = session.connection()
    return _keyset(connection, query, after=after, upto=2**62 if upto is None else upto, batch=batch)


def _keyset(
    connection: Connection, query: str, *, after: int, upto: int, batch: int
) -> Generator[Page, None, None]:
    cursor = connection.connection.cursor()
    try:
        while True:
            try:
                cursor.execute(query, (after, upto, batch))
                page: Page = cursor.fetchall()
            except connection.dialect.loaded_dbapi.Error as exc:
                _raise_wrapped(connection, exc, query, (after, upto, batch), cursor)
            if page:
                yield page
            if len(page) < batch:
                return
            after = page[-1][0]
    finally:
        cursor.close()


def _read_ahead(pages: Generator[Page, None, None]) -> Generator[Page, None, None]:
    """The same pages, read one page ahead on a thread while the caller works on the current one.

    PostgreSQL then formats and sends the next page on another core while Python hashes this one.
    The thread has the connection to itself until the pages are done or this generator is closed.
    """
    ready: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()
    failed: list[BaseException] = []

    def produce() -> None:
        try:
            for page in pages:
                ready.put(page)
                if stop.is_set():
                    break
        except BaseException as exc:
            failed.append(exc)
        finally:
            pages.close()
            ready.put(_DONE)

    reader = threading.Thread(target=produce, name="ledger-read-ahead", daemon=True)
    reader.start()
    finished = False
    try:
        while (page := ready.get()) is not _DONE:
            yield page
        finished = True
    finally:
        if not finished:  # the caller stopped early: let the reader see `stop` and let go of the connection
            stop.set()
            while ready.get() is not _DONE:
                pass
        reader.join()
    if failed:
        raise failed[0]


def entry_pages(
    session: Session, *, after: int = 0, upto: int | None = None, batch: int
) -> Generator[Page, None, None]:
    """`_pages`, read ahead on PostgreSQL (SQLite's connections stay in their own thread)."""
    pages = _pages(session, after=after, upto=upto, batch=batch)
    return _read_ahead(pages) if session.get_bind().dialect.name == "postgresql" else pages


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as stored: its canonical body rebuilt from the columns, and the hashes it carries."""

    seq: int
    body: str
    prev_hash: str
    entry_hash: str


def rebuilt_entries(page: Page) -> Iterator[tuple[int, str, str, str]]:
    """(seq, canonical body, prev hash, stored hash) of each row of a page; plain tuples, as this
    is the verify walk's inner loop."""
    for seq, at, actor, action, outcome, case_no, bundle_id, record_id, source, detail, prev, stored in page:
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
        yield seq, body, prev, stored


def stored_entries(
    session: Session, *, after: int = 0, upto: int | None = None, batch: int = 20_000
) -> Iterator[StoredEntry]:
    """Entries in order with their bodies rebuilt from the columns, fast enough for millions."""
    pages = entry_pages(session, after=after, upto=upto, batch=batch)
    try:
        for page in pages:
            yield from (StoredEntry(*row) for row in rebuilt_entries(page))
    finally:
        pages.close()
