"""The retention schedule (保管期限表): matching, disposition dates, versions, edits that move
bundles and their store locks, and the system administrator's page."""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from access.ledger import LedgerEntry
from access.policy import Context
from archive.errors import Refused
from archive.models import Bundle
from archive.sip import DocType, EnforcementType
from portal.cli.demo import case_document
from portal.internal.archive import operations
from portal.internal.retention import service as dispositions
from portal.wiring import Wired
from retention import service as retention
from retention.models import ScheduleMove, ScheduleVersion
from retention.schedule import (
    CaseFacts,
    Event,
    RecordFacts,
    RuleSpec,
    Term,
    add_months,
    add_years,
    midnight,
)
from tests.support.portal import Portal
from tests.support.web import signed_in

DEMO_UNTIL = datetime(2056, 6, 30, tzinfo=UTC)  # closed 2026-06-30, the default 30 years
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)

# --- matching, without a database ----------------------------------------------------------------

TEXT_TYPES = [d.value for d in DocType if d is not DocType.av_footage]


@st.composite
def records(draw: st.DrawFn) -> RecordFacts:
    made = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=draw(st.integers(0, 180)))
    if draw(st.booleans()):
        return RecordFacts("av", DocType.av_footage.value, draw(st.booleans()), made)
    return RecordFacts("text", draw(st.sampled_from(TEXT_TYPES)), False, made)


@st.composite
def cases(draw: st.DrawFn) -> CaseFacts:
    return CaseFacts(
        enforcement_type=draw(st.sampled_from([e.value for e in EnforcementType])),
        closed_at=date(2026, 6, 30) + timedelta(days=draw(st.integers(0, 400))),
        records=tuple(draw(st.lists(records(), min_size=1, max_size=8))),
    )


@st.composite
def rules(draw: st.DrawFn, code: str) -> RuleSpec | None:
    """A rule the regulations allow, or None when the drawn one is not (checked refuses it)."""
    footage = draw(st.sampled_from(["any", "av", "text"]))
    kind = None if footage == "any" else footage
    evidence = draw(st.sampled_from([None, True, False])) if kind == "av" else None
    term = draw(st.sampled_from(list(Term)))
    count = {
        Term.years: draw(st.sampled_from([10, 30])),
        Term.months: draw(st.integers(6, 120)),
    }.get(term)
    spec = RuleSpec(
        code=code,
        title="rule",
        enforcement_type=draw(st.sampled_from([None, *(e.value for e in EnforcementType)])),
        kind=kind,
        doc_type=draw(st.sampled_from([None, *TEXT_TYPES])) if kind == "text" else None,
        evidence=evidence,
        term=term,
        count=count,
        counts_from=draw(st.sampled_from(list(Event))),
    )
    try:
        return spec.checked()
    except Refused:
        return None


@st.composite
def schedules(draw: st.DrawFn) -> list[RuleSpec]:
    """Rules of one schedule: no two name the same records."""
    drawn = [draw(rules(f"R{n}")) for n in range(draw(st.integers(0, 8)))]
    unique: dict[Any, RuleSpec] = {}
    for rule in drawn:
        if rule is not None:
            unique.setdefault(rule.criteria, rule)
    return list(unique.values())


def _event(rule: RuleSpec, case: CaseFacts, record: RecordFacts) -> date:
    return case.closed_at if rule.counts_from is Event.closed_at else record.created_at.date()


