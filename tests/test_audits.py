"""Fixity audits (定期检测): `audit run` re-verifies what is due, oldest first, finds damage and a
lost lock, ledgers each audit, raises an alert that stays until acknowledged, and two runners on
PostgreSQL split the work without auditing any bundle twice."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from access.ledger import LedgerEntry
from archive.models import Bundle
from archive.service import bundle_prefix
from archive.store import FileStore
from portal.internal.retention import audit_rounds as audit_runs
from portal.internal.retention.fixity_pages import bins
from portal.wiring import Wired
from retention import audits
from retention.audit_models import AuditState, FixityAlert
from tests.support.bundles import PDF, change_object, deposit
from tests.support.portal import Portal
from tests.support.web import session_csrf, signed_in

Cli = Callable[..., Any]
file_store_only = pytest.mark.store("file")


def audit_json(cli: Cli, *args: str, exit_code: int) -> dict[str, Any]:
    result = cli("audit", "run", *args, "--json")
    assert result.exit_code == exit_code, result.output
    return json.loads(result.output)


def audit_entries(wired: Wired) -> list[tuple[str | None, str]]:
    with wired.sessions() as session:
        rows = session.execute(
            select(LedgerEntry.bundle_id, LedgerEntry.outcome)
            .where(LedgerEntry.action == "bundle.audit")
            .order_by(LedgerEntry.seq)
        )
        return [(b, o) for b, o in rows]


def failures(report: dict[str, Any]) -> dict[str, str]:
    return {f["path"]: f["reason"] for f in report["failures"]}


def deposit_many(cli: Cli, make_case: Callable[..., Path], count: int) -> list[str]:
    return [deposit(cli, make_case, f"深民防罚〔2026〕{100 + n}号") for n in range(count)]


def later(wired: Wired, days: int) -> None:
    """Move the archive's clock forward."""
    moment = datetime.now(UTC) + timedelta(days=days)
    wired.clock = lambda: moment


# --- what an audit finds ---------------------------------------------------------------------


def test_audit_finds_a_flipped_byte_names_it_ledgers_and_raises_an_alert(
    cli: Cli, make_case, wired: Wired
) -> None:
    bundle_id = deposit(cli, make_case)
    nothing = cli("audit", "run")
    assert nothing.exit_code == 0 and "nothing due" in nothing.output  # sealed today: not due
    assert audit_json(cli, "--all", exit_code=0)["audited"] == 1

    change_object(wired, bundle_prefix(bundle_id) + PDF)
    result = cli("audit", "run", "--all")
    assert result.exit_code == 1, result.output
    assert f"FAILED  {bundle_id}" in result.output
    assert f"\n  {PDF}: " in result.output
    assert audit_entries(wired) == [(bundle_id, "intact"), (bundle_id, "failed")]
    with wired.sessions() as session:
        state = session.get(AuditState, bundle_id)
        assert state is not None and state.last_outcome == "failed" and state.audits == 2
        assert [f["path"] for f in state.failures] == [PDF]
        alerts = session.scalars(select(FixityAlert)).all()
        assert [(a.bundle_id, a.acknowledged_at) for a in alerts] == [(bundle_id, None)]

    again = audit_json(cli, "--all", exit_code=1)  # still damaged: no second alert while one is open
    assert again["bundles"][0]["alert"] is None and PDF in failures(again["bundles"][0])
    with wired.sessions() as session:
        assert len(session.scalars(select(FixityAlert)).all()) == 1


@file_store_only
@pytest.mark.parametrize(
    ("lock", "reason"),
    [(None, "not under a retention lock"), ("2001-01-01T00:00:00+00:00", "locked only until 2001-01-01")],
    ids=["lock-removed", "lock-shortened"],
)
def test_audit_finds_a_removed_or_shortened_lock_on_the_file_store(
    cli: Cli, make_case, wired: Wired, lock: str | None, reason: str
) -> None:
    bundle_id = deposit(cli, make_case)
    store = wired.store
    assert isinstance(store, FileStore)
    key = bundle_prefix(bundle_id) + PDF
    meta = json.loads((store.root / "meta" / f"{key}.json").read_text(encoding="utf-8"))
    store.write_meta(key, {**meta, "retain_until": lock})  # around the store's own refusal

    report = audit_json(cli, "--all", exit_code=1)["bundles"][0]
    assert set(failures(report)) == {PDF}
    assert reason in failures(report)[PDF]
    assert cli("verify", bundle_id).exit_code == 0  # the bytes are intact: only an audit sees this


