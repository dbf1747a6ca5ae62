"""Every decision is ledgered under load: 50 concurrent clients × 20 requests against `casevault serve`,
allowed and refused mixed, on SQLite and PostgreSQL — no 5xx, one entry per decision, chain intact."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from access import ledger
from bench.load import drive, expected_entries, last_seq, ledgered_since, probes, secret_case, served
from portal import operations
from tests.conftest import Portal

pytestmark = pytest.mark.parametrize("store_url", ["file"], indirect=True)

CLIENTS = 50
REQUESTS = 20


def test_concurrent_clients_each_decision_ledgered_once(
    portal: Portal, make_case: Callable[..., Path]
) -> None:
    secret = operations.deposit(portal.wired, folder=make_case(secret_case()), actor="test")
    roles = ("archivist", "supervisor", "security_auditor")
    tokens = {role.replace("_", "-"): portal.token(role) for role in roles}
    mix = probes(portal.bundle_id, secret["bundle_id"])
    before = last_seq(portal.wired)

    with served(portal.wired.settings) as base_url:
        results = asyncio.run(drive(base_url, tokens, mix, clients=CLIENTS, requests=REQUESTS))

    statuses = Counter(r.status for r in results)
    assert len(results) == CLIENTS * REQUESTS
    assert set(statuses) == {200, 403}, statuses  # no 5xx, nothing else either
    # Every kind of request was answered as the policy says, allowed and refused.
    by_probe = {(r.probe.username, r.probe.path): r.status for r in results}
    assert [by_probe[(p.username, p.path)] for p in mix] == [200, 200, 200, 403, 403, 403, 403]
    assert ledgered_since(portal.wired, before) == expected_entries(results)
    with portal.wired.sessions() as session:
        assert ledger.verify_chain(session).intact