@settings(max_examples=300, deadline=None)
@given(case=cases(), schedule=schedules(), years=st.integers(1, 50))
def test_every_case_file_gets_exactly_one_date_from_its_rules(
    case: CaseFacts, schedule: list[RuleSpec], years: int
) -> None:
    """One answer whatever the order of the rules; permanent beats every term; otherwise the
    latest of the records' dates; footage never less than 6 months; the default for what no
    rule names."""
    found = retention.disposition_date(case=case, rules=schedule, default_years=years, version=1)
    shuffled = random.Random(len(schedule)).sample(schedule, len(schedule))
    assert retention.disposition_date(case=case, rules=shuffled, default_years=years, version=1) == found
    governing = [retention.match_rules(rules=schedule, case=case, record=r) for r in case.records]
    for record, rule in zip(case.records, governing, strict=True):
        if rule is None:
            continue
        # the most specific rule naming the record governs it
        naming = [r for r in schedule if retention.match_rules(rules=[r], case=case, record=record)]
        assert rule in naming and rule.specificity == max(r.specificity for r in naming)
        if rule.term is Term.months:
            assert (record.kind, record.evidence) == ("av", False)
            end = retention.record_date(rule, case=case, record=record)
            assert end is not None and end >= midnight(add_months(_event(rule, case, record), 6))
    if any(rule is not None and rule.term is Term.permanent for rule in governing):
        assert found.permanent and found.rule.term is Term.permanent
        return
    assert not found.permanent and found.date is not None
    default = midnight(add_years(case.closed_at, years))
    for record, rule in zip(case.records, governing, strict=True):
        if rule is None:
            assert found.date >= default  # what no rule names keeps the default term
        elif rule.term is not Term.with_case:
            end = retention.record_date(rule, case=case, record=record)
            assert end is not None and found.date >= end
    if all(rule is not None and rule.term is Term.with_case for rule in governing):
        assert found.rule.code == retention.DEFAULT_CODE


