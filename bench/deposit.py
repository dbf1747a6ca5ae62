"""Deposit, verify and memory benchmarks: the project's figure beside a baseline of the same run.

    .venv/bin/python -m bench.deposit [--size-mib 256] [--files 2] [--runs 3] [--skip-s3] [--documents 10]

Rows (docs/benchmarks.md), each printed with its baseline of the same run and met / not met:

1. deposit (SHA-256 + SM3, FileStore, SQLite in a temp data dir) through
   `portal.internal.archive.operations.deposit` vs the bare hashlib pass; 1p the same as a whole
   `casevault deposit FOLDER` process, imports and all;
2. deposit with `digests="sha256"` vs the durable peer: `cp -r`, then LoC
   `bagit.make_bag(copy, checksums=["sha256"], processes=1)`, then `sync`; 2p as a process;
3. deposit through the S3 API (`S3Store` on a moto server on a free loopback port) vs plain
   minio `fput_object` of the same files plus the bare hashlib pass (the two times summed);
4. peak RSS (VmHWM) of a deposit in a child process, at two clip sizes, for FileStore and
   S3Store, beside the same child's peak before it deposits (imports + wire); 4p the peak of
   the `casevault deposit` process beside one that only imports the command line;
5. `portal.internal.archive.operations.verify` of the deposited bundle vs the bare hashlib pass;
6. the fixed overhead: a deposit of ten one-page PDFs (`--documents`), the work in a child,
   beside the whole process; the start of a process that only imports the command line is
   printed next to it.

The bare hashlib pass is `ThreadPoolExecutor(os.cpu_count())` over the files, largest first;
each thread reads its file once in 1 MiB chunks into a reused buffer and feeds every chunk
to SHA-256 and then SM3. Both digests of a file stay in one thread: with one file per core
that keeps every core busy with no oversubscription, queue hand-off or second read. It was the
fastest layout measured here (medians of 8 alternating passes over 2 x 256 MiB: 2.27 s, vs
2.73 s for the product's SHA-256 thread + SM3 helper thread per file, 2.76 s for one thread
per file and digest).

Page cache: every file is read once (and a whole deposit and verify are run once) before
anything is timed, so both sides read from the page cache; `sync` runs before every timed
step so that nobody pays for the previous step's dirty pages.

Timing: each deposit runs in a fresh child process (imports and `wire` untimed), which also
gives its peak RSS; project and baseline are timed back to back, alternating which goes first.
The table gives medians, the ratio of the medians and the ratio of the best runs, and the
CPU seconds of both sides (steady even when other work shares the machine). minio's
`fput_object` uses the product's `s3_part_size` (5 MiB) so that both upload the same parts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.make_footage import OUT, deposit_folder, payload_bytes

Timing = tuple[float, float]  # wall-clock seconds, CPU seconds
CHUNK = 1 << 20
MIB = 1 << 20
MB = 1_000_000
BOTH = ("sha256", "sm3")


# --- baselines -------------------------------------------------------------------------------


def _files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size, reverse=True)


def hash_file(path: Path, algorithms: tuple[str, ...] = BOTH) -> dict[str, str]:
    """One read of the file, every chunk fed to each digest in this thread."""
    hashers = [hashlib.new(name) for name in algorithms]
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while size := handle.readinto(buffer):
            chunk = view[:size]
            for hasher in hashers:
                hasher.update(chunk)
    return {h.name: h.hexdigest() for h in hashers}


def hash_pass(folder: Path, algorithms: tuple[str, ...] = BOTH) -> dict[str, dict[str, str]]:
    """The bare hashlib pass: one thread per core, one file per thread, largest first."""
    files = _files(folder)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        digests = pool.map(lambda p: hash_file(p, algorithms), files)
        return {p.relative_to(folder).as_posix(): d for p, d in zip(files, digests, strict=True)}


def write_fsync_pass(folder: Path, dest: Path) -> None:
    """Context only: copy the files into `dest` and fsync each, one thread per core (no hashing)."""

    def one(path: Path) -> None:
        target = dest / uuid.uuid4().hex
        with open(path, "rb", buffering=0) as src, open(target, "wb", buffering=0) as out:
            while chunk := src.read(CHUNK):
                out.write(chunk)
            os.fsync(out.fileno())

    dest.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(one, _files(folder)))


def peer_bagit(folder: Path, work: Path) -> float:
    """The durable peer: `cp -r` the folder, make a BagIt bag of the copy (SHA-256, 1 process),
    then `sync`, so that its copy is on disk as a deposit's is."""
    import bagit

    copy = work / f"peer-{uuid.uuid4().hex[:8]}"
    subprocess.run(["cp", "-r", str(folder), str(copy)], check=True)
    bagit.make_bag(str(copy), checksums=["sha256"], processes=1)
    start = time.perf_counter()
    _sync()
    return time.perf_counter() - start  # the sync's share, for the context line


