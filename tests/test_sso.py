"""Single sign-on against a real OpenID Connect provider (npm `oidc-provider`, tests/oidc).

The test code is the browser: it asks the app to start a sign-in, follows the redirect to the
provider with its own cookie jar, submits the provider's login and consent forms, and hands the
redirect back to the app's callback through the TestClient, which carries the app's cookies.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from jose import jwk, jwt
from sqlalchemy import select

from access import federation as mapping
from access import identities
from access.ledger import LedgerEntry
from access.models import Clearance, Department, Role, User
from portal.app import create_app
from portal.settings import Settings
from portal.web import sso
from portal.web.auth import SESSION_COOKIE
from portal.wiring import Wired, wire
from tests.support.services import free_port, missing


def _embedded(test: Callable[..., None]) -> Callable[..., None]:
    """Run an app test on the FileStore only."""
    return pytest.mark.store("file")(test)


OIDC_DIR = Path(__file__).parent / "oidc"
APP_URL = "https://testserver"
CALLBACK = f"{APP_URL}/sso/callback"
CLIENT_ID = "casevault-test"
CLIENT_SECRET = "casevault-test-secret-0123456789"
PASSWORDS = {"alice": "alice-password", "bob": "bob-password", "carol": "carol-password"}
SUBS = {"alice": "u-1001", "bob": "u-1002", "carol": "u-1003"}
ROLE_MAP = {
    "archive-staff": "archivist",
    "archive-managers": "archive_manager",
    "legal-office": "supervisor department=legal",
}


# --- the provider -----------------------------------------------------------------------------


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        missing("OIDC provider", f"{' '.join(command)} failed: {(result.stderr or result.stdout)[-800:]}")


@pytest.fixture(scope="session")
def oidc_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running oidc-provider on a free loopback port, with its node modules installed once."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing("OIDC provider", "node and npm are needed (Debian packages nodejs and npm)")
    assert node is not None and npm is not None
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        _run([npm, "ci", "--no-audit", "--no-fund"], OIDC_DIR)
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("oidc") / "provider.log"
    env = {**os.environ, "OIDC_CLIENT_ID": CLIENT_ID, "OIDC_CLIENT_SECRET": CLIENT_SECRET}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [node, "provider.mjs", str(port), CALLBACK], cwd=OIDC_DIR, env=env, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if (
                    httpx.get(
                        f"{issuer}/.well-known/openid-configuration", timeout=1, trust_env=False
                    ).status_code
                    == 200
                ):
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                missing("OIDC provider", f"did not start: {log_path.read_text()[-800:]}")
            time.sleep(0.1)
        yield issuer
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the app ----------------------------------------------------------------------------------


@dataclass
class App:
    """A running internal app configured for single sign-on, and the provider it trusts."""

    client: TestClient
    wired: Wired
    issuer: str

    def entries(self, action: str = "auth.sso") -> list[LedgerEntry]:
        """Ledger entries of one action, oldest first."""
        with self.wired.sessions() as session:
            query = select(LedgerEntry).where(LedgerEntry.action == action).order_by(LedgerEntry.seq)
            return list(session.scalars(query))

    def user(self, login: str) -> User | None:
        """The single sign-on user of a provider login, if created."""
        with self.wired.sessions() as session:
            key = f"{self.issuer}|{SUBS[login]}"
            return session.scalar(select(User).where(User.sso_subject == key))


def _settings(tmp_path: Path, database_url: str, store_url: str, **oidc: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        store=store_url,
        public_url=APP_URL,
        cookie_secure=True,
        **oidc,
    )


@pytest.fixture
def make_app(
    tmp_path: Path, database_url: str, store_url: str, oidc_issuer: str
) -> Iterator[Callable[..., App]]:
    """Build apps on one database, configured for the provider (role map overridable)."""
    built: list[App] = []

    def make(role_map: dict[str, str] | None = None) -> App:
        settings = _settings(
            tmp_path,
            database_url,
            store_url,
            oidc_issuer=oidc_issuer,
            oidc_client_id=CLIENT_ID,
            oidc_client_secret=CLIENT_SECRET,
            oidc_role_map=ROLE_MAP if role_map is None else role_map,
        )
        wired = wire(settings)
        app = App(client=TestClient(create_app(wired), base_url=APP_URL), wired=wired, issuer=oidc_issuer)
        built.append(app)
        return app

    yield make
    for app in built:
        app.client.close()
        app.wired.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    return make_app()


# --- the browser ------------------------------------------------------------------------------


@dataclass
class Trip:
    """One sign-in up to the provider's redirect back: where it went and where it comes back."""

    authorize_url: str
    callback_url: str
    state_cookie: str


