"""Thinking like the attacker: forged tokens, IDOR, path tricks, headers, secrets in logs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
from jose import jwt

from portal.cli.demo import case_document
from portal.wiring import token_secret
from tests.support.portal import PASSWORD, Portal

pytestmark = [
    pytest.mark.store("file"),
]


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(**override) -> dict:
    now = int(time.time())
    return {
        "iss": "casevault",
        "aud": "casevault-internal",
        "sub": "archivist",
        "tv": 1,
        "iat": now,
        "exp": now + 600,
        **override,
    }


def _without(*names: str) -> dict:
    return {name: value for name, value in _claims().items() if name not in names}


def _signed_payload(payload: str, secret: str) -> str:
    """A correctly signed HS256 token whose payload is any JSON text (not necessarily an object)."""
    encoded = base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode()
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{encoded}"
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def _forged_tokens(secret: str) -> dict[str, str]:
    good = jwt.encode(_claims(), secret, algorithm="HS256")
    head, _body, sig = good.split(".")
    signed = {
        # Each needs the secret, and each is refused anyway: every claim the code reads is required.
        "no-audience": _without("aud"),
        "no-issuer": _without("iss"),
        "no-subject": _without("sub"),
        "no-expiry": _without("exp"),
        "no-issued-at": _without("iat"),
        "no-token-version": _without("tv"),
        "audience-list": _claims(aud=["casevault-internal"]),
        "expiry-as-string": _claims(exp=str(int(time.time()) + 600)),
        "expiry-as-bool": _claims(exp=True),
        "expiry-as-float-nan": _claims(exp=float("nan")),
        "issued-at-as-string": _claims(iat="yesterday"),
        "issued-in-the-future": _claims(iat=int(time.time()) + 3600),
        "subject-as-number": _claims(sub=7),
        "subject-empty": _claims(sub=""),
        "token-version-as-string": _claims(tv="1"),
    }
    return {
        **{kind: jwt.encode(claims, secret, algorithm="HS256") for kind, claims in signed.items()},
        "payload-a-list": _signed_payload("[1, 2]", secret),
        "payload-not-json": _signed_payload("{not json", secret),
        "alg-none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}.",
        "alg-HS512": jwt.encode(_claims(), secret, algorithm="HS512"),
        "wrong-key": jwt.encode(_claims(), "not-the-secret-" * 4, algorithm="HS256"),
        "expired": jwt.encode(_claims(exp=int(time.time()) - 1), secret, algorithm="HS256"),
        "wrong-audience": jwt.encode(_claims(aud="casevault-public"), secret, algorithm="HS256"),
        "wrong-issuer": jwt.encode(_claims(iss="someone-else"), secret, algorithm="HS256"),
        "tampered": f"{head}.{_b64(_claims(sub='security-auditor'))}.{sig}",
        "old-token-version": jwt.encode(_claims(tv=0), secret, algorithm="HS256"),
        "garbage": "not.a.token",
    }


@pytest.mark.parametrize("kind", list(_forged_tokens("x")))
def test_forged_tokens_are_refused(portal: Portal, kind: str) -> None:
    token = _forged_tokens(token_secret(portal.wired.settings))[kind]
    response = portal.client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, kind
    assert response.headers["www-authenticate"] == "Bearer"


def test_the_genuine_token_is_accepted(portal: Portal) -> None:
    token = jwt.encode(_claims(), token_secret(portal.wired.settings), algorithm="HS256")
    assert portal.client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_records_cannot_be_reached_through_another_bundle(portal: Portal, make_case) -> None:
    from portal.internal.archive import operations

    document = case_document("深民防罚〔2026〕99号")
    document["records"][7]["id"] = "only-in-b"
    other = operations.deposit(portal.wired, folder=make_case(document), actor="test")["bundle_id"]
    headers = portal.as_role("archivist")
    response = portal.client.get(
        f"/api/v1/bundles/{portal.bundle_id}/records/only-in-b/content", headers=headers
    )
    assert response.status_code == 404
    assert (
        portal.client.get(f"/api/v1/bundles/{other}/records/only-in-b/content", headers=headers).status_code
        == 200
    )


def test_a_grant_on_one_bundle_opens_nothing_in_another(portal: Portal, make_case) -> None:
    from sqlalchemy import select

    from access.models import RetrievalGrant, User
    from portal.internal.archive import operations

    other = operations.deposit(
        portal.wired, folder=make_case(case_document("深民防罚〔2026〕98号")), actor="test"
    )["bundle_id"]
    with portal.wired.sessions() as session:
        supervisor = session.scalar(select(User).where(User.username == "supervisor"))
        manager = session.scalar(select(User).where(User.username == "archive-manager"))
        assert supervisor and manager
        now = datetime.now(UTC)
        session.add(
            RetrievalGrant(
                grantee_id=supervisor.id,
                bundle_id=portal.bundle_id,
                record_ids=["v1"],
                actions=["view", "download"],
                starts_at=now - timedelta(hours=1),
                expires_at=now + timedelta(days=1),
                approved_by_id=manager.id,
            )
        )
        session.commit()
    headers = portal.as_role("supervisor")
    assert (
        portal.client.get(
            f"/api/v1/bundles/{portal.bundle_id}/records/v1/content", headers=headers
        ).status_code
        == 202  # allowed: the watermarked rendition is being prepared
    )
    assert (
        portal.client.get(f"/api/v1/bundles/{other}/records/v1/content", headers=headers).status_code == 403
    )
    assert portal.client.get(f"/api/v1/bundles/{other}", headers=headers).status_code == 403


@pytest.mark.parametrize(
    "record_id", ["../seal.jws", "..%2Fseal.jws", "%2e%2e%2fcase.json", "data", "v1%00", "V1"]
)
def test_path_tricks_in_record_ids_find_nothing(portal: Portal, record_id: str) -> None:
    response = portal.client.get(
        f"/api/v1/bundles/{portal.bundle_id}/records/{record_id}/content", headers=portal.as_role("archivist")
    )
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/cases", "/api/v1/token", "/api/v1/bundles/x"])
def test_security_headers_on_every_response(portal: Portal, path: str) -> None:
    response = portal.client.get(path)
    assert "frame-ancestors" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_no_password_token_or_id_number_in_any_log_line(
    portal: Portal, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = portal.token("archivist")
    portal.client.post("/api/v1/token", data={"username": "archivist", "password": "wrong " + PASSWORD})
    portal.client.get(f"/api/v1/bundles/{portal.bundle_id}", headers={"Authorization": f"Bearer {token}"})
    portal.client.get("/api/v1/cases", headers={"Authorization": "Bearer forged.token.value"})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "/api/v1/token" in logged  # the requests were logged; what matters is what was not
    party_id = case_document()["parties"][0]["id_number"]
    for secret in (PASSWORD, token, party_id, token_secret(portal.wired.settings)):
        assert secret not in logged