# --- the project -----------------------------------------------------------------------------


def _settings(data_dir: Path, *, digests: str = "sha256,sm3", store: str | None = None) -> Any:
    from portal.settings import Settings

    return Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir.resolve() / 'casevault.db'}",
        store=store or f"file://{data_dir.resolve() / 'objects'}",
        digests=digests,
    )


@dataclass(frozen=True)
class Deposited:
    """One deposit made by a child process: its time, its memory, and where it went."""

    seconds: float
    cpu: float  # CPU seconds of the deposit: the child's threads and its ffprobe children
    peak_rss: int  # bytes, VmHWM of the child after the deposit
    idle_rss: int  # bytes, VmHWM of the same child after imports and wire, before the deposit
    bundle_id: str
    data_dir: Path


def child_deposit(folder: Path, data_dir: Path, store: str | None, digests: str) -> None:
    """In the child: wire (untimed), sync, time `portal.internal.archive.operations.deposit`; print JSON."""
    from portal.internal.archive import operations
    from portal.wiring import wire

    wired = wire(_settings(data_dir, digests=digests, store=store))
    idle = _vmhwm_kib()
    _sync()
    cpu, start = _cpu(), time.perf_counter()
    summary = operations.deposit(wired, folder=folder, actor="bench")
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu
    out = {"seconds": seconds, "cpu": cpu, "idle_kib": idle, "peak_kib": _vmhwm_kib()}
    print(json.dumps(out | {"bundle_id": summary["bundle_id"]}))


def project_deposit(
    folder: Path, data_dir: Path, *, store: str | None = None, digests: str = "sha256,sm3"
) -> Deposited:
    """Deposit `folder` in a fresh child process, so that its peak RSS is the deposit's own."""
    from portal.db import migrate

    migrate(_settings(data_dir).resolved_database_url)  # here, so the child's RSS is the deposit's
    command = [sys.executable, "-m", "bench.deposit", "--child-deposit", str(folder)]
    command += ["--child-data", str(data_dir), "--child-digests", digests]
    if store:
        command += ["--child-store", store]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the deposit failed:\n{done.stderr}")
    got = json.loads(done.stdout.strip().splitlines()[-1])
    return Deposited(
        seconds=got["seconds"],
        cpu=got["cpu"],
        peak_rss=got["peak_kib"] * 1024,
        idle_rss=got["idle_kib"] * 1024,
        bundle_id=got["bundle_id"],
        data_dir=data_dir,
    )


@dataclass(frozen=True)
class Process:
    """One `casevault deposit FOLDER --json` run as an operator runs it, imports and all."""

    seconds: float
    cpu: float
    peak_rss: int  # bytes, the process's own ru_maxrss


def cli_deposit(
    folder: Path, data_dir: Path, *, store: str | None = None, digests: str = "sha256,sm3"
) -> Process:
    """Time the command line's deposit as a whole process (after `migrate`, untimed)."""
    from portal.db import migrate

    settings = _settings(data_dir, digests=digests, store=store)
    migrate(settings.resolved_database_url)
    env = dict(os.environ, CASEVAULT_DATA_DIR=str(data_dir), CASEVAULT_DATABASE_URL=settings.database_url,
               CASEVAULT_STORE=settings.store, CASEVAULT_DIGESTS=digests)  # fmt: skip
    _sync()
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "portal.cli", "deposit", str(folder), "--json"],
            env=env, stdout=subprocess.DEVNULL, stderr=errors,
        )  # fmt: skip
        _pid, status, usage = os.wait4(child.pid, 0)  # this child's own rusage
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"casevault deposit failed:\n{errors.read().decode()}")
    return Process(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024)