def _form_action(page: str, suffix: str) -> str:
    found = re.search(rf'action="([^"]*/{suffix})"', page)
    assert found, f"no {suffix} form in the provider's page: {page[:300]}"
    return found.group(1)


def sign_in_at_provider(app: App, login: str, password: str | None = None) -> Trip:
    """Start at /sso/login, sign in and consent at the provider, stop at the redirect back."""
    start = app.client.get("/sso/login", follow_redirects=False)
    assert start.status_code == 303, start.text
    authorize_url = start.headers["location"]
    state_cookie = app.client.cookies.get(sso.STATE_COOKIE)
    assert state_cookie
    with httpx.Client(follow_redirects=False, timeout=10, trust_env=False) as browser:
        url = authorize_url
        for _ in range(12):
            response = browser.get(url)
            if response.is_redirect:
                url = urljoin(url, response.headers["location"])
                if url.startswith(CALLBACK):
                    return Trip(authorize_url, url, state_cookie)
                continue
            assert response.status_code == 200, response.text
            if 'name="password"' in response.text:
                data = {"login": login, "password": password or PASSWORDS[login]}
                response = browser.post(urljoin(url, _form_action(response.text, "login")), data=data)
            else:
                response = browser.post(urljoin(url, _form_action(response.text, "confirm")))
            assert response.is_redirect, response.text
            url = urljoin(url, response.headers["location"])
    raise AssertionError("the provider never redirected back")


def pending_sign_in(settings: Settings, cookie: str) -> dict[str, Any]:
    """What authlib keeps in the state cookie for the sign-in under way (state, nonce, verifier)."""
    signed = TimestampSigner(sso.state_secret(settings)).unsign(cookie, max_age=sso.STATE_SECONDS)
    [(key, value)] = json.loads(base64.b64decode(signed)).items()
    return {"state": key.removeprefix("_state_casevault_"), **value["data"]}


# --- the whole flow ---------------------------------------------------------------------------


@_embedded
def test_code_flow_signs_in_a_mapped_user(app: App) -> None:
    # A local account already holds the name "alice": single sign-on must not take it over.
    with app.wired.sessions() as session:
        identities.create_user(
            session, username="alice", role="sysadmin", actor="test", now=datetime.now(UTC)
        )
        session.commit()

    trip = sign_in_at_provider(app, "alice")
    done = app.client.get(trip.callback_url, follow_redirects=False)

    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/"
    assert app.client.cookies.get(SESSION_COOKIE)
    assert not app.client.cookies.get(sso.STATE_COOKIE)  # used once, then forgotten
    assert app.client.get("/api/v1/cases").status_code == 200

    user = app.user("alice")
    assert user is not None
    assert (user.role, user.department, user.clearance) == ("archivist", None, "none")
    assert user.username != "alice" and user.username.startswith("alice-")
    assert user.password_hash is None and user.display_name == "Alice Archivist"
    with app.wired.sessions() as session:
        local = identities.get_user(session, "alice")
        assert (local.role, local.sso_subject) == ("sysadmin", None)

    [entry] = app.entries()
    assert (entry.actor, entry.outcome, entry.source) == (user.username, "ok", "testclient")
    assert entry.detail["sub"] == "u-1001" and entry.detail["groups"] == ["archive-staff"]
    assert entry.detail["created"] is True