def _rule(**fields: Any) -> RuleSpec:
    base: dict[str, Any] = {
        "code": "R9",
        "title": "t",
        "enforcement_type": None,
        "kind": "av",
        "doc_type": None,
        "evidence": False,
        "term": Term.months,
        "count": 6,
    }
    return RuleSpec(**(base | fields))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"count": 5}, "count: footage is kept at least 6 months"),
        ({"count": 0}, "count: footage is kept at least 6 months"),
        ({"evidence": True}, "term: months are only for footage not used as evidence"),
        ({"kind": "text", "evidence": None}, "term: months are only for footage"),
        ({"kind": None, "evidence": None}, "term: months are only for footage"),
        ({"term": Term.years, "count": 20}, "count: a fixed term is 30 or 10 years"),
        ({"term": Term.permanent, "count": 30}, "count: a permanent term has no count"),
        ({"kind": "text", "evidence": False, "term": Term.permanent, "count": None}, "evidence: only"),
        ({"doc_type": "decision", "term": Term.permanent, "count": None, "evidence": None}, "kind: doc_type"),
        ({"enforcement_type": "fine"}, "enforcement_type: unknown value"),
    ],
)
def test_rules_the_regulations_do_not_allow_are_refused(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(Refused, match=re.escape(field)):
        _rule(**fields).checked()


def test_six_months_of_footage_not_used_as_evidence_is_allowed() -> None:
    assert _rule().checked().count == 6


# --- deposits, versions and edits, on both databases ---------------------------------------------

ONE_STORE = pytest.mark.store("file")


def footage_only(case_no: str) -> dict[str, Any]:
    """A case file holding only footage that was not used as evidence."""
    document = case_document(case_no)
    document["records"] = [r for r in document["records"] if r["kind"] == "av"]
    document["records"][0].pop("evidence")
    return document


def deposit(wired: Wired, make_case: Callable[..., Path], document: dict[str, Any] | None = None) -> str:
    return str(operations.deposit(wired, folder=make_case(document), actor="test")["bundle_id"])


def edit(
    wired: Wired, change: str, code: str | None = None, *, extend: bool = True, **fields: Any
) -> retention.ScheduleEdit:
    """A schedule change, committed, its locks extended (as the page does) unless told not to."""
    blank = {
        "code": "",
        "title": "t",
        "enforcement_type": None,
        "kind": None,
        "doc_type": None,
        "evidence": None,
    }
    rule = None if change == "retire" else RuleSpec(**(blank | fields))
    with wired.sessions() as session:
        made = retention.edit_schedule(
            session=session,
            change=change,
            code=code,
            rule=rule,
            actor="sysadmin",
            reason="测试",
            now=NOW,
            default_years=wired.settings.retention_years,
        )
        session.commit()
        if extend:
            retention.extend_locks(session=session, store=wired.store, now=NOW)
        return made


def retain_until(wired: Wired, bundle_id: str) -> datetime:
    with wired.sessions() as session:
        bundle = session.get(Bundle, bundle_id)
        assert bundle is not None
        return bundle.retain_until


def locks(wired: Wired, bundle_id: str) -> set[datetime | None]:
    """Every object's lock of a bundle, as the store reports it."""
    with wired.sessions() as session:
        bundle = session.get(Bundle, bundle_id)
        assert bundle is not None
        return {wired.store.retained_until(f.key, version_id=f.version_id) for f in bundle.files}


@ONE_STORE
def test_deposit_takes_its_date_from_the_seeded_schedule(
    wired: Wired, make_case: Callable[..., Path]
) -> None:
    """Case files keep the configured 30 years (today's behaviour); footage alone, not used as
    evidence, 6 months from closing (art. 13); the lock follows."""
    demo = deposit(wired, make_case)
    footage = deposit(wired, make_case, footage_only("深民防罚〔2026〕61号"))
    assert retain_until(wired, demo) == DEMO_UNTIL and locks(wired, demo) == {DEMO_UNTIL}
    six_months = datetime(2026, 12, 30, tzinfo=UTC)
    assert retain_until(wired, footage) == six_months and locks(wired, footage) == {six_months}


@ONE_STORE
def test_each_change_is_a_new_version_and_the_old_ones_stay(wired: Wired) -> None:
    first = edit(wired, "add", enforcement_type="inspection", term=Term.years, count=10)
    second = edit(
        wired,
        "change",
        code=first.version.rule_code,
        enforcement_type="inspection",
        term=Term.permanent,
        count=None,
    )
    third = edit(wired, "retire", code="R1")
    with wired.sessions() as session:
        numbers = [v.id for v in retention.versions(session)]
        assert numbers == [4, 3, 2, 1] and retention.current_version(session).id == 4  # type: ignore[union-attr]
        by_number = {v.id: v for v in retention.versions(session)}
        assert [r.code for r in by_number[1].rules] == ["R1", "R2"]  # the seed, untouched
        assert [(r.code, r.term) for r in by_number[2].rules] == [
            ("R1", "months"),
            ("R2", "with_case"),
            ("R3", "years"),
        ]
        assert [(r.code, r.term) for r in by_number[3].rules][-1] == ("R3", "permanent")
        assert [r.code for r in by_number[4].rules] == ["R2", "R3"]
        assert (second.version.based_on, third.version.based_on) == (2, 3)
        # a second change of a version already changed cannot commit beside the first
        session.add(ScheduleVersion(based_on=3, created_at=NOW, created_by="x", reason="r", change="add"))
        with pytest.raises(IntegrityError):
            session.flush()


@ONE_STORE
def test_two_administrators_changing_the_same_version_cannot_both_commit(
    wired: Wired, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second read version 1 before the first committed: it waits for the first, then fails
    instead of silently dropping the first's rule."""
    first = wired.sessions()
    retention.edit_schedule(
        session=first,
        change="add",
        code=None,
        rule=_rule(
            code="", kind=None, evidence=None, enforcement_type="levy", term=Term.permanent, count=None
        ),
        actor="sysadmin",
        reason="一",
        now=NOW,
        default_years=30,
    )
    outcome: list[BaseException | None] = []
    read = threading.Event()
    reading = retention.current_version

    def current_then_signal(session: Any) -> ScheduleVersion | None:
        found = reading(session)
        read.set()
        return found

    monkeypatch.setattr(retention, "current_version", current_then_signal)

    def second() -> None:
        try:
            edit(wired, "add", enforcement_type="license", term=Term.years, count=10)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    other = threading.Thread(target=second)
    other.start()
    read.wait()
    first.commit()
    first.close()
    other.join()
    assert len(outcome) == 1 and isinstance(outcome[0], IntegrityError)
    with wired.sessions() as session:
        current = retention.current_version(session)
        assert current is not None and current.id == 2
        assert [r.enforcement_type for r in current.rules if r.code == "R3"] == ["levy"]


@ONE_STORE
def test_an_edit_refused_by_the_rules_changes_nothing(wired: Wired) -> None:
    for change, code, fields, message in [
        ("add", None, {"kind": "av", "evidence": False, "term": Term.months, "count": 3}, "at least 6"),
        (
            "add",
            None,
            {"kind": "av", "evidence": False, "term": Term.years, "count": 10},
            "criteria: rule R1",
        ),
        ("change", "R7", {"term": Term.permanent, "count": None}, "code: no rule 'R7'"),
    ]:
        with pytest.raises(Refused, match=re.escape(message)):
            edit(wired, change, code, **fields)
    with wired.sessions() as session:
        assert retention.current_version(session).id == 1  # type: ignore[union-attr]


def test_a_longer_term_moves_the_bundle_and_extends_every_lock(
    wired: Wired, make_case: Callable[..., Path]
) -> None:
    """Both databases, both stores: the lock is read back from the store (S3 Object Lock)."""
    demo = deposit(wired, make_case)
    footage = deposit(wired, make_case, footage_only("深民防罚〔2026〕62号"))
    made = edit(wired, "change", code="R1", kind="av", evidence=False, term=Term.years, count=10)
    ten_years = datetime(2036, 6, 30, tzinfo=UTC)
    assert [(m.bundle_id, m.old_date, m.new_date, m.lock_until) for m in made.moves] == [
        (footage, datetime(2026, 12, 30, tzinfo=UTC), ten_years, ten_years)
    ]
    assert retain_until(wired, footage) == ten_years and locks(wired, footage) == {ten_years}
    assert retain_until(wired, demo) == DEMO_UNTIL and locks(wired, demo) == {DEMO_UNTIL}  # not moved
    with wired.sessions() as session:
        moved = session.scalars(select(ScheduleMove)).one()
        assert (moved.version_id, moved.bundle_id, moved.locked_at) == (2, footage, NOW)


def test_locks_a_change_left_pending_are_extended_by_the_command_line(
    wired: Wired, make_case: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    """The change committed but its locks were not extended (the store was down): `casevault
    schedule locks` extends them, once, and is ledgered."""
    footage = deposit(wired, make_case, footage_only("深民防罚〔2026〕64号"))
    edit(wired, "change", code="R1", extend=False, kind="av", evidence=False, term=Term.years, count=10)
    ten_years = datetime(2036, 6, 30, tzinfo=UTC)
    assert retain_until(wired, footage) == ten_years
    assert locks(wired, footage) == {datetime(2026, 12, 30, tzinfo=UTC)}
    done = cli("schedule", "locks", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output) == {"extended": 1, "renewed": []}
    assert locks(wired, footage) == {ten_years}
    again = cli("schedule", "locks")
    assert again.exit_code == 0 and "extended the locks of 0 bundle(s)" in again.output
    with wired.sessions() as session:
        ledgered = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "retention.locks")).all()
        assert [(e.outcome, e.detail["extended"]) for e in ledgered] == [("ok", 1), ("ok", 0)]


def test_a_shorter_term_moves_the_date_but_never_the_lock(
    wired: Wired, make_case: Callable[..., Path]
) -> None:
    """Penalty case files to 10 years: the date moves to 2036, the COMPLIANCE lock stays at 2056."""
    demo = deposit(wired, make_case)
    made = edit(wired, "add", enforcement_type="penalty", term=Term.years, count=10)
    ten_years = datetime(2036, 6, 30, tzinfo=UTC)
    assert [(m.bundle_id, m.old_date, m.new_date, m.lock_until) for m in made.moves] == [
        (demo, DEMO_UNTIL, ten_years, None)
    ]
    assert retain_until(wired, demo) == ten_years
    assert locks(wired, demo) == {DEMO_UNTIL}


@ONE_STORE
def test_a_date_an_appraisal_set_is_not_moved_by_the_schedule(
    wired: Wired, make_case: Callable[..., Path]
) -> None:
    demo = deposit(wired, make_case)
    with wired.sessions() as session:
        bundle = session.get(Bundle, demo)
        assert bundle is not None
        bundle.retain_until = datetime(2061, 6, 30, tzinfo=UTC)  # extended by 5 years on appraisal
        session.commit()
    assert edit(wired, "add", enforcement_type="penalty", term=Term.years, count=10).moves == []
    assert retain_until(wired, demo) == datetime(2061, 6, 30, tzinfo=UTC)


@ONE_STORE
def test_permanent_is_a_lock_ahead_that_is_renewed(wired: Wired, make_case: Callable[..., Path]) -> None:
    footage = deposit(wired, make_case, footage_only("深民防罚〔2026〕63号"))
    made = edit(wired, "change", code="R1", kind="av", evidence=False, term=Term.permanent, count=None)
    ahead = retention.permanent_lock_until(NOW)
    assert ahead == datetime(2036, 12, 3, tzinfo=UTC)
    assert [(m.new_date, m.lock_until) for m in made.moves] == [(None, ahead)]
    assert locks(wired, footage) == {ahead}
    later = NOW.replace(year=2032)  # less than five years of the lock left
    with wired.sessions() as session:
        renewed = retention.extend_permanent_locks(
            session=session, store=wired.store, now=later, default_years=30
        )
        assert renewed == [footage]
        assert (
            retention.extend_permanent_locks(session=session, store=wired.store, now=later, default_years=30)
            == []
        )  # renewed once, not every day
    assert retain_until(wired, footage) == datetime(2042, 12, 3, tzinfo=UTC)
    assert locks(wired, footage) == {datetime(2042, 12, 3, tzinfo=UTC)}


# --- the API and the pages -----------------------------------------------------------------------

PORTAL = pytest.mark.store("file")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def schedule_entries(portal: Portal) -> list[LedgerEntry]:
    with portal.wired.sessions() as session:
        query = select(LedgerEntry).where(LedgerEntry.action.like("retention.schedule.%"))
        return list(session.scalars(query.order_by(LedgerEntry.seq)))


def form(portal: Portal, **fields: str) -> dict[str, str]:
    page = portal.client.get("/retention/schedule")
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found
    return {"csrf_token": found.group(1), "counts_from": "closed_at", "reason": "依新规定调整"} | fields


@PORTAL
def test_the_bundle_shows_its_disposition_date_and_rule(portal: Portal) -> None:
    detail = portal.client.get(
        f"/api/v1/bundles/{portal.bundle_id}", headers=portal.as_role("archivist")
    ).json()
    assert detail["retain_until"] == detail["disposition_date"] == DEMO_UNTIL.isoformat()
    assert detail["retention_rule"] | {"title": None} == {
        "schedule_version": 1,
        "code": "default",
        "title": None,
        "term": "years",
        "count": 30,
        "counts_from": "closed_at",
        "basis": "CASEVAULT_RETENTION_YEARS",
    }
    page = portal.client.get(f"/bundles/{portal.bundle_id}", headers=portal.as_role("archivist")).text
    assert "保管期满日" in page and "2056-06-30" in page and "30 年" in page
    english = portal.client.get(f"/bundles/{portal.bundle_id}?lang=en", headers=portal.as_role("archivist"))
    assert "Disposition date" in english.text and "records no rule names (the default term)" in english.text


@PORTAL
def test_a_sysadmin_changes_the_schedule_on_the_page(portal: Portal) -> None:
    """With the session's CSRF token: a new version, ledgered with the bundles it moves, shown on
    the page; the bundle's API answer follows."""
    signed_in(portal, "sysadmin")
    data = form(portal, change="add", title="行政处罚案卷", enforcement_type="penalty", term="permanent")
    done = portal.client.post("/retention/schedule", data=data, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/retention/schedule#version-2"
    page = portal.client.get("/retention/schedule?lang=en").text
    assert "In force: version 2" in page and 'data-code="R3"' in page
    assert f'data-bundle="{portal.bundle_id}"' in page and "2056-06-30" in page
    assert "<td>Penalty</td>" in page and "<td>行政处罚</td>" not in page  # labels in the page's language
    made = [e for e in schedule_entries(portal) if e.action == "retention.schedule.edit"]
    assert [(e.actor, e.outcome, e.detail["version"], e.detail["bundles"]) for e in made] == [
        ("sysadmin", "ok", 2, [portal.bundle_id])
    ]
    detail = portal.client.get(
        f"/api/v1/bundles/{portal.bundle_id}", headers=portal.as_role("archivist")
    ).json()
    assert detail["disposition_date"] is None and detail["retention_rule"]["code"] == "R3"
    assert detail["retention_rule"]["term"] == "permanent"


@PORTAL
def test_a_rule_below_six_months_is_refused_on_the_page(portal: Portal) -> None:
    signed_in(portal, "sysadmin")
    filled = portal.client.get("/retention/schedule?code=R1").text
    assert '<option value="change" selected>' in filled and '<option value="R1" selected>' in filled
    assert 'name="count" inputmode="numeric" value="6"' in filled
    data = form(
        portal, change="change", code="R1", title="音像", kind="av", evidence="no", term="months", count="3"
    )
    refused = portal.client.post("/retention/schedule", data=data, follow_redirects=False)
    assert refused.status_code == 422 and "未保存：音像记录至少保管 6 个月（第十三条）。" in refused.text
    assert [e.action for e in schedule_entries(portal) if e.action.endswith("edit")] == []


@PORTAL
def test_without_the_csrf_token_nothing_changes(portal: Portal) -> None:
    signed_in(portal, "sysadmin")
    data = form(portal, change="retire", code="R1") | {"csrf_token": "forged"}
    assert portal.client.post("/retention/schedule", data=data, follow_redirects=False).status_code == 403
    with portal.wired.sessions() as session:
        assert retention.current_version(session).id == 1  # type: ignore[union-attr]


@PORTAL
@pytest.mark.parametrize("role", ["archivist", "archive_manager", "security_admin", "security_auditor"])
def test_other_roles_cannot_change_the_schedule_and_are_ledgered(portal: Portal, role: str) -> None:
    signed_in(portal, role)
    page = portal.client.get("/retention/schedule")
    found = CSRF.search(page.text)  # readers get the page, without the form; others a refusal
    assert found and ("修改保管期限表" not in page.text)
    data = {"csrf_token": found.group(1), "change": "retire", "code": "R1", "reason": "r"}
    refused = portal.client.post("/retention/schedule", data=data, follow_redirects=False)
    assert refused.status_code == 403
    denied = [(e.actor, e.action, e.outcome) for e in schedule_entries(portal) if e.outcome == "denied"]
    assert (role.replace("_", "-"), "retention.schedule.edit", "denied") in denied
    with portal.wired.sessions() as session:
        assert retention.current_version(session).id == 1  # type: ignore[union-attr]


@ONE_STORE
def test_retention_run_renews_permanent_locks_so_they_never_fall_due(
    wired: Wired, make_case: Callable[..., Path]
) -> None:
    footage = deposit(wired, make_case, footage_only("深民防罚〔2026〕64号"))
    edit(wired, "change", code="R1", kind="av", evidence=False, term=Term.permanent, count=None)
    past_lock = NOW.replace(year=2037)  # the first 10-year lock has run out
    with wired.sessions() as session:
        ran = dispositions.run(
            wired,
            session,
            subject=dispositions.SYSTEM,
            context=Context(now=past_lock, source="cli"),
            dry_run=False,
        )
        renewal = session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.action == "disposition.execute", LedgerEntry.outcome == "renewed"
            )
        ).one()
    assert footage not in {item["bundle_id"] for item in ran["due"]}
    assert renewal.detail["renewed"] == [footage]
    assert locks(wired, footage) == {datetime(2047, 12, 3, tzinfo=UTC)}
