"""Ledger benchmarks on PostgreSQL: append under concurrency, verify and search of 1 M entries.

    .venv/bin/python -m bench.ledger [--entries 1000000] [--writers 8] [--rows-per-writer 500]
                                     [--runs 3] [--queries 200] [--parts append,verify,search]

Rows (docs/design.md, "Performance"):

1. ledger append, `--writers` threads, each with its own session, each `access.ledger.append`
   its own committed transaction (as a request does) vs a plain INSERT of the same rows into
   `plain_entries`, a copy of `ledger_entries` with the same columns, constraints and indexes
   but no chain and no head lock (same threads, same one-row transactions). Both sides use
   the app's engine (`portal.db.make_engine`); entries/s of each, medians of `--runs`, the
   ratio; `verify_chain` must find the chain intact afterwards.
2. `access.chain.verify_chain` over `--entries` valid chained entries, without and then
   with one signed checkpoint (`access.checkpoints.maybe_checkpoint(force=True)`); medians of
   `--runs`. The entries are bulk-loaded: hashed in Python with `canonical_body`/`hash_body`
   (what `entry_hash` does) and COPYed in, `ledger_head` set to the last one, then VACUUM
   ANALYZE (what autovacuum would have done to a table that grew to this size). Beside it, for
   context, the floor: the same rows read alone (one SELECT, plain psycopg, nothing hashed).
3. `GET /api/v1/ledger` through FastAPI's TestClient as a security auditor (bearer token),
   `--queries` queries over ten realistic filter mixes (actor, action, outcome, case_no,
   since/until and combinations), p50/p95 of the request time. Each request is the real
   one: token check, policy decision, its own ledger entry committed, the search, JSON. The
   same SELECT run alone in a session is printed beside it as context, and again after
   adding (column, seq) indexes for the four equality filters to the benchmark's schema, to
   show what such indexes would change (the product's schema is not touched).

Data: ~1000 actors (Zipf-like, s=0.7), the 10 policy actions (record.view the most common),
~4 % denied, ~5000 case numbers on the case-bound actions, one year of timestamps.

Each part runs in a fresh PostgreSQL schema (`bench_…`) migrated with `portal.db.migrate` on an
engine whose URL carries `options=-csearch_path%3D<schema>` (as tests/conftest.py does); the
schema is dropped at the end. The database: $CASEVAULT_BENCH_DATABASE_URL, else
$CASEVAULT_TEST_DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/test.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from access import chain, ledger
from access.ledger import GENESIS, LedgerEntry, canonical_body, canonical_json, hash_body

PG_URL = os.environ.get(
    "CASEVAULT_BENCH_DATABASE_URL",
    os.environ.get("CASEVAULT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)
COLUMNS = (
    "seq, at, actor, action, outcome, case_no, bundle_id, record_id, source, detail, prev_hash, entry_hash"
)
START = datetime(2025, 1, 1, tzinfo=UTC)
YEAR_US = 365 * 24 * 3600 * 1_000_000


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _engine_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


@contextmanager
def pg_schema(prefix: str) -> Iterator[str]:
    """A fresh schema, migrated to head; yields the database URL that selects it."""
    from portal.db import make_engine, migrate

    schema = f"bench_{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(_engine_url(PG_URL))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    try:
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


# --- realistic ledger content ----------------------------------------------------------------

# The ten policy actions, with how often each is ledgered, and whether it names a case.
ACTIONS: dict[str, tuple[float, bool]] = {
    "record.view": (40, True),
    "bundle.read": (20, True),
    "case.list": (15, False),
    "record.download": (8, True),
    "bundle.verify": (4, True),
    "bundle.deposit": (3, True),
    "ledger.read": (3, False),
    "bundle.export": (2, True),
    "ledger.verify": (1, False),
    "user.update": (1, False),
}
ROLES = ("archivist", "archive_manager", "supervisor", "disclosure_officer", "security_auditor")
RECORD_IDS = ("v1", "v2", "s1", "s2", "i1", "i2", "d1", "d2", "e1", "c1")


@dataclass(frozen=True)
class Population:
    """Who, what and which cases the generated entries are about."""

    actors: list[str]
    actor_weights: list[float]
    roles: dict[str, str]
    cases: list[str]
    case_weights: list[float]
    bundles: dict[str, str]

    @classmethod
    def make(cls, actors: int = 1000, cases: int = 5000) -> Population:
        names = [f"officer{i:04d}" for i in range(actors)]
        case_nos = [f"深民防罚〔{2021 + i // 1000}〕{i % 1000 + 1}号" for i in range(cases)]
        return cls(
            actors=names,
            actor_weights=[1 / (rank + 1) ** 0.7 for rank in range(actors)],
            roles={name: ROLES[i % len(ROLES)] for i, name in enumerate(names)},
            cases=case_nos,
            case_weights=[1 / (rank + 1) ** 0.5 for rank in range(cases)],
            bundles={c: hashlib.md5(c.encode()).hexdigest() for c in case_nos},
        )

    def rows(self, count: int, rng: random.Random) -> list[dict[str, Any]]:
        """`count` entries' fields (no seq, time or hashes)."""
        actors = rng.choices(self.actors, self.actor_weights, k=count)
        actions = rng.choices(list(ACTIONS), [w for w, _ in ACTIONS.values()], k=count)
        cases = rng.choices(self.cases, self.case_weights, k=count)
        out = []
        for actor, action, case_no in zip(actors, actions, cases, strict=True):
            denied = rng.random() < 0.04
            on_case = ACTIONS[action][1]
            role = self.roles[actor]
            out.append(
                {
                    "actor": actor,
                    "action": action,
                    "outcome": "denied" if denied else "allowed",
                    "case_no": case_no if on_case else None,
                    "bundle_id": self.bundles[case_no] if on_case else None,
                    "record_id": rng.choice(RECORD_IDS) if action.startswith("record.") else None,
                    "source": f"10.20.{rng.randrange(1, 40)}.{rng.randrange(1, 255)}",
                    "detail": {
                        "reason": "classified above the caller's clearance"
                        if denied
                        else f"{role} may {action}",
                        "role": role,
                        "rule": "clearance" if denied else "role",
                    },
                }
            )
        return out