@_embedded
def test_pkce_state_and_nonce_go_with_the_authorization_request(app: App) -> None:
    start = app.client.get("/sso/login", follow_redirects=False)
    assert start.status_code == 303
    query = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["location"]).query).items()}
    assert start.headers["location"].startswith(f"{app.issuer}/")
    assert query["code_challenge_method"] == "S256"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", query["code_challenge"])
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == CALLBACK
    assert "groups" in query["scope"].split() and "openid" in query["scope"].split()

    cookie = start.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie and "path=/sso" in cookie
    saved = pending_sign_in(app.wired.settings, app.client.cookies[sso.STATE_COOKIE])
    assert (saved["state"], saved["nonce"]) == (query["state"], query["nonce"])
    digest = hashlib.sha256(saved["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == query["code_challenge"]
    # The verifier goes to the provider only as its S256 challenge; the cookie carries it signed and
    # encoded, never bare.
    assert saved["code_verifier"] not in start.headers["location"]
    assert saved["code_verifier"] not in app.client.cookies[sso.STATE_COOKIE]


@_embedded
def test_groups_from_userinfo_when_not_in_the_id_token(app: App) -> None:
    trip = sign_in_at_provider(app, "carol")
    done = app.client.get(trip.callback_url, follow_redirects=False)
    assert done.status_code == 303, done.text
    user = app.user("carol")
    assert user is not None and user.role == "archive_manager" and user.username == "carol"
    assert app.client.get("/api/v1/cases").status_code == 200


@_embedded
def test_an_unmapped_user_is_refused_and_ledgered(app: App) -> None:
    trip = sign_in_at_provider(app, "bob")
    refused = app.client.get(trip.callback_url, follow_redirects=False)

    assert refused.status_code == 403
    detail = refused.json()["detail"]
    assert detail["rule"] == "sso_role_map"
    assert "not mapped to any casevault role" in detail["reason"]
    assert "visitors" in detail["reason"]
    assert not app.client.cookies.get(SESSION_COOKIE)
    assert app.user("bob") is None
    assert app.client.get("/api/v1/cases").status_code == 401

    [entry] = app.entries()
    assert (entry.outcome, entry.source) == ("failed", "testclient")
    assert entry.actor == f"sso:{app.issuer}|u-1002"
    assert entry.detail["rule"] == "sso_role_map" and "visitors" in entry.detail["groups"]


@_embedded
def test_a_tampered_state_is_refused(app: App) -> None:
    trip = sign_in_at_provider(app, "alice")
    tampered = re.sub(r"state=[^&]+", "state=forged-%E7%8A%B6%E6%80%81", trip.callback_url)
    refused = app.client.get(tampered, follow_redirects=False, headers={"Accept": "text/html"})

    assert refused.status_code == 400
    assert "text/html" in refused.headers["content-type"]
    assert "state parameter does not match" in refused.text
    assert not app.client.cookies.get(SESSION_COOKIE)
    assert app.user("alice") is None
    [entry] = app.entries()
    assert (entry.outcome, entry.detail["rule"], entry.source) == ("failed", "sso_state", "testclient")

    # A callback without the browser's state cookie (a login-CSRF attempt) is refused as well.
    with TestClient(app.client.app, base_url=APP_URL) as stranger:
        other = stranger.get(trip.callback_url, follow_redirects=False)
    assert other.status_code == 400 and other.json()["detail"]["rule"] == "sso_state"


@_embedded
def test_a_replayed_code_is_refused(app: App) -> None:
    trip = sign_in_at_provider(app, "alice")
    assert app.client.get(trip.callback_url, follow_redirects=False).status_code == 303

    # Replay with the very cookie the first callback used: the provider refuses the code again.
    app.client.cookies.set(sso.STATE_COOKIE, trip.state_cookie, path="/sso")
    replay = app.client.get(trip.callback_url, follow_redirects=False)
    assert replay.status_code == 400
    assert replay.json()["detail"]["rule"] == "sso_code"
    assert "invalid_grant" in replay.json()["detail"]["reason"]
    outcomes = [(e.outcome, e.detail.get("rule")) for e in app.entries()]
    assert outcomes == [("ok", None), ("failed", "sso_code")]


@_embedded
def test_the_role_follows_the_provider_and_disabled_users_stay_out(make_app: Callable[..., App]) -> None:
    first = make_app()
    done = first.client.get(sign_in_at_provider(first, "alice").callback_url, follow_redirects=False)
    assert done.status_code == 303
    assert first.client.get("/api/v1/cases").status_code == 200

    promoted = make_app({"archive-staff": "archivist clearance=secret"})
    promoted.client.get(sign_in_at_provider(promoted, "alice").callback_url, follow_redirects=False)
    user = promoted.user("alice")
    assert user is not None and user.clearance == "secret" and user.token_version == 2
    [update] = promoted.entries("user.sso_update")
    assert update.detail["before"]["clearance"] == "none" and update.detail["after"]["clearance"] == "secret"
    # The session opened with the old rights no longer works.
    assert first.client.get("/api/v1/cases").status_code == 401

    with promoted.wired.sessions() as session:
        identities.set_disabled(
            session, username=user.username, disabled=True, actor="test", now=datetime.now(UTC)
        )
        session.commit()
    refused = promoted.client.get(sign_in_at_provider(promoted, "alice").callback_url, follow_redirects=False)
    assert refused.status_code == 403 and refused.json()["detail"]["rule"] == "account_disabled"


@_embedded
def test_single_sign_on_off_answers_404(tmp_path: Path, database_url: str, store_url: str) -> None:
    wired = wire(_settings(tmp_path, database_url, store_url))
    try:
        with TestClient(create_app(wired), base_url=APP_URL) as client:
            response = client.get("/sso/login", follow_redirects=False)
    finally:
        wired.engine.dispose()
    assert response.status_code == 404
    assert "single sign-on is not configured" in response.json()["detail"]


@_embedded
def test_an_unreachable_provider_answers_503_with_retry_after(
    tmp_path: Path, database_url: str, store_url: str
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    settings = _settings(
        tmp_path, database_url, store_url, oidc_issuer=down, oidc_client_id=CLIENT_ID, oidc_role_map=ROLE_MAP
    )
    wired = wire(settings)
    try:
        with TestClient(create_app(wired), base_url=APP_URL) as client:
            response = client.get("/sso/login", follow_redirects=False)
    finally:
        wired.engine.dispose()
    assert response.status_code == 503 and response.headers["retry-after"] == "30"
    assert response.json()["detail"]["rule"] == "sso_unavailable"


@_embedded
def test_a_foreign_issuer_or_a_provider_error_is_refused_and_forgets_the_state(app: App) -> None:
    trip = sign_in_at_provider(app, "alice")
    query = parse_qs(urlsplit(trip.callback_url).query)
    state = query["state"][0]
    mixed_up = app.client.get(
        "/sso/callback", params={**query, "iss": "https://evil.example.test"}, follow_redirects=False
    )
    assert mixed_up.status_code == 400 and mixed_up.json()["detail"]["rule"] == "sso_issuer"
    assert not app.client.cookies.get(sso.STATE_COOKIE)  # one callback only, even a refused one

    app.client.cookies.set(sso.STATE_COOKIE, trip.state_cookie, path="/sso")
    denied = app.client.get(
        "/sso/callback",
        params={"error": "access_denied", "state": state, "iss": app.issuer},
        follow_redirects=False,
    )
    assert denied.status_code == 400 and denied.json()["detail"]["rule"] == "sso_provider_error"
    assert "access_denied" in denied.json()["detail"]["reason"]
    assert app.user("alice") is None
    refusals = [(e.outcome, e.detail["rule"], e.actor) for e in app.entries()]
    unverified = "sso:unverified"
    assert refusals == [("failed", "sso_issuer", unverified), ("failed", "sso_provider_error", unverified)]


# --- the state cookie -------------------------------------------------------------------------


@_embedded
def test_a_tampered_expired_or_foreign_state_cookie_is_refused(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    trip = sign_in_at_provider(app, "alice")
    cookie = trip.state_cookie
    payload = cookie.rsplit(".", 2)[0].encode()  # what the cookie carries, without its signature

    def callback(state_cookie: str) -> httpx.Response:
        cookies = {sso.STATE_COOKIE: state_cookie}
        with TestClient(app.client.app, base_url=APP_URL, cookies=cookies) as browser:
            return browser.get(trip.callback_url, follow_redirects=False)

    flipped = cookie[:-5] + ("A" if cookie[-5] != "A" else "B") + cookie[-4:]
    foreign = TimestampSigner("t" * 40).sign(payload).decode()
    for forged in (flipped, foreign):
        refused = callback(forged)
        assert refused.status_code == 400 and refused.json()["detail"]["rule"] == "sso_state"
    with monkeypatch.context() as later:
        later.setattr(TimestampSigner, "get_timestamp", lambda _: int(time.time()) + sso.STATE_SECONDS + 1)
        expired = callback(cookie)
    assert expired.status_code == 400 and expired.json()["detail"]["rule"] == "sso_state"
    assert [(e.outcome, e.detail["rule"]) for e in app.entries()] == [("failed", "sso_state")] * 3

    assert callback(cookie).status_code == 303  # the cookie itself, in time, still signs alice in


# --- ID-token verification (no provider needed) -----------------------------------------------

ISSUER = "https://idp.example.test"


@dataclass(frozen=True)
class SigningKey:
    """An RSA key the test signs ID tokens with, and its public JWK as a provider publishes it."""

    pem: str
    public: dict[str, Any]


def _rsa_key(kid: str) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return SigningKey(pem, {**jwk.construct(pem, "RS256").public_key().to_dict(), "kid": kid, "use": "sig"})


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return _rsa_key("k1")


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "u-1", "aud": CLIENT_ID, "nonce": "n-1", "iat": now, "exp": now + 300}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict[str, Any], key: str, algorithm: str = "RS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": "k1"})


def _verify(token: str, key: SigningKey) -> dict[str, Any]:
    config = sso.SsoConfig(
        issuer=ISSUER,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        roles_claim="groups",
        role_map={},
        redirect_uri=CALLBACK,
    )
    provider = sso.openid_provider(config)
    # What discovery would have found (and marked found): a provider offering more than RS256.
    provider.server_metadata.update(
        issuer=ISSUER,
        authorization_endpoint=f"{ISSUER}/auth",
        token_endpoint=f"{ISSUER}/token",
        jwks_uri=f"{ISSUER}/jwks",
        jwks={"keys": [key.public]},
        id_token_signing_alg_values_supported=["RS256", "RS512", "HS256", "none"],
        _loaded_at=time.time(),
    )
    return asyncio.run(provider.parse_id_token({"id_token": token, "access_token": "at-1"}, nonce="n-1"))


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def test_a_good_id_token_verifies(rsa_key: SigningKey) -> None:
    assert _verify(_sign(_claims(), rsa_key.pem), rsa_key)["sub"] == "u-1"


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"iss": "https://evil.example.test"}, "iss"),
        ({"aud": "someone-else"}, "aud"),
        ({"aud": [CLIENT_ID, "someone-else"]}, "azp"),
        ({"nonce": "n-2"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"exp": int(time.time()) - 3600}, "exp"),
        ({"iat": int(time.time()) + 3600}, "iat"),
        ({"sub": None}, "sub"),
    ],
)
def test_id_token_claims_are_checked(rsa_key: SigningKey, changes: dict[str, Any], why: str) -> None:
    token = _sign(_claims(**changes), rsa_key.pem)
    with pytest.raises(sso.IdTokenInvalid):
        _verify(token, rsa_key)


