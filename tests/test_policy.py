"""The policy, walked whole: every action × role × classification × clearance × grant state ×
whose request it is, against the rules written out again below — independently of the policy's
own tables, so a changed table or a new action fails here until the statement agrees."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from access.ledger import LedgerEntry
from access.models import Clearance, Role, User
from access.policy import (
    Action,
    Context,
    GrantScope,
    Resource,
    Subject,
    collection,
    decide,
    release_of,
    request_of,
    resource_of,
)
from archive.models import Bundle, Case, CaseRecord
from portal.cli.demo import case_document
from portal.internal.archive import operations
from tests.support.portal import Portal

NOW = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
ME, THEM = "me", "someone-else"

# --- the rules, stated once more in plain data --------------------------------------------------

ARCHIVE = {
    "case.list",
    "bundle.read",
    "record.view",
    "record.download",
    "record.original",
    "bundle.deposit",
    "bundle.verify",
    "bundle.export",
    "store.reconcile",
    "bundle.audit",
}
FIXITY = {"fixity.read", "fixity.acknowledge"}
REGISTER = {"retrieval.request", "retrieval.choose_record", "retrieval.read", "register.read", "copy.trace"}
QUEUE = {"disclosure.read", "disclosure.queue", "disclosure.assign", "disclosure.remind"}
STAFF = {"retrieval.notices"}
SCHEDULE = {"retention.schedule.read"}
HOLDS = {"holds.place", "holds.lift", "holds.read"}
MAY = {
    # Archivists appraise and carry out; managers approve; neither alone destroys anything.
    "archivist": ARCHIVE
    | REGISTER
    | FIXITY
    | STAFF
    | SCHEDULE
    | HOLDS
    | {"retention.locks", "disposition.propose", "disposition.read", "disposition.execute"},
    "archive_manager": ARCHIVE
    | REGISTER
    | FIXITY
    | QUEUE
    | STAFF
    | SCHEDULE
    | HOLDS
    | {
        "retrieval.decide",
        "retrieval.revoke",
        "disclosure.extension.decide",
        "disposition.approve",
        "disposition.read",
        "accountability.read",
    },
    "disclosure_officer": {"case.list", "bundle.read", "record.view"}
    | QUEUE
    | STAFF
    | {"disclosure.handle", "disclosure.decide", "disclosure.release", "disclosure.identity.reveal"},
    "supervisor": {
        "case.list",
        "case.search",
        "bundle.read",
        "record.view",
        "record.download",
        "retrieval.request",
        "retrieval.choose_record",
        "retrieval.read",
    }
    | STAFF,
    "security_auditor": {
        "ledger.read",
        "ledger.verify",
        "trail.read",
        "trail.export",
        "register.read",
        "copy.trace",
        "holds.read",
        "disposition.read",
        "anomaly.read",
        "anomaly.acknowledge",
        "anomaly.rules.edit",
        "accountability.read",
    }
    | FIXITY
    | STAFF,
    "security_admin": {"user.read", "user.create", "user.update", "user.role"} | STAFF,
    "sysadmin": {
        "bundle.verify",
        "calendar.edit",
        "retention.schedule.edit",
        "settings.read",
        "activities.edit",
    }
    | STAFF
    | SCHEDULE,
    "applicant": {
        "disclosure.submit",
        "disclosure.read",
        "disclosure.correct",
        "disclosure.withdraw",
        "disclosure.release.view",
    },
}
# Reading material: clearance applies to state secrets. Supervisors need a live grant for these.
CLEARED = {
    "bundle.read",
    "record.view",
    "record.download",
    "record.original",
    "bundle.export",
    "retrieval.choose_record",
}
GRANTED = {"bundle.read": "view", "record.view": "view", "record.download": "download"}
ON_RECORD = {"record.view", "record.download", "record.original"}
ON_BUNDLE = {"bundle.read", "bundle.verify", "bundle.audit", "bundle.export", "retrieval.choose_record"}
ON_COLLECTION = {
    "case.list": "catalogue",
    "case.search": "catalogue",
    "bundle.deposit": "archive",
    "store.reconcile": "archive",
    "ledger.read": "ledger",
    "ledger.verify": "ledger",
    "trail.read": "ledger",
    "trail.export": "ledger",
    "copy.trace": "ledger",
    "user.read": "users",
    "user.create": "users",
    "user.update": "users",
    "settings.read": "settings",
    "register.read": "register",
    "retrieval.notices": "register",
    "calendar.edit": "calendar",
    "fixity.read": "fixity",
    "fixity.acknowledge": "fixity",
    "retention.schedule.read": "retention",
    "retention.schedule.edit": "retention",
    "retention.locks": "retention",
    "disclosure.submit": "disclosure",
    "disclosure.queue": "disclosure",
    "holds.place": "holds",
    "holds.lift": "holds",
    "holds.read": "holds",
    "disposition.propose": "disposition",
    "disposition.read": "disposition",
    "disposition.execute": "disposition",
    "anomaly.read": "anomalies",
    "anomaly.acknowledge": "anomalies",
    "anomaly.rules.edit": "anomalies",
    "accountability.read": "accountability",
    "activities.edit": "activities",
}
ON_REQUEST = {
    "retrieval.request": "retrieval",
    "retrieval.decide": "retrieval",
    "retrieval.revoke": "retrieval",
    "retrieval.read": "retrieval",
    "disclosure.read": "disclosure",
    "disclosure.correct": "disclosure",
    "disclosure.withdraw": "disclosure",
    "disclosure.release.view": "disclosure",
    "disclosure.assign": "disclosure",
    "disclosure.handle": "disclosure",
    "disclosure.decide": "disclosure",
    "disclosure.release": "disclosure",
    "disclosure.extension.decide": "disclosure",
    "disclosure.remind": "disclosure",
    "disclosure.identity.reveal": "disclosure",
    "disposition.approve": "disposition",
    "user.role": "users",  # the account whose role or clearance changes is the resource's owner
}
RANK = {"none": 0, "confidential": 1, "secret": 2, "top_secret": 3}
CLASSIFICATIONS = [
    ("none", None),
    ("personal_privacy", None),
    ("commercial_secret", None),
    ("state_secret", "confidential"),
    ("state_secret", "secret"),
    ("state_secret", "top_secret"),
]
GRANTS = ["active", "expired", "revoked", "other-bundle", "none"]


def expected(
    role: str, action: str, classification: str, grade: str | None, clearance: str, grant: str, mine: bool
) -> bool:
    """The archive's rules, as its regulations say them."""
    if action not in MAY[role]:
        return False
    if action in {"retrieval.decide", "disclosure.extension.decide", "disposition.approve"} and mine:
        return False  # nobody decides their own request (nor approves the list they proposed)
    if role == "applicant" and action != "disclosure.submit" and not mine:
        return False  # applicants act on their own requests only
    if action == "retrieval.read" and not mine:
        return False  # others' requests are read in the register
    if action == "user.role" and mine:
        return False  # nobody changes their own account's role or clearance
    if action == "disclosure.release" and classification == "state_secret":
        return False  # never released, whatever the clearance
    if action in CLEARED and classification == "state_secret" and RANK[clearance] < RANK[grade or ""]:
        return False
    if role == "supervisor" and action in GRANTED:
        return grant == "active"
    return True


