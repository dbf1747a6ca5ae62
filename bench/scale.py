"""Scale: supervisors streaming footage with Range while archivists deposit, against one
PostgreSQL and the S3 API — two app processes and two workers, next to a single process.

    .venv/bin/python -m bench.scale [--supervisors 20] [--archivists 2] [--seconds 30]

One archive: a PostgreSQL schema of its own (`CASEVAULT_BENCH_DATABASE_URL`, as `bench.ledger`)
and a bucket on an S3 API server started here (moto's standalone server; production runs MinIO,
the code is the same), a data dir the processes share (keys, and the watermarked renditions the
workers prepare). It is seeded with the accounts, one case with footage, and for each supervisor
an approved retrieval grant whose rendition (a copy watermarked for that viewer, made by a job) is
prepared before the clock starts.

Each layout then runs for `--seconds`:

- **single**: one `casevault serve --app internal` process (its own in-process worker);
- **scaled**: two `casevault serve --app internal` processes and two `casevault worker`
  processes, the clients spread over both apps (a proxy would do the same).

Meanwhile every supervisor seeks through its rendition: a `Range` GET of 256 KiB at a random
offset, read whole, again and again; every archivist deposits a new case (a ZIP to
`POST /api/v1/deposits`) again and again. Printed per layout: range requests/s and MiB/s, their
p50 and p95 latency, deposits/min and their p95, the jobs done by workers, and every error
(status ≥ 500 or a failed connection). On a two-core machine the scaled layout shares the same
cores: it shows that replicas add no errors and no contention, not that they add capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.ledger import pg_schema
from bench.load import _wait_for, casevault, create_accounts, environment, free_port, percentile
from portal.cli.demo import case_document, write_sip
from portal.internal.archive import operations
from portal.settings import Settings
from portal.wiring import Wired, wire

PASSWORD = "scale-bench-password-2026"
CHUNK = 256 << 10
PURPOSE = "复核当事人投诉涉及的现场检查过程"
BASIS = "《行政执法全过程记录规定》第十八条；信访事项办理"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def s3_api(work: Path) -> Iterator[str]:
    """An S3 API server (moto's standalone server) on a free loopback port; yields host:port."""
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    if server is None:
        sys.exit("the S3 API server is required: pip install 'moto[server]'")
    port = free_port()
    with (work / "moto.log").open("wb") as log:
        proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
        try:
            _wait_for(port, lambda: proc.poll() is None)
            yield f"127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@contextmanager
def process(args: list[str], settings: Settings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`casevault ARGS…` as a process of its own, stopped with SIGTERM (and waited for) at the end."""
    with log.open("ab") as out:
        proc = subprocess.Popen(casevault(*args), env=environment(settings), stdout=out, stderr=out)
        try:
            yield proc
        finally:
            proc.terminate()
            proc.wait(timeout=60)


@contextmanager
def app_process(settings: Settings, log: Path) -> Iterator[str]:
    """`casevault serve --app internal` on a free loopback port; yields its URL once it answers."""
    port = free_port()
    with process(["serve", "--app", "internal", "--port", str(port)], settings, log) as proc:
        _wait_for(port, lambda: proc.poll() is None)
        yield f"http://127.0.0.1:{port}"


def seed(wired: Wired, work: Path, *, supervisors: int, archivists: int) -> str:
    """The accounts and the case with footage; returns the bundle id."""
    accounts = [("manager", "archive_manager")]
    accounts += [(f"supervisor-{n}", "supervisor") for n in range(supervisors)]
    accounts += [(f"archivist-{n}", "archivist") for n in range(archivists)]
    create_accounts(wired, accounts, password=PASSWORD)
    folder = write_sip(work / "sips" / "seed", case_document(clip_seconds=20))
    return str(operations.deposit(wired, folder=folder, actor="bench")["bundle_id"])


def token(http: httpx.Client, username: str) -> str:
    answer = http.post("/api/v1/token", data={"username": username, "password": PASSWORD})
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def grant_renditions(base_url: str, bundle_id: str, supervisors: list[str]) -> dict[str, str]:
    """Each supervisor's grant filed and approved, and its rendition of the footage prepared; the
    supervisors' tokens."""
    tokens: dict[str, str] = {}
    with httpx.Client(base_url=base_url, timeout=120) as http:
        manager = {"Authorization": f"Bearer {token(http, 'manager')}"}
        for username in supervisors:
            tokens[username] = token(http, username)
            mine = {"Authorization": f"Bearer {tokens[username]}"}
            filed = http.post(
                "/api/v1/retrievals",
                json={
                    "case_no": case_document()["case_no"],
                    "record_ids": ["v1"],
                    "purpose": PURPOSE,
                    "legal_basis": BASIS,
                    "actions": ["view"],
                    "days": 7,
                },
                headers=mine,
            )
            filed.raise_for_status()
            decided = http.post(
                f"/api/v1/retrievals/{filed.json()['id']}/decision",
                json={"approve": True, "reason": "同意"},
                headers=manager,
            )
            decided.raise_for_status()
        for username in supervisors:
            mine = {"Authorization": f"Bearer {tokens[username]}"}
            while True:
                asked = http.get(f"/api/v1/bundles/{bundle_id}/records/v1/content", headers=mine)
                if asked.status_code in (200, 206):
                    break
                if asked.status_code not in (202, 429):
                    raise RuntimeError(f"{username}: rendition refused ({asked.status_code}): {asked.text}")
                time.sleep(0.5)
    return tokens


def deposit_zip(number: int) -> bytes:
    """A new case (its own case number) as the ZIP body `POST /api/v1/deposits` takes."""
    with tempfile.TemporaryDirectory(prefix="casevault-scale-sip-") as tmp:
        document = case_document(f"深民防罚〔2026〕{1000 + number}号", clip_seconds=2)
        folder = write_sip(Path(tmp) / "case", document)
        body = io.BytesIO()
        with zipfile.ZipFile(body, "w", zipfile.ZIP_STORED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(folder).as_posix())
        return body.getvalue()


@dataclass
class Tally:
    """What one layout's run answered."""

    ranges: list[float] = field(default_factory=list)
    range_bytes: int = 0
    deposits: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def drive(
    apps: list[str],
    bundle_id: str,
    viewers: dict[str, str],
    depositors: dict[str, str],
    bodies: list[bytes],
    *,
    seconds: float,
    size: int,
) -> Tally:
    """Every supervisor seeking and every archivist depositing until `seconds` have passed."""
    tally = Tally()
    deadline = time.monotonic() + seconds
    path = f"/api/v1/bundles/{bundle_id}/records/v1/content"
    limits = httpx.Limits(max_connections=len(viewers) + len(depositors), keepalive_expiry=2)
    async with httpx.AsyncClient(limits=limits, timeout=120) as http:

        async def seek(number: int, bearer: str) -> None:
            base, rng = apps[number % len(apps)], random.Random(number)
            while time.monotonic() < deadline:
                start = rng.randrange(0, max(1, size - CHUNK))
                headers = {"Authorization": f"Bearer {bearer}", "Range": f"bytes={start}-{start + CHUNK - 1}"}
                began = time.perf_counter()
                try:
                    answer = await http.get(base + path, headers=headers)
                except httpx.HTTPError as exc:
                    tally.errors.append(f"range: {exc.__class__.__name__}")
                    continue
                if answer.status_code != 206:
                    tally.errors.append(f"range: {answer.status_code}")
                    continue
                tally.ranges.append(time.perf_counter() - began)
                tally.range_bytes += len(answer.content)

        async def deposit(number: int, bearer: str) -> None:
            base, n = apps[number % len(apps)], number
            while time.monotonic() < deadline:
                headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/zip"}
                body = bodies[n % len(bodies)]
                n += len(depositors)
                began = time.perf_counter()
                try:
                    answer = await http.post(
                        base + "/api/v1/deposits?supplement=true", content=body, headers=headers
                    )
                except httpx.HTTPError as exc:
                    tally.errors.append(f"deposit: {exc.__class__.__name__}")
                    continue
                if answer.status_code != 201:
                    tally.errors.append(f"deposit: {answer.status_code}")
                    continue
                tally.deposits.append(time.perf_counter() - began)

        await asyncio.gather(
            *(seek(n, bearer) for n, bearer in enumerate(viewers.values())),
            *(deposit(n, bearer) for n, bearer in enumerate(depositors.values())),
        )
    return tally


def rendition_size(base_url: str, bundle_id: str, bearer: str) -> int:
    """The size of a supervisor's rendition, from a one-byte Range answer."""
    answer = httpx.get(
        f"{base_url}/api/v1/bundles/{bundle_id}/records/v1/content",
        headers={"Authorization": f"Bearer {bearer}", "Range": "bytes=0-0"},
        timeout=60,
    )
    answer.raise_for_status()
    return int(answer.headers["content-range"].rsplit("/", 1)[1])


def run_layout(
    name: str,
    settings: Settings,
    work: Path,
    *,
    apps: int,
    workers: int,
    args: argparse.Namespace,
    **seeded: Any,
) -> dict[str, Any]:
    """Start the layout's processes, drive the load for `--seconds`, stop them; the figures."""
    with ExitStack() as stack:
        urls = [stack.enter_context(app_process(settings, work / f"{name}-app-{n}.log")) for n in range(apps)]
        for n in range(workers):
            stack.enter_context(process(["worker"], settings, work / f"{name}-worker-{n}.log"))
        _say(f"{name}: {apps} app process(es), {workers} worker process(es), {args.seconds} s …")
        tally = asyncio.run(drive(urls, seconds=args.seconds, **seeded))
    ranges, deposits = tally.ranges, tally.deposits
    return {
        "layout": name,
        "range_rps": len(ranges) / args.seconds,
        "mib_s": tally.range_bytes / args.seconds / (1 << 20),
        "range_p50": 1000 * statistics.median(ranges) if ranges else float("nan"),
        "range_p95": 1000 * percentile(ranges, 0.95) if ranges else float("nan"),
        "deposits_min": 60 * len(deposits) / args.seconds,
        "deposit_p95": percentile(deposits, 0.95) if deposits else float("nan"),
        "errors": len(tally.errors),
        "kinds": sorted(set(tally.errors)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="casevault scale benchmark")
    parser.add_argument("--supervisors", type=int, default=20)
    parser.add_argument("--archivists", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="casevault-scale-") as tmp, pg_schema("scale") as url:
        work = Path(tmp)
        with s3_api(work) as endpoint:
            settings = Settings(
                data_dir=work / "var",
                database_url=url,
                store=f"s3://bench:bench@{endpoint}/casevault-scale?secure=false",
            )
            wired = wire(settings)
            try:
                _say("seeding: accounts, a case with footage …")
                bundle_id = seed(wired, work, supervisors=args.supervisors, archivists=args.archivists)
            finally:
                wired.engine.dispose()
            supervisors = [f"supervisor-{n}" for n in range(args.supervisors)]
            archivists = [f"archivist-{n}" for n in range(args.archivists)]
            with app_process(settings, work / "seed-app.log") as base_url:
                _say(f"preparing {len(supervisors)} watermarked renditions …")
                viewers = grant_renditions(base_url, bundle_id, supervisors)
                with httpx.Client(base_url=base_url) as http:
                    depositors = {username: token(http, username) for username in archivists}
                size = rendition_size(base_url, bundle_id, next(iter(viewers.values())))
            bodies = [deposit_zip(n) for n in range(max(4, 2 * args.archivists))]
            seeded = {
                "bundle_id": bundle_id,
                "viewers": viewers,
                "depositors": depositors,
                "bodies": bodies,
                "size": size,
            }
            rows = [
                run_layout("single", settings, work, apps=1, workers=0, args=args, **seeded),
                run_layout("scaled", settings, work, apps=2, workers=2, args=args, **seeded),
            ]
    who = f"{args.supervisors} supervisors seeking, {args.archivists} archivists depositing"
    print(f"{who}, {args.seconds:.0f} s each")
    print(
        f"{'layout':<8} {'range/s':>8} {'MiB/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'deposits/min':>13} {'p95 s':>6} {'errors':>7}"
    )
    for row in rows:
        print(
            f"{row['layout']:<8} {row['range_rps']:8.1f} {row['mib_s']:7.1f} {row['range_p50']:7.1f} "
            f"{row['range_p95']:7.1f} {row['deposits_min']:13.1f} {row['deposit_p95']:6.2f} "
            f"{row['errors']:7d}  {', '.join(row['kinds'])}"
        )
    single, scaled = rows
    if single["range_rps"]:
        print(f"scaled / single: {scaled['range_rps'] / single['range_rps']:.2f} × the range requests")


if __name__ == "__main__":
    main()
