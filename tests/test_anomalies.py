"""Anomalies for the security auditor: each rule fires on the case it names and not on ordinary
work; evaluation reads only the entries since the last one, and two at once flag once; a flag is
acknowledged with a note (ledgered); only the auditor reads anomalies and tunes the rules (each
change ledgered); the auditor's start page shows today's anomalies and a picture, in Chinese;
`GET /api/v1/anomalies` filters by time and rule."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from access import anomalies, identities, ledger
from access.anomalies import AnomalyFlag, AnomalyKind
from access.errors import Conflict
from access.ledger import LedgerEntry
from access.models import Role
from access.policy import Context, Denied, Subject
from archive.errors import Refused
from archive.models import CaseRecord
from portal import app as app_module
from portal import worker as worker_module
from portal.cli.demo import DEMO_CASE_NO
from portal.wiring import Wired
from tests.support.disclosure_pages import as_role, post
from tests.support.portal import Portal

pytestmark = pytest.mark.store("file")

CST = timezone(timedelta(hours=8))
WORK = datetime(2026, 12, 2, 10, 0, tzinfo=CST).astimezone(UTC)  # a Wednesday, mid-morning
AUDITOR = Subject(username="auditor-1", role=Role.security_auditor)
KEYLIKE = re.compile(r"(?<![\w./-])(?:anomalies|anomaly\.kind|nav)\.[a-z0-9_.]+")


def add(wired: Wired, *, at: datetime = WORK, **fields: Any) -> int:
    """Append one entry (an ordinary allowed view by default); its sequence number."""
    values: dict[str, Any] = {
        "actor": "archivist-1",
        "action": "record.view",
        "outcome": "allowed",
        "case_no": "深民防罚〔2026〕1号",
        "source": "10.1.1.1",
        "detail": {"rule": "role", "reason": "role archivist may record.view", "role": "archivist"},
    } | fields
    with wired.sessions() as session:
        entry = ledger.append(session, at=at, **values)
        session.commit()
        return entry.seq


def evaluate(wired: Wired, **kwargs: Any) -> anomalies.Evaluation:
    with wired.sessions() as session:
        return anomalies.evaluate(session, now=WORK, **kwargs)


def flags(wired: Wired, kind: AnomalyKind | None = None) -> list[AnomalyFlag]:
    """Evaluate what is new, then every flag (of one rule), oldest first."""
    evaluate(wired)
    with wired.sessions() as session:
        found = anomalies.find_flags(session, kind=kind.value if kind else None, limit=500)
        return sorted(found, key=lambda f: f.id)


def linked(wired: Wired, flag: AnomalyFlag) -> list[int]:
    with wired.sessions() as session:
        return anomalies.linked_entries(session, flag_ids=[flag.id])[flag.id]


def tune(
    wired: Wired, kind: AnomalyKind, *, enabled: bool = True, subject: Subject = AUDITOR, **values: str
) -> None:
    with wired.sessions() as session:
        anomalies.tune_rule(
            session,
            subject=subject,
            context=Context(now=WORK),
            kind=kind.value,
            enabled=enabled,
            values=values,
        )


def denial(wired: Wired, *, at: datetime, actor: str = "supervisor-1", source: str = "10.9.9.9") -> int:
    detail = {
        "rule": "clearance",
        "reason": "needs clearance secret; the user has none",
        "role": "supervisor",
    }
    return add(wired, at=at, actor=actor, source=source, outcome="denied", detail=detail)


# --- each rule ------------------------------------------------------------------------------


def test_ordinary_work_raises_nothing(wired: Wired) -> None:
    for n in range(20):
        add(wired, at=WORK + timedelta(minutes=5 * n), record_id=f"r{n % 3}")
    add(wired, action="auth.login", outcome="ok", at=WORK)
    add(wired, action="auth.login", outcome="ok", at=WORK + timedelta(days=1))
    for n in range(4):  # refusals, but fewer than a burst
        denial(wired, at=WORK + timedelta(minutes=n))
    assert flags(wired) == []


def test_a_burst_of_refusals_by_one_person_is_flagged_once_with_its_entries(wired: Wired) -> None:
    seqs = [denial(wired, at=WORK + timedelta(minutes=2 * n), source=f"10.9.9.{n}") for n in range(5)]
    (flag,) = flags(wired, AnomalyKind.denial_burst)
    assert (flag.actor, flag.seq, flag.detail["by"], flag.detail["count"]) == (
        "supervisor-1",
        seqs[-1],
        "actor",
        5,
    )
    assert linked(wired, flag) == seqs
    # Spread over more than the window they are no burst.
    for n in range(5):
        denial(wired, at=WORK + timedelta(hours=2, minutes=11 * n), source=f"10.8.8.{n}")
    assert len(flags(wired, AnomalyKind.denial_burst)) == 1


def test_a_burst_of_refusals_from_one_address_is_flagged(wired: Wired) -> None:
    for n in range(5):
        denial(wired, at=WORK + timedelta(minutes=n), actor=f"someone-{n}", source="192.0.2.7")
    (flag,) = flags(wired, AnomalyKind.denial_burst)
    assert (flag.source, flag.detail["by"]) == ("192.0.2.7", "source")


def test_views_outside_working_hours_and_on_holidays_are_flagged(wired: Wired) -> None:
    add(wired, at=WORK)  # 10:00 on a Wednesday
    late = add(wired, at=datetime(2026, 12, 2, 20, 30, tzinfo=CST))
    holiday = add(wired, at=datetime(2026, 10, 1, 10, 0, tzinfo=CST))  # National Day
    add(wired, at=datetime(2026, 12, 2, 20, 30, tzinfo=CST), action="bundle.read")  # metadata only
    found = flags(wired, AnomalyKind.after_hours)
    assert [(f.seq, f.detail["workday"]) for f in found] == [(late, True), (holiday, False)]
    tune(wired, AnomalyKind.after_hours, start="08:30", end="21:00")
    add(wired, at=datetime(2026, 12, 3, 20, 30, tzinfo=CST))
    assert len(flags(wired, AnomalyKind.after_hours)) == 2


def test_bulk_access_beyond_the_threshold_is_flagged(wired: Wired) -> None:
    tune(wired, AnomalyKind.bulk, records="5", megabytes="0", minutes="60")
    seqs = [add(wired, at=WORK + timedelta(minutes=n), record_id=f"r{n}") for n in range(5)]
    assert flags(wired, AnomalyKind.bulk) == []  # five is not more than five
    seqs.append(add(wired, at=WORK + timedelta(minutes=6), record_id="r6"))
    (flag,) = flags(wired, AnomalyKind.bulk)
    assert linked(wired, flag) == seqs and flag.detail["count"] == 6


def test_a_sign_in_from_a_new_address_is_flagged_but_not_the_first_or_a_known_one(wired: Wired) -> None:
    add(wired, action="auth.login", outcome="ok", source="10.0.0.1")
    add(wired, action="auth.login", outcome="ok", source="10.0.0.1", at=WORK + timedelta(hours=1))
    add(wired, action="auth.login", outcome="failed", source="203.0.113.5", at=WORK + timedelta(hours=2))
    new = add(wired, action="auth.login", outcome="ok", source="203.0.113.9", at=WORK + timedelta(hours=3))
    (flag,) = flags(wired, AnomalyKind.new_address)
    assert (flag.seq, flag.source, flag.detail["known"]) == (new, "203.0.113.9", 1)


def test_an_account_unused_for_90_days_that_acts_again_is_flagged(wired: Wired) -> None:
    add(wired, actor="officer-9")
    mid = add(wired, actor="officer-9", at=WORK + timedelta(days=89))
    assert flags(wired, AnomalyKind.dormant) == []
    back = add(wired, actor="officer-9", at=WORK + timedelta(days=89 + 91))
    (flag,) = flags(wired, AnomalyKind.dormant)
    assert (flag.seq, flag.detail["idle_days"]) == (back, 91)
    assert linked(wired, flag) == [mid, back]


def test_the_administrators_own_actions_are_flagged(wired: Wired) -> None:
    with wired.sessions() as session:
        for name, role in (("secadmin", "security_admin"), ("sysadmin-1", "sysadmin"), ("arch", "archivist")):
            identities.create_user(
                session, username=name, role=role, actor="test", now=WORK, password="x" * 12
            )
        session.commit()
    evaluate(wired)  # the accounts' creation, by the operator
    mine = add(wired, actor="secadmin", action="user.update", case_no=None)
    theirs = add(wired, actor="sysadmin-1", action="settings.read", case_no=None)
    add(wired, actor="arch", action="case.list", case_no=None)
    found = flags(wired, AnomalyKind.admin_action)
    assert [(f.seq, f.actor, f.detail["action"]) for f in found] == [
        (mine, "secadmin", "user.update"),
        (theirs, "sysadmin-1", "settings.read"),
    ]


def test_a_rule_turned_off_raises_nothing(wired: Wired) -> None:
    tune(wired, AnomalyKind.after_hours, enabled=False, start="08:30", end="18:00")
    add(wired, at=datetime(2026, 12, 2, 23, 0, tzinfo=CST))
    assert flags(wired) == []


# --- through the real services: state secrets and grants ------------------------------------


def test_attempts_at_a_state_secret_record_and_outside_a_grant_are_flagged(portal: Portal) -> None:
    wired = portal.wired
    wired.clock = lambda: WORK
    evaluate(wired)
    with wired.sessions() as session:
        session.execute(
            update(CaseRecord)
            .where(CaseRecord.bundle_id == portal.bundle_id, CaseRecord.record_id == "d2")
            .values(classification="state_secret", grade="secret")
        )
        session.commit()
    content = f"/api/v1/bundles/{portal.bundle_id}/records/{{}}/content"
    assert portal.client.get(content.format("d1"), headers=portal.as_role("archivist")).status_code == 200
    assert portal.client.get(content.format("d2"), headers=portal.as_role("archivist")).status_code == 403
    assert portal.client.get(content.format("d1"), headers=portal.as_role("supervisor")).status_code == 403
    found = flags(wired)
    kinds = {(f.kind, f.actor) for f in found}
    assert kinds == {("state_secret", "archivist"), ("outside_grant", "supervisor")}, found
    (secret,) = [f for f in found if f.kind == "state_secret"]
    assert (secret.detail["outcome"], secret.case_no) == ("denied", DEMO_CASE_NO)
    (grant,) = [f for f in found if f.kind == "outside_grant"]
    assert grant.detail["reason_code"] == "grant_needed"


# --- incremental and concurrent -------------------------------------------------------------


def test_evaluation_reads_only_new_entries_and_a_second_one_does_nothing(wired: Wired) -> None:
    first = evaluate(wired)
    head = first.head
    assert first.cursor == head
    assert evaluate(wired).entries == 0 and evaluate(wired).flags == 0
    add(wired, at=datetime(2026, 12, 2, 22, 0, tzinfo=CST))
    add(wired)
    again = evaluate(wired)
    assert (again.entries, again.flags, again.cursor) == (2, 1, head + 2)
    assert evaluate(wired).entries == 0
    assert len(flags(wired)) == 1


def test_a_page_sized_evaluation_takes_up_to_its_limit_and_the_next_carries_on(wired: Wired) -> None:
    start = evaluate(wired).cursor
    for n in range(7):
        add(wired, at=datetime(2026, 12, 2, 22, n, tzinfo=CST))
    part = evaluate(wired, limit=3, batch=2)
    assert (part.entries, part.cursor, part.head) == (3, start + 3, start + 7)
    assert evaluate(wired, batch=2).entries == 4
    assert len(flags(wired, AnomalyKind.after_hours)) == 7


def test_two_evaluations_at_once_flag_each_anomaly_once(wired: Wired) -> None:
    for n in range(30):
        add(wired, at=datetime(2026, 12, 2, 22, 0, tzinfo=CST) + timedelta(seconds=n))
    barrier = threading.Barrier(2)
    done: list[anomalies.Evaluation] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            with wired.sessions() as session:
                barrier.wait()
                done.append(anomalies.evaluate(session, now=WORK, batch=4))
        except BaseException as exc:
            failed.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == []
    with wired.sessions() as session:
        total = session.scalar(select(func.count()).select_from(LedgerEntry))
        count = session.scalar(select(func.count(AnomalyFlag.id)).where(AnomalyFlag.kind == "after_hours"))
    assert sum(d.entries for d in done) == total
    assert count == 30


def test_the_serve_loop_evaluates_what_arrived(wired: Wired, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "SCHEDULE_DELAY_SECONDS", 0)
    late = add(wired, at=datetime(2026, 12, 2, 22, 0, tzinfo=CST))
    pause = threading.Event()  # never set: only something to wait on between looks
    with TestClient(app_module.create_app(wired), base_url="https://testserver"):
        for _ in range(600):  # a bound, not a timing: the loop's first round ends long before
            with wired.sessions() as session:
                if anomalies.standing(session).cursor >= late:
                    break
            pause.wait(0.1)
    with wired.sessions() as session:
        assert anomalies.standing(session).cursor >= late
        assert [f.seq for f in anomalies.find_flags(session, kind="after_hours")] == [late]


# --- acknowledging and tuning ---------------------------------------------------------------


def _one_flag(wired: Wired) -> AnomalyFlag:
    add(wired, at=datetime(2026, 12, 2, 22, 0, tzinfo=CST))
    (flag,) = flags(wired)
    return flag


def test_acknowledging_needs_a_note_and_is_ledgered(wired: Wired) -> None:
    flag = _one_flag(wired)
    context = Context(now=WORK, source="10.2.2.2")
    with wired.sessions() as session, pytest.raises(Refused, match="note"):
        anomalies.acknowledge(session, subject=AUDITOR, context=context, flag_id=flag.id, note="   ")
    with wired.sessions() as session:
        anomalies.acknowledge(
            session, subject=AUDITOR, context=context, flag_id=flag.id, note="值班加班，已核实"
        )
    with wired.sessions() as session, pytest.raises(Conflict):
        anomalies.acknowledge(session, subject=AUDITOR, context=context, flag_id=flag.id, note="again")
    with wired.sessions() as session:
        closed = session.get(AnomalyFlag, flag.id)
        assert closed is not None and (closed.acknowledged_by, closed.note) == (
            "auditor-1",
            "值班加班，已核实",
        )
        entries = session.scalars(
            select(LedgerEntry).where(LedgerEntry.action == "anomaly.acknowledge")
        ).all()
    assert [(e.actor, e.outcome, e.detail["note"], e.detail["anomaly"]) for e in entries] == [
        ("auditor-1", "ok", "值班加班，已核实", flag.id)
    ]


def test_two_acknowledgements_at_once_close_the_flag_once(wired: Wired) -> None:
    flag = _one_flag(wired)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def run(n: int) -> None:
        with wired.sessions() as session:
            barrier.wait()
            try:
                anomalies.acknowledge(
                    session, subject=AUDITOR, context=Context(now=WORK), flag_id=flag.id, note=f"note {n}"
                )
                results.append("ok")
            except Conflict:
                results.append("closed")

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["closed", "ok"]
    with wired.sessions() as session:
        done = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "anomaly.acknowledge")).all()
        closed = session.get(AnomalyFlag, flag.id)
    assert len(done) == 1 and closed is not None and closed.note == done[0].detail["note"]


def test_only_the_auditor_acknowledges_or_tunes_and_refusals_are_ledgered(wired: Wired) -> None:
    flag = _one_flag(wired)
    admin = Subject(username="secadmin", role=Role.security_admin)
    with wired.sessions() as session, pytest.raises(Denied):
        anomalies.acknowledge(session, subject=admin, context=Context(now=WORK), flag_id=flag.id, note="n")
    with pytest.raises(Denied):
        tune(wired, AnomalyKind.dormant, subject=admin, days="1")
    with wired.sessions() as session:
        refused = session.execute(
            select(LedgerEntry.action, LedgerEntry.outcome).where(LedgerEntry.actor == "secadmin")
        ).all()
        assert anomalies.rule_settings(session)[AnomalyKind.dormant].params["days"] == 90
    assert sorted(refused) == [("anomaly.acknowledge", "denied"), ("anomaly.rules.edit", "denied")]


def test_a_rule_change_is_ledgered_with_before_and_after_and_bad_values_are_refused(wired: Wired) -> None:
    tune(wired, AnomalyKind.denial_burst, count="3", minutes="5")
    with pytest.raises(Refused, match=r"^count:"):
        tune(wired, AnomalyKind.denial_burst, count="zero")
    with pytest.raises(Refused, match=r"^end:"):
        tune(wired, AnomalyKind.after_hours, start="18:00", end="08:30")
    with wired.sessions() as session:
        (entry,) = session.scalars(
            select(LedgerEntry).where(LedgerEntry.action == "anomaly.rules.edit")
        ).all()
        setting = anomalies.rule_settings(session)[AnomalyKind.denial_burst]
    assert entry.detail["before"] == {"enabled": True, "count": 5, "minutes": 10}
    assert entry.detail["after"] == {"enabled": True, "count": 3, "minutes": 5}
    assert (setting.params, setting.updated_by) == ({"count": 3, "minutes": 5}, "auditor-1")
    for n in range(3):
        denial(wired, at=WORK + timedelta(minutes=n))
    assert len(flags(wired, AnomalyKind.denial_burst)) == 1


# --- the page and the API -------------------------------------------------------------------


def _seed_portal_flags(portal: Portal) -> None:
    portal.wired.clock = lambda: WORK
    add(portal.wired, at=datetime(2026, 12, 2, 7, 0, tzinfo=CST))  # early: before 08:30
    add(portal.wired, at=datetime(2026, 11, 20, 21, 0, tzinfo=CST))  # two weeks ago, late
    for n in range(5):
        denial(portal.wired, at=WORK - timedelta(minutes=30 - n))


def test_the_auditor_starts_on_the_anomalies_page_in_chinese(portal: Portal) -> None:
    _seed_portal_flags(portal)
    signed = as_role(portal, "security_auditor")
    home = signed.client.get("/", follow_redirects=False)
    assert home.headers["location"] == "/anomalies"
    page = signed.client.get("/anomalies")
    assert page.status_code == 200
    html = page.text
    assert "今日异常（2 条）" in html and "工作时间外访问" in html and "频繁被拒" in html
    assert "<svg" in html and 'class="activity"' in html and "近 30 天异常" in html
    assert "更早的待处理异常（1 条）" in html
    assert "supervisor-1 在 10 分钟内被拒绝 5 次" in html
    assert KEYLIKE.findall(re.sub(r"<[^>]+>", " ", html)) == []
    english = signed.client.get("/anomalies", params={"lang": "en"}).text
    assert "Today's anomalies (2)" in english and "supervisor-1 refused 5 times within 10 minutes" in english
    signed.client.get("/anomalies", params={"lang": "zh"})


def test_acknowledging_and_tuning_on_the_page(portal: Portal) -> None:
    _seed_portal_flags(portal)
    as_role(portal, "security_auditor")
    with portal.wired.sessions() as session:
        anomalies.evaluate(session, now=WORK)
        flag = anomalies.find_flags(session, kind="denial_burst")[0]
    empty = post(portal, f"/anomalies/{flag.id}/acknowledge", {"note": " "})
    assert empty.status_code == 422 and "请填写处理说明。" in empty.text
    done = post(portal, f"/anomalies/{flag.id}/acknowledge", {"note": "误操作，已与本人核实"})
    assert done.status_code == 303
    page = portal.client.get("/anomalies").text
    assert "误操作，已与本人核实" in page and "security-auditor 于" in page
    bad = post(
        portal, "/anomalies/rules/bulk", {"enabled": "1", "records": "-3", "megabytes": "0", "minutes": "60"}
    )
    assert bad.status_code == 422 and "“记录数上限”的值无效" in bad.text
    good = post(portal, "/anomalies/rules/bulk", {"records": "10", "megabytes": "0", "minutes": "30"})
    assert good.status_code == 303
    with portal.wired.sessions() as session:
        assert anomalies.rule_settings(session)[AnomalyKind.bulk].enabled is False  # the box was left empty
    as_role(portal, "archivist")
    assert portal.client.get("/anomalies").status_code == 403


def test_the_api_filters_by_since_and_kind_and_refuses_others(portal: Portal) -> None:
    _seed_portal_flags(portal)
    auditor = portal.as_role("security_auditor")
    every = portal.client.get("/api/v1/anomalies", headers=auditor).json()
    assert {a["kind"] for a in every["anomalies"]} == {"after_hours", "denial_burst"}
    assert every["evaluated_to"] == every["head"]  # its own ledgered read included
    since = datetime(2026, 12, 1, tzinfo=CST).isoformat()
    recent = portal.client.get("/api/v1/anomalies", params={"since": since}, headers=auditor).json()
    assert len(recent["anomalies"]) == 2
    bursts = portal.client.get("/api/v1/anomalies", params={"kind": "denial_burst"}, headers=auditor).json()
    (burst,) = bursts["anomalies"]
    assert len(burst["entries"]) == 5 and burst["actor"] == "supervisor-1"
    assert portal.client.get("/api/v1/anomalies", params={"kind": "nope"}, headers=auditor).status_code == 422
    note = portal.client.post(
        f"/api/v1/anomalies/{burst['id']}/acknowledge", json={"note": ""}, headers=auditor
    )
    assert note.status_code == 422 and note.json()["detail"][0]["field"] == "note"
    acked = portal.client.post(
        f"/api/v1/anomalies/{burst['id']}/acknowledge", json={"note": "核实"}, headers=auditor
    )
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "security-auditor"
    still_open = portal.client.get("/api/v1/anomalies", params={"open": "true"}, headers=auditor).json()
    assert burst["id"] not in {a["id"] for a in still_open["anomalies"]}
    for role in ("archivist", "security_admin", "supervisor"):
        assert portal.client.get("/api/v1/anomalies", headers=portal.as_role(role)).status_code == 403
