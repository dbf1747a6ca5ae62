"""The README and docs/ stand alone: every link resolves inside the repository, nothing points
outside it, every file a document names exists, and `make run PORT=…` serves on that port."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
# A repository path in backticks: `archive/compliance.py`, `tests/test_compliance.py::test_art7_*`.
NAMED = re.compile(r"`((?:archive|access|retention|portal|tests|docs|scripts|bench|alembic)/[\w./*-]+)")
GENERATED = ("bench/out/",)  # what a benchmark run writes, not kept in the repository
# Outside the repository: a parent folder, a sibling's shared folder, this machine's own places
# (the folder the checkout lies in, the home directory: read here, never written down), file URLs.
MACHINE = "|".join(re.escape(f"{place}/") for place in (ROOT.parent, Path.home()))
OUTSIDE = re.compile(rf"\.\./|(?<![\w-])shared/|{MACHINE}|file://(?!<)|~/")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_a_document_points_nowhere_outside_the_repository(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    assert not OUTSIDE.findall(text), OUTSIDE.findall(text)
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "#", "mailto:")):
            continue
        path = (document.parent / target.split("#", 1)[0]).resolve()
        assert path.is_relative_to(ROOT) and path.exists(), f"{document.name}: {target}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_file_a_document_names_exists(document: Path) -> None:
    missing = []
    for named in NAMED.findall(document.read_text(encoding="utf-8")):
        path = named.split("::", 1)[0].rstrip(".")
        if "*" in path or path.startswith(GENERATED):
            continue
        if not (ROOT / path).exists():
            missing.append(named)
    assert not missing, missing


def test_the_readme_leads_to_every_contract() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("architecture", "deposit-format", "cli", "http-api", "regulation", "design"):
        assert f"](docs/{name}.md)" in readme, name


def test_the_regulation_map_answers_every_article_of_the_rules() -> None:
    text = (ROOT / "docs" / "regulation.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \|[^|]+\|([^|]+)\|([^|]+)\|$", text, flags=re.M)
    articles = {int(n) for n, _, _ in rows}
    assert {2, 3, 4, *range(7, 21)} <= articles, sorted({2, 3, 4, *range(7, 21)} - articles)
    assert all("`" in code and "tests/" in tests for _, code, tests in rows)


def test_make_run_serves_on_the_port_it_is_given() -> None:
    make = shutil.which("make")
    assert make is not None, "make is how the README runs the archive"
    planned = subprocess.run(
        [make, "-n", "run", "PORT=8080"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    serve = [line for line in planned.splitlines() if " serve " in line]
    assert serve and serve[-1].endswith("--port 8080"), planned
    default = subprocess.run([make, "-n", "run"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    assert "--port 8000" in default