# --- building what the policy is asked about ---------------------------------------------------


def material(classification: str, grade: str | None, *, record: bool) -> Resource:
    bundle = Bundle(id="B1", classification=classification, grade=grade)
    bundle.case = Case(case_no="C-1")
    if not record:
        return resource_of(bundle)
    return resource_of(bundle, CaseRecord(record_id="r1", classification=classification, grade=grade))


def resource_for(action: str, classification: str, grade: str | None, mine: bool) -> Resource:
    owner = ME if mine else THEM
    if action in ON_RECORD:
        return material(classification, grade, record=True)
    if action in ON_BUNDLE:
        return material(classification, grade, record=False)
    if action in ON_COLLECTION:
        return collection(ON_COLLECTION[action])
    kind = ON_REQUEST[action]
    if action == "disclosure.assign":  # an officer takes an unassigned request for themselves
        return request_of(kind, case_no="C-1", owner=owner, assign_to=ME)
    if action == "disclosure.release":
        request = request_of(kind, case_no="C-1", owner=owner, assignee=ME)
        return release_of(request, material(classification, grade, record=True))
    if action == "disclosure.release.view":
        return request_of(
            kind,
            case_no="C-1",
            owner=owner,
            bundle_id="B1",
            record_id="r1",
            available_until=NOW + timedelta(days=1),
        )
    return request_of(kind, case_no="C-1", owner=owner, assignee=ME, bundle_id="B1")


