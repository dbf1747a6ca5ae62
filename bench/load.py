"""Load: N concurrent clients × M requests each against a served internal app, allowed and refused mixed.

    .venv/bin/python -m bench.load [--clients 50] [--requests 20] [--database both|sqlite|postgresql]

Each database gets a fresh archive: a SQLite file in a temp data dir, or a schema of its own on
PostgreSQL (`CASEVAULT_BENCH_DATABASE_URL`, as `bench.ledger`), migrated, with an archivist, a
supervisor and a security auditor and two deposited cases, one holding a secret record. The app
is served by `casevault serve --app internal` as a process of its own on a free loopback port; the
clients are asyncio tasks in this process sharing one httpx pool of N connections. Each request
is one policy decision (`probes`): listing cases, bundle metadata and record content as someone
allowed, and the same as someone refused (a supervisor without a grant probing another case's
bundle and records, an auditor listing cases, an archivist without clearance opening the secret
record).

Prints, per database, requests/s, p50 and p95 latency and the 5xx count, then whether the ledger
holds exactly one entry per decision and its chain verifies. The concurrency test
(`tests/test_concurrency.py`) drives the same probes through `drive` and `served`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from access import chain, identities, ledger
from access.ledger import LedgerEntry
from bench.ledger import pg_schema
from portal.cli.demo import case_document, write_sip
from portal.db import migrate
from portal.internal.archive import operations
from portal.settings import Settings
from portal.wiring import Wired, wire

PASSWORD = "load-bench-password-2026"
ACCOUNTS = {"archivist": "archivist", "supervisor": "supervisor", "security-auditor": "security_auditor"}
SECRET_CASE = "深民防罚〔2026〕77号"
SECRET_RECORD = "d1"


@dataclass(frozen=True)
class Probe:
    """One kind of request: who asks, for what, and the policy action it is decided (and ledgered) as."""

    username: str
    path: str
    action: str


def probes(bundle_id: str, secret_bundle_id: str) -> list[Probe]:
    """The mix: three allowed, four refused (two of them IDOR probes on another role's case)."""
    bundle = f"/api/v1/bundles/{bundle_id}"
    return [
        Probe("archivist", "/api/v1/cases", "case.list"),
        Probe("archivist", bundle, "bundle.read"),
        Probe("archivist", f"{bundle}/records/d2/content", "record.view"),
        Probe("supervisor", bundle, "bundle.read"),
        Probe("supervisor", f"{bundle}/records/d2/content", "record.view"),
        Probe("security-auditor", "/api/v1/cases", "case.list"),
        Probe(
            "archivist", f"/api/v1/bundles/{secret_bundle_id}/records/{SECRET_RECORD}/content", "record.view"
        ),
    ]


@dataclass(frozen=True)
class Result:
    """One answered request."""

    probe: Probe
    status: int
    seconds: float


async def drive(
    base_url: str, tokens: dict[str, str], mix: list[Probe], *, clients: int, requests: int
) -> list[Result]:
    """`clients` tasks, each sending `requests` requests one after another, walking the mix from its
    own offset so that every kind of request is in flight at once."""
    # Idle connections are let go well before uvicorn closes them (5 s), so that no request is sent
    # on a connection the server is closing at that moment.
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as http:

        async def client(number: int) -> list[Result]:
            done = []
            for n in range(requests):
                probe = mix[(number + n) % len(mix)]
                headers = {"Authorization": f"Bearer {tokens[probe.username]}"}
                started = time.perf_counter()
                response = await http.get(probe.path, headers=headers)
                await response.aread()
                done.append(Result(probe, response.status_code, time.perf_counter() - started))
            return done

        batches = await asyncio.gather(*(client(n) for n in range(clients)))
    return [result for batch in batches for result in batch]


def expected_entries(results: list[Result]) -> Counter[tuple[str, str, str]]:
    """One ledger entry per answered decision: (actor, action, outcome)."""
    return Counter(
        (r.probe.username, r.probe.action, "allowed" if r.status == 200 else "denied")
        for r in results
        if r.status in (200, 403)
    )


def ledgered_since(wired: Wired, seq: int) -> Counter[tuple[str, str, str]]:
    """The ledger entries written after `seq`, counted as `expected_entries` counts them."""
    with wired.sessions() as session:
        rows = session.execute(
            select(LedgerEntry.actor, LedgerEntry.action, LedgerEntry.outcome).where(LedgerEntry.seq > seq)
        )
        return Counter((actor, action, outcome) for actor, action, outcome in rows)


def last_seq(wired: Wired) -> int:
    """The sequence number of the newest ledger entry."""
    with wired.sessions() as session:
        return session.scalar(select(ledger.LedgerHead.seq)) or 0


def free_port() -> int:
    """A loopback port nobody listens on just now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if not alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start") from None
            time.sleep(0.05)


def casevault(*args: str) -> list[str]:
    """The command that runs `casevault ARGS…` from this interpreter (settings: `environment`)."""
    return [sys.executable, "-m", "portal.cli", *args]


def environment(settings: Settings) -> dict[str, str]:
    """This process's environment with the archive's settings, for a `casevault` process."""
    return os.environ | {
        "CASEVAULT_DATA_DIR": str(settings.data_dir),
        "CASEVAULT_DATABASE_URL": settings.resolved_database_url,
        "CASEVAULT_STORE": settings.store_url,
    }


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    """`casevault serve --app internal` as a process of its own on a free loopback port; yields its URL."""
    port = free_port()
    command = casevault("serve", "--app", "internal", "--port", str(port))
    server = subprocess.Popen(
        command, env=environment(settings), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_for(port, lambda: server.poll() is None)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def secret_case() -> dict[str, Any]:
    """The demo case under another number, with one record a state secret (秘密)."""
    document = case_document(SECRET_CASE)
    for record in document["records"]:
        if record["id"] == SECRET_RECORD:
            record["classification"] = {"level": "state_secret", "grade": "secret"}
    return document


def create_accounts(wired: Wired, accounts: Iterable[tuple[str, str]], *, password: str) -> None:
    """Each (username, role) as an account with `password`; supervisors in the legal office."""
    with wired.sessions() as session:
        for username, role in accounts:
            identities.create_user(
                session,
                username=username,
                role=role,
                actor="bench",
                now=datetime.now(UTC),
                password=password,
                department="legal" if role == "supervisor" else None,
            )
        session.commit()


def seed(wired: Wired, folder: Path) -> tuple[str, str]:
    """The accounts of `ACCOUNTS` and two deposited cases; returns (bundle id, secret case's bundle id)."""
    create_accounts(wired, ACCOUNTS.items(), password=PASSWORD)
    plain = write_sip(folder / "plain", case_document())
    secret = write_sip(folder / "secret", secret_case(), footage=plain / "records" / "现场检查.mp4")
    deposited = [operations.deposit(wired, folder=f, actor="bench")["bundle_id"] for f in (plain, secret)]
    return deposited[0], deposited[1]


def tokens_for(base_url: str) -> dict[str, str]:
    """A bearer token for each account of `ACCOUNTS`."""
    with httpx.Client(base_url=base_url) as http:
        return {
            username: http.post("/api/v1/token", data={"username": username, "password": PASSWORD}).json()[
                "access_token"
            ]
            for username in ACCOUNTS
        }


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def run(database: str, url: str, work: Path, *, clients: int, requests: int) -> dict[str, Any]:
    """Seed, serve and load one database; the figures and the ledger's verdict."""
    migrate(url)
    wired = wire(Settings(data_dir=work / "var", database_url=url, store=f"file://{work / 'objects'}"))
    try:
        bundle_id, secret_bundle_id = seed(wired, work / "sips")
        with served(wired.settings) as base_url:
            tokens = tokens_for(base_url)
            before = last_seq(wired)
            started = time.perf_counter()
            results = asyncio.run(
                drive(
                    base_url, tokens, probes(bundle_id, secret_bundle_id), clients=clients, requests=requests
                )
            )
            elapsed = time.perf_counter() - started
        with wired.sessions() as session:
            report = chain.verify_chain(session)
        latencies = [r.seconds for r in results]
        return {
            "database": database,
            "requests": len(results),
            "seconds": elapsed,
            "rps": len(results) / elapsed,
            "p50_ms": 1000 * statistics.median(latencies),
            "p95_ms": 1000 * percentile(latencies, 0.95),
            "5xx": sum(r.status >= 500 for r in results),
            "statuses": dict(sorted(Counter(r.status for r in results).items())),
            "one_entry_per_decision": ledgered_since(wired, before) == expected_entries(results),
            "chain_intact": report.intact,
        }
    finally:
        wired.engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="casevault concurrent load benchmark")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20, help="requests per client")
    parser.add_argument("--database", choices=("both", "sqlite", "postgresql"), default="both")
    args = parser.parse_args(argv)
    rows = []
    for database in ("sqlite", "postgresql"):
        if args.database not in ("both", database):
            continue
        print(f"{database}: seeding and serving …", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="casevault-load-") as tmp:
            work = Path(tmp)
            if database == "sqlite":
                url = f"sqlite:///{work / 'casevault.db'}"
                rows.append(run(database, url, work, clients=args.clients, requests=args.requests))
            else:
                with pg_schema("load") as url:
                    rows.append(run(database, url, work, clients=args.clients, requests=args.requests))
    print(f"{args.clients} clients × {args.requests} requests")
    print(f"{'database':<11} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'5xx':>4}  ledger         statuses")
    for row in rows:
        verdict = "1 per decision" if row["one_entry_per_decision"] else "MISMATCH"
        verdict += ", intact" if row["chain_intact"] else ", BROKEN"
        print(
            f"{row['database']:<11} {row['rps']:7.1f} {row['p50_ms']:7.1f} {row['p95_ms']:7.1f} "
            f"{row['5xx']:4d}  {verdict}  {row['statuses']}"
        )


if __name__ == "__main__":
    main()
