"""The house rules of the code's layout, checked on the source itself.

Imports point one way (`archive` ← `retention`, `archive` ← `access` ← `portal`; `access` may
use `retention`, never the reverse), no module
imports one that imports it back, and an import inside a function is there only to keep the
command line's start-up small (each command loads what it uses) — the cycle check counts it like
any other import, so it can never hide a cycle.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("archive", "access", "retention", "portal")
# What each package may import of ours (itself included).
ALLOWED = {
    "archive": {"archive"},
    "retention": {"retention", "archive"},
    # An open disclosure request holds its case (冻结): access places and lifts that hold.
    "access": {"access", "archive", "retention"},
    "portal": {"portal", "access", "retention", "archive"},
}
# The modules whose functions may import, and why (the command line's start-up, bench/startup.py).
LAZY_ALLOWED = {
    "portal.cli.main": "each command loads what it uses when it runs",
    "portal.wiring": "the S3 client loads only for a store that uses it",
}


def _modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path


MODULES = dict(_modules())


def _resolve(name: str) -> str | None:
    """The module of ours an imported name lands in (a package's name, or `pkg.module`)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


@functools.cache
def _imports(path: Path) -> tuple[tuple[str, bool], ...]:
    """Each module of ours imported by `path`, and whether the import sits inside a function."""
    return tuple(_found_imports(path))


def _found_imports(path: Path) -> Iterator[tuple[str, bool]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                inner.in_function = True  # type: ignore[attr-defined]
    for node in ast.walk(tree):
        lazy = getattr(node, "in_function", False)
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] or [node.module]
        else:
            continue
        if isinstance(node, ast.ImportFrom) and _in_type_checking(tree, node):
            continue
        for name in names:
            target = _resolve(name)
            if target is not None:
                yield target, lazy


def _in_type_checking(tree: ast.Module, node: ast.stmt) -> bool:
    for block in ast.walk(tree):
        guarded = isinstance(block, ast.If) and ast.unparse(block.test).endswith("TYPE_CHECKING")
        if guarded and any(child is node for child in ast.walk(block)):
            return True
    return False


GRAPH = {
    name: sorted({t for t, _lazy in _imports(path) if t != name})
    for name, path in MODULES.items()
}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_one_way(module: str) -> None:
    package = module.split(".")[0]
    against = [t for t, _lazy in _imports(MODULES[module]) if t.split(".")[0] not in ALLOWED[package]]
    assert not against, f"{module} imports {against} against archive ← retention, archive ← access ← portal"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_inside_a_function_but_the_allowed(module: str) -> None:
    lazy = sorted({t for t, lazy in _imports(MODULES[module]) if lazy})
    assert module in LAZY_ALLOWED or not lazy, f"{module} imports {lazy} inside a function"


def test_no_import_cycle() -> None:
    # Submodules importing their own package's __init__ are not cycles of ours: the __init__
    # files are empty (checked here too).
    for name, path in MODULES.items():
        if path.name == "__init__.py" and name.count(".") >= 0:
            assert not [t for t, _ in _imports(path)], f"{path} imports; package __init__ files stay empty"
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in GRAPH.get(node, []):
            if MODULES[target].name == "__init__.py":
                continue
            if state.get(target) == 1:
                cycle = [*stack[stack.index(target) :], target]
                pytest.fail("import cycle: " + " → ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_a_page_is_found_by_its_domain() -> None:
    """Each internal domain keeps its routes in its folder, and its templates under its name."""
    domains = [p for p in (ROOT / "portal" / "internal").iterdir() if p.is_dir() and p.name != "__pycache__"]
    expected = {"archive", "ledger", "retrieval", "disclosure", "retention", "identity"}
    assert {d.name for d in domains} >= expected
    for domain in domains:
        routes = list(domain.glob("api.py")) + list(domain.glob("*pages.py"))
        assert routes, f"{domain} has neither api.py nor pages.py"
        if list(domain.glob("*pages.py")):
            assert (ROOT / "portal" / "templates" / domain.name).is_dir(), f"no templates/{domain.name}/"


def test_no_test_module_imports_another() -> None:
    """Shared test code lives in `tests/support/` (plain helpers) and `tests/conftest.py`
    (fixtures pytest hands out), never in a test module another one imports."""
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)} imports {name}"
                for name in names
                if name.startswith("tests.") and not name.startswith("tests.support")
            ]
    assert not offenders, offenders
