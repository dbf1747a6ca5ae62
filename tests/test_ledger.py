"""The ledger: hash-chained, append-only in the database, and tampering is named by entry."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.orm import Session

from access import chain, ledger
from access.ledger import LedgerEntry, LedgerHead
from portal.db import make_engine, migrate
from portal.wiring import Wired
from tests.support.ledger import drop_ledger_triggers
from tests.support.portal import append_entries

pytestmark = pytest.mark.store("file")


def _append(wired: Wired, count: int) -> None:
    append_entries(wired, count)


def _under_the_application(wired: Wired, *statements: str) -> None:
    """Change rows the way an insider with database access would: around the trigger."""
    with wired.engine.begin() as conn:
        drop_ledger_triggers(conn, "ledger_entries")
        for statement in statements:
            conn.execute(text(statement))


def test_appended_entries_form_an_intact_chain(wired: Wired) -> None:
    _append(wired, 5)
    with wired.sessions() as session:
        report = chain.verify_chain(session, batch=2)
        first = session.get(LedgerEntry, 1)
    assert report.intact and report.entries == 5
    assert first is not None and first.prev_hash == ledger.GENESIS


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET actor = 'someone else' WHERE seq = 2",
        "DELETE FROM ledger_entries WHERE seq = 2",
    ],
)
def test_database_refuses_update_and_delete(wired: Wired, statement: str) -> None:
    _append(wired, 3)
    with pytest.raises(DBAPIError, match="append-only"), wired.engine.begin() as conn:
        conn.execute(text(statement))
    with wired.sessions() as session:
        assert chain.verify_chain(session).intact


@pytest.mark.parametrize(
    ("statements", "first_bad", "reason"),
    [
        (["UPDATE ledger_entries SET actor = 'mallory' WHERE seq = 3"], 3, "content"),
        (["DELETE FROM ledger_entries WHERE seq = 3"], 3, "missing"),
        (["DELETE FROM ledger_entries WHERE seq = 5"], 5, "missing"),
        # Reordered: entries 2 and 3 swap places (every column but the sequence number).
        (
            [
                "UPDATE ledger_entries SET seq = -2 WHERE seq = 2",
                "UPDATE ledger_entries SET seq = 2 WHERE seq = 3",
                "UPDATE ledger_entries SET seq = 3 WHERE seq = -2",
            ],
            2,
            "link",
        ),
    ],
    ids=["edited", "deleted", "tail-deleted", "reordered"],
)
def test_verify_names_first_bad_entry(
    wired: Wired, cli: Callable, statements: list[str], first_bad: int, reason: str
) -> None:
    _append(wired, 5)
    _under_the_application(wired, *statements)
    result = cli("ledger", "verify", "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["intact"] is False
    assert report["first_bad_seq"] == first_bad
    assert reason in report["reason"]
    plain = cli("ledger", "verify")
    assert f"ledger broken at entry {first_bad}" in plain.output


def test_concurrent_writers_never_fork_the_chain(wired: Wired) -> None:
    """SQLite serialises writers itself; on PostgreSQL the locked head row must."""
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(10):
                _append(wired, 2)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with wired.sessions() as session:
        report = chain.verify_chain(session)
    assert report.intact and report.entries == 120


# --- the PostgreSQL one-statement append and the Python path agree --------------------------

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
TRICKY: list[dict[str, Any]] = [
    {"actor": "alice", "action": "record.view", "outcome": "allowed"},
    {
        "actor": 'o"brien\\x',
        "action": "bundle.read",
        "outcome": "denied",
        "case_no": "深民防罚〔2026〕1号",
        "bundle_id": "b" * 32,
        "record_id": "",
        "source": "10.0.0.1",
        "detail": {"reason": "tab\there, line\nbreak, \u2028, 🗄️", "n": 3, "x": 1.5, "ok": True, "none": None},
    },
    {"actor": "bob", "action": "case.list", "outcome": "allowed", "detail": {"z": [1, {"b": 2, "a": 1}]}},
]


def _entries(count: int) -> list[dict[str, Any]]:
    """`count` entries' fields, the tricky ones in turn, with times (some not in UTC) set."""
    east = timezone(timedelta(hours=8))
    times = [T0 + timedelta(minutes=n, microseconds=n * 7919 % 1_000_000) for n in range(count)]
    return [
        TRICKY[n % len(TRICKY)] | {"at": at.astimezone(east if n % 2 else UTC)} for n, at in enumerate(times)
    ]


CHAIN_COLUMNS = ("seq", "prev_hash", "entry_hash")


def _stored(session: Session) -> list[dict[str, Any]]:
    columns = [column.name for column in LedgerEntry.__table__.columns]
    rows = session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq))
    return [{name: getattr(row, name) for name in columns} for row in rows]