def grants(state: str) -> tuple[GrantScope, ...]:
    live = GrantScope(
        7, "B1", ("r1",), ("view", "download"), NOW - timedelta(days=1), NOW + timedelta(days=1), None
    )
    return {
        "active": (live,),
        "expired": (replace(live, expires_at=NOW - timedelta(hours=1)),),
        "revoked": (replace(live, revoked_at=NOW - timedelta(hours=1)),),
        "other-bundle": (replace(live, bundle_id="B2"),),
        "none": (),
    }[state]


def test_every_action_is_stated() -> None:
    """A new action fails this walk until the statement above says who may take it, on what."""
    stated = set(ON_COLLECTION) | set(ON_REQUEST) | ON_RECORD | ON_BUNDLE
    assert {a.value for a in Action} == stated
    assert set(MAY) == {r.value for r in Role}


def test_every_action_role_classification_and_grant() -> None:
    """42 actions × 8 roles × 6 gradings × 2 clearances × 5 grant states × 2 owners (40,320
    decisions), every one as the rules say; all mismatches reported at once."""
    wrong = []
    walk = itertools.product(Action, Role, CLASSIFICATIONS, ("none", "secret"), GRANTS, (True, False))
    for action, role, (classification, grade), clearance, grant, mine in walk:
        subject = Subject(username=ME, role=role, clearance=Clearance(clearance), user_id=1)
        resource = resource_for(action.value, classification, grade, mine)
        decision = decide(subject, action, resource, Context(now=NOW, grants=grants(grant)))
        want = expected(role.value, action.value, classification, grade, clearance, grant, mine)
        if decision.allowed != want:
            wrong.append(
                f"{role.value} {action.value} {classification}/{grade} clearance={clearance} grant={grant} "
                f"mine={mine}: {decision.rule} ({decision.reason}), expected {'allow' if want else 'deny'}"
            )
    assert wrong == [], f"{len(wrong)} wrong, e.g.\n" + "\n".join(wrong[:20])


def test_an_officer_is_reminded_of_their_own_and_unassigned_requests_only() -> None:
    officer = Subject(username=ME, role=Role.disclosure_officer, user_id=1)
    context = Context(now=NOW)
    for assignee, allowed in ((None, True), (ME, True), (THEM, False)):
        resource = request_of("disclosure", case_no=None, owner="applicant", assignee=assignee)
        assert decide(officer, Action.disclosure_remind, resource, context).allowed is allowed


def test_only_a_manager_may_assign_to_anyone() -> None:
    """`assign_to` None asks about reassigning to whomever: managers yes, officers only take."""
    unassigned = request_of("disclosure", case_no=None, owner="applicant")
    context = Context(now=NOW)
    manager = Subject(username=ME, role=Role.archive_manager, user_id=1)
    officer = replace(manager, role=Role.disclosure_officer)
    assert decide(manager, Action.disclosure_assign, unassigned, context).allowed
    assert not decide(officer, Action.disclosure_assign, unassigned, context).allowed
    assert decide(officer, Action.disclosure_assign, replace(unassigned, assign_to=ME), context).allowed


TOP = Subject(username=ME, role=Role.archivist, clearance=Clearance.top_secret, user_id=1)
RECORD = material("none", None, record=True)
INCOMPLETE = {
    "unknown classification": (Action.record_view, replace(RECORD, classification="secretish")),
    "missing classification": (Action.record_view, replace(RECORD, classification=None)),
    "unknown grade": (Action.record_view, replace(RECORD, classification="state_secret", grade="ultra")),
    "state secret without grade": (Action.record_view, replace(RECORD, classification="state_secret")),
    "grade without state secret": (Action.bundle_read, replace(RECORD, grade="secret")),
    "no case": (Action.record_view, replace(RECORD, case_no=None)),
    "no bundle": (Action.bundle_read, replace(RECORD, bundle_id=None)),
    "record without id": (Action.record_view, replace(RECORD, record_id=None)),
    "content of a bundle": (Action.record_original, material("none", None, record=False)),
    "content of a collection": (Action.record_view, collection("catalogue")),
    "metadata of a collection": (Action.bundle_read, collection("ledger")),
    "unknown kind": (Action.case_list, replace(collection("catalogue"), kind="everything")),
    "release without its record": (
        Action.disclosure_release,
        request_of("disclosure", case_no="C-1", owner="applicant", assignee=ME),
    ),
    "retrieval decision without its case": (
        Action.retrieval_decide,
        request_of("retrieval", case_no=None, owner="someone"),
    ),
}


