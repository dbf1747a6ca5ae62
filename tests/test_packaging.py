"""The built wheel, installed in a fresh environment outside the checkout: it migrates, deposits,
verifies and serves with nothing of the source tree beside it.

The wheel is built from exactly what the Dockerfile's build stage copies, with this
environment's setuptools (no download); the fresh environment sees this one's dependencies
through a `.pth` line, never its editable casevault, and the test proves which casevault runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from tests.support.services import first_answer, free_port

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def build_stage_sources() -> list[str]:
    """What the Dockerfile's build stage copies into its build context, in order."""
    stage = DOCKERFILE.read_text().split("\nFROM ", 2)[1]
    copied: list[str] = []
    for line in stage.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            copied += line.split()[1:-1]
    return copied


def _run(command: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 180) -> str:
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with only the built wheel installed; its bin directory."""
    setuptools = version("setuptools")
    if int(setuptools.split(".")[0]) < 70:  # 70.1 builds wheels by itself: the dev extra has it
        pytest.fail(f"setuptools {setuptools} cannot build the wheel here: pip install -e '.[dev]'")
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in build_stage_sources():
        found = ROOT / name
        if found.is_dir():
            shutil.copytree(found, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(found, source / name)
    wheels = root / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w"]
    _run([*build, str(wheels), "."], env=dict(os.environ), cwd=source, timeout=120)
    (wheel,) = wheels.glob("casevault-*.whl")

    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], env=dict(os.environ), cwd=root)
    python = venv / "bin" / "python"
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        env=_outside(),
        cwd=root,
    ).strip()
    # The dependencies, without their .pth files: this environment's editable casevault stays out.
    (Path(purelib) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
    _run([*install, "--no-index", str(wheel)], env=_outside(), cwd=root)
    return venv / "bin"


def _outside(**settings: str) -> dict[str, str]:
    """An environment that puts no checkout on the path and measures no coverage."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if name != "PYTHONPATH" and not name.startswith(("COVERAGE_", "COV_CORE_", "CASEVAULT_"))
    }
    return {**kept, "CASEVAULT_STRICT_MESSAGES": "1", **settings}


def test_the_installed_casevault_is_the_wheel_and_carries_what_it_reads(
    installed: Path, tmp_path: Path
) -> None:
    probe = (
        "import json, portal, portal.db, portal.web.i18n as i18n; print(json.dumps({"
        "'portal': portal.__file__, 'migrations': str(portal.db.MIGRATIONS),"
        "'templates': str(i18n.TEMPLATES), 'head': portal.db.SCHEMA_REVISION}))"
    )
    found = json.loads(_run([str(installed / "python"), "-c", probe], env=_outside(), cwd=tmp_path))
    venv = installed.parent
    for name in ("portal", "migrations", "templates"):
        assert Path(found[name]).is_relative_to(venv), f"{name} comes from {found[name]}, not the wheel"
    versions = sorted(p.name for p in (ROOT / "alembic" / "versions").glob("*.py"))
    shipped = sorted(p.name for p in (Path(found["migrations"]) / "versions").glob("*.py"))
    assert shipped == versions
    assert found["head"] == re.match(r"\d+", versions[-1]).group()  # type: ignore[union-attr]


def test_the_installed_wheel_migrates_deposits_verifies_and_serves(
    installed: Path, tmp_path: Path, make_case: Callable[..., Path]
) -> None:
    case = make_case()
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = _outside(CASEVAULT_DATA_DIR=str(tmp_path / "var"), CASEVAULT_COOKIE_SECURE="false")
    casevault = str(installed / "casevault")

    assert "migrated to" in _run([casevault, "migrate"], env=env, cwd=cwd)
    sealed = json.loads(_run([casevault, "deposit", str(case), "--json"], env=env, cwd=cwd))
    assert "intact" in _run([casevault, "verify", sealed["bundle_id"]], env=env, cwd=cwd)

    port = free_port()
    server = subprocess.Popen(
        [casevault, "serve", "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        page = first_answer(f"http://127.0.0.1:{port}/public/", server, within=90)
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
        assert 'lang="zh' in page.text  # a template rendered with its catalogue
        styles = httpx.get(f"http://127.0.0.1:{port}/static/app.css", timeout=5)
        assert styles.status_code == 200 and styles.text.strip()
    finally:
        server.terminate()
        server.wait(timeout=10)