def test_postgresql_append_hashes_exactly_as_python_does(wired: Wired, tmp_path: Path) -> None:
    """The same entries written by the one-statement append and by the ORM path on SQLite: same bytes."""
    fields = _entries(12)  # seq reaches two digits
    with wired.sessions() as session:
        returned = [ledger.append(session, **entry) for entry in fields]
        session.commit()
        on_postgresql = _stored(session)
        bodies = [(row.body, row.entry_hash) for row in ledger.stored_entries(session, batch=5)]
    lite = make_engine(f"sqlite:///{tmp_path / 'python-path.db'}")
    migrate(lite)
    with Session(lite) as session:
        for entry in fields:
            ledger.append(session, **entry)
        session.commit()
        on_sqlite = _stored(session)
    lite.dispose()
    assert on_postgresql == on_sqlite  # every column, hashes included
    for row, entry in zip(on_postgresql, returned, strict=True):
        assert ledger.entry_hash(row) == row["entry_hash"]  # `entry_hash` over the stored row
        assert (entry.seq, entry.prev_hash, entry.entry_hash) == tuple(row[k] for k in CHAIN_COLUMNS)
    assert all(ledger.hash_body(body) == stored for body, stored in bodies)


CAROL: dict[str, Any] = {"actor": "carol", "action": "record.view", "outcome": "allowed", "detail": {"k": 1}}


def test_append_returns_the_entry_and_stays_in_the_callers_transaction(wired: Wired) -> None:
    _append(wired, 2)
    with wired.sessions() as session:
        head = session.get(LedgerHead, 1)
        assert head is not None and head.seq == 2
        entry = ledger.append(session, **CAROL)
        assert (entry.seq, entry.actor, entry.detail) == (3, "carol", {"k": 1})
        assert head.seq == 3 and head.entry_hash == entry.entry_hash  # a loaded head stays current
        session.rollback()  # the entry and the head's move go with the caller's transaction
    with wired.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 2
        again = ledger.append(session, **CAROL)
        session.commit()
        stored = session.get(LedgerEntry, 3)
        assert stored is not None and again.seq == 3  # no gap where the rolled-back entry was
        assert (stored.prev_hash, stored.entry_hash) == (again.prev_hash, again.entry_hash)
        assert chain.verify_chain(session).intact


def test_eight_concurrent_writers_leave_one_chain_without_gaps(wired: Wired) -> None:
    """Each append its own transaction, as requests do; some roll back and leave no gap."""
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(number: int) -> None:
        try:
            start.wait()
            with wired.sessions() as session:
                for n in range(25):
                    ledger.append(session, actor=f"w{number}", action="record.view", outcome="allowed",
                                  detail={"n": n})  # fmt: skip
                    if n % 5 == 4:
                        session.rollback()
                    else:
                        session.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with wired.sessions() as session:
        rows = _stored(session)
        report = chain.verify_chain(session, batch=7)
    assert [row["seq"] for row in rows] == list(range(1, 8 * 20 + 1))
    assert all(row["prev_hash"] == before["entry_hash"] for before, row in itertools.pairwise(rows))
    assert all(ledger.entry_hash(row) == row["entry_hash"] for row in rows)
    assert report.intact and report.entries == 160


def test_entries_committed_during_a_verify_are_not_taken_for_missing(
    wired: Wired, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages are statements of their own: a verify catches up with the head it reads at the end."""
    _append(wired, 5)
    pages = ledger.entry_pages

    def then_three_more(session: Session, **kwargs: Any) -> Iterator[Any]:
        yield from pages(session, **kwargs)
        if kwargs.get("after", 0) == 0:
            _append(wired, 3)  # another request commits while this verify is between its reads

    monkeypatch.setattr(ledger, "entry_pages", then_three_more)
    with wired.sessions() as session:
        report = chain.verify_chain(session, batch=2)
    assert report.intact and report.entries == 8


def test_a_verify_that_stops_early_lets_go_of_the_connection(wired: Wired) -> None:
    """The read-ahead thread ends when the walk stops at a break; the session goes on working."""
    _append(wired, 40)
    _under_the_application(wired, "UPDATE ledger_entries SET actor = 'mallory' WHERE seq = 2")
    with wired.sessions() as session:
        report = chain.verify_chain(session, batch=3)
        assert (report.intact, report.first_bad_seq, report.entries) == (False, 2, 2)
        assert not [t for t in threading.enumerate() if t.name == "ledger-read-ahead"]
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 40


@pytest.mark.only_on("postgresql", why="column length checks and killing a backend are PostgreSQL's")
def test_append_errors_arrive_as_sqlalchemys(wired: Wired) -> None:
    """A refused row and a lost connection surface as the exceptions the app's handlers expect."""
    with wired.sessions() as session:
        with pytest.raises(DataError):
            ledger.append(session, actor="x" * 129, action="record.view", outcome="allowed")
        session.rollback()
        ledger.append(session, actor="alice", action="record.view", outcome="allowed")
        pid = session.scalar(text("SELECT pg_backend_pid()"))
        with wired.engine.begin() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(OperationalError) as lost:
            ledger.append(session, actor="bob", action="record.view", outcome="allowed")
        assert lost.value.connection_invalidated
        session.rollback()
    with wired.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
        assert chain.verify_chain(session).intact


def test_a_failing_verify_read_arrives_as_sqlalchemys_error(
    wired: Wired, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bare cursors of the walk (on a reader thread on PostgreSQL) wrap their errors too."""
    _append(wired, 3)
    dialect = wired.engine.dialect.name
    monkeypatch.setitem(ledger._AT_SQL, dialect, "no_such_function(at)")
    with wired.sessions() as session, pytest.raises(DBAPIError, match="no_such_function"):
        chain.verify_chain(session)
    assert not [t for t in threading.enumerate() if t.name == "ledger-read-ahead"]