def test_only_rs256_signatures_are_accepted(rsa_key: SigningKey) -> None:
    other_alg = _sign(_claims(), rsa_key.pem, "RS512")
    hmac_signed = _sign(_claims(), secrets.token_hex(32), "HS256")
    unsigned = f"{_b64({'alg': 'none'})}.{_b64(_claims())}."
    forged = _sign(_claims(), _rsa_key("k1").pem)
    for token in (other_alg, hmac_signed, unsigned, forged):
        with pytest.raises(sso.IdTokenInvalid):
            _verify(token, rsa_key)


# --- mapping groups to roles (no provider needed) ---------------------------------------------


def test_role_map_values_are_parsed_and_checked() -> None:
    parsed = mapping.parse_role_map(
        {
            "a": "archivist",
            "b": "supervisor department=legal clearance=secret",
            "c": "archivist,clearance=top_secret",
        }
    )
    assert parsed["a"] == mapping.Assignment(Role.archivist)
    assert parsed["b"] == mapping.Assignment(Role.supervisor, Department.legal, Clearance.secret)
    assert parsed["c"].clearance == Clearance.top_secret
    for bad in (
        "",
        "wizard",
        "applicant",
        "supervisor",
        "archivist department=legal",
        "archivist clearance=x",
        "archivist colour=red",
        "archivist secret",
    ):
        with pytest.raises(mapping.SsoMisconfigured, match="CASEVAULT_OIDC_ROLE_MAP"):
            mapping.parse_role_map({"g": bad})
    with pytest.raises(mapping.SsoMisconfigured):
        mapping.parse_role_map({})


def test_groups_are_mapped_to_one_role() -> None:
    role_map = mapping.parse_role_map(
        {
            "staff": "archivist",
            "staff-secret": "archivist clearance=secret",
            "managers": "archive_manager",
            "legal": "supervisor department=legal",
            "petition": "supervisor department=petition",
        }
    )

    def assign(claims: dict[str, Any], claim: str = "groups") -> mapping.Matched:
        return mapping.assign(claims, roles_claim=claim, role_map=role_map)

    both = assign({"groups": ["staff", "staff-secret", "other"]})
    assert both.assignment == mapping.Assignment(Role.archivist, None, Clearance.secret)
    assert both.groups == ("staff", "staff-secret")
    assert assign({"groups": "legal"}).assignment.department == Department.legal
    nested = assign({"realm_access": {"roles": ["managers"]}}, "realm_access.roles")
    assert nested.assignment.role == Role.archive_manager
    for claims, words in [
        ({"groups": ["other"]}, "not mapped to any casevault role"),
        ({}, "none"),
        ({"groups": ["staff", "managers"]}, "more than one role"),
        ({"groups": ["legal", "petition"]}, "more than one department"),
    ]:
        with pytest.raises(mapping.SsoRefused, match=words):
            assign(claims)
