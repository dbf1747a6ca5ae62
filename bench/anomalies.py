"""Anomaly evaluation on PostgreSQL over a synthetic ledger of 1 M entries.

    .venv/bin/python -m bench.anomalies [--entries 1000000] [--loads 20] [--increment 2000]

Rows (docs/benchmarks.md, "Anomalies"):

1. `access.anomalies.evaluate` from an empty cursor over `--entries` entries, every rule on
   with its defaults: entries/s, against reading the same rows alone (the evaluation's own
   keyset SELECT of the same columns, batch by batch, nothing evaluated) in the same run.
2. An increment: `--increment` entries appended with `access.ledger.append` after that, then
   evaluated: entries/s, and how many entries it read (only the new ones).
3. The auditor's start page, `GET /anomalies`, through FastAPI's TestClient with a bearer token,
   with all 1 M entries evaluated: the median of `--loads` loads (each the real request: token,
   policy decision ledgered, the evaluation of what is new — its own entry —, the queries, the
   template), against `GET /ledger` (the previous start page) and `GET /notifications` (a page
   with little of its own) in the same run; and `GET /api/v1/anomalies`.

The ledger is the one `bench/ledger.py` generates (`Population`: ~1000 actors, Zipf-like; the
ten policy actions; ~4 % refused; one year) with three changes that make it a working office's:
95 % of the entries fall in working hours on working days of the official calendar, the rest in
the evening; 2 % are sign-ins (`auth.login`), each person from one of three addresses and one
sign-in in a thousand from a new one; five of the actors are system administrators. Loaded by
COPY (hashes as `entry_hash` computes them), `ledger_head` set, then VACUUM ANALYZE, in a fresh
schema dropped at the end ($CASEVAULT_BENCH_DATABASE_URL, else $CASEVAULT_TEST_DATABASE_URL,
else postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from access import anomalies, identities, ledger, workdays
from access.anomalies import AnomalyFlag
from access.ledger import GENESIS, LedgerEntry, canonical_json
from bench.ledger import COLUMNS, PG_URL, Population, copy_line, pg_schema, render

CHINA = anomalies.CHINA
YEAR = 2025
ADMINS = ("officer0500", "officer0501", "officer0502", "officer0503", "officer0504")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def working_days() -> list[date]:
    """The working days of YEAR on the official calendar."""
    calendar = workdays.WorkCalendar()
    first = date(YEAR, 1, 1)
    days = (first + timedelta(days=n) for n in range(366))
    return [d for d in days if d.year == YEAR and calendar.is_workday(d)]


def moments(count: int, rng: random.Random) -> Iterator[datetime]:
    """`count` moments in order over the year's working days: 95 % in working hours (08:30–18:00),
    5 % in the evening (18:30–22:30)."""
    days = working_days()
    for index, day in enumerate(days):
        share = count * (index + 1) // len(days) - count * index // len(days)
        offsets = sorted(
            rng.uniform(18.5, 22.5) if rng.random() < 0.05 else rng.uniform(8.5, 18.0) for _ in range(share)
        )
        midnight = datetime(day.year, day.month, day.day, tzinfo=CHINA)
        yield from (midnight + timedelta(hours=hours) for hours in offsets)


def office_rows(population: Population, count: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    """The population's rows, 2 % of them turned into sign-ins from the person's usual addresses."""
    homes = {
        a: [f"10.{i % 200}.{(i * 7 + k) % 250}.{k + 1}" for k in range(3)]
        for i, a in enumerate(population.actors)
    }
    done = 0
    while done < count:
        for row in population.rows(min(50_000, count - done), rng):
            done += 1
            if rng.random() < 0.02:
                source = (
                    rng.choice(homes[row["actor"]])
                    if rng.random() > 0.001
                    else f"198.51.100.{rng.randrange(1, 255)}"
                )
                row = row | {
                    "action": "auth.login",
                    "outcome": "ok",
                    "case_no": None,
                    "bundle_id": None,
                    "record_id": None,
                    "source": source,
                    "detail": {},
                }
            yield row


def load(engine: Engine, count: int, population: Population) -> float:
    """COPY `count` chained entries in; seconds (hashing included)."""
    start = time.perf_counter()
    rng = random.Random(5)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        previous = GENESIS
        with cursor.copy(f"COPY ledger_entries ({COLUMNS}) FROM STDIN") as copy:
            buffer = io.StringIO()
            rows = office_rows(population, count, rng)
            for seq, (row, at) in enumerate(zip(rows, moments(count, rng), strict=True), start=1):
                when = at.astimezone(UTC).isoformat(timespec="microseconds")
                detail = canonical_json(row["detail"])
                line, digest = copy_line(seq=seq, at=when, row=row, detail=detail, previous=previous)
                buffer.write(line)
                previous = digest
                if seq % 20_000 == 0:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
                    if seq % 200_000 == 0:
                        _say(f"  {seq:,} entries hashed and copied …")
            copy.write(buffer.getvalue())
        cursor.execute("UPDATE ledger_head SET seq = %s, entry_hash = %s WHERE id = 1", (count, previous))
        raw.commit()
        raw.driver_connection.autocommit = True
        cursor.execute("VACUUM ANALYZE ledger_entries")
        raw.driver_connection.autocommit = False
        return time.perf_counter() - start
    finally:
        raw.close()


def read_rows(sessions: sessionmaker[Session]) -> float:
    """The baseline: the evaluation's own SELECT, batch after batch, the rows read and dropped."""
    with sessions() as session:
        start, after = time.perf_counter(), 0
        while True:
            rows = anomalies._read(session, after=after, limit=anomalies.BATCH)
            if not rows:
                break
            after = rows[-1].seq
        return time.perf_counter() - start


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def page_loads(client: Any, path: str, headers: dict[str, str], loads: int) -> float:
    """Median milliseconds of `loads` GETs (after two untimed)."""
    for _ in range(2):
        client.get(path, headers=headers).raise_for_status()
    times = []
    for _ in range(loads):
        start = time.perf_counter()
        client.get(path, headers=headers).raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run(args: argparse.Namespace) -> None:
    from fastapi.testclient import TestClient

    from portal.app import create_app
    from portal.db import make_engine
    from portal.settings import Settings
    from portal.wiring import wire

    warnings.filterwarnings("ignore", message=".*httpx.*")
    population = Population.make()
    rows: list[list[str]] = []
    with pg_schema("anomalies") as url:
        engine = make_engine(url)
        sessions = sessionmaker(engine, expire_on_commit=False)
        now = datetime.now(UTC)
        _say(f"loading {args.entries:,} entries …")
        loaded = load(engine, args.entries, population)
        with sessions() as session:
            for name in ADMINS:
                identities.create_user(
                    session, username=name, role="sysadmin", actor="bench", now=now, password=uuid.uuid4().hex
                )
            session.commit()
        _say(f"loaded in {loaded:.0f} s; reading the rows alone …")
        read_s = read_rows(sessions)
        _say(f"read in {read_s:.1f} s; evaluating every rule over them …")
        with sessions() as session:
            eval_s, done = timed(lambda: anomalies.evaluate(session, now=now))
        with sessions() as session:
            counted = select(AnomalyFlag.kind, func.count(AnomalyFlag.id)).group_by(AnomalyFlag.kind)
            flagged = {kind: number for kind, number in session.execute(counted)}
        entries = done.entries
        rows.append(
            [
                "1",
                f"evaluate {entries:,} entries from an empty cursor",
                f"{entries / eval_s:,.0f} entries/s ({eval_s:.1f} s)",
                f"rows read alone {entries / read_s:,.0f} entries/s ({read_s:.1f} s)",
                f"{eval_s / read_s:.1f} × the read",
            ]
        )
        with sessions() as session:
            last = session.scalar(select(LedgerEntry.at).order_by(LedgerEntry.seq.desc()).limit(1))
            assert last is not None
            for n in range(args.increment):
                ledger.append(
                    session, **population.rows(1, random.Random(n))[0], at=last + timedelta(seconds=n)
                )
            session.commit()
        with sessions() as session:
            inc_s, inc = timed(lambda: anomalies.evaluate(session, now=now))
        rows.append(
            [
                "2",
                f"evaluate {args.increment:,} new entries after that",
                f"{inc.entries / inc_s:,.0f} entries/s ({inc_s * 1000:.0f} ms; read {inc.entries:,})",
                "",
                "",
            ]
        )
        with tempfile.TemporaryDirectory(prefix="casevault-bench-") as data:
            settings = Settings(data_dir=Path(data), database_url=url, store=f"file://{data}/objects")
            wired = wire(settings)
            password = uuid.uuid4().hex
            with wired.sessions() as session:
                identities.create_user(
                    session,
                    username="auditor",
                    role="security_auditor",
                    actor="bench",
                    now=now,
                    password=password,
                )
                session.commit()
            client = TestClient(create_app(wired), base_url="https://testserver")
            got = client.post("/api/v1/token", data={"username": "auditor", "password": password})
            got.raise_for_status()
            headers = {"Authorization": f"Bearer {got.json()['access_token']}"}
            anomalies_ms = page_loads(client, "/anomalies", headers, args.loads)
            ledger_ms = page_loads(client, "/ledger", headers, args.loads)
            notices_ms = page_loads(client, "/notifications", headers, args.loads)
            api_ms = page_loads(client, "/api/v1/anomalies", headers, args.loads)
            client.close()
            wired.engine.dispose()
        rows.append(
            [
                "3",
                f"GET /anomalies, {entries:,} entries evaluated (median of {args.loads})",
                f"{anomalies_ms:.0f} ms",
                f"GET /ledger {ledger_ms:.0f} ms; GET /notifications {notices_ms:.0f} ms",
                f"{anomalies_ms / ledger_ms:.2f} × /ledger; {anomalies_ms / notices_ms:.1f} × /notifications",
            ]
        )
        rows.append(["3b", "GET /api/v1/anomalies (100 flags)", f"{api_ms:.0f} ms", "", ""])
        engine.dispose()
    print()
    print(f"casevault anomaly benchmarks on PostgreSQL ({PG_URL.rsplit('@', 1)[-1]})")
    print()
    print(render([[*r, ""] for r in rows]))
    print()
    print("flags raised over the load:", ", ".join(f"{k} {v:,}" for k, v in sorted(flagged.items())))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="casevault anomaly benchmarks on PostgreSQL")
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries in the synthetic ledger")
    parser.add_argument("--loads", type=int, default=20, help="timed page loads each (default 20)")
    parser.add_argument("--increment", type=int, default=2000, help="entries appended, then evaluated")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