# --- 1. append under concurrency -------------------------------------------------------------


def _run_writers(writers: int, work: Callable[[int], None]) -> float:
    """Start `writers` threads on `work(i)`, release them together; seconds until all finish."""
    barrier = threading.Barrier(writers + 1)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return elapsed


def ledger_appends(sessions: sessionmaker[Session], batches: list[list[dict[str, Any]]]) -> float:
    """Each writer appends its rows, one committed transaction each, as requests do."""

    def work(i: int) -> None:
        with sessions() as session:
            for row in batches[i]:
                ledger.append(session, **row)
                session.commit()

    return _run_writers(len(batches), work)


PLAIN_INSERT = text(
    f"INSERT INTO plain_entries ({COLUMNS}) VALUES (:seq, :at, :actor, :action, :outcome, :case_no,"
    " :bundle_id, :record_id, :source, :detail, :prev_hash, :entry_hash)"
)


def plain_inserts(
    sessions: sessionmaker[Session], batches: list[list[dict[str, Any]]], seqs: Iterator[int]
) -> float:
    """The same rows into the same-shaped table: no head row, no lock, no chain."""

    def work(i: int) -> None:
        with sessions() as session:
            for row in batches[i]:
                seq = next(seqs)
                digest = hashlib.sha256(seq.to_bytes(8, "big")).hexdigest()
                values = row | {"seq": seq, "at": datetime.now(UTC), "detail": canonical_json(row["detail"])}
                session.execute(PLAIN_INSERT, values | {"prev_hash": GENESIS, "entry_hash": digest})
                session.commit()

    return _run_writers(len(batches), work)


@dataclass
class AppendResult:
    ledger_rates: list[float] = field(default_factory=list)
    plain_rates: list[float] = field(default_factory=list)
    intact: bool = False
    entries: int = 0
    verify_seconds: float = 0.0
    pool: str = ""


