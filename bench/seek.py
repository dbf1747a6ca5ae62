"""Video seek benchmark: Range GET time-to-first-byte through the portal vs a direct store read.

    .venv/bin/python -m bench.seek [--size-mib 64] [--seeks 200]

A case with one ~64 MiB lossless H.264 MP4 (bench/make_footage.py, cached under bench/out/)
is deposited into a temporary data dir (SQLite + FileStore, the defaults). The real app
(`portal.app.create_app`) then runs under uvicorn in a thread on a free 127.0.0.1 port, and
an archivist with a bearer token sends `--seeks` GETs of the clip's content with
`Range: bytes=N-` for random N, each on its own connection (a seeking player drops the
previous response). The figure is the time from sending the request until the first body
byte arrives (httpx streaming); the response is then closed. Each request is the real one:
token check, bundle lookup, policy decision, its ledger entry committed, then the stream.

The baseline, for the same offsets: `FileStore.read(key, start=N, length=size-N)` until it
yields its first chunk. The clip is read whole once before timing, so both sides read from
the page cache; the two sides alternate which goes first from seek to seek.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.make_footage import deposit_folder


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _busy(seconds: float = 1.0) -> float:
    """Share of all cores busy over `seconds` (from /proc/stat), while this process sleeps."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields[:8]), fields[3] + fields[4]

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """The app under uvicorn in a thread on a free loopback port; yields its base URL."""
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SystemExit("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def portal_ttfb(client: httpx.Client, url: str, headers: dict[str, str], start: int) -> float:
    """Seconds from sending `Range: bytes=start-` until the first body byte."""
    begun = time.perf_counter()
    with client.stream("GET", url, headers={**headers, "Range": f"bytes={start}-"}) as response:
        for chunk in response.iter_raw():
            if chunk:
                elapsed = time.perf_counter() - begun
                break
        else:
            raise SystemExit(f"no body for bytes={start}-")
        if response.status_code != 206:
            raise SystemExit(f"expected 206 for bytes={start}-, got {response.status_code}")
    return elapsed


def store_ttfb(store: Any, key: str, version_id: str | None, start: int, size: int) -> float:
    """Seconds until `store.read(key, start=N, length=size-N)` yields its first chunk."""
    begun = time.perf_counter()
    body = store.read(key, version_id=version_id, start=start, length=size - start)
    first = next(body)
    elapsed = time.perf_counter() - begun
    body.close()  # type: ignore[attr-defined]
    assert first
    return elapsed


def run(args: argparse.Namespace) -> None:
    import authlib.deprecate  # noqa: F401  (it sets its warnings to "always" when imported)

    warnings.filterwarnings("ignore", message=".*httpx.*")  # TestClient's and authlib's notices
    from access import identities
    from archive import catalogue
    from archive.service import get_bundle
    from portal.app import create_app
    from portal.db import migrate
    from portal.internal.archive import operations
    from portal.settings import Settings
    from portal.wiring import wire

    begun = time.perf_counter()
    busy_before = _busy()
    folder = deposit_folder(args.size_mib, 1)
    with tempfile.TemporaryDirectory(prefix="casevault-seek-") as data:
        data_dir = Path(data)
        settings = Settings(
            data_dir=data_dir,
            database_url=f"sqlite:///{data_dir / 'casevault.db'}",
            store=f"file://{data_dir / 'objects'}",
        )
        migrate(settings.resolved_database_url)
        wired = wire(settings)
        _say(f"depositing {folder.name} into {data_dir} …")
        bundle_id = operations.deposit(wired, folder=folder, actor="bench")["bundle_id"]
        password = uuid.uuid4().hex
        with wired.sessions() as session:
            identities.create_user(
                session, username="archivist", role="archivist", actor="bench", now=datetime.now(UTC),
                password=password,
            )  # fmt: skip
            session.commit()
            found = catalogue.find_record(get_bundle(session, bundle_id), "v1")
            assert found is not None
            _, stored = found
            key, version_id, size = stored.key, stored.version_id, stored.size
        store = wired.store
        for _ in store.read(key, version_id=version_id):  # into the page cache
            pass
        rng = random.Random(7)
        offsets = [rng.randrange(0, size) for _ in range(args.seeks)]
        portal: list[float] = []
        direct: list[float] = []
        with serving(create_app(wired)) as base, httpx.Client(base_url=base, timeout=30) as client:
            got = client.post("/api/v1/token", data={"username": "archivist", "password": password})
            got.raise_for_status()
            headers = {"Authorization": f"Bearer {got.json()['access_token']}"}
            url = f"/api/v1/bundles/{bundle_id}/records/v1/content"
            for warm in offsets[:10]:  # warm-up: the code paths, the connections, SQLite's pages
                portal_ttfb(client, url, headers, warm)
                store_ttfb(store, key, version_id, warm, size)
            _say(f"{len(offsets)} seeks through the portal ({base}) and directly from the store …")
            for number, start in enumerate(offsets):
                sides: list[Callable[[], None]] = [
                    lambda s=start: portal.append(portal_ttfb(client, url, headers, s)),
                    lambda s=start: direct.append(store_ttfb(store, key, version_id, s, size)),
                ]
                for side in sides if number % 2 else reversed(sides):
                    side()
        wired.engine.dispose()
    busy_after = _busy()

    p50, p95 = percentile(portal, 0.5) * 1000, percentile(portal, 0.95) * 1000
    d50, d95 = percentile(direct, 0.5) * 1000, percentile(direct, 0.95) * 1000
    rows = [
        ["#", "what", "figure", "baseline (same run)", "ratio / target", "met"],
        [
            "1",
            "Range GET TTFB through the portal (uvicorn)",
            f"p50 {p50:.1f} ms, p95 {p95:.1f} ms",
            f"direct FileStore.read: p50 {d50:.2f} ms, p95 {d95:.2f} ms",
            f"p95 {p95 / d95:.0f}× the direct read; target p95 ≤ 50 ms",
            "yes" if p95 <= 50 else "NO",
        ],
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def fmt(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    print()
    print(
        f"casevault seek benchmark: one {size / (1 << 20):.1f} MiB MP4 deposited (SQLite + FileStore), "
        f"{len(offsets)} random `Range: bytes=N-` seeks, archivist bearer token; {os.cpu_count()} cores"
    )
    print(
        f"other load: {busy_before:.0%} of the cores were busy in the second before the run, "
        f"{busy_after:.0%} in the second after it"
    )
    print()
    print(fmt(rows[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print(fmt(rows[1]))
    print()
    print(
        f"portal: min {min(portal) * 1000:.1f}, mean {statistics.mean(portal) * 1000:.1f}, "
        f"max {max(portal) * 1000:.1f} ms; direct: min {min(direct) * 1000:.2f}, "
        f"mean {statistics.mean(direct) * 1000:.2f}, max {max(direct) * 1000:.2f} ms"
    )
    print(f"total benchmark time {time.perf_counter() - begun:.0f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="casevault video seek benchmark")
    parser.add_argument("--size-mib", type=int, default=64, help="size of the MP4 clip (default 64)")
    parser.add_argument("--seeks", type=int, default=200, help="random seeks timed (default 200)")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