def test_audit_finds_objects_locked_for_less_than_the_bundle_is_kept(
    cli: Cli, make_case, wired: Wired
) -> None:
    """The bundle's retention was extended but its objects' locks were not (on S3, every version is
    locked to a date earlier than the bundle's retain_until)."""
    bundle_id = deposit(cli, make_case)
    with wired.sessions() as session:
        bundle = session.get(Bundle, bundle_id)
        assert bundle is not None
        session.execute(
            update(Bundle)
            .where(Bundle.id == bundle_id)
            .values(retain_until=bundle.retain_until + timedelta(days=3650))
        )
        session.commit()
        paths = {f.path for f in bundle.files}

    report = audit_json(cli, "--all", exit_code=1)["bundles"][0]
    assert set(failures(report)) == paths
    assert all("locked only until" in reason for reason in failures(report).values())


# --- what is due, and in which order ---------------------------------------------------------


@file_store_only
def test_due_bundles_are_audited_oldest_verified_first_and_within_the_limit(
    cli: Cli, make_case, wired: Wired
) -> None:
    a, b, c = deposit_many(cli, make_case, 3)
    assert audit_json(cli, "--all", exit_code=0)["audited"] == 3
    now = datetime.now(UTC)
    with wired.sessions() as session:
        for bundle_id, days in ((a, 100), (b, 200), (c, 10)):
            session.execute(
                update(AuditState)
                .where(AuditState.bundle_id == bundle_id)
                .values(last_audited_at=now - timedelta(days=days))
            )
        session.commit()

    wired.settings.audit_bundles_per_run = 1
    first = audit_runs.run_audits(wired, actor="test", sleep=lambda _s: None)
    assert [r.bundle_id for r in first.reports] == [b]
    wired.settings.audit_bundles_per_run = 0
    rest = audit_runs.run_audits(wired, actor="test", sleep=lambda _s: None)
    assert [r.bundle_id for r in rest.reports] == [a]  # c was verified 10 days ago: not due
    assert audit_runs.run_audits(wired, actor="test").reports == []


@file_store_only
def test_a_never_audited_bundle_is_due_from_its_sealing(cli: Cli, make_case, wired: Wired) -> None:
    [bundle_id] = deposit_many(cli, make_case, 1)
    later(wired, 89)
    assert audit_runs.run_audits(wired, actor="test").reports == []
    later(wired, 91)
    assert [r.bundle_id for r in audit_runs.run_audits(wired, actor="test").reports] == [bundle_id]


def test_reads_are_paced_to_the_configured_rate() -> None:
    assert audits.pause_after(size=10_000_000, elapsed=2.0, bytes_per_second=1_000_000) == 8.0
    assert audits.pause_after(size=10_000_000, elapsed=12.0, bytes_per_second=1_000_000) == 0.0
    assert audits.pause_after(size=10_000_000, elapsed=0.1, bytes_per_second=0) == 0.0


@file_store_only
def test_a_round_waits_after_each_bundle_as_the_rate_says(cli: Cli, make_case, wired: Wired) -> None:
    deposit_many(cli, make_case, 2)
    wired.settings.audit_bytes_per_second = 1  # so slow that every wait is the bundle's size
    waits: list[float] = []
    run = audit_runs.run_audits(wired, actor="test", everything=True, sleep=waits.append)
    assert len(run.reports) == 2 and len(waits) == 2
    with wired.sessions() as session:
        sizes = [sum(f.size for f in session.get(Bundle, r.bundle_id).files) for r in run.reports]  # type: ignore[union-attr]
    assert all(size / 2 < wait <= size for wait, size in zip(waits, sizes, strict=True))


def test_the_age_bins_count_every_bundle_once() -> None:
    found = bins([0, 5, 9, 10, 89, 90, 400], every_days=90)
    assert [b.count for b in found] == [3, 1, 0, 0, 0, 0, 0, 0, 1, 2]
    assert (found[-1].low, found[-1].high) == (90, None)
    assert sum(b.count for b in found) == 7