def bench_append(args: argparse.Namespace, population: Population) -> AppendResult:
    from portal.db import make_engine

    result = AppendResult()
    rng = random.Random(1)
    with pg_schema("append") as url:
        engine = make_engine(url)
        pool = engine.pool
        result.pool = (
            f"{type(pool).__name__} size {getattr(pool, 'size', lambda: '?')()}, "
            f"max overflow {getattr(pool, '_max_overflow', '?')}, pre-ping {getattr(pool, '_pre_ping', '?')}"
        )
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE plain_entries (LIKE ledger_entries INCLUDING ALL)"))
        sessions = sessionmaker(engine, expire_on_commit=False)
        seqs = itertools.count(1)

        def batches(per_writer: int) -> list[list[dict[str, Any]]]:
            return [population.rows(per_writer, rng) for _ in range(args.writers)]

        _say("append: warm-up")
        ledger_appends(sessions, batches(20))
        plain_inserts(sessions, batches(20), seqs)
        total = args.writers * args.rows_per_writer
        for number in range(1, args.runs + 1):
            _say(f"append run {number}/{args.runs}: {total} ledger appends and {total} plain INSERTs")
            work = batches(args.rows_per_writer)

            def project(work: list[list[dict[str, Any]]] = work) -> None:
                result.ledger_rates.append(total / ledger_appends(sessions, work))

            def baseline(work: list[list[dict[str, Any]]] = work) -> None:
                result.plain_rates.append(total / plain_inserts(sessions, work, seqs))

            sides = [project, baseline]
            shift = (number - 1) % len(sides)  # each side goes first in turn
            for side in sides[shift:] + sides[:shift]:
                side()
        with sessions() as session:
            start = time.perf_counter()
            report = chain.verify_chain(session)
            result.verify_seconds = time.perf_counter() - start
        result.intact, result.entries = report.intact, report.entries
        if not report.intact:
            _say(f"append: the chain is BROKEN: {report.as_json()}")
        engine.dispose()
    return result


# --- 2. bulk load and verify -----------------------------------------------------------------


def _copy_field(value: str | None) -> str:
    if value is None:
        return "\\N"
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        raise ValueError(f"not COPY-safe: {value!r}")
    return value


def copy_line(*, seq: int, at: str, row: dict[str, Any], detail: str, previous: str) -> tuple[str, str]:
    """One entry as `COPY … FROM STDIN` reads it, chained to `previous`; the line and its hash."""
    body = canonical_body(
        seq=seq,
        at=at,
        actor=row["actor"],
        action=row["action"],
        outcome=row["outcome"],
        case_no=row["case_no"],
        bundle_id=row["bundle_id"],
        record_id=row["record_id"],
        source=row["source"],
        detail=detail,
        prev_hash=previous,
    )
    digest = hash_body(body)
    fields = (
        str(seq),
        at,
        row["actor"],
        row["action"],
        row["outcome"],
        _copy_field(row["case_no"]),
        _copy_field(row["bundle_id"]),
        _copy_field(row["record_id"]),
        _copy_field(row["source"]),
        _copy_field(detail),
        previous,
        digest,
    )
    return "\t".join(fields) + "\n", digest


def generate_chain(count: int, population: Population, rng: random.Random) -> Iterator[str]:
    """COPY text lines of `count` valid chained entries (hashes as `entry_hash` computes them)."""
    gap = YEAR_US / count  # mean gap: `count` entries over a year
    at_us = 0
    previous = GENESIS
    details: dict[str, str] = {}
    chunk = 50_000
    seq = 0
    while seq < count:
        for row in population.rows(min(chunk, count - seq), rng):
            seq += 1
            at_us += 1 + int(rng.expovariate(1 / gap))
            at = (START + timedelta(microseconds=at_us)).isoformat(timespec="microseconds")
            key = f"{row['detail']['role']}|{row['action']}|{row['outcome']}"
            detail = details.get(key)
            if detail is None:
                detail = details[key] = canonical_json(row["detail"])
            line, digest = copy_line(seq=seq, at=at, row=row, detail=detail, previous=previous)
            yield line
            previous = digest


def bulk_load(engine: Engine, count: int, population: Population) -> tuple[float, float]:
    """COPY `count` chained entries in (secondary indexes rebuilt after); (load s, index+vacuum s)."""
    start = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            " AND tablename = 'ledger_entries' AND indexname LIKE 'ix_%'"
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
        last = GENESIS
        with cursor.copy(f"COPY ledger_entries ({COLUMNS}) FROM STDIN") as copy:
            buffer = io.StringIO()
            for n, line in enumerate(generate_chain(count, population, random.Random(2)), start=1):
                buffer.write(line)
                if n % 20_000 == 0:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
                    if n % 200_000 == 0:
                        _say(f"  {n:,} entries hashed and copied …")
                last = line.rsplit("\t", 1)[1].strip()
            copy.write(buffer.getvalue())
        cursor.execute("UPDATE ledger_head SET seq = %s, entry_hash = %s WHERE id = 1", (count, last))
        raw.commit()
        loaded = time.perf_counter() - start
        start = time.perf_counter()
        for _, definition in indexes:
            cursor.execute(definition)
        raw.commit()
        raw.driver_connection.autocommit = True
        cursor.execute("VACUUM ANALYZE ledger_entries")
        raw.driver_connection.autocommit = False
        return loaded, time.perf_counter() - start
    finally:
        raw.close()


