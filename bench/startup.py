"""Start-up benchmark: how long the command line takes before it does anything, as a process.

    .venv/bin/python -m bench.startup [--runs 15]

Each row is the median wall time of `--runs` fresh processes, next to `python -c pass` measured
in the same run (the interpreter's own start, the floor no command can go under):

- `casevault --help`, and `casevault COMMAND --help` for every command: parsing the command
  line and printing its help, which is all a command loads before its own work;
- `casevault ledger verify` on an empty, migrated SQLite archive: a whole command that opens the
  settings, the database (checking its schema revision, never migrating) and the keys, and has
  nothing to do.

The target is 0.25 s for each (`met` / `not met`). Run it on a quiet machine: the figures are
wall-clock times of short processes, and anything else running stretches them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import typer

from portal.cli.main import app

TARGET_SECONDS = 0.25


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command's words (`ledger verify`, …), groups included, in the order help lists them."""
    found: list[tuple[str, ...]] = []
    for name, command in getattr(group, "commands", {}).items():
        words = (*prefix, name)
        found.append(words)
        found += _commands(command, words)
    return found


def _median_seconds(argv: list[str], *, runs: int, env: dict[str, str]) -> float:
    """The median wall time of `runs` processes running `argv` (each must exit 0)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    casevault = [sys.executable, "-m", "portal.cli"]
    with tempfile.TemporaryDirectory(prefix="casevault-startup-") as tmp:
        env = {
            **os.environ,
            "CASEVAULT_DATA_DIR": str(Path(tmp) / "var"),
            "CASEVAULT_DATABASE_URL": f"sqlite:///{tmp}/casevault.db",
            "CASEVAULT_STORE": f"file://{tmp}/store",
        }
        subprocess.run([*casevault, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([*casevault, "ledger", "verify"], env=env, check=True, stdout=subprocess.DEVNULL)
        floor = _median_seconds([sys.executable, "-c", "pass"], runs=runs, env=env)
        rows = [("--help", [*casevault, "--help"])]
        commands = _commands(typer.main.get_command(app))
        rows += [(" ".join(words) + " --help", [*casevault, *words, "--help"]) for words in commands]
        rows.append(("ledger verify (empty archive)", [*casevault, "ledger", "verify"]))
        print(f"{'command':<36} {'median':>8} {'python -c pass':>15}  target {TARGET_SECONDS:.2f} s")
        for label, argv in rows:
            took = _median_seconds(argv, runs=runs, env=env)
            state = "met" if took <= TARGET_SECONDS else "not met"
            print(f"{'casevault ' + label:<36} {took:>7.3f}s {floor:>14.3f}s  {state}")


if __name__ == "__main__":
    main()
