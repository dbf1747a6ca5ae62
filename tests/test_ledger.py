"""The ledger: hash-chained, append-only in the database, and tampering is named by entry."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from access import ledger
from access.ledger import LedgerEntry
from portal.context import Wired
from tests.conftest import append_entries

pytestmark = pytest.mark.parametrize("store_url", ["file"], indirect=True)


def _append(wired: Wired, count: int) -> None:
    append_entries(wired, count)


def _under_the_application(wired: Wired, *statements: str) -> None:
    """Change rows the way an insider with database access would: around the trigger."""
    with wired.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only"))
        else:
            conn.execute(text("DROP TRIGGER ledger_entries_no_update"))
            conn.execute(text("DROP TRIGGER ledger_entries_no_delete"))
        for statement in statements:
            conn.execute(text(statement))


def test_appended_entries_form_an_intact_chain(wired: Wired) -> None:
    _append(wired, 5)
    with wired.sessions() as session:
        report = ledger.verify_chain(session, batch=2)
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
        assert ledger.verify_chain(session).intact


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


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
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
        report = ledger.verify_chain(session)
    assert report.intact and report.entries == 120