def _timed_verify(sessions: sessionmaker[Session]) -> tuple[float, float, chain.ChainReport]:
    """`verify_chain` in a session of its own: (wall seconds, this process's CPU seconds, report)."""
    with sessions() as session:
        start, cpu = time.perf_counter(), time.process_time()
        report = chain.verify_chain(session)
        return time.perf_counter() - start, time.process_time() - cpu, report


def read_alone(engine: Engine) -> tuple[float, float]:
    """The floor under verify: the same 12 columns of every entry read, nothing hashed or checked.

    One SELECT on a plain psycopg cursor, `at` formatted by PostgreSQL as verify has it formatted;
    (wall seconds, this process's CPU seconds).
    """
    columns = COLUMNS.replace("at,", ledger._AT_SQL["postgresql"] + ",", 1)
    raw = engine.raw_connection()
    try:
        start, cpu = time.perf_counter(), time.process_time()
        cursor = raw.cursor()
        cursor.execute(f"SELECT {columns} FROM ledger_entries ORDER BY seq")
        while cursor.fetchmany(20_000):
            pass
        seconds, used = time.perf_counter() - start, time.process_time() - cpu
        raw.rollback()
        return seconds, used
    finally:
        raw.close()


@dataclass
class VerifyResult:
    plain: list[float] = field(default_factory=list)
    plain_cpu: list[float] = field(default_factory=list)
    with_checkpoint: list[float] = field(default_factory=list)
    with_checkpoint_cpu: list[float] = field(default_factory=list)
    read: list[float] = field(default_factory=list)
    read_cpu: list[float] = field(default_factory=list)
    reports: list[chain.ChainReport] = field(default_factory=list)
    load_seconds: float = 0.0
    index_seconds: float = 0.0
    checkpoint_seconds: float = 0.0


def bench_verify(
    args: argparse.Namespace,
    url: str,
    engine: Engine,
    sessions: sessionmaker[Session],
    population: Population,
) -> VerifyResult:
    from access.checkpoints import maybe_checkpoint
    from archive.seal import Keyring

    result = VerifyResult()
    _say(f"verify: bulk-loading {args.entries:,} chained entries …")
    result.load_seconds, result.index_seconds = bulk_load(engine, args.entries, population)
    _say(
        f"verify: loaded in {result.load_seconds:.1f} s, "
        f"indexes + VACUUM ANALYZE {result.index_seconds:.1f} s"
    )

    def product(into: list[float], cpu: list[float]) -> None:
        seconds, used, report = _timed_verify(sessions)
        into.append(seconds)
        cpu.append(used)
        result.reports.append(report)

    def floor() -> None:
        seconds, used = read_alone(engine)
        result.read.append(seconds)
        result.read_cpu.append(used)

    for number in range(1, args.runs + 1):
        _say(f"verify run {number}/{args.runs}")
        sides = [lambda: product(result.plain, result.plain_cpu), floor]
        for side in sides if number % 2 else reversed(sides):
            side()
    with tempfile.TemporaryDirectory(prefix="casevault-bench-keys-") as keys, sessions() as session:
        start = time.perf_counter()
        made = maybe_checkpoint(
            session,
            keyring=Keyring(Path(keys)),
            every_entries=1000,
            every_minutes=60,
            now=datetime.now(UTC),
            force=True,
        )
        session.commit()
        result.checkpoint_seconds = time.perf_counter() - start
        assert made is not None and made.tree_size == args.entries
    for number in range(1, args.runs + 1):
        _say(f"verify run {number}/{args.runs}, with one checkpoint")
        product(result.with_checkpoint, result.with_checkpoint_cpu)
    return result


# --- 3. search ------------------------------------------------------------------------------


def _iso(us: int) -> str:
    return (START + timedelta(microseconds=us)).isoformat().replace("+00:00", "Z")