def import_seconds() -> tuple[float, float]:
    """How long `python -c pass` and `python -c "import portal.cli.main"` take: a process's start."""

    def once(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - start

    return (statistics.median(once("pass") for _ in range(3)),
            statistics.median(once("import portal.cli.main") for _ in range(3)))  # fmt: skip


def wired_for(data_dir: Path) -> Any:
    """The archive a child deposited into, wired in this process (for verify)."""
    from portal.wiring import wire

    return wire(_settings(data_dir))


def project_verify(wired: Any, bundle_id: str) -> Timing:
    """Time `portal.internal.archive.operations.verify` of one bundle, which must come out intact."""
    from portal.internal.archive import operations

    reports: list[Any] = []
    timing = _timed(lambda: reports.extend(operations.verify(wired, bundle_id=bundle_id, actor="bench")))
    if not all(r.intact for r in reports):
        raise SystemExit(f"verify found the bundle damaged: {reports[0].failures}")
    return timing


def stored_digests(wired: Any, bundle_id: str) -> dict[str, dict[str, str]]:
    """The digests the project recorded for each payload file, by path in the deposit folder."""
    from sqlalchemy import select

    from archive.models import BundleFile

    with wired.sessions() as session:
        rows = session.scalars(
            select(BundleFile).where(BundleFile.key.startswith(f"bundles/{bundle_id}/data/"))
        )
        return {
            f.path.removeprefix("data/"): {k: v for k, v in (("sha256", f.sha256), ("sm3", f.sm3)) if v}
            for f in rows
        }


# --- S3 --------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server(log_dir: Path) -> Iterator[str]:
    """moto's standalone S3 API server on a free loopback port; yields host:port."""
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    if server is None:
        raise SystemExit("moto_server is not installed (pip install 'moto[server]'); or pass --skip-s3")
    port = _free_port()
    with (log_dir / "moto.log").open("wb") as log:
        proc = subprocess.Popen(
            [server, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(
                            "moto_server did not start; see " + str(log_dir / "moto.log")
                        ) from None
                    time.sleep(0.1)
            yield f"127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def moto_reset(endpoint: str) -> None:
    """Drop every bucket moto holds in memory (between runs, so its RSS does not pile up)."""
    request = urllib.request.Request(f"http://{endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=30).close()


def s3_url(endpoint: str) -> str:
    return f"s3://testing:testing@{endpoint}/cv-{uuid.uuid4().hex[:16]}?secure=false"


def minio_put_all(folder: Path, endpoint: str, part_size: int) -> Timing:
    """Plain minio: `fput_object` of every file into a fresh Object-Lock bucket, timed."""
    from minio import Minio

    client = Minio(endpoint, access_key="testing", secret_key="testing", secure=False)
    bucket = f"peer-{uuid.uuid4().hex[:16]}"
    client.make_bucket(bucket, object_lock=True)

    def put_all() -> None:
        for path in _files(folder):
            client.fput_object(bucket, path.relative_to(folder).as_posix(), str(path), part_size=part_size)

    return _timed(put_all)


def _vmhwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


# --- reporting -------------------------------------------------------------------------------


@dataclass
class Row:
    number: str
    what: str
    baseline: str
    kind: str  # "throughput" | "faster" | "rss" | "limit" (seconds, at most the target)
    target: float
    project_values: list[float] = field(default_factory=list)
    baseline_values: list[float] = field(default_factory=list)
    project_cpu: list[float] = field(default_factory=list)
    baseline_cpu: list[float] = field(default_factory=list)

    def add(self, project: Timing, baseline: Timing) -> None:
        self.project_values.append(project[0])
        self.project_cpu.append(project[1])
        self.baseline_values.append(baseline[0])
        self.baseline_cpu.append(baseline[1])

    def medians(self) -> tuple[float, float]:
        return statistics.median(self.project_values), statistics.median(self.baseline_values)

    def ratio(self) -> float:
        """Of the medians: baseline / project time (a throughput ratio, or "× faster" for row 2);
        for RSS rows, peak / idle."""
        project, baseline = self.medians()
        return project / baseline if self.kind == "rss" else baseline / project

    def best_ratio(self) -> float:
        """Of the best runs (min / min): the least disturbed run of each side, steadier than the
        medians on a machine whose speed drifts from run to run."""
        return min(self.baseline_values) / min(self.project_values)

    def verdict(self) -> str:
        if self.kind == "rss":
            return "met" if max(self.project_values) <= self.target * MB else "not met"
        if self.kind == "limit":
            return "met" if self.medians()[0] <= self.target else "not met"
        by_median, by_best = self.ratio() >= self.target, self.best_ratio() >= self.target
        if by_median == by_best:
            return "met" if by_median else "not met"
        return "not met (noisy)"  # the medians and the best runs disagree: rerun with more --runs


def _fmt_time(seconds: float, size: int) -> str:
    return f"{size / MIB / seconds:6.1f} MiB/s ({seconds:5.2f} s)"


def render(rows: list[Row], size: int) -> str:
    header = ["#", "project", "baseline", "project (median)", "baseline (median)", "ratio of medians",
              "ratio of best runs", "target", "met"]  # fmt: skip
    lines = []
    for row in rows:
        if not row.project_values:
            continue
        project, baseline = row.medians()
        if row.kind == "rss":
            cells = [f"{project / MB:.1f} MB", f"{baseline / MB:.1f} MB", f"{row.ratio():.2f}× of idle", "",
                     f"≤ {row.target:.0f} MB"]  # fmt: skip
        elif row.kind == "limit":
            cells = [f"{project:.3f} s", f"{baseline:.3f} s", "", "", f"≤ {row.target} s"]
        else:
            word = "× faster" if row.kind == "faster" else "×"
            cells = [_fmt_time(project, size), _fmt_time(baseline, size), f"{row.ratio():.2f}{word}",
                     f"{row.best_ratio():.2f}{word}", f"≥ {row.target}{word}"]  # fmt: skip
        lines.append([row.number, row.what, row.baseline, *cells, row.verdict()])
    widths = [max(len(str(r[i])) for r in [header, *lines]) for i in range(len(header))]

    def fmt(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(fmt(r) for r in lines)]
    return "\n".join(out)


# --- the run ---------------------------------------------------------------------------------


def _busy(seconds: float = 1.0) -> float:
    """Share of all cores busy over `seconds` (from /proc/stat), while this process sleeps."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields[:8]), idle

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def _sync() -> None:
    os.sync()


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _cpu() -> float:
    """CPU seconds used so far by this process and its waited-for children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(action: Callable[[], object]) -> Timing:
    """Sync, then run `action`: its wall-clock and CPU seconds."""
    _sync()
    cpu, start = _cpu(), time.perf_counter()
    action()
    return time.perf_counter() - start, _cpu() - cpu


def _pair(number: int, row: Row, project: Callable[[], Timing], baseline: Callable[[], Timing]) -> None:
    """Time both sides back to back, alternating which goes first from run to run."""
    if number % 2:
        row.add(project(), baseline())
    else:
        later = baseline()
        row.add(project(), later)


def run(args: argparse.Namespace) -> None:
    logging.getLogger("bagit").setLevel(logging.WARNING)
    begun = time.perf_counter()
    folder = deposit_folder(args.size_mib, args.files)
    small_mib = 64 if args.size_mib > 64 else max(1, args.size_mib // 4)
    small = deposit_folder(small_mib, args.files)
    documents = deposit_folder(0, 0, args.documents)
    size = payload_bytes(folder)
    work = OUT / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    def fresh(prefix: str) -> Path:
        return Path(tempfile.mkdtemp(dir=work, prefix=prefix))

    rss, bare = "same child before deposit", "bare hashlib pass (both digests)"
    peer_name = "durable peer: cp -r + bagit.make_bag(sha256, processes=1) + sync"
    small_clips, large_clips = f"{args.files}×{small_mib} MiB", f"{args.files}×{args.size_mib} MiB"
    rows = {
        "1": Row("1", "deposit SHA-256+SM3, FileStore (the work)", bare, "throughput", 0.9),
        "1p": Row("1p", "`casevault deposit` process SHA-256+SM3, FileStore", bare, "throughput", 0.9),
        "2": Row("2", "deposit SHA-256 only, FileStore (the work)", peer_name, "faster", 1.5),
        "2p": Row("2p", "`casevault deposit` process SHA-256 only, FileStore", peer_name, "faster", 1.5),
        "3": Row("3", "deposit SHA-256+SM3, S3Store on moto", "minio fput_object + bare hashlib pass",
                 "throughput", 0.9),
        "4a": Row("4a", f"peak RSS, deposit {small_clips}, FileStore", rss, "rss", 120),
        "4b": Row("4b", f"peak RSS, deposit {large_clips}, FileStore", rss, "rss", 120),
        "4c": Row("4c", f"peak RSS, deposit {small_clips}, S3Store", rss, "rss", 120),
        "4d": Row("4d", f"peak RSS, deposit {large_clips}, S3Store", rss, "rss", 120),
        "4p": Row("4p", f"peak RSS, `casevault deposit` process {large_clips}, FileStore",
                  "`python -c 'import portal.cli.main'`", "rss", 120),
        "5": Row("5", "verify SHA-256+SM3, FileStore", bare, "throughput", 0.9),
        "6": Row("6", f"fixed overhead: deposit of {args.documents} one-page PDFs (the work)",
                 "the whole `casevault deposit` process", "limit", 0.4),
    }  # fmt: skip
    context: dict[str, list[float]] = {"write+fsync": [], "peer sync": [], "fput": [], "imports": []}

    def note_rss(key: str, deposited: Deposited) -> None:
        rows[key].add((deposited.peak_rss, 0.0), (deposited.idle_rss, 0.0))

    def baseline() -> Timing:
        return _timed(lambda: hash_pass(folder))

    def whole(digests: str) -> Timing:
        done = cli_deposit(folder, fresh("cli-"), digests=digests)
        if digests == "sha256,sm3":
            rows["4p"].add((done.peak_rss, 0.0), (import_rss, 0.0))
        return done.seconds, done.cpu

    busy_before = _busy()
    _say(f"payload {size / MIB:.1f} MiB in {len(_files(folder))} files; {os.cpu_count()} cores; warming up …")
    expected = hash_pass(folder)  # warm-up: every source file is now in the page cache
    hash_pass(small)
    hash_pass(documents)
    warm = project_deposit(folder, fresh("warm-"))
    wired = wired_for(warm.data_dir)
    for path, digests in stored_digests(wired, warm.bundle_id).items():
        if expected[path] != digests:
            raise SystemExit(f"{path}: the project and the baseline disagree on its digests")
    project_verify(wired, warm.bundle_id)  # warm-up: the verify code path
    wired.engine.dispose()
    shutil.rmtree(warm.data_dir, ignore_errors=True)
    import_rss = _import_rss()

    for number in range(1, args.runs + 1):
        _say(f"run {number}/{args.runs}: deposit (both digests) vs hashlib, then verify vs hashlib")
        kept: list[Deposited] = []

        def deposit_both(kept: list[Deposited] = kept) -> Timing:
            kept.append(project_deposit(folder, fresh("deposit-")))
            return kept[-1].seconds, kept[-1].cpu

        _pair(number, rows["1"], deposit_both, baseline)
        note_rss("4b", kept[0])
        wired = wired_for(kept[0].data_dir)
        _pair(number, rows["5"], lambda w=wired, b=kept[0].bundle_id: project_verify(w, b), baseline)
        wired.engine.dispose()
        shutil.rmtree(kept[0].data_dir, ignore_errors=True)
        target = work / "fsync"
        context["write+fsync"].append(_timed(lambda t=target: write_fsync_pass(folder, t))[0])
        shutil.rmtree(target, ignore_errors=True)
        _pair(number, rows["1p"], lambda: whole("sha256,sm3"), baseline)

        _say(f"run {number}/{args.runs}: deposit (SHA-256 only) vs the durable peer; small deposit")

        def deposit_sha256() -> Timing:
            deposited = project_deposit(folder, fresh("sha256-"), digests="sha256")
            shutil.rmtree(deposited.data_dir, ignore_errors=True)
            return deposited.seconds, deposited.cpu

        def peer() -> Timing:
            peer_dir = fresh("peer-")
            synced: list[float] = []
            timing = _timed(lambda: synced.append(peer_bagit(folder, peer_dir)))
            context["peer sync"].append(synced[0])
            shutil.rmtree(peer_dir, ignore_errors=True)
            return timing

        _pair(number, rows["2"], deposit_sha256, peer)
        _pair(number, rows["2p"], lambda: whole("sha256"), peer)
        deposited = project_deposit(small, fresh("small-"))
        note_rss("4a", deposited)
        shutil.rmtree(deposited.data_dir, ignore_errors=True)

        _say(f"run {number}/{args.runs}: {args.documents} one-page PDFs, the work and the whole process")
        deposited = project_deposit(documents, fresh("docs-"))
        shutil.rmtree(deposited.data_dir, ignore_errors=True)
        process = cli_deposit(documents, fresh("docs-cli-"))
        rows["6"].add((deposited.seconds, deposited.cpu), (process.seconds, process.cpu))
        context["imports"].append(import_seconds()[1])

    if not args.skip_s3:
        with moto_server(work) as endpoint:
            part_size = _settings(work).s3_part_size
            # warm-up: moto's first requests, and the S3 code path of the product
            shutil.rmtree(project_deposit(small, fresh("s3warm-"), store=s3_url(endpoint)).data_dir)
            minio_put_all(small, endpoint, part_size)
            moto_reset(endpoint)
            for number in range(1, args.runs + 1):
                _say(f"run {number}/{args.runs}: S3 deposit vs minio fput_object + hashlib; small deposit")

                def deposit_s3(endpoint: str = endpoint) -> Timing:
                    deposited = project_deposit(folder, fresh("s3-"), store=s3_url(endpoint))
                    moto_reset(endpoint)
                    shutil.rmtree(deposited.data_dir, ignore_errors=True)
                    note_rss("4d", deposited)
                    return deposited.seconds, deposited.cpu

                def put_and_hash(endpoint: str = endpoint, part_size: int = part_size) -> Timing:
                    put = minio_put_all(folder, endpoint, part_size)
                    moto_reset(endpoint)
                    context["fput"].append(put[0])
                    hashed = baseline()
                    return put[0] + hashed[0], put[1] + hashed[1]

                _pair(number, rows["3"], deposit_s3, put_and_hash)
                deposited = project_deposit(small, fresh("s3small-"), store=s3_url(endpoint))
                moto_reset(endpoint)
                shutil.rmtree(deposited.data_dir, ignore_errors=True)
                note_rss("4c", deposited)

    shutil.rmtree(work, ignore_errors=True)
    busy_after = _busy()
    order = ("1", "1p", "2", "2p", "3", "4a", "4b", "4c", "4d", "4p", "5", "6")
    ordered = [rows[k] for k in order if rows[k].project_values]
    print()
    print(
        f"casevault deposit benchmarks: {args.files} × {args.size_mib} MiB lossless H.264 MP4 + 8 PDFs + "
        f"case.json = {size / MIB:.1f} MiB; {os.cpu_count()} cores; medians of {args.runs} runs"
    )
    print(
        "page cache: every file was read once, and a whole deposit and verify run, before timing, so all "
        "sides read from the page cache; `sync` before every timed step"
    )
    print(
        "bare hashlib pass: ThreadPoolExecutor(os.cpu_count()), one file per thread, SHA-256 and SM3 "
        "of each 1 MiB chunk in that thread"
    )
    print(
        "rows 1, 2, 3, 4a-4d, 6 (work): each deposit runs in a child process that imports and wires "
        "untimed, then times operations.deposit; its VmHWM gives the RSS rows"
    )
    print(
        "rows 1p, 2p, 4p, 6 (process): `python -m portal.cli deposit FOLDER --json`, timed from spawn to "
        "exit, imports and all; project and baseline alternate which goes first"
    )
    print(f"other load: {busy_before:.0%} of the cores were busy in the second before the run, "
          f"{busy_after:.0%} in the second after it" + ("" if max(busy_before, busy_after) < 0.1 else
          " — other work shares this machine, so figures drift from run to run"))  # fmt: skip
    print()
    print(render(ordered, size))
    print()
    for row in ordered:
        if row.kind == "rss":
            values = ", ".join(f"{v / MB:.1f}" for v in row.project_values)
            print(f"runs {row.number:>2}: peak [{values}] MB")
            continue
        values = ", ".join(f"{v:.3f}" for v in row.project_values)
        base = ", ".join(f"{v:.3f}" for v in row.baseline_values)
        cpu, base_cpu = statistics.median(row.project_cpu), statistics.median(row.baseline_cpu)
        print(f"runs {row.number:>2}: project [{values}] s, baseline [{base}] s; CPU seconds (medians): "
              f"project {cpu:.2f}, baseline {base_cpu:.2f}, ratio {base_cpu / cpu:.2f}")  # fmt: skip
    fsync = statistics.median(context["write+fsync"])
    print(
        f"context: copy + fsync of the same files, no hashing (one thread per core): {_fmt_time(fsync, size)}"
    )
    peer_sync = statistics.median(context["peer sync"])
    unsynced = rows["2"].medians()[1] - peer_sync
    print(f"context: rows 2/2p peer without its final sync (nothing durable): {_fmt_time(unsynced, size)};")
    print(f"         the deposit (work) is {unsynced / rows['2'].medians()[0]:.2f}× faster than that")
    imports = statistics.median(context["imports"])
    print(
        f"context: process start, `python -c 'import portal.cli.main'`: {imports:.3f} s (median); row 6's "
        f"process is {rows['6'].medians()[1]:.3f} s, its work {rows['6'].medians()[0]:.3f} s"
    )
    if context["fput"]:
        fput = statistics.median(context["fput"])
        print(
            f"context: row 3 baseline, fput_object alone: {_fmt_time(fput, size)} (moto's CPU is in neither "
            "side's CPU seconds)"
        )
    print("ratios: baseline time / project time, of the medians and of the best (fastest) runs: a")
    print("        throughput ratio; for rows 2/2p, how many times faster than the peer the deposit is;")
    print("        met: both ratios reach the target; not met (noisy): the medians and best runs disagree;")
    print("        RSS rows: peak beside the same child's peak before it deposits (imports + wire), or for")
    print("        4p beside a process that only imports the command line; row 6: median seconds;")
    print("        MB = 10^6 bytes; CPU seconds include child processes (ffprobe, cp)")
    print(f"total benchmark time {time.perf_counter() - begun:.0f} s")


def _import_rss() -> int:
    """Peak RSS (bytes) of a process that only imports the command line."""
    code = "import resource, portal.cli.main; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(done.stdout.strip()) * 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="casevault deposit, verify and memory benchmarks")
    parser.add_argument("--size-mib", type=int, default=256, help="size of each MP4 clip (default 256)")
    parser.add_argument("--files", type=int, default=2, help="number of clips (default 2)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs; medians are reported (default 3)")
    parser.add_argument("--skip-s3", action="store_true", help="skip the S3 API rows (no moto server)")
    parser.add_argument(
        "--documents", type=int, default=10, help="one-page PDFs in row 6's case (default 10)"
    )
    parser.add_argument("--child-deposit", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-store", help=argparse.SUPPRESS)
    parser.add_argument("--child-digests", default="sha256,sm3", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_deposit is not None:
        child_deposit(args.child_deposit, args.child_data, args.child_store, args.child_digests)
        return
    run(args)


if __name__ == "__main__":
    main()
