"""Deposit in this process, for a sampling profiler (the benchmark deposits in child processes).

    py-spy record --idle --threads -r 200 -f raw -o deposit.raw -- \\
        .venv/bin/python -m bench.profile_deposit [--digests sha256,sm3] [--s3] [--runs 2]

`--idle` keeps the samples of threads that wait (on the SM3 queue, on fsync, on the S3 server),
so the samples of each thread add up to its wall-clock time.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

from bench.deposit import _settings, hash_pass, moto_reset, moto_server, s3_url
from bench.make_footage import OUT, deposit_folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--files", type=int, default=2)
    parser.add_argument("--digests", default="sha256,sm3")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--s3", action="store_true", help="deposit into S3Store on a moto server")
    args = parser.parse_args(argv)

    from portal.db import migrate
    from portal.internal.archive import operations
    from portal.wiring import wire

    folder = deposit_folder(args.size_mib, args.files)
    hash_pass(folder)  # page cache
    (OUT / "work").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=OUT / "work", prefix="profile-"))
    try:
        with moto_server(work) if args.s3 else nullcontext() as endpoint:
            for number in range(args.runs):
                store = s3_url(endpoint) if endpoint else None
                settings = _settings(work / f"d{number}", digests=args.digests, store=store)
                migrate(settings.resolved_database_url)
                wired = wire(settings)
                start = time.perf_counter()
                operations.deposit(wired, folder=folder, actor="bench")
                print(f"deposit {number + 1}: {time.perf_counter() - start:.2f} s", flush=True)
                wired.engine.dispose()
                if endpoint:
                    moto_reset(endpoint)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