def search_queries(
    population: Population, count: int, rng: random.Random
) -> list[tuple[str, dict[str, str]]]:
    """`count` (kind, query parameters) an auditor would send, ten kinds in turn."""
    day = 24 * 3600 * 1_000_000
    actions = list(ACTIONS)

    def actor() -> str:
        return rng.choice(population.actors)

    def case() -> str:
        return rng.choice(population.cases)

    def window(days: int) -> dict[str, str]:
        since = rng.randrange(0, YEAR_US - days * day)
        return {"since": _iso(since), "until": _iso(since + days * day)}

    kinds: list[tuple[str, Callable[[], dict[str, str]]]] = [
        ("actor", lambda: {"actor": actor()}),
        ("actor + 30 days", lambda: {"actor": actor(), **window(30)}),
        ("case_no", lambda: {"case_no": case()}),
        ("case_no + action", lambda: {"case_no": case(), "action": "record.view"}),
        ("action + denied", lambda: {"action": rng.choice(actions), "outcome": "denied"}),
        ("denied", lambda: {"outcome": "denied"}),
        ("1 day", lambda: window(1)),
        (
            "actor + action + allowed",
            lambda: {"actor": actor(), "action": "record.view", "outcome": "allowed"},
        ),
        ("action", lambda: {"action": rng.choice(actions)}),
        (
            "action + denied + 7 days",
            lambda: {"action": rng.choice(actions), "outcome": "denied", **window(7)},
        ),
    ]
    return [(kinds[i % len(kinds)][0], kinds[i % len(kinds)][1]()) for i in range(count)]


def api_statement(params: dict[str, str], limit: int = 100) -> Any:
    """The SELECT `portal.internal.ledger.api.ledger_search` builds (for context and EXPLAIN)."""
    query = select(LedgerEntry).order_by(LedgerEntry.seq.desc()).limit(limit)
    for name in ("actor", "action", "outcome", "case_no"):
        if params.get(name):
            query = query.where(getattr(LedgerEntry, name) == params[name])
    if params.get("since"):
        query = query.where(LedgerEntry.at >= datetime.fromisoformat(params["since"]))
    if params.get("until"):
        query = query.where(LedgerEntry.at < datetime.fromisoformat(params["until"]))
    return query


@dataclass
class SearchResult:
    api_ms: list[float] = field(default_factory=list)
    sql_ms: list[float] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    hits: list[int] = field(default_factory=list)
    sql_whatif_ms: list[float] = field(default_factory=list)
    slowest_params: dict[str, str] = field(default_factory=dict)
    plan: str = ""


def bench_search(
    args: argparse.Namespace, url: str, sessions: sessionmaker[Session], population: Population
) -> SearchResult:
    from fastapi.testclient import TestClient

    from access import identities
    from portal.app import create_app
    from portal.settings import Settings
    from portal.wiring import wire

    result = SearchResult()
    with tempfile.TemporaryDirectory(prefix="casevault-bench-") as data:
        settings = Settings(data_dir=Path(data), database_url=url, store=f"file://{data}/objects")
        wired = wire(settings)
        password = uuid.uuid4().hex
        with wired.sessions() as session:
            identities.create_user(
                session, username="auditor", role="security_auditor", actor="bench", now=datetime.now(UTC),
                password=password,
            )  # fmt: skip
            session.commit()
        client = TestClient(create_app(wired), base_url="https://testserver")
        got = client.post("/api/v1/token", data={"username": "auditor", "password": password})
        got.raise_for_status()
        headers = {"Authorization": f"Bearer {got.json()['access_token']}"}
        rng = random.Random(3)
        for _, params in search_queries(population, 20, rng):  # warm-up
            client.get("/api/v1/ledger", params=params, headers=headers).raise_for_status()
        queries = search_queries(population, args.queries, rng)
        _say(f"search: {len(queries)} queries through GET /api/v1/ledger")
        for kind, params in queries:
            start = time.perf_counter()
            response = client.get("/api/v1/ledger", params=params, headers=headers)
            response.raise_for_status()
            body = response.json()
            result.api_ms.append((time.perf_counter() - start) * 1000)
            result.kinds.append(kind)
            result.hits.append(len(body["entries"]))
        client.close()
        wired.engine.dispose()
    _say("search: the same SELECTs alone, for context")
    with sessions() as session:
        for _, params in queries:
            start = time.perf_counter()
            list(session.scalars(api_statement(params)))
            result.sql_ms.append((time.perf_counter() - start) * 1000)
            session.rollback()
        slowest = max(range(len(queries)), key=lambda i: result.api_ms[i])
        result.slowest_params = queries[slowest][1]
        statement = api_statement(result.slowest_params).compile(
            dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}
        )
        plan = session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {statement}"))
        result.plan = "\n".join(line for (line,) in plan)
        session.rollback()
        # What if each filter column had an index that also orders by seq? (this schema only)
        _say("search: the same SELECTs with (column, seq) indexes, for context")
        for column in WHATIF_INDEXES:
            session.execute(text(f"CREATE INDEX whatif_{column}_seq ON ledger_entries ({column}, seq)"))
        session.execute(text("ANALYZE ledger_entries"))
        session.commit()
        for _, params in queries[:20]:  # warm-up: the new indexes' pages
            list(session.scalars(api_statement(params)))
        for _, params in queries:
            start = time.perf_counter()
            list(session.scalars(api_statement(params)))
            result.sql_whatif_ms.append((time.perf_counter() - start) * 1000)
            session.rollback()
    return result


