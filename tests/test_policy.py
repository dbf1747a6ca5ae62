"""The policy, walked whole: every action × role × classification × clearance × grant state ×
whose request it is, against the rules written out again below — independently of the policy's
own tables, so a changed table or a new action fails here until the statement agrees."""

from __future__ import annotations

import ast
import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from access.models import Clearance, Role
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
}
REGISTER = {"retrieval.request", "retrieval.choose_record", "register.read", "copy.trace"}
QUEUE = {"disclosure.read", "disclosure.queue", "disclosure.assign", "disclosure.remind"}
STAFF = {"retrieval.notices"}
MAY = {
    "archivist": ARCHIVE | REGISTER | STAFF,
    "archive_manager": ARCHIVE
    | REGISTER
    | QUEUE
    | STAFF
    | {"retrieval.decide", "retrieval.revoke", "disclosure.extension.decide"},
    "disclosure_officer": {"case.list", "bundle.read", "record.view"}
    | QUEUE
    | STAFF
    | {"disclosure.handle", "disclosure.decide", "disclosure.release"},
    "supervisor": {
        "case.list",
        "bundle.read",
        "record.view",
        "record.download",
        "retrieval.request",
        "retrieval.choose_record",
    }
    | STAFF,
    "security_auditor": {"ledger.read", "ledger.verify", "register.read", "copy.trace"} | STAFF,
    "security_admin": {"user.admin"} | STAFF,
    "sysadmin": {"bundle.verify", "calendar.edit"} | STAFF,
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
ON_BUNDLE = {"bundle.read", "bundle.verify", "bundle.export", "retrieval.choose_record"}
ON_COLLECTION = {
    "case.list": "catalogue",
    "bundle.deposit": "archive",
    "ledger.read": "ledger",
    "ledger.verify": "ledger",
    "copy.trace": "ledger",
    "user.admin": "users",
    "register.read": "register",
    "retrieval.notices": "register",
    "calendar.edit": "calendar",
    "disclosure.submit": "disclosure",
    "disclosure.queue": "disclosure",
}
ON_REQUEST = {
    "retrieval.request": "retrieval",
    "retrieval.decide": "retrieval",
    "retrieval.revoke": "retrieval",
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
    if action in {"retrieval.decide", "disclosure.extension.decide"} and mine:
        return False  # nobody decides their own request
    if role == "applicant" and action != "disclosure.submit" and not mine:
        return False  # applicants act on their own requests only
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
    """~25,000 decisions, every one as the rules say; all mismatches reported at once."""
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
