"""Every decision is ledgered under load: 50 concurrent clients × 10 requests against `casevault serve`,
allowed and refused mixed, on SQLite and PostgreSQL — no 5xx, one entry per decision, chain intact."""

from __future__ import annotations

import asyncio
import functools
import getpass
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from access import chain
from bench.load import (
    casevault,
    drive,
    environment,
    expected_entries,
    last_seq,
    ledgered_since,
    probes,
    secret_case,
    served,
)
from portal.internal.archive import operations
from tests.support.portal import Portal

pytestmark = pytest.mark.store("file")

CLIENTS = 50
REQUESTS = 10


def test_concurrent_clients_each_decision_ledgered_once(
    portal: Portal, make_case: Callable[..., Path]
) -> None:
    secret = operations.deposit(portal.wired, folder=make_case(secret_case()), actor="test")
    roles = ("archivist", "supervisor", "security_auditor")
    tokens = {role.replace("_", "-"): portal.token(role) for role in roles}
    mix = probes(portal.bundle_id, secret["bundle_id"])
    before = last_seq(portal.wired)

    settings = portal.wired.settings

    async def load_and_commands() -> tuple[list[Any], list[subprocess.CompletedProcess[str]]]:
        """The load, and meanwhile an operator's `verify --all` and `ledger verify`, one after the other."""
        load = asyncio.create_task(drive(base_url, tokens, mix, clients=CLIENTS, requests=REQUESTS))
        commands = []
        for args in (("verify", "--all"), ("ledger", "verify")):
            run = functools.partial(
                subprocess.run, casevault(*args), env=environment(settings), capture_output=True, text=True
            )
            commands.append(await asyncio.to_thread(run))
        return await load, commands

    with served(settings) as base_url:
        results, commands = asyncio.run(load_and_commands())

    statuses = Counter(r.status for r in results)
    assert len(results) == CLIENTS * REQUESTS
    assert set(statuses) == {200, 403}, statuses  # no 5xx, nothing else either
    # Every kind of request was answered as the policy says, allowed and refused.
    by_probe = {(r.probe.username, r.probe.path): r.status for r in results}
    assert [by_probe[(p.username, p.path)] for p in mix] == [200, 200, 200, 403, 403, 403, 403]
    # The commands ran during the load and found nothing wrong: no damage reported, no traceback.
    for done in commands:
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    entries = ledgered_since(portal.wired, before)
    verified = Counter({(f"cli:{getpass.getuser()}", "bundle.verify", "intact"): 2})  # both bundles
    assert entries == expected_entries(results) + verified
    with portal.wired.sessions() as session:
        assert chain.verify_chain(session).intact