WHATIF_INDEXES = ("actor", "action", "outcome", "case_no")


# --- reporting -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def render(rows: list[list[str]]) -> str:
    header = ["#", "what", "figure", "baseline (same run)", "ratio / target", "met"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(fmt, rows)])


def _list(values: list[float], fmt: str = "{:.2f}") -> str:
    return "[" + ", ".join(fmt.format(v) for v in values) + "]"


def _busy(seconds: float = 1.0) -> float:
    """Share of all cores busy over `seconds` (from /proc/stat), while this process sleeps."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields[:8]), fields[3] + fields[4]

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def report_append(
    args: argparse.Namespace, got: AppendResult, rows: list[list[str]], notes: list[str]
) -> None:
    project, plain = statistics.median(got.ledger_rates), statistics.median(got.plain_rates)
    ratio = project / plain
    intact = "yes" if got.intact else "NO"
    rows.append(
        [
            "1",
            f"ledger append, {args.writers} writers",
            f"{project:,.0f} entries/s",
            f"plain INSERT {plain:,.0f} entries/s",
            f"{ratio:.2f}× (≥ 0.5×); chain intact: {intact}",
            "yes" if ratio >= 0.5 and got.intact else "NO",
        ]
    )
    notes.append(
        f"1: ledger {_list(got.ledger_rates, '{:,.0f}')} entries/s, "
        f"plain {_list(got.plain_rates, '{:,.0f}')} entries/s; "
        f"{args.writers} threads × {args.rows_per_writer} one-row transactions per side per run; "
        f"engine: portal.db.make_engine ({got.pool})"
    )
    notes.append(
        f"   verify_chain afterwards: {got.entries:,} entries, {'intact' if got.intact else 'BROKEN'} "
        f"({got.verify_seconds:.2f} s)"
    )


def report_verify(
    args: argparse.Namespace, got: VerifyResult, rows: list[list[str]], notes: list[str]
) -> None:
    ok = all(r.intact and r.entries == args.entries for r in got.reports)
    seen = sorted({r.checkpoints for r in got.reports[args.runs :]})
    for number, what, values, cpu in (
        ("2a", f"ledger verify, {args.entries:,} entries", got.plain, got.plain_cpu),
        ("2b", f"ledger verify, {args.entries:,} entries, 1 checkpoint", got.with_checkpoint,
         got.with_checkpoint_cpu),
    ):  # fmt: skip
        median = statistics.median(values)
        rows.append(
            [
                number,
                what,
                f"{median:.2f} s (CPU {statistics.median(cpu):.2f} s)",
                f"the rows read alone {statistics.median(got.read):.2f} s",
                f"≤ 10 s; intact: {'yes' if ok else 'NO'}",
                "yes" if median <= 10 and ok else "NO",
            ]
        )
    notes.append(
        f"2a: {_list(got.plain)} s, CPU {_list(got.plain_cpu)} s; 2b: {_list(got.with_checkpoint)} s, "
        f"CPU {_list(got.with_checkpoint_cpu)} s; checkpoints seen in 2b: {seen}"
    )
    notes.append("    (CPU: this process, all threads; PostgreSQL's own time is not in it)")
    notes.append(
        f"    bulk load (hash in Python + COPY) {got.load_seconds:.1f} s; "
        f"rebuilding the ix_ indexes + VACUUM ANALYZE {got.index_seconds:.1f} s; "
        "signing the checkpoint (maybe_checkpoint, which first "
        f"re-verifies every entry) {got.checkpoint_seconds:.2f} s"
    )
    notes.append(
        f"    the rows read alone (one SELECT, plain psycopg, nothing hashed; the floor, for context): "
        f"{_list(got.read)} s, CPU {_list(got.read_cpu)} s"
    )


def report_search(
    args: argparse.Namespace, got: SearchResult, rows: list[list[str]], notes: list[str]
) -> None:
    p50, p95 = percentile(got.api_ms, 0.5), percentile(got.api_ms, 0.95)
    rows.append(
        [
            "3",
            f"ledger search, {args.entries:,} entries, filtered (API)",
            f"p50 {p50:.1f} ms, p95 {p95:.1f} ms",
            "—",
            "p95 ≤ 100 ms",
            "yes" if p95 <= 100 else "NO",
        ]
    )
    whatif = ", ".join(f"({c}, seq)" for c in WHATIF_INDEXES)
    notes.append(
        f"3: {len(got.api_ms)} requests (TestClient, security auditor, limit 100); the same SELECT alone: "
        f"p50 {percentile(got.sql_ms, 0.5):.1f} ms, p95 {percentile(got.sql_ms, 0.95):.1f} ms; with indexes "
        f"{whatif}: p50 {percentile(got.sql_whatif_ms, 0.5):.1f} ms, "
        f"p95 {percentile(got.sql_whatif_ms, 0.95):.1f} ms"
    )
    notes.append(
        f"   {'per kind':<26} {'API p50':>8} {'API p95':>8} {'API max':>8} {'SELECT p95':>11} "
        f"{'+indexes p95':>13} {'hits':>5}"
    )
    for kind in dict.fromkeys(got.kinds):
        idx = [i for i, k in enumerate(got.kinds) if k == kind]
        api = [got.api_ms[i] for i in idx]
        sql = [got.sql_ms[i] for i in idx]
        whatif_ms = [got.sql_whatif_ms[i] for i in idx]
        hits = statistics.median(got.hits[i] for i in idx)
        notes.append(
            f"   {kind:<26} {percentile(api, 0.5):8.1f} {percentile(api, 0.95):8.1f} {max(api):8.1f} "
            f"{percentile(sql, 0.95):11.1f} {percentile(whatif_ms, 0.95):13.1f} {hits:5.0f}"
        )
    notes.append(f"   slowest request: {got.slowest_params}; its SELECT's plan as migrated:")
    notes.extend("     " + line for line in got.plan.splitlines())


def run(args: argparse.Namespace) -> None:
    import authlib.deprecate  # noqa: F401  (it sets its warnings to "always" when imported)

    from portal.db import make_engine

    warnings.filterwarnings("ignore", message=".*httpx.*")  # TestClient's and authlib's notices
    begun = time.perf_counter()
    busy_before = _busy()
    population = Population.make()
    rows: list[list[str]] = []
    notes: list[str] = []
    parts = set(args.parts.split(","))
    if "append" in parts:
        report_append(args, bench_append(args, population), rows, notes)
    if parts & {"verify", "search"}:
        with pg_schema("million") as url:
            engine = make_engine(url)
            sessions = sessionmaker(engine, expire_on_commit=False)
            report_verify(args, bench_verify(args, url, engine, sessions, population), rows, notes)
            if "search" in parts:
                report_search(args, bench_search(args, url, sessions, population), rows, notes)
            engine.dispose()
    busy_after = _busy()

    print()
    print(
        f"casevault ledger benchmarks on PostgreSQL ({PG_URL.rsplit('@', 1)[-1]}); {os.cpu_count()} cores; "
        f"medians of {args.runs} runs"
    )
    print(
        f"other load: {busy_before:.0%} of the cores were busy in the second before the run, "
        f"{busy_after:.0%} in the second after it"
    )
    print()
    print(render(rows))
    print()
    for note in notes:
        print(note)
    print(f"total benchmark time {time.perf_counter() - begun:.0f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="casevault ledger benchmarks on PostgreSQL")
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries to verify and search")
    parser.add_argument("--writers", type=int, default=8, help="concurrent append writers (default 8)")
    parser.add_argument("--rows-per-writer", type=int, default=500, help="appends per writer per run")
    parser.add_argument("--runs", type=int, default=3, help="timed runs; medians are reported (default 3)")
    parser.add_argument("--queries", type=int, default=200, help="search requests timed (default 200)")
    parser.add_argument("--parts", default="append,verify,search", help="comma-separated subset to run")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
