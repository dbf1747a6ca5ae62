"""Every route of both apps, classified and called: whatever reads content, reads a record's
metadata or changes state is refused for a caller the rules refuse — and that refusal is in the
ledger. A new route fails here until it is classified."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select
from starlette.routing import Mount

from access import applicants, workdays
from access.disclosure import applicant_side
from access.ledger import LedgerEntry
from access.policy import Context
from portal.web.auth import subject_of
from tests.support.portal import PASSWORD, Portal

pytestmark = [
    pytest.mark.store("file"),
]

CONTENT, METADATA, STATE = "reads content", "reads record metadata", "changes state"
B, R, Q, D = "{bundle_id}", "{record_id}", "{request_id}", "{request_id}"
WHY = {"reason": "a reason"}
NEW_ACCOUNT = {"username": "x.y", "role": "archivist", **WHY}
# (method, path): what it does, who is refused it, and the body it is sent with. The refused
# caller is one the policy refuses; a body is only what passes validation, so the policy decides.
GUARDED: dict[tuple[str, str], tuple[str, str, dict[str, Any] | None]] = {
    ("GET", "/api/v1/cases"): (METADATA, "security_admin", None),
    ("GET", "/api/v1/cases/search"): (METADATA, "security_admin", None),
    ("GET", f"/api/v1/bundles/{B}"): (METADATA, "security_admin", None),
    ("GET", f"/api/v1/bundles/{B}/records/{R}/content"): (CONTENT, "security_admin", None),
    ("GET", "/api/v1/ledger"): (METADATA, "archivist", None),
    ("GET", "/api/v1/ledger/verify"): (METADATA, "archivist", None),
    ("POST", "/api/v1/retrievals"): (
        STATE,
        "security_admin",
        {"json": {"case_no": "X", "purpose": "p", "legal_basis": "b", "actions": ["view"], "days": 1}},
    ),
    ("POST", f"/api/v1/retrievals/{Q}/decision"): (STATE, "supervisor", {"json": {"approve": True}}),
    ("POST", f"/api/v1/retrievals/{Q}/revoke"): (STATE, "supervisor", {"json": {"reason": "r"}}),
    ("GET", "/api/v1/retrievals"): (METADATA, "sysadmin", None),
    ("GET", "/api/v1/retrievals.csv"): (METADATA, "sysadmin", None),
    ("GET", f"/api/v1/retrievals/{Q}"): (METADATA, "sysadmin", None),
    ("GET", f"/api/v1/bundles/{B}/records/{R}/copy"): (CONTENT, "security_admin", None),
    ("POST", f"/api/v1/bundles/{B}/records/{R}/copies"): (CONTENT, "security_admin", None),
    ("GET", "/api/v1/ledger/checkpoints"): (METADATA, "archivist", None),
    ("GET", "/api/v1/ledger/entries/{seq}/proof"): (METADATA, "archivist", None),
    ("GET", "/api/v1/trails"): (METADATA, "archivist", {"params": {"actor": "archivist"}}),
    ("GET", "/api/v1/trails.csv"): (METADATA, "supervisor", {"params": {"case_no": "X"}}),
    ("GET", "/api/v1/trails/evidence"): (METADATA, "security_admin", {"params": {"record": "d2"}}),
    ("GET", "/trails"): (METADATA, "archivist", {"params": {"actor": "archivist"}}),
    ("GET", "/api/v1/ledger/consistency"): (METADATA, "archivist", {"params": {"from": 1, "to": 1}}),
    ("GET", "/retrievals/new"): (METADATA, "security_admin", None),
    ("POST", "/retrievals/new"): (
        STATE,
        "security_admin",
        {"data": {"case_no": "X", "purpose": "p", "legal_basis": "b", "actions": "view", "days": "1"}},
    ),
    ("GET", "/retrievals/pending"): (METADATA, "supervisor", None),
    ("GET", f"/retrievals/{Q}"): (METADATA, "sysadmin", None),
    ("POST", f"/retrievals/{Q}/decision"): (STATE, "supervisor", {"data": {"decision": "approve"}}),
    ("POST", f"/retrievals/{Q}/revoke"): (STATE, "supervisor", {"data": {"reason": "r"}}),
    ("GET", "/register"): (METADATA, "sysadmin", None),
    ("GET", "/register/print"): (METADATA, "sysadmin", None),
    ("POST", "/copies"): (CONTENT, "security_admin", {"data": {"bundle_id": B, "record_id": R}}),
    ("GET", "/disclosures"): (METADATA, "archivist", None),
    ("GET", "/disclosures/dashboard"): (METADATA, "archivist", None),
    ("GET", f"/disclosures/{D}"): (METADATA, "archivist", None),
    ("POST", f"/disclosures/{D}/assign"): (STATE, "archivist", {"data": {"officer": "disclosure-officer"}}),
    ("POST", f"/disclosures/{D}/correction"): (STATE, "archivist", {"data": {"what": "w"}}),
    ("POST", f"/disclosures/{D}/consultation"): (STATE, "archivist", {"data": {"party": "p"}}),
    ("POST", f"/disclosures/{D}/consultation/end"): (STATE, "archivist", {"data": {"reply": "r"}}),
    ("POST", f"/disclosures/{D}/extension"): (STATE, "archivist", {"data": {"days": "5", "reason": "r"}}),
    ("POST", f"/disclosures/{D}/extension/decision"): (STATE, "archivist", {"data": {"approve": "1"}}),
    ("POST", f"/disclosures/{D}/message"): (STATE, "archivist", {"data": {"body": "b"}}),
    ("POST", f"/disclosures/{D}/decision"): (STATE, "archivist", {"data": {"decision": "released"}}),
    ("GET", f"/disclosures/{D}/letter"): (METADATA, "archivist", None),
    ("POST", f"/disclosures/{D}/identity"): (METADATA, "archivist", {"data": {"reason": "核对身份"}}),
    ("GET", "/calendar"): (METADATA, "archivist", None),
    ("POST", "/calendar/{year}"): (STATE, "archivist", {"data": {"table": "2026-10-01 off"}}),
    ("GET", "/retention/schedule"): (METADATA, "security_admin", None),
    ("POST", "/retention/schedule"): (
        STATE,
        "archivist",
        {"data": {"change": "add", "title": "t", "term": "permanent", "reason": "r"}},
    ),
    ("GET", f"/bundles/{B}"): (METADATA, "security_admin", None),
    ("GET", f"/bundles/{B}/records/{R}"): (CONTENT, "security_admin", None),
    ("GET", "/ledger"): (METADATA, "archivist", None),
    ("POST", "/ledger/verify"): (STATE, "archivist", {"data": {}}),
    ("GET", "/ledger/{seq}"): (METADATA, "archivist", None),
    ("GET", "/fixity"): (METADATA, "security_admin", None),
    ("GET", "/anomalies"): (METADATA, "archivist", None),
    ("POST", "/anomalies/{flag_id}/acknowledge"): (STATE, "archivist", {"data": {"note": "n"}}),
    ("POST", "/anomalies/rules/{kind}"): (STATE, "archivist", {"data": {"enabled": "1", "count": "3"}}),
    ("GET", "/api/v1/anomalies"): (METADATA, "archivist", None),
    ("POST", "/api/v1/anomalies/{flag_id}/acknowledge"): (STATE, "supervisor", {"json": {"note": "n"}}),
    ("POST", "/fixity/alerts/{alert_id}/acknowledge"): (STATE, "security_admin", {"data": {"note": "n"}}),
    ("GET", "/api/v1/holds"): (METADATA, "supervisor", None),
    ("POST", "/api/v1/holds"): (
        STATE,
        "supervisor",
        {"json": {"case_no": "X", "mandate": "信访", "reason": "r"}},
    ),
    ("POST", "/api/v1/holds/{hold_id}/lift"): (STATE, "supervisor", {"json": {"reason": "r"}}),
    ("GET", "/api/v1/dispositions"): (METADATA, "supervisor", None),
    ("POST", "/api/v1/dispositions"): (
        STATE,
        "archive_manager",
        {"json": {"case_nos": ["X"], "action": "destroy", "opinion": "o"}},
    ),
    ("POST", "/api/v1/dispositions/{disposition_id}/approvals"): (
        STATE,
        "archivist",
        {"json": {"approve": True}},
    ),
    ("GET", "/api/v1/dispositions/{disposition_id}/certificate"): (METADATA, "supervisor", None),
    ("GET", "/retention"): (METADATA, "supervisor", None),
    ("POST", "/retention/dispositions"): (
        STATE,
        "archive_manager",
        {"data": {"case_nos": "X", "action": "destroy", "opinion": "o"}},
    ),
    ("POST", "/retention/dispositions/{disposition_id}/approvals"): (
        STATE,
        "archivist",
        {"data": {"decision": "approve"}},
    ),
    ("GET", "/retention/holds"): (METADATA, "supervisor", None),
    ("POST", "/retention/holds"): (
        STATE,
        "supervisor",
        {"data": {"case_no": "X", "mandate": "petition", "reason": "r"}},
    ),
    ("POST", "/retention/holds/{hold_id}/lift"): (STATE, "supervisor", {"data": {"reason": "r"}}),
    ("POST", "/api/v1/uploads"): (STATE, "supervisor", None),
    ("POST", "/api/v1/deposits"): (STATE, "supervisor", {"json": {"upload": "0" * 32}}),
    ("GET", "/deposit"): (METADATA, "supervisor", None),
    ("POST", "/deposit"): (STATE, "supervisor", {"data": {"upload": "0" * 32}}),
    ("GET", "/retention/certificates"): (METADATA, "supervisor", None),
    ("GET", "/retention/certificates/{disposition_id}"): (METADATA, "supervisor", None),
    ("GET", "/api/v1/users"): (METADATA, "sysadmin", None),
    ("POST", "/api/v1/users"): (STATE, "sysadmin", {"json": NEW_ACCOUNT}),
    ("PATCH", "/api/v1/users/{username}"): (STATE, "sysadmin", {"json": {"disabled": True, "reason": "r"}}),
    ("GET", "/admin/users"): (METADATA, "sysadmin", None),
    ("GET", "/admin/users/new"): (METADATA, "sysadmin", None),
    ("POST", "/admin/users/new"): (STATE, "sysadmin", {"data": NEW_ACCOUNT}),
    ("GET", "/admin/users/{username}"): (METADATA, "sysadmin", None),
    ("POST", "/admin/users/{username}/standing"): (STATE, "sysadmin", {"data": {"role": "sysadmin", **WHY}}),
    ("POST", "/admin/users/{username}/state"): (STATE, "sysadmin", {"data": {"disabled": "1", **WHY}}),
    ("POST", "/admin/users/{username}/password"): (STATE, "sysadmin", {"data": {"password": "p" * 12} | WHY}),
    ("GET", "/admin/settings"): (METADATA, "security_admin", None),
    ("GET", "/admin/activities"): (METADATA, "archivist", None),
    ("POST", "/admin/activities"): (
        STATE,
        "archivist",
        {"data": {"code": "hearing", "name_zh": "听证", "name_en": "Hearing", "position": "5", **WHY}},
    ),
    ("GET", "/api/v1/accountability"): (METADATA, "supervisor", None),
    ("GET", "/api/v1/accountability.csv"): (METADATA, "supervisor", None),
    ("GET", "/accountability"): (METADATA, "supervisor", None),
    ("GET", "/accountability/print"): (METADATA, "supervisor", None),
    # the public app: another applicant's request is refused (and answered as not found)
    ("GET", f"/public/api/v1/disclosures/{D}"): (METADATA, "other-applicant", None),
    ("POST", f"/public/api/v1/disclosures/{D}/correction"): (
        STATE,
        "other-applicant",
        {"json": {"correction": "c"}},
    ),
    ("POST", f"/public/api/v1/disclosures/{D}/withdrawal"): (STATE, "other-applicant", {"json": {}}),
    ("GET", f"/public/api/v1/disclosures/{D}/items/{{item_id}}"): (CONTENT, "other-applicant", None),
    ("GET", f"/public/disclosures/{D}"): (METADATA, "other-applicant", None),
    ("POST", f"/public/disclosures/{D}/correction"): (
        STATE,
        "other-applicant",
        {"data": {"correction": "c"}},
    ),
    ("POST", f"/public/disclosures/{D}/withdrawal"): (STATE, "other-applicant", {"data": {}}),
    ("GET", f"/public/disclosures/{D}/items/{{item_id}}"): (CONTENT, "other-applicant", None),
    ("GET", f"/public/disclosures/{D}/items/{{item_id}}/file"): (CONTENT, "other-applicant", None),
    ("GET", f"/public/disclosures/{D}/letter"): (METADATA, "other-applicant", None),
}
# Routes that read no record and change no archive state, each with the reason.
OTHER = {
    ("GET", "/openapi.json"): "the API's description",
    ("GET", "/favicon.ico"): "the portal's icon",
    ("GET", "/healthz"): "liveness: the process answers, nothing is read (no ledger: probes are frequent)",
    ("GET", "/readyz"): "readiness: which backing service answers, no record read (not ledgered)",
    ("GET", "/metrics"): "counts for the operations network only, no record read (not ledgered)",
    ("GET", "/public/openapi.json"): "the public API's description",
    ("POST", "/api/v1/token"): "sign-in (its own attempt log and lockout)",
    ("GET", "/api/v1/retrievals/mine"): "the caller's own requests, filtered to them by the query",
    ("GET", "/api/v1/notifications"): "the caller's own notices, each decided by the policy",
    ("GET", "/api/v1/copies/{job_id}"): "progress of the caller's own copy job (the job was decided)",
    ("GET", "/api/v1/copies/{job_id}/file"): "the caller's own finished copy (decided when started)",
    ("GET", "/api/v1/ledger/jwks"): "public keys, published for anyone",
    ("OPTIONS", "/api/v1/uploads"): "tus discovery: the protocol's version, extensions and maximum",
    ("PATCH", "/api/v1/uploads/{upload_id}"): (
        "bytes of the caller's own upload in staging (its creation was decided)"
    ),
    ("DELETE", "/api/v1/uploads/{upload_id}"): "removing the caller's own upload from staging",
    ("GET", "/sso/login"): "sign-in redirect",
    ("GET", "/sso/callback"): "sign-in",
    ("GET", "/retrievals/mine"): "the caller's own requests",
    ("GET", "/notifications"): "the caller's own notices (viewing marks them read, for the caller only)",
    ("GET", "/login"): "sign-in form",
    ("POST", "/login"): "sign-in",
    ("POST", "/logout"): "sign-out of one's own session",
    ("GET", "/"): "the catalogue page: the same decisions as GET /api/v1/cases, walked there",
    ("GET", "/public/"): "the published list of recorded activities",
    ("GET", "/public/recorded-activities"): "the published list of recorded activities (art. 12)",
    ("GET", "/public/api/v1/recorded-activities"): "the published list of recorded activities (art. 12)",
    ("GET", "/public/disclosure-statistics"): "yearly counts of disclosure requests, published (OGI art. 50)",
    ("GET", "/public/api/v1/disclosure-statistics"): "yearly counts of disclosure requests, published",
    ("GET", "/public/api/v1/ledger/checkpoints"): "the public checkpoint feed: signed tree heads, no entry",
    ("GET", "/public/api/v1/ledger/consistency"): "consistency proofs: interior Merkle hashes, no entry",
    ("GET", "/public/api/v1/ledger/key"): "the checkpoint key, published for anyone",
    ("POST", "/public/api/v1/register"): "an applicant's registration",
    ("POST", "/public/api/v1/token"): "an applicant's sign-in",
    ("POST", "/public/api/v1/disclosures"): "filing a request is every applicant's right (ledgered)",
    ("GET", "/public/api/v1/disclosures"): "the applicant's own requests",
    ("GET", "/public/login"): "sign-in form",
    ("POST", "/public/login"): "sign-in",
    ("POST", "/public/logout"): "sign-out",
    ("GET", "/public/register"): "registration form",
    ("POST", "/public/register"): "registration",
    ("GET", "/public/disclosures"): "the applicant's own requests",
    ("GET", "/public/disclosures/new"): "the request form",
    ("POST", "/public/disclosures/new"): "filing a request is every applicant's right (ledgered)",
}
MOUNTS = {"/static": "style sheets and scripts", "/public/static": "style sheets and scripts"}


def routes(items: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route, through included routers and mounted apps."""
    for route in items:
        if isinstance(route, APIRoute) or hasattr(route, "methods"):
            for method in sorted(set(route.methods) - {"HEAD"}):
                yield method, prefix + route.path
        elif isinstance(route, Mount) and hasattr(route.app, "routes"):
            yield from routes(route.app.routes, prefix + route.path)
        elif isinstance(route, Mount):
            assert prefix + route.path in MOUNTS, f"unclassified mount {prefix + route.path}"
        else:  # a router included in another
            yield from routes(route.original_router.routes, prefix + route.include_context.prefix)