@pytest.mark.parametrize("case", INCOMPLETE)
def test_an_incomplete_resource_is_refused_even_for_the_most_cleared(case: str) -> None:
    """What the rules cannot judge is refused, never judged as if unclassified."""
    action, resource = INCOMPLETE[case]
    subject = replace(TOP, role=Role.disclosure_officer) if action is Action.disclosure_release else TOP
    subject = replace(subject, role=Role.archive_manager) if action is Action.retrieval_decide else subject
    decision = decide(subject, action, resource, Context(now=NOW))
    assert (decision.allowed, decision.rule) == (False, "incomplete-resource"), decision


def test_the_same_resources_complete_are_allowed() -> None:
    """The control for the cases above: with nothing missing, the same subject is allowed."""
    assert decide(TOP, Action.record_view, RECORD, Context(now=NOW)).allowed
    secret = material("state_secret", "top_secret", record=True)
    assert decide(TOP, Action.record_view, secret, Context(now=NOW)).allowed


def test_resources_are_built_only_by_the_policy_s_constructors() -> None:
    """No `Resource(...)` outside access/policy.py: a field left out would otherwise fail open."""
    root = Path(__file__).resolve().parents[1]
    found = []
    for path in sorted([*root.glob("access/*.py"), *root.glob("portal/*.py")]):
        if path.name == "policy.py" and path.parent.name == "access":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name == "Resource":
                    found.append(f"{path.relative_to(root)}:{node.lineno}")
    assert found == []


# --- what the catalogue, bundle metadata and timeline give away above clearance ---------------

PORTAL = pytest.mark.store("file")
SECRET_CASE = "深民防罚〔2026〕77号"
SECRET_TITLE = "某单位涉密人防工程改建案"


@pytest.fixture
def secret_bundle(portal: Portal, make_case: Callable[..., Path]) -> str:
    """A case with one top-secret record (so the bundle is top secret) and findings."""
    document = case_document(SECRET_CASE)
    document["title"] = SECRET_TITLE
    document["records"] = [r for r in document["records"] if r["id"] != "e1"]  # no service receipt
    next(r for r in document["records"] if r["id"] == "d1")["classification"] = {
        "level": "state_secret",
        "grade": "top_secret",
    }
    return str(operations.deposit(portal.wired, folder=make_case(document), actor="test")["bundle_id"])


def clear(portal: Portal, role: str, clearance: str) -> None:
    with portal.wired.sessions() as session:
        user = session.scalar(select(User).where(User.username == role.replace("_", "-")))
        assert user is not None
        user.clearance = clearance
        session.commit()


def entries(portal: Portal, action: str) -> list[LedgerEntry]:
    with portal.wired.sessions() as session:
        return list(session.scalars(select(LedgerEntry).where(LedgerEntry.action == action)))


@PORTAL
def test_the_catalogue_withholds_titles_above_clearance(portal: Portal, secret_bundle: str) -> None:
    """An archivist without clearance sees the case listed, never its title (API and page)."""
    listed = portal.client.get("/api/v1/cases", headers=portal.as_role("archivist")).json()["cases"]
    secret = next(c for c in listed if c["bundle_id"] == secret_bundle)
    assert (secret["withheld"], secret["title"]) == (True, "（密级内容已隐去）")
    assert SECRET_TITLE not in str(listed)
    assert all(not c["withheld"] for c in listed if c["bundle_id"] != secret_bundle)
    # withheld means "refused for clearance alone": a supervisor without a grant is not told of it
    theirs = portal.client.get("/api/v1/cases", headers=portal.as_role("supervisor")).json()["cases"]
    assert secret_bundle not in {c["bundle_id"] for c in theirs}
    for lang, shown in (("zh", "（密级内容已隐去）"), ("en", "withheld — above your clearance")):
        page = portal.client.get(f"/?lang={lang}", headers=portal.as_role("archivist"))
        assert shown in page.text and SECRET_TITLE not in page.text
    clear(portal, "archivist", "top_secret")
    listed = portal.client.get("/api/v1/cases", headers=portal.as_role("archivist")).json()["cases"]
    assert next(c for c in listed if c["bundle_id"] == secret_bundle)["title"] == SECRET_TITLE


