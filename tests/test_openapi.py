"""The OpenAPI documents of both apps describe every answer: each operation's success body (JSON
model or file) and the one error body for each error status it declares; every API route is in
them; real answers validate against what is declared, byte for byte as the handler built them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, routing
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from jsonschema import Draft202012Validator
from starlette.routing import Mount

from portal.internal.ledger import operations as ledger_operations
from tests.support.portal import Portal, append_entries
from tests.support.public import API, CASE_NO, applicant, submit

pytestmark = pytest.mark.store("file")

DOCUMENTS = {"internal": "/openapi.json", "public": "/public/openapi.json"}
ERROR = "#/components/schemas/ErrorBody"
JSON = "application/json"
DISCLOSURE = {"relation": "party", "case_no": CASE_NO, "description": "请求公开录像。", "delivery": "online"}


def document(portal: Portal, which: str) -> dict[str, Any]:
    """One app's OpenAPI document, as a client fetches it."""
    answer = portal.client.get(DOCUMENTS[which])
    assert answer.status_code == 200
    return answer.json()  # type: ignore[no-any-return]


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) for every operation of a document."""
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def apps(portal: Portal) -> dict[str, FastAPI]:
    """The internal app and the public app mounted in it at `/public`."""
    internal = portal.client.app
    (public,) = [r.app for r in internal.routes if isinstance(r, Mount) and r.path == "/public"]
    return {"internal": internal, "public": public}


def validator(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for one schema of a document, its `$ref`s resolved in the document, formats checked."""
    return Draft202012Validator(
        schema | {"components": doc["components"]}, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def response_refs(doc: dict[str, Any]) -> set[str]:
    """Every component schema a response of the document refers to, directly or nested."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref not in found:
                found.add(ref)
                walk(doc["components"]["schemas"][ref.rsplit("/", 1)[1]])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for _method, _path, operation in operations(doc):
        walk(operation["responses"])
    return found


@pytest.mark.parametrize("which", DOCUMENTS)
def test_every_operation_documents_its_success_body_and_its_errors(portal: Portal, which: str) -> None:
    doc = document(portal, which)
    wrong = []
    for method, path, operation in operations(doc):
        responses = operation["responses"]
        success = [s for s in responses if s.startswith("2")]
        if not success:
            wrong.append(f"{method} {path}: no success status")
        for status in success:
            if status == "204" or method == "HEAD":
                continue  # no body: what it says is in its headers (tus)
            content = responses[status].get("content", {})
            # a JSON body names its model; a file is binary, in the types it can be sent as
            schemas = [c.get("schema", {}) for c in content.values()]
            if not schemas or not all("$ref" in s or s.get("format") == "binary" for s in schemas):
                wrong.append(f"{method} {path} {status}: {content}")
        errors = [s for s in responses if s[0] in "45"]
        if not {"500", "503"} <= set(errors):
            wrong.append(f"{method} {path}: 500 and 503 not declared")
        for status in errors:
            if responses[status].get("content") != {JSON: {"schema": {"$ref": ERROR}}}:
                wrong.append(f"{method} {path} {status}: {responses[status]}")
    assert wrong == []


@pytest.mark.parametrize("which", DOCUMENTS)
def test_response_bodies_declare_every_key_as_always_present(portal: Portal, which: str) -> None:
    # What the handlers build always has every key (null where there is nothing); a key the
    # document called optional would be one a client could not rely on.
    doc = document(portal, which)
    schemas = doc["components"]["schemas"]
    loose = {
        name: sorted(set(schemas[name]["properties"]) - set(schemas[name].get("required", [])))
        for name in (ref.rsplit("/", 1)[1] for ref in response_refs(doc))
    }
    assert {name: keys for name, keys in loose.items() if keys} == {}
    assert all(schemas[ref.rsplit("/", 1)[1]]["additionalProperties"] is False for ref in response_refs(doc))


def app_routes(items: Any, prefix: str = "", shown: bool = True) -> Iterator[tuple[str, str, bool]]:
    """(method, path, in the schema) of every route of one app, through its included routers."""
    for route in items:
        if isinstance(route, APIRoute):
            for method in route.methods or ():
                yield method, prefix + route.path, shown and route.include_in_schema
        elif hasattr(route, "original_router"):  # a router included in the app
            context = route.include_context
            yield from app_routes(
                route.original_router.routes, prefix + context.prefix, shown and context.include_in_schema
            )


@pytest.mark.parametrize("which", DOCUMENTS)
def test_every_api_route_is_in_the_document(portal: Portal, which: str) -> None:
    documented = {(m, p) for m, p, _op in operations(document(portal, which))}
    routes = list(app_routes(apps(portal)[which].routes))
    assert {(m, p) for m, p, shown in routes if shown} == documented
    # what is left out are the pages and the sign-in redirects, never a route of the JSON API
    hidden = {p for _m, p, shown in routes if not shown}
    assert len(documented) > 5 and hidden and not [p for p in hidden if p.startswith("/api/")]


@pytest.fixture
def as_built(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bytes]]:
    """For each JSON body answered: the bytes sent, and the bytes of what the handler returned as
    the app wrote them before the models were declared (`jsonable_encoder`, then `JSONResponse`)."""
    seen: list[tuple[bytes, bytes]] = []
    serialize = routing.serialize_response

    async def recording(**given: Any) -> Any:
        content = await serialize(**given)
        assert not given["dump_json"]  # so the body is `JSONResponse(content)`
        before = jsonable_encoder(given["response_content"])
        seen.append((bytes(JSONResponse(content).body), bytes(JSONResponse(before).body)))
        return content

    monkeypatch.setattr(routing, "serialize_response", recording)
    return seen


def check_answer(doc: dict[str, Any], call: Call, answer: Any) -> str | None:
    """Why an answer is not the one expected, or does not match what its operation declares."""
    expected, method, path, url = call[:4]
    if answer.status_code != expected:
        return f"{method} {url}: {answer.status_code}, expected {expected}: {answer.text[:200]}"
    declared = doc["paths"][path][method.lower()]["responses"].get(str(answer.status_code))
    if declared is None:
        return f"{method} {path}: {answer.status_code} is not declared"
    media = answer.headers["content-type"].split(";")[0]
    if media not in declared.get("content", {}):
        return f"{method} {path} {answer.status_code}: {media} is not declared"
    if media == JSON:
        schema = validator(doc, declared["content"][JSON]["schema"])
        problems = [e.message for e in schema.iter_errors(answer.json())]
        if problems:
            return f"{method} {path} {answer.status_code}: {problems}"
    return None


# (expected status, method, path as documented, URL called, what the call is given)
Call = tuple[int, str, str, str, dict[str, Any]]


def mismatches(portal: Portal, which: str, calls: list[Call], *, prefix: str = "") -> list[str]:
    """Make the calls; what went otherwise than expected or declared."""
    doc = document(portal, which)
    answers = [(call, portal.client.request(call[1], prefix + call[3], **call[4])) for call in calls]
    return [problem for call, answer in answers if (problem := check_answer(doc, call, answer))]


def test_internal_answers_match_their_declared_schemas(
    portal: Portal, as_built: list[tuple[bytes, bytes]]
) -> None:
    archivist, auditor = portal.as_role("archivist"), portal.as_role("security_auditor")
    manager, supervisor = portal.as_role("archive_manager"), portal.as_role("supervisor")
    bundle = f"/api/v1/bundles/{portal.bundle_id}"
    content = "/api/v1/bundles/{bundle_id}/records/{record_id}/content"
    retrieval = {"case_no": CASE_NO, "purpose": "复核", "legal_basis": "《条例》第十条", "days": 1}
    calls: list[Call] = [
        (401, "POST", "/api/v1/token", "/api/v1/token", {"data": {"username": "archivist", "password": "x"}}),
        (200, "GET", "/api/v1/cases", "/api/v1/cases", {"headers": archivist}),
        (401, "GET", "/api/v1/cases", "/api/v1/cases", {}),
        (403, "GET", "/api/v1/cases", "/api/v1/cases", {"headers": auditor}),  # naming the rule
        (200, "GET", "/api/v1/cases/search", "/api/v1/cases/search?party=商业", {"headers": supervisor}),
        (422, "GET", "/api/v1/cases/search", "/api/v1/cases/search", {"headers": supervisor}),
        (200, "GET", "/api/v1/bundles/{bundle_id}", bundle, {"headers": archivist}),
        (404, "GET", "/api/v1/bundles/{bundle_id}", "/api/v1/bundles/nope", {"headers": archivist}),
        (200, "GET", content, f"{bundle}/records/d2/content", {"headers": archivist}),
        (206, "GET", content, f"{bundle}/records/d2/content", {"headers": archivist | {"Range": "bytes=0-"}}),
        (200, "GET", "/api/v1/ledger", "/api/v1/ledger?limit=5", {"headers": auditor}),
        (422, "GET", "/api/v1/ledger", "/api/v1/ledger?limit=0", {"headers": auditor}),  # fields named
        (200, "GET", "/api/v1/ledger/verify", "/api/v1/ledger/verify", {"headers": auditor}),
        (200, "GET", "/api/v1/ledger/jwks", "/api/v1/ledger/jwks", {"headers": auditor}),
        (200, "GET", "/api/v1/ledger/checkpoints", "/api/v1/ledger/checkpoints", {"headers": auditor}),
        (200, "GET", "/api/v1/trails", "/api/v1/trails?actor=archivist", {"headers": auditor}),
        (422, "GET", "/api/v1/trails", "/api/v1/trails", {"headers": auditor}),  # the field named
        (403, "GET", "/api/v1/trails", "/api/v1/trails?actor=archivist", {"headers": archivist}),
        (200, "GET", "/api/v1/trails.csv", f"/api/v1/trails.csv?case_no={CASE_NO}", {"headers": auditor}),
        (200, "GET", "/api/v1/trails/evidence", "/api/v1/trails/evidence?record=d2", {"headers": auditor}),
        (201, "POST", "/api/v1/retrievals", "/api/v1/retrievals", {"headers": supervisor, "json": retrieval}),
        (200, "GET", "/api/v1/retrievals", "/api/v1/retrievals", {"headers": manager}),
        (200, "GET", "/api/v1/retrievals.csv", "/api/v1/retrievals.csv", {"headers": manager}),
        (200, "GET", "/api/v1/retrievals/mine", "/api/v1/retrievals/mine", {"headers": supervisor}),
        (200, "GET", "/api/v1/notifications", "/api/v1/notifications", {"headers": manager}),
        (200, "GET", "/api/v1/holds", "/api/v1/holds", {"headers": manager}),
        (200, "GET", "/api/v1/dispositions", "/api/v1/dispositions", {"headers": archivist}),
        (404, "GET", "/api/v1/copies/{job_id}", "/api/v1/copies/unknown", {"headers": archivist}),
        (200, "GET", "/api/v1/accountability", "/api/v1/accountability", {"headers": auditor}),
        (422, "GET", "/api/v1/accountability", "/api/v1/accountability?article=99", {"headers": auditor}),
        (403, "GET", "/api/v1/accountability", "/api/v1/accountability", {"headers": archivist}),
        (200, "GET", "/api/v1/accountability.csv", "/api/v1/accountability.csv", {"headers": manager}),
    ]
    assert mismatches(portal, "internal", calls) == []
    # accounts: made, listed, changed; one's own role refused; a change without a reason
    admin, account = portal.as_role("security_admin"), "/api/v1/users/{username}"
    new = {"username": "li.ming", "role": "archivist", "reason": "新入职"}
    off, promote = {"disabled": True, "reason": "调离"}, {"role": "sysadmin", "reason": "自行提升"}
    accounts: list[Call] = [
        (201, "POST", "/api/v1/users", "/api/v1/users", {"headers": admin, "json": new}),
        (200, "GET", "/api/v1/users", "/api/v1/users", {"headers": admin}),
        (200, "PATCH", account, "/api/v1/users/li.ming", {"headers": admin, "json": off}),
        (403, "PATCH", account, "/api/v1/users/security-admin", {"headers": admin, "json": promote}),
        (422, "PATCH", account, "/api/v1/users/li.ming", {"headers": admin, "json": {"disabled": False}}),
    ]
    assert mismatches(portal, "internal", accounts) == []
    # a copy job: its 202 is answered as built (no model on the way out), its status through one
    copies = "/api/v1/bundles/{bundle_id}/records/{record_id}/copies"
    started = (202, "POST", copies, f"{bundle}/records/d2/copies", {"headers": archivist})
    assert mismatches(portal, "internal", [started]) == []
    job = portal.client.post(f"{bundle}/records/d2/copies", headers=archivist).json()["job_id"]
    status = (200, "GET", "/api/v1/copies/{job_id}", f"/api/v1/copies/{job}", {"headers": archivist})
    assert mismatches(portal, "internal", [status]) == []
    # consistency between two signed checkpoints
    first = ledger_operations.checkpoint_ledger(portal.wired, force=True)
    append_entries(portal.wired, 3)
    second = ledger_operations.checkpoint_ledger(portal.wired, force=True)
    assert first is not None and second is not None
    route = "/api/v1/ledger/consistency"
    proof = f"{route}?from={first.tree_size}&to={second.tree_size}"
    consistency: list[Call] = [
        (200, "GET", route, proof, {"headers": auditor}),
        (404, "GET", route, f"{route}?from=1&to=2", {"headers": auditor}),
    ]
    assert mismatches(portal, "internal", consistency) == []
    # every JSON body of those calls (and the tokens fetched for them) left as the handler built it
    assert len(as_built) >= 14
    assert [sent for sent, built in as_built if sent != built] == []


def test_public_answers_match_their_declared_schemas(
    portal: Portal, as_built: list[tuple[bytes, bytes]]
) -> None:
    headers = applicant(portal)
    filed = submit(portal, headers)
    assert filed.status_code == 201, filed.text
    one = f"/disclosures/{filed.json()['id']}"
    request = "/api/v1/disclosures/{request_id}"
    calls: list[Call] = [
        (201, "POST", "/api/v1/disclosures", "/disclosures", {"headers": headers, "json": DISCLOSURE}),
        (200, "GET", "/api/v1/disclosures", "/disclosures", {"headers": headers}),
        (401, "GET", "/api/v1/disclosures", "/disclosures", {}),
        (200, "GET", request, one, {"headers": headers}),
        (404, "GET", request, "/disclosures/999999", {"headers": headers}),
        (200, "POST", f"{request}/withdrawal", f"{one}/withdrawal", {"headers": headers, "json": {}}),
        (409, "POST", f"{request}/withdrawal", f"{one}/withdrawal", {"headers": headers, "json": {}}),
        (422, "POST", "/api/v1/register", "/register", {"json": {"username": "x"}}),
        (200, "GET", "/api/v1/recorded-activities", "/recorded-activities", {}),
        (200, "GET", "/api/v1/disclosure-statistics", "/disclosure-statistics", {}),
        (422, "GET", "/api/v1/disclosure-statistics", "/disclosure-statistics?year=1", {}),
    ]
    assert mismatches(portal, "public", calls, prefix=API) == []
    first = ledger_operations.checkpoint_ledger(portal.wired, force=True)
    append_entries(portal.wired, 3)
    second = ledger_operations.checkpoint_ledger(portal.wired, force=True)
    assert first is not None and second is not None
    consistency = "/api/v1/ledger/consistency"
    feed: list[Call] = [
        (200, "GET", "/api/v1/ledger/checkpoints", "/ledger/checkpoints", {}),
        (200, "GET", "/api/v1/ledger/key", "/ledger/key", {}),
        (200, "GET", consistency, f"/ledger/consistency?from={first.tree_size}&to={second.tree_size}", {}),
        (404, "GET", consistency, "/ledger/consistency?from=1&to=2", {}),
        (422, "GET", consistency, "/ledger/consistency?from=0&to=2", {}),
    ]
    assert mismatches(portal, "public", feed, prefix=API) == []
    assert len(as_built) >= 6
    assert [sent for sent, built in as_built if sent != built] == []