def test_every_route_is_classified(portal: Portal) -> None:
    """A new route fails here until it is put in GUARDED (and walked) or OTHER (with a reason)."""
    found = set(routes(portal.client.app.routes))
    assert found - set(GUARDED) - set(OTHER) == set(), "classify these routes"
    assert set(GUARDED) | set(OTHER) <= found, "classified routes that no longer exist"


def _resident_id(first17: str) -> str:
    """A resident ID number with its check digit (GB 11643)."""
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    return first17 + "10X98765432"[total % 11]


def _applicant(portal: Portal, username: str) -> Any:
    wired = portal.wired
    with wired.sessions() as session:
        applicant = applicants.register_applicant(
            session,
            username=username,
            password=PASSWORD,
            name="张三",
            id_type="resident_id",
            id_number=_resident_id("11010119900307" + ("851" if username == "zhangsan" else "123")),
            phone="13800138000",
            email=f"{username}@example.cn",
            address="深圳市福田区示例路1号",
            id_number_key=wired.id_number_key,
            now=wired.clock(),
        )
        session.commit()
        return subject_of(applicant.user)


def _ids(portal: Portal) -> dict[str, str]:
    """A retrieval request and a disclosure request to walk the routes that name one."""
    filed = portal.client.post(
        "/api/v1/retrievals",
        json={
            "case_no": _case_no(portal),
            "purpose": "复核",
            "legal_basis": "监督",
            "actions": ["view"],
            "days": 3,
        },
        headers=portal.as_role("supervisor"),
    )
    assert filed.status_code == 201, filed.text
    owner = _applicant(portal, "zhangsan")
    with portal.wired.sessions() as session:
        view = applicant_side.submit_request(
            session,
            subject=owner,
            context=Context(now=portal.wired.clock()),
            calendar=workdays.load_calendar(session),
            relation="party",
            case_no=_case_no(portal),
            description="请公开本案处罚决定书",
            delivery="online",
        )
        session.commit()
    _applicant(portal, "lisi")
    return {
        B: portal.bundle_id,
        R: "d2",
        "#retrieval": str(filed.json()["id"]),
        "#disclosure": str(view.id),
        "{item_id}": "1",
        "{seq}": "1",
        "{year}": "2026",
        "{alert_id}": "1",
        "{flag_id}": "1",
        "{kind}": "denial_burst",
        "{hold_id}": "1",  # the hold the disclosure request placed on its case
        "{disposition_id}": "1",
        "{username}": "archivist",
    }


