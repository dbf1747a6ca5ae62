"""Deposit is crash-safe: whatever step a deposit dies at, nothing becomes visible, and what it
left in the store before retention was applied is removed by `casevault reconcile` (or at once,
for an ordinary error). Nothing under retention is ever removed by either.

A crash is simulated with an exception deriving from `BaseException`, so that no in-process
`except Exception` clean-up runs — as when the process is killed.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from access import ledger
from access.ledger import LedgerEntry
from archive.errors import ObjectMissing, StoreUnavailable
from archive.models import Bundle, BundleFile, Case, CaseParty, CaseRecord
from archive.s3store import S3Store
from archive.store import FileStore, ObjectInfo, ObjectStore, ObjectWriter
from portal.wiring import Wired


class Crash(BaseException):
    """The process died here: nothing in-process catches this."""


# --- fault injection -------------------------------------------------------------------------


def fail_once(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, error: BaseException) -> None:
    """Make `owner.name` raise `error` on its first call from this thread (the deposit's), then
    behave as before; a worker thread left running by an earlier test commits undisturbed."""
    original = getattr(owner, name)
    calls = 0
    deposit_thread = threading.current_thread()

    def failing(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        if threading.current_thread() is deposit_thread:
            calls += 1
            if calls == 1:
                raise error
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, failing)


class _WriteFault:
    """Shared by every writer of one deposit: the `nth` commit (of keys ending in `only`) raises.

    After a crash the process is gone: every later write or commit raises again, and no writer
    gets to clean up after itself (its half-written object stays where it is).
    """

    def __init__(self, nth: int, error: BaseException, only: str = "") -> None:
        self.nth = nth
        self.error = error
        self.only = only
        self.commits = 0
        self.dead = False
        self.lock = threading.Lock()

    def check(self, key: str, *, committing: bool) -> None:
        with self.lock:
            if self.dead:
                raise Crash("the process is already dead")
            if not committing or not key.endswith(self.only):
                return
            self.commits += 1
            if self.commits == self.nth:
                self.dead = not isinstance(self.error, Exception)
                raise self.error


class _FaultyWriter:
    def __init__(self, inner: ObjectWriter, key: str, fault: _WriteFault) -> None:
        self.inner = inner
        self.key = key
        self.fault = fault

    def write(self, chunk: bytes) -> None:
        self.fault.check(self.key, committing=False)
        self.inner.write(chunk)

    def commit(self) -> str | None:
        self.fault.check(self.key, committing=True)
        return self.inner.commit()

    def abort(self) -> None:
        if not self.fault.dead:
            self.inner.abort()
            return
        # A dead process removes nothing; the OS only closes its open files.
        handle = getattr(self.inner, "_file", None)
        if handle is not None:
            handle.close()


def fail_writes(
    monkeypatch: pytest.MonkeyPatch, wired: Wired, *, nth: int, error: BaseException, only: str = ""
) -> None:
    """Writes through any store of this class (the CLI opens its own) share one fault."""
    store_class = type(wired.store)
    original = store_class.open_writer
    fault = _WriteFault(nth, error, only)

    def open_writer(self: ObjectStore, key: str, *, tags: Any, durable: bool = True) -> ObjectWriter:
        fault.check(key, committing=False)
        return _FaultyWriter(original(self, key, tags=tags, durable=durable), key, fault)

    monkeypatch.setattr(store_class, "open_writer", open_writer)


def crash_after_first_object(monkeypatch: pytest.MonkeyPatch, wired: Wired) -> None:
    fail_writes(monkeypatch, wired, nth=2, error=Crash("died writing the second object"))


def crash_after_all_objects(monkeypatch: pytest.MonkeyPatch, wired: Wired) -> None:
    fail_once(monkeypatch, type(wired.store), "apply_retention_all", Crash("died before retention"))


def crash_after_retention(monkeypatch: pytest.MonkeyPatch, wired: Wired) -> None:
    fail_once(monkeypatch, ledger, "append", Crash("died after retention"))


def crash_before_commit(monkeypatch: pytest.MonkeyPatch, wired: Wired) -> None:
    fail_once(monkeypatch, Session, "commit", Crash("died just before commit"))


Inject = Callable[[pytest.MonkeyPatch, Wired], None]


# --- what is visible ---------------------------------------------------------------------------


def row_counts(wired: Wired) -> dict[str, int]:
    with wired.sessions() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Case, Bundle, BundleFile, CaseRecord, LedgerEntry)
        }


def leftovers(wired: Wired) -> list[ObjectInfo]:
    return list(wired.store.list("bundles/"))


def assert_nothing_visible(cli: Callable[..., Any], wired: Wired) -> None:
    """No rows, nothing for `verify --all` to find, and the ledger chain intact."""
    counts = row_counts(wired)
    with wired.sessions() as session:  # reconcile's own runs are in the ledger; no deposit is
        counts["ledger_entries"] -= (
            session.scalar(
                select(func.count()).select_from(LedgerEntry).where(LedgerEntry.action == "store.reconcile")
            )
            or 0
        )
    assert set(counts.values()) == {0}, counts
    found = cli("verify", "--all", "--json")
    assert found.exit_code == 0, found.output
    assert '"bundles": []' in found.output
    chain = cli("ledger", "verify")
    assert chain.exit_code == 0, chain.output
    assert "ledger intact:" in chain.output


def assert_store_empty(wired: Wired) -> None:
    assert leftovers(wired) == []
    if isinstance(wired.store, FileStore):  # no sidecar metadata left behind either
        assert [p for p in (wired.store.root / "meta").rglob("*") if p.is_file()] == []


def retained(store: ObjectStore, info: ObjectInfo) -> bool:
    if "/.incoming-" in info.key:  # a half-written FileStore object: no metadata yet
        return False
    try:
        return store.retained_until(info.key, version_id=None) is not None
    except ObjectMissing:
        return False


def reconcile(cli: Callable[..., Any], *args: str) -> list[str]:
    """Run `casevault reconcile`; returns the per-object lines."""
    result = cli("reconcile", *args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-1] == f"{len(lines) - 1} leftover object(s) handled"
    return lines[:-1]


# --- the tests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inject", "after_retention"),
    [
        pytest.param(crash_after_first_object, False, id="a-first-object-written"),
        pytest.param(crash_after_all_objects, False, id="b-all-objects-written"),
        pytest.param(crash_after_retention, True, id="c-retention-applied"),
        pytest.param(crash_before_commit, True, id="d-just-before-commit"),
    ],
)
def test_crash_leaves_nothing_visible_and_reconcile_removes_the_leftovers(
    cli, make_case, wired: Wired, monkeypatch: pytest.MonkeyPatch, inject: Inject, after_retention: bool
) -> None:
    folder = make_case()
    inject(monkeypatch, wired)
    with pytest.raises(Crash):
        cli("deposit", folder)

    assert_nothing_visible(cli, wired)
    left = leftovers(wired)
    assert left, "the crash should have left objects behind"
    assert len({info.key.split("/")[1] for info in left}) == 1  # all of one bundle
    # The crash really happened at the step it names: retention was applied to all, or none.
    assert {retained(wired.store, info) for info in left} == {after_retention}

    if after_retention:
        # Retained objects are never removed by reconcile; and with no sealed bundle at all in
        # the database, this may be the wrong database: it refuses and touches nothing.
        refused = cli("reconcile", "--grace-minutes", "0")
        assert refused.exit_code == 2, refused.output
        assert "the database does not match the store" in refused.output
        assert leftovers(wired) == left
        return
    lines = reconcile(cli, "--grace-minutes", "0")
    assert sorted(line.split(": ", 1)[0] for line in lines) == sorted(info.key for info in left)
    assert all(line.endswith(": removed") for line in lines), lines
    assert_store_empty(wired)
    assert_nothing_visible(cli, wired)
    assert reconcile(cli, "--grace-minutes", "0") == []  # nothing left to do


@pytest.mark.parametrize("inject", [crash_after_retention, crash_before_commit])
def test_reconcile_reports_retained_leftovers_and_keeps_them(
    cli, make_case, wired: Wired, monkeypatch: pytest.MonkeyPatch, inject: Inject
) -> None:
    sealed = cli("deposit", make_case())
    assert sealed.exit_code == 0, sealed.output
    sealed_keys = {info.key for info in leftovers(wired)}
    with monkeypatch.context() as patch:
        inject(patch, wired)
        with pytest.raises(Crash):
            cli("deposit", make_case())
    left = sorted(info.key for info in leftovers(wired) if info.key not in sealed_keys)

    lines = reconcile(cli, "--grace-minutes", "0")
    assert sorted(line.split(": ", 1)[0] for line in lines) == left
    assert all("kept: under retention until" in line for line in lines), lines
    assert sorted(info.key for info in leftovers(wired)) == sorted(sealed_keys | set(left))
    assert cli("verify", "--all").exit_code == 0

    # Years later another deposit dies the same way: the first leftover was reported (ledgered),
    # so two unknown bundles are no sign of a wrong database, and both are kept again.
    with monkeypatch.context() as patch:
        inject(patch, wired)
        with pytest.raises(Crash):
            cli("deposit", make_case())
    again = reconcile(cli, "--grace-minutes", "0")
    assert len({line.split("/")[1] for line in again}) == 2
    assert all("kept: under retention until" in line for line in again), again
    with wired.sessions() as session:
        entries = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "store.reconcile")).all()
    assert [entry.outcome for entry in entries] == ["ok", "ok"]
    assert len(entries[-1].detail["kept_bundles"]) == 2


def test_reconcile_against_another_database_touches_nothing(
    cli, make_case, wired: Wired, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """A mistyped database URL: a database with no bundles, and a store full of sealed ones."""
    for _ in range(2):
        assert cli("deposit", make_case()).exit_code == 0
    before = sorted(info.key for info in leftovers(wired))
    with wired.sessions() as session:  # the bundles' rows gone, as in an empty or foreign database
        for model in (CaseParty, CaseRecord, BundleFile, Bundle, Case):
            session.query(model).delete()
        session.commit()

    refused = cli("reconcile", "--grace-minutes", "0")
    assert refused.exit_code == 2, refused.output
    assert "the database does not match the store: 2 bundle(s) under retention" in refused.output
    assert "nothing was touched" in refused.output
    assert sorted(info.key for info in leftovers(wired)) == before
    with wired.sessions() as session:
        entry = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "store.reconcile")).one()
    assert entry.outcome == "refused"
    assert "does not match the store" in entry.detail["refusal"]


@pytest.mark.parametrize(
    ("inject", "outcome"),
    [
        pytest.param(
            lambda mp, w: fail_writes(mp, w, nth=3, error=OSError(errno.ENOSPC, "No space left")),
            (1, "No space left"),
            id="oserror-on-write",
        ),
        pytest.param(
            lambda mp, w: fail_writes(mp, w, nth=3, error=StoreUnavailable("store went away")),
            (75, "nothing was archived"),
            id="store-unavailable-on-write",
        ),
        pytest.param(
            lambda mp, w: fail_once(mp, ledger, "append", RuntimeError("a bug")),
            RuntimeError,
            id="error-after-retention",
        ),
    ],
)
def test_ordinary_error_cleans_up_at_once(
    cli,
    make_case,
    wired: Wired,
    monkeypatch: pytest.MonkeyPatch,
    inject: Inject,
    outcome: tuple[int, str] | type[Exception],
) -> None:
    """An exit code and message where the CLI knows the error; else the error itself."""
    folder = make_case()
    inject(monkeypatch, wired)
    if isinstance(outcome, tuple):
        result = cli("deposit", folder)
        assert result.exit_code == outcome[0], result.output
        assert outcome[1] in result.output
    else:
        with pytest.raises(outcome):
            cli("deposit", folder)
    assert_nothing_visible(cli, wired)
    if outcome is RuntimeError:
        # Past retention nothing can be removed (S3 COMPLIANCE; the FileStore alike): what is
        # left stays locked, visible to nobody, and reconcile reports it rather than remove it.
        left = leftovers(wired)
        assert left and all(retained(wired.store, info) for info in left)
        return
    assert_store_empty(wired)  # nothing was left for reconcile
    assert reconcile(cli, "--grace-minutes", "0") == []


def test_reconcile_leaves_sealed_bundles_and_recent_leftovers_alone(
    cli, make_case, wired: Wired, monkeypatch: pytest.MonkeyPatch
) -> None:
    sealed = cli("deposit", make_case())
    assert sealed.exit_code == 0, sealed.output
    sealed_keys = sorted(info.key for info in leftovers(wired))
    with monkeypatch.context() as patch:
        crash_after_all_objects(patch, wired)
        with pytest.raises(Crash):
            cli("deposit", make_case())
    everything = sorted(info.key for info in leftovers(wired))
    assert len(everything) > len(sealed_keys)

    # Within the grace period (default 60 minutes) the leftover may be a deposit in progress.
    assert reconcile(cli) == []
    assert reconcile(cli, "--grace-minutes", "5") == []
    assert sorted(info.key for info in leftovers(wired)) == everything

    handled = reconcile(cli, "--grace-minutes", "0")
    assert sorted(line.split(": ", 1)[0] for line in handled) == sorted(set(everything) - set(sealed_keys))
    assert sorted(info.key for info in leftovers(wired)) == sealed_keys
    assert cli("verify", "--all").exit_code == 0


@pytest.mark.store("s3")
def test_reconcile_aborts_a_multipart_upload_a_crash_left_open(
    cli, make_case, wired: Wired, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(wired.store, S3Store)
    folder = make_case()
    big = folder / "records" / "询问笔录.pdf"  # padded past one part: stored with multipart
    with big.open("ab") as out:
        out.write(b"\0" * (wired.settings.s3_part_size + (1 << 20)))
    fail_writes(monkeypatch, wired, nth=1, error=Crash("died completing the upload"), only=big.name)
    with pytest.raises(Crash):
        cli("deposit", folder)

    def open_uploads() -> list[str]:
        result = wired.store.client._list_multipart_uploads(wired.store.location.bucket, prefix="bundles/")
        return [upload.object_name for upload in result.uploads]

    assert [key.endswith(big.name) for key in open_uploads()] == [True]
    reconcile(cli, "--grace-minutes", "0")
    assert_store_empty(wired)
    # The parts already uploaded are leftovers too: storage nobody can see or will ever use.
    assert open_uploads() == []