@PORTAL
def test_searching_by_title_finds_no_withheld_case(portal: Portal, secret_bundle: str) -> None:
    """A search on words of the title would answer what the title says; only the case number finds it."""
    headers = portal.as_role("archivist")
    by_title = portal.client.get("/api/v1/cases", params={"q": "涉密人防"}, headers=headers).json()["cases"]
    assert by_title == []
    by_number = portal.client.get("/api/v1/cases", params={"q": "77号"}, headers=headers).json()["cases"]
    assert [c["bundle_id"] for c in by_number] == [secret_bundle]


@PORTAL
def test_bundle_metadata_and_timeline_withhold_title_and_findings(portal: Portal, secret_bundle: str) -> None:
    """Above clearance: no title, no findings, no secret record — and the refusal is ledgered."""
    detail = portal.client.get(f"/api/v1/bundles/{secret_bundle}", headers=portal.as_role("archivist")).json()
    assert (detail["withheld"], detail["title"], detail["findings"]) == (True, "（密级内容已隐去）", [])
    assert "d1" not in {r["record_id"] for r in detail["records"]} and detail["withheld_records"] == 1
    refused = [e for e in entries(portal, "bundle.read") if e.bundle_id == secret_bundle]
    assert [(e.actor, e.outcome, e.detail["rule"]) for e in refused] == [("archivist", "denied", "clearance")]
    page = portal.client.get(f"/bundles/{secret_bundle}?lang=en", headers=portal.as_role("archivist")).text
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert SECRET_TITLE not in page and "withheld — above your clearance" in page
    assert 'class="finding"' not in svg and "service_receipt" not in page
    clear(portal, "archivist", "top_secret")
    detail = portal.client.get(f"/api/v1/bundles/{secret_bundle}", headers=portal.as_role("archivist")).json()
    assert (detail["withheld"], detail["title"]) == (False, SECRET_TITLE) and detail["findings"]
    page = portal.client.get(f"/bundles/{secret_bundle}", headers=portal.as_role("archivist")).text
    assert 'class="finding"' in page[page.index("<svg") : page.index("</svg>")]


@PORTAL
def test_a_range_past_the_end_tells_a_refused_caller_nothing(portal: Portal, secret_bundle: str) -> None:
    """The policy decides before the size is read: 403 (ledgered), never a 416 naming the size."""
    url = f"/api/v1/bundles/{secret_bundle}/records/d1/content"
    far = {"Range": "bytes=99999999-"}
    refused = portal.client.get(url, headers=portal.as_role("archivist") | far)
    assert refused.status_code == 403 and "content-range" not in refused.headers
    assert refused.json()["detail"]["rule"] == "clearance"
    denied = [e for e in entries(portal, "record.view") if e.record_id == "d1"]
    assert [(e.actor, e.outcome) for e in denied] == [("archivist", "denied")]
    unknown = portal.client.get(
        f"/api/v1/bundles/{secret_bundle}/records/zz/content", headers=portal.as_role("sysadmin")
    )
    assert unknown.status_code == 403  # whether a record exists is metadata too
    page = portal.client.get(f"/bundles/{secret_bundle}/records/zz", headers=portal.as_role("sysadmin"))
    assert page.status_code == 403
    known = portal.client.get(f"/bundles/{portal.bundle_id}/records/zz", headers=portal.as_role("archivist"))
    assert known.status_code == 404  # who may read the bundle learns there is no such record
    clear(portal, "archivist", "top_secret")
    allowed = portal.client.get(url, headers=portal.as_role("archivist") | far)
    assert allowed.status_code == 416 and allowed.headers["content-range"].startswith("bytes */")