def _case_no(portal: Portal) -> str:
    answer = portal.client.get(f"/api/v1/bundles/{portal.bundle_id}", headers=portal.as_role("archivist"))
    return str(answer.json()["case_no"])


def _headers(portal: Portal, who: str) -> dict[str, str]:
    if who != "other-applicant":
        return portal.as_role(who)
    answer = portal.client.post("/public/api/v1/token", data={"username": "lisi", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _fill(text: str, ids: dict[str, str]) -> str:
    kind = "disclosure" if "disclosures" in text else "retrieval"
    text = text.replace("{request_id}", ids["#" + kind])
    for key, value in ids.items():
        text = text.replace(key, value)
    return text


def _ledger(portal: Portal, after: int) -> list[LedgerEntry]:
    with portal.wired.sessions() as session:
        return list(session.scalars(select(LedgerEntry).where(LedgerEntry.seq > after)))


def _head(portal: Portal) -> int:
    with portal.wired.sessions() as session:
        return int(session.scalar(select(func.coalesce(func.max(LedgerEntry.seq), 0))))


def test_every_guarded_route_refuses_and_ledgers_the_refusal(portal: Portal) -> None:
    """Each route that reads content or metadata or changes state, called by someone refused it:
    the answer is a refusal (403, or 404 for another applicant's request) and the ledger holds a
    `denied` entry by that caller, written for this call."""
    ids = _ids(portal)
    usernames = {"other-applicant": "lisi"}
    wrong = []
    for (method, path), (_, who, body) in GUARDED.items():
        url = _fill(path, ids)
        kwargs = {
            k: {n: _fill(str(v), ids) for n, v in b.items()} if k == "data" else b
            for k, b in (body or {}).items()
        }
        before = _head(portal)
        answer = portal.client.request(
            method, url, headers=_headers(portal, who), follow_redirects=False, **kwargs
        )
        actor = usernames.get(who, who.replace("_", "-"))
        denied = [e for e in _ledger(portal, before) if e.actor == actor and e.outcome == "denied"]
        if answer.status_code not in {403, 404} or not denied:
            wrong.append(f"{method} {path} as {who}: {answer.status_code}, {len(denied)} denied entries")
    assert wrong == [], "\n".join(wrong)


def test_the_officer_s_list_of_case_records_is_ledgered(portal: Portal) -> None:
    """The decision form lists the case's record titles (metadata): reading them is on the record."""
    ids = _ids(portal)
    officer = portal.as_role("disclosure_officer")
    url = _fill(f"/disclosures/{D}", ids)
    taken = portal.client.post(
        f"{url}/assign", data={"officer": "disclosure-officer"}, headers=officer, follow_redirects=False
    )
    assert taken.status_code == 303, taken.text
    before = _head(portal)
    page = portal.client.get(url, headers=officer)
    assert page.status_code == 200 and 'value="d2"' in page.text
    read = [e for e in _ledger(portal, before) if e.action == "disclosure.queue"]
    assert [(e.actor, e.outcome, e.detail["candidates"]) for e in read] == [
        ("disclosure-officer", "allowed", 9)
    ]


ALLOWED = {
    ("GET", "/api/v1/cases"): "archivist",
    ("GET", f"/api/v1/bundles/{B}"): "archivist",
    ("GET", f"/api/v1/bundles/{B}/records/{R}/content"): "archivist",
    ("GET", "/api/v1/ledger"): "security_auditor",
    ("GET", "/api/v1/anomalies"): "security_auditor",
    ("GET", f"/api/v1/retrievals/{Q}"): "archive_manager",
    ("GET", "/retrievals/new?case_no={case_no}"): "supervisor",
    ("GET", f"/bundles/{B}"): "archivist",
    ("GET", f"/bundles/{B}/records/{R}"): "archivist",
    ("GET", "/api/v1/users"): "security_admin",
    ("GET", "/admin/users/{username}"): "security_admin",
    ("GET", "/admin/settings"): "sysadmin",
}


def test_an_allowed_call_is_ledgered_too(portal: Portal) -> None:
    """The same decisions, allowed: each call leaves an `allowed` (or outcome) entry by its caller."""
    ids = _ids(portal) | {"{case_no}": _case_no(portal)}
    wrong = []
    for (method, path), who in ALLOWED.items():
        if who == "applicant-owner":
            token = portal.client.post(
                "/public/api/v1/token", data={"username": "zhangsan", "password": PASSWORD}
            )
            headers, actor = {"Authorization": f"Bearer {token.json()['access_token']}"}, "zhangsan"
        else:
            headers, actor = portal.as_role(who), who.replace("_", "-")
        before = _head(portal)
        answer = portal.client.request(method, _fill(path, ids), headers=headers)
        allowed = [e for e in _ledger(portal, before) if e.actor == actor and e.outcome != "denied"]
        if answer.status_code != 200 or not allowed:
            wrong.append(f"{method} {path} as {who}: {answer.status_code}, {len(allowed)} entries")
    assert wrong == [], "\n".join(wrong)
