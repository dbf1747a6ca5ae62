"""Accounts: the users commands, argon2id, lockout, and tokens that die with the password."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from access.ledger import LedgerEntry
from access.models import User
from tests.support.portal import PASSWORD, Portal

pytestmark = [
    pytest.mark.store("file"),
]


def test_users_commands(cli) -> None:
    made = cli(
        "users",
        "create",
        "--username",
        "Liu.Yang",
        "--role",
        "supervisor",
        "--department",
        "legal",
        "--clearance",
        "secret",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert made.exit_code == 0, made.output
    listed = json.loads(cli("users", "list", "--json").output)
    assert listed == [
        {
            "username": "liu.yang",
            "role": "supervisor",
            "department": "legal",
            "clearance": "secret",
            "disabled": False,
            "sso": False,
        }
    ]
    assert cli("users", "disable", "--username", "liu.yang").exit_code == 0
    assert json.loads(cli("users", "list", "--json").output)[0]["disabled"] is True


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--username", "x y", "--role", "archivist"], "username"),
        (["--username", "ok1", "--role", "emperor"], "role"),
        (["--username", "ok2", "--role", "supervisor"], "department"),
        (["--username", "ok3", "--role", "archivist", "--department", "legal"], "department"),
        (["--username", "ok4", "--role", "archivist", "--clearance", "cosmic"], "clearance"),
    ],
)
def test_bad_user_input_names_the_field(cli, args: list[str], field: str) -> None:
    result = cli("users", "create", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"casevault: {field}:")


def test_short_password_is_refused(cli) -> None:
    result = cli(
        "users", "create", "--username", "shorty", "--role", "archivist", "--password-stdin", input="short\n"
    )
    assert result.exit_code == 2 and "password: at least 12" in result.stderr


def test_passwords_are_stored_as_argon2id(portal: Portal) -> None:
    with portal.wired.sessions() as session:
        hashes = session.scalars(select(User.password_hash)).all()
    assert hashes and all(h and h.startswith("$argon2id$") for h in hashes)


def test_lockout_after_repeated_failures_is_ledgered_with_address(portal: Portal) -> None:
    for _ in range(5):
        assert (
            portal.client.post(
                "/api/v1/token", data={"username": "archivist", "password": "nope" * 4}
            ).status_code
            == 401
        )
    # Even the right password is refused while locked …
    assert (
        portal.client.post("/api/v1/token", data={"username": "archivist", "password": PASSWORD}).status_code
        == 401
    )
    # … and works again once the lock has run out.
    later = portal.wired.clock() + timedelta(minutes=16)
    portal.wired.clock = lambda: later
    assert (
        portal.client.post("/api/v1/token", data={"username": "archivist", "password": PASSWORD}).status_code
        == 200
    )
    with portal.wired.sessions() as session:
        rows = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "auth.login")).all()
    assert [r.outcome for r in rows] == ["failed"] * 6 + ["ok"]
    assert "locked" in rows[4].detail["reason"] and rows[5].detail["reason"] == "account locked"
    assert all(r.source == "testclient" for r in rows)


@pytest.mark.parametrize("change", ["reset-password", "disable"])
def test_tokens_stop_working_after_password_change_or_disable(portal: Portal, cli, change: str) -> None:
    headers = portal.as_role("archivist")
    assert portal.client.get("/api/v1/cases", headers=headers).status_code == 200
    args = ["users", change, "--username", "archivist"]
    result = (
        cli(*args, "--password-stdin", input="a brand new passphrase\n")
        if change == "reset-password"
        else cli(*args)
    )
    assert result.exit_code == 0, result.output
    response = portal.client.get("/api/v1/cases", headers=headers)
    assert response.status_code == 401
    assert "sign in again" in response.json()["detail"]
