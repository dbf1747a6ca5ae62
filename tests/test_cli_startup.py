"""The command line starts with what the command uses, never the web stack (bench/startup.py
measures the time; this holds the promise behind it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# What no command but `serve` (the web stack) and `migrate` (alembic) needs, and the rich
# formatter, which help and errors do without.
NOT_AT_START = {
    "alembic",
    "authlib",
    "fastapi",
    "jinja2",
    "minio",
    "reportlab",
    "rich",
    "starlette",
    "uvicorn",
}
LOADED = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr))
sys.argv = ["casevault", *sys.argv[1:]]
from portal.cli.main import main
main()
"""


def _loaded(root: Path, *args: str) -> set[str]:
    """The top-level packages loaded by `casevault ARGS…` run as a process against `root`."""
    env = {
        **os.environ,
        "CASEVAULT_DATA_DIR": str(root / "var"),
        "CASEVAULT_DATABASE_URL": f"sqlite:///{root}/casevault.db",
        "CASEVAULT_STORE": f"file://{root}/store",
    }
    done = subprocess.run(
        [sys.executable, "-c", LOADED, *args], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("startup")
    assert "alembic" in _loaded(root, "migrate")  # the one command that migrates loads it
    return root


@pytest.mark.parametrize(
    "command", [["--help"], ["deposit", "--help"], ["ledger", "verify"], ["users", "list"]]
)
def test_a_command_starts_without_the_web_stack(migrated: Path, command: list[str]) -> None:
    assert not _loaded(migrated, *command) & NOT_AT_START