# --- two runners at once ---------------------------------------------------------------------


@pytest.mark.only_on("postgresql", why="row locks skipped by a second claimer are PostgreSQL's")
@file_store_only
def test_a_claimed_bundle_is_skipped_not_waited_for(cli: Cli, make_case, wired: Wired) -> None:
    deposit_many(cli, make_case, 2)
    now = datetime.now(UTC)
    with wired.sessions() as first, wired.sessions() as second:
        audits.ensure_states(first)
        first.commit()
        held = audits.claim_next(first, runner="one", now=now, cutoff=now)  # uncommitted: row locked
        second.execute(text("SET LOCAL lock_timeout = '10s'"))  # waiting would fail, not hang
        other = audits.claim_next(second, runner="two", now=now, cutoff=now)
        assert held is not None and other is not None and held != other
        second.commit()
        first.commit()
        assert audits.claim_next(second, runner="two", now=now, cutoff=now) is None


@file_store_only
def test_two_concurrent_runners_split_the_work_and_never_audit_a_bundle_twice(
    cli: Cli, make_case, wired: Wired
) -> None:
    bundle_ids = deposit_many(cli, make_case, 6)
    later(wired, 100)
    # Each runner waits for the other after every bundle, so both are claiming at the same time.
    turn = threading.Barrier(2, timeout=120)
    runs: dict[str, audit_runs.AuditRun] = {}

    def runner(name: str) -> None:
        runs[name] = audit_runs.run_audits(wired, actor=name, sleep=lambda _s: turn.wait())

    threads = [threading.Thread(target=runner, args=(n,)) for n in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    one = [r.bundle_id for r in runs["one"].reports]
    two = [r.bundle_id for r in runs["two"].reports]
    assert set(one).isdisjoint(two)
    assert sorted(one + two) == sorted(bundle_ids)
    assert len(one) == len(two) == 3
    audited = [b for b, _ in audit_entries(wired)]
    assert sorted(audited) == sorted(bundle_ids)  # each ledgered once


# --- the portal: last audit, the fixity page, alerts -----------------------------------------


@pytest.mark.store("file")
def test_an_alert_is_shown_until_acknowledged_with_a_note_and_that_is_ledgered(portal: Portal) -> None:
    wired = portal.wired
    change_object(wired, bundle_prefix(portal.bundle_id) + PDF)
    run = audit_runs.run_audits(wired, actor="test", everything=True)
    alert_id = run.alerts[portal.bundle_id]

    for role in ("archive_manager", "security_auditor"):
        shown = portal.client.get("/fixity", headers=portal.as_role(role))
        assert shown.status_code == 200 and f'id="alert-{alert_id}"' in shown.text, role
    assert portal.client.get("/fixity", headers=portal.as_role("supervisor")).status_code == 403

    signed_in(portal, "archivist")
    page = portal.client.get("/fixity")
    assert f'id="alert-{alert_id}"' in page.text and PDF in page.text
    assert 'id="alert-count">1<' in page.text
    assert 'class="age-bin"' in page.text
    case_page = portal.client.get(f"/bundles/{portal.bundle_id}")
    assert re.search(r"<dt>最近检测</dt><dd>[^<]+ · 失败</dd>", case_page.text)
    english = portal.client.get(f"/bundles/{portal.bundle_id}?lang=en")
    assert re.search(r"<dt>Last audit</dt><dd>[^<]+ · failed</dd>", english.text)
    portal.client.get("/?lang=zh")

    url = f"/fixity/alerts/{alert_id}/acknowledge"
    csrf = session_csrf(portal)
    forged = portal.client.post(url, data={"note": "checked"}, follow_redirects=False)
    assert forged.status_code == 403
    empty = portal.client.post(url, data={"note": "  ", "csrf_token": csrf}, follow_redirects=False)
    assert empty.status_code == 422 and "请填写处理说明" in empty.text
    note = "已从异地备份核对，原件完好，已报告信息中心"
    done = portal.client.post(url, data={"note": note, "csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/fixity#alerts"
    twice = portal.client.post(url, data={"note": note, "csrf_token": csrf}, follow_redirects=False)
    assert twice.status_code == 409

    after = portal.client.get("/fixity")
    assert f'id="alert-{alert_id}"' not in after.text and 'id="alert-count"' not in after.text
    assert PDF in after.text  # the failure itself stays listed until an audit finds it intact
    with wired.sessions() as session:
        alert = session.get(FixityAlert, alert_id)
        assert alert is not None and alert.acknowledged_by == "archivist" and alert.note == note
        entries = session.scalars(
            select(LedgerEntry).where(LedgerEntry.action == "fixity.acknowledge", LedgerEntry.outcome == "ok")
        ).all()
    assert [(e.actor, e.detail["alert"], e.detail["note"]) for e in entries] == [
        ("archivist", alert_id, note)
    ]


@pytest.mark.store("file")
def test_the_case_page_says_when_a_bundle_was_never_audited_and_then_intact(portal: Portal) -> None:
    headers = portal.as_role("archivist")
    before = portal.client.get(f"/bundles/{portal.bundle_id}", headers=headers)
    assert "<dt>最近检测</dt><dd>尚未检测</dd>" in before.text
    audit_runs.run_audits(portal.wired, actor="test", everything=True)
    page = portal.client.get(f"/bundles/{portal.bundle_id}", headers=headers)
    assert re.search(r"<dt>最近检测</dt><dd>[^<]+ · 完好</dd>", page.text)


@file_store_only
def test_the_serve_loop_audits_what_is_due(portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from portal import app as app_module
    from portal import worker as worker_module

    monkeypatch.setattr(worker_module, "SCHEDULE_DELAY_SECONDS", 0)
    wired = portal.wired
    later(wired, 100)  # the demo bundle, sealed today, is due 100 days from now
    pause = threading.Event()  # never set: only something to wait on between looks
    with TestClient(app_module.create_app(wired), base_url="https://testserver") as client:
        for _ in range(600):  # a bound, not a timing: the loop's first round ends long before
            if audit_entries(wired):
                break
            pause.wait(0.1)
        assert client.get("/login").status_code == 200  # requests are served meanwhile
    assert audit_entries(wired) == [(portal.bundle_id, "intact")]
    with wired.sessions() as session:
        actors = session.scalars(select(LedgerEntry.actor).where(LedgerEntry.action == "bundle.audit"))
        assert list(actors) == [audit_runs.SERVE_AUDITOR]


@file_store_only
def test_the_fixity_page_speaks_chinese_first_and_english_on_request(portal: Portal) -> None:
    headers = portal.as_role("security_auditor")
    chinese = portal.client.get("/fixity", headers=headers).text
    english = portal.client.get("/fixity?lang=en", headers=headers).text
    assert "距上次复核的天数" in chinese and "没有未处理的告警" in chinese
    assert "Days since last verified" in english and "No open alerts." in english
    for body in (chinese, english):
        assert re.search(r"\b(fixity|nav|outcome)\.[a-z_]+", body) is None  # no raw message key
        assert 'data-count="1"' in body  # the demo bundle, verified (sealed) today, in the first bar


def test_audit_finds_an_object_no_longer_under_its_legal_hold(cli: Cli, make_case, wired: Wired) -> None:
    """The case is held (冻结) and its objects' holds were set; one is cleared under the app."""
    bundle_id = deposit(cli, make_case)
    with wired.sessions() as session:
        bundle = session.get(Bundle, bundle_id)
        assert bundle is not None
        case_no = bundle.case.case_no
    placed = cli("holds", "place", "--case", case_no, "--mandate", "信访", "--reason", "信访事项待结")
    assert placed.exit_code == 0, placed.output
    assert audit_json(cli, "--all", exit_code=0)["intact"]

    key = bundle_prefix(bundle_id) + PDF
    assert wired.store.legal_hold(key, version_id=None)
    if isinstance(wired.store, FileStore):
        meta = json.loads((wired.store.root / "meta" / f"{key}.json").read_text(encoding="utf-8"))
        wired.store.write_meta(key, {**meta, "legal_hold": False})
    else:
        wired.store.client.disable_object_legal_hold(wired.store.location.bucket, key)

    report = audit_json(cli, "--all", exit_code=1)["bundles"][0]
    assert set(failures(report)) == {PDF}
    assert "under legal hold" in failures(report)[PDF]
