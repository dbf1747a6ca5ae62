"""Single sign-on (OpenID Connect): authorization code flow with PKCE (S256), state and nonce.

`GET /sso/login` discovers the provider (`{issuer}/.well-known/openid-configuration`), keeps
state, nonce and the PKCE code verifier in a short-lived encrypted cookie (HttpOnly,
SameSite=Lax so it comes back on the provider's redirect, path /sso) and redirects to the
provider. `GET /sso/callback` checks state (and the RFC 9207 `iss` parameter), exchanges the code
with authlib's httpx client, verifies the ID token against the provider's JWKS with the
algorithm pinned to RS256 (issuer, audience, authorized party, nonce, expiry, issued-at),
maps the user's groups to a role (`access.federation`), finds or creates the user by issuer and
subject, starts a browser session and answers 303 to `/`. Every success and failure is
ledgered as `auth.sso` with the source address.

Roles follow the identity provider: each sign-in updates role, department and clearance from
the groups (see `access.federation`). When the groups are not in the ID token they are read from the
userinfo endpoint, whose `sub` must match the ID token's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import ipaddress
import json
import secrets
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.common.errors import AuthlibBaseError

with warnings.catch_warnings():  # authlib asks for the `httpx2` fork; plain httpx works the same
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import OAuth2Client
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from joserfc import jwe, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey
from joserfc.jwt import JWTClaimsRegistry
from sqlalchemy.orm import Session

from access import federation as mapping
from access import ledger
from portal.settings import Settings
from portal.web.auth import DB, client_address, sign_in, wired_of
from portal.wiring import token_secret

router = APIRouter(prefix="/sso", include_in_schema=False)

STATE_COOKIE = "casevault_sso"
STATE_PATH = "/sso"
STATE_SECONDS = 600
ID_TOKEN_ALGORITHM = "RS256"  # pinned: a token signed with anything else is refused
LEEWAY_SECONDS = 60
HTTP_TIMEOUT = 10.0
DISCOVERY_SECONDS = 300
RETRY_AFTER = "30"
_STATE_ALGORITHMS = ["dir", "A256GCM"]
_UNVERIFIED = "sso:unverified"


class IdpUnavailable(Exception):
    """The identity provider could not be reached or answered nonsense."""


class IdTokenInvalid(Exception):
    """The ID token failed verification; the message says which check."""


@dataclass(frozen=True)
class ProviderInfo:
    """What discovery tells about the identity provider."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    scopes_supported: frozenset[str] | None
    iss_parameter: bool


@dataclass(frozen=True)
class SsoConfig:
    """The checked single sign-on settings."""

    issuer: str
    client_id: str
    client_secret: str | None
    roles_claim: str
    role_map: dict[str, mapping.Assignment]
    redirect_uri: str
    cookie_secure: bool


# --- configuration and discovery --------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def config_of(settings: Settings) -> SsoConfig | None:
    """The checked settings, None when single sign-on is off; misconfiguration names the setting."""
    if settings.oidc_issuer is None:
        return None
    issuer = settings.oidc_issuer.rstrip("/")
    parts = urlsplit(issuer)
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(parts.hostname or "")):
        raise mapping.SsoMisconfigured(
            "CASEVAULT_OIDC_ISSUER: must be an https:// URL (http only on loopback)"
        )
    if not settings.oidc_client_id:
        raise mapping.SsoMisconfigured("CASEVAULT_OIDC_CLIENT_ID: required when CASEVAULT_OIDC_ISSUER is set")
    return SsoConfig(
        issuer=issuer,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret or None,
        roles_claim=settings.oidc_roles_claim,
        role_map=mapping.parse_role_map(settings.oidc_role_map),
        redirect_uri=f"{settings.public_url.rstrip('/')}/sso/callback",
        cookie_secure=settings.cookie_secure,
    )


_lock = threading.Lock()
_discovered: dict[str, tuple[float, ProviderInfo]] = {}
_jwks: dict[str, KeySet] = {}


def _get_json(url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=HTTP_TIMEOUT, follow_redirects=False, **kwargs)
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise IdpUnavailable(f"{url}: {exc.__class__.__name__}: {exc}") from exc
    if not isinstance(body, dict):
        raise IdpUnavailable(f"{url}: not a JSON object")
    return body


def discover(issuer: str) -> ProviderInfo:
    """The provider's metadata, fetched from its discovery document and cached a few minutes."""
    with _lock:
        cached = _discovered.get(issuer)
    if cached is not None and time.monotonic() - cached[0] < DISCOVERY_SECONDS:
        return cached[1]
    doc = _get_json(f"{issuer}/.well-known/openid-configuration")
    if doc.get("issuer") != issuer:
        raise IdpUnavailable(f"discovery names issuer {doc.get('issuer')!r}, not {issuer!r}")
    try:
        endpoints = {
            name: str(doc[name]) for name in ("authorization_endpoint", "token_endpoint", "jwks_uri")
        }
    except KeyError as exc:
        raise IdpUnavailable(f"discovery document lacks {exc.args[0]}") from exc
    algorithms = doc.get("id_token_signing_alg_values_supported") or []
    if ID_TOKEN_ALGORITHM not in algorithms:
        raise mapping.SsoMisconfigured(
            f"the identity provider does not sign ID tokens with {ID_TOKEN_ALGORITHM} (offers {algorithms})"
        )
    scopes = doc.get("scopes_supported")
    info = ProviderInfo(
        issuer=issuer,
        userinfo_endpoint=doc.get("userinfo_endpoint"),
        scopes_supported=frozenset(scopes) if isinstance(scopes, list) else None,
        iss_parameter=bool(doc.get("authorization_response_iss_parameter_supported")),
        **endpoints,
    )
    with _lock:
        _discovered[issuer] = (time.monotonic(), info)
    return info


def _fetch_keys(jwks_uri: str) -> KeySet:
    body = _get_json(jwks_uri)
    # Only RSA signing keys: nothing else can verify an RS256 signature.
    keys = [
        key
        for key in body.get("keys", [])
        if isinstance(key, dict) and key.get("kty") == "RSA" and key.get("use", "sig") == "sig"
    ]
    try:
        key_set = KeySet.import_key_set({"keys": keys})
    except (JoseError, ValueError) as exc:
        raise IdpUnavailable(f"{jwks_uri}: unusable keys ({exc})") from exc
    with _lock:
        _jwks[jwks_uri] = key_set
    return key_set


def provider_keys(jwks_uri: str, *, kid: str | None) -> KeySet:
    """The provider's signing keys; fetched again when a token names a key not seen yet (rotation)."""
    with _lock:
        key_set = _jwks.get(jwks_uri)
    if key_set is None or (kid is not None and all(key.kid != kid for key in key_set.keys)):
        key_set = _fetch_keys(jwks_uri)
    return key_set


# --- the ID token -----------------------------------------------------------------------------


def _unverified_header(token: str) -> dict[str, Any]:
    try:
        segment = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, IndexError) as exc:
        raise IdTokenInvalid("the ID token is not a compact JWS") from exc
    if not isinstance(header, dict):
        raise IdTokenInvalid("the ID token's header is not a JSON object")
    return header


def verify_id_token(
    token: str, *, keys: KeySet, issuer: str, client_id: str, nonce: str, now: int
) -> dict[str, Any]:
    """The ID token's claims once signature (RS256 only), issuer, audience, nonce and times check out."""
    try:
        decoded = jwt.decode(token, keys, algorithms=[ID_TOKEN_ALGORITHM])
    except (JoseError, ValueError) as exc:
        raise IdTokenInvalid(f"signature or format: {exc}") from exc
    if decoded.header.get("alg") != ID_TOKEN_ALGORITHM:
        raise IdTokenInvalid(f"algorithm {decoded.header.get('alg')!r} is not {ID_TOKEN_ALGORITHM}")
    claims = dict(decoded.claims)
    registry = JWTClaimsRegistry(
        now=now,
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise IdTokenInvalid(f"claims: {exc}") from exc
    if not isinstance(claims.get("nonce"), str) or not hmac.compare_digest(
        claims["nonce"].encode(), nonce.encode()
    ):
        raise IdTokenInvalid("nonce does not match this sign-in")
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if ("azp" in claims or len(audiences) > 1) and claims.get("azp") != client_id:
        raise IdTokenInvalid("authorized party (azp) is not this client")
    return claims


# --- the state cookie -------------------------------------------------------------------------


def _state_key(settings: Settings) -> OctKey:
    secret = token_secret(settings).encode()
    return OctKey.import_key(hmac.new(secret, b"casevault sso state cookie v1", hashlib.sha256).digest())


def seal_state(settings: Settings, values: Mapping[str, Any]) -> str:
    """State, nonce and code verifier, encrypted and authenticated (JWE dir + A256GCM)."""
    payload = json.dumps(dict(values), separators=(",", ":")).encode()
    return jwe.encrypt_compact({"alg": "dir", "enc": "A256GCM"}, payload, _state_key(settings))


def open_state(settings: Settings, cookie: str, *, now: float) -> dict[str, Any] | None:
    """The sealed values if the cookie is ours and unexpired, else None."""
    try:
        plain = jwe.decrypt_compact(cookie, _state_key(settings), algorithms=_STATE_ALGORITHMS).plaintext
        values = json.loads(plain or b"")
    except (JoseError, ValueError):
        return None
    if not isinstance(values, dict) or not isinstance(values.get("exp"), int | float) or values["exp"] <= now:
        return None
    return values


# --- responses --------------------------------------------------------------------------------


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def _problem(request: Request, status: int, rule: str, reason: str) -> Response:
    headers = {"Retry-After": RETRY_AFTER} if status == 503 else None
    if _wants_html(request):
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            "<title>Single sign-on failed</title></head><body><main>"
            f"<h1>Single sign-on failed</h1><p>{html.escape(reason)}</p>"
            f"<p><small>rule: {html.escape(rule)}</small></p>"
            '<p><a href="/sso/login">Try again</a> · <a href="/">Home</a></p></main></body></html>'
        )
        response: Response = HTMLResponse(body, status_code=status, headers=headers)
    else:
        response = JSONResponse(
            {"detail": {"rule": rule, "reason": reason}}, status_code=status, headers=headers
        )
    response.headers["Cache-Control"] = "no-store"
    return response


def _not_configured() -> JSONResponse:
    return JSONResponse(
        {
            "detail": "single sign-on is not configured: set CASEVAULT_OIDC_ISSUER, "
            "CASEVAULT_OIDC_CLIENT_ID and CASEVAULT_OIDC_CLIENT_SECRET (and CASEVAULT_OIDC_ROLE_MAP)"
        },
        status_code=404,
    )


def _forget_state(response: Response, settings: Settings) -> None:
    """The state cookie serves one callback only."""
    response.delete_cookie(
        STATE_COOKIE, path=STATE_PATH, secure=settings.cookie_secure, httponly=True, samesite="lax"
    )


def _actor(issuer: str, sub: str | None) -> str:
    return f"sso:{issuer}|{sub}"[:128] if sub else _UNVERIFIED


@dataclass
class _Attempt:
    """One callback being handled: what is known so far, for the ledger."""

    request: Request
    session: Session
    issuer: str
    actor: str = _UNVERIFIED
    sub: str | None = None

    def fail(self, status: int, rule: str, reason: str, **detail: Any) -> Response:
        """Ledger the failure, answer with the reason, and forget the state cookie."""
        self.session.rollback()
        ledger.append(
            self.session,
            actor=self.actor,
            action="auth.sso",
            outcome="failed",
            source=client_address(self.request),
            at=wired_of(self.request).clock(),
            detail={"issuer": self.issuer, "sub": self.sub, "rule": rule, "reason": reason, **detail},
        )
        self.session.commit()
        response = _problem(self.request, status, rule, reason)
        _forget_state(response, wired_of(self.request).settings)
        return response


# --- routes -----------------------------------------------------------------------------------


def _scope(config: SsoConfig, info: ProviderInfo) -> str:
    """The scopes to ask for: the standard ones, and the roles claim's own scope where offered."""
    supported = info.scopes_supported
    if supported is None:  # scopes_supported is only RECOMMENDED: ask for the standard scopes
        return "openid profile email"
    wanted = ["openid", "profile", "email", config.roles_claim.split(".")[0]]
    return " ".join(s for s in dict.fromkeys(wanted) if s == "openid" or s in supported)


def _oauth_client(config: SsoConfig, *, scope: str | None = None) -> OAuth2Client:
    return OAuth2Client(
        client_id=config.client_id,
        client_secret=config.client_secret,
        token_endpoint_auth_method="client_secret_basic" if config.client_secret else "none",
        scope=scope,
        redirect_uri=config.redirect_uri,
        code_challenge_method="S256",
        timeout=HTTP_TIMEOUT,
        follow_redirects=False,
    )


@router.get("/login")
def sso_login(request: Request) -> Response:
    """Start single sign-on: remember state, nonce and PKCE verifier, and go to the provider."""
    wired = wired_of(request)
    try:
        config = config_of(wired.settings)
        if config is None:
            return _not_configured()
        info = discover(config.issuer)
    except mapping.SsoMisconfigured as exc:
        return _problem(request, 500, "sso_configuration", f"single sign-on is misconfigured: {exc}")
    except IdpUnavailable as exc:
        return _problem(request, 503, "sso_unavailable", f"the identity provider is unavailable: {exc}")
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43–128
    with _oauth_client(config, scope=_scope(config, info)) as client:
        url, _ = client.create_authorization_url(
            info.authorization_endpoint, state=state, nonce=nonce, code_verifier=verifier
        )
    sealed = seal_state(
        wired.settings,
        {
            "state": state,
            "nonce": nonce,
            "verifier": verifier,
            "issuer": config.issuer,
            "exp": int(wired.clock().timestamp()) + STATE_SECONDS,
        },
    )
    response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        STATE_COOKIE,
        sealed,
        max_age=STATE_SECONDS,
        path=STATE_PATH,
        httponly=True,
        secure=config.cookie_secure,
        samesite="lax",  # Strict would not come back on the provider's cross-site redirect
    )
    return response


def _exchange(config: SsoConfig, info: ProviderInfo, *, code: str, verifier: str) -> dict[str, Any]:
    with _oauth_client(config) as client:
        token = client.fetch_token(
            info.token_endpoint, grant_type="authorization_code", code=code, code_verifier=verifier
        )
    return dict(token)


def _userinfo(info: ProviderInfo, access_token: str) -> dict[str, Any] | None:
    if info.userinfo_endpoint is None or not access_token:
        return None
    return _get_json(info.userinfo_endpoint, headers={"Authorization": f"Bearer {access_token}"})


@router.get("/callback")
def sso_callback(request: Request, session: DB) -> Response:
    """Finish single sign-on: check state, exchange the code, verify the ID token, sign the user in."""
    wired = wired_of(request)
    settings = wired.settings
    attempt = _Attempt(request=request, session=session, issuer=settings.oidc_issuer or "")
    try:
        config = config_of(settings)
    except mapping.SsoMisconfigured as exc:
        return attempt.fail(500, "sso_configuration", f"single sign-on is misconfigured: {exc}")
    if config is None:
        return _not_configured()
    attempt.issuer = config.issuer
    params = request.query_params
    now = wired.clock()

    sealed = request.cookies.get(STATE_COOKIE)
    saved = open_state(settings, sealed, now=now.timestamp()) if sealed else None
    if saved is None or saved.get("issuer") != config.issuer:
        return attempt.fail(
            400,
            "sso_state",
            "this sign-in has expired or was not started here (no valid state cookie); start again",
        )
    if not hmac.compare_digest(params.get("state", "").encode(), str(saved["state"]).encode()):
        return attempt.fail(400, "sso_state", "the state parameter does not match this sign-in; start again")
    try:
        info = discover(config.issuer)
    except mapping.SsoMisconfigured as exc:
        return attempt.fail(500, "sso_configuration", f"single sign-on is misconfigured: {exc}")
    except IdpUnavailable as exc:
        return attempt.fail(503, "sso_unavailable", f"the identity provider is unavailable: {exc}")
    if ("iss" in params or info.iss_parameter) and params.get("iss") != config.issuer:
        return attempt.fail(
            400, "sso_issuer", "the response does not come from the configured identity provider"
        )
    if "error" in params:
        error = params.get("error", "")[:64]
        description = params.get("error_description", "")[:200]
        return attempt.fail(
            400,
            "sso_provider_error",
            f"the identity provider did not sign you in: {error} {description}".strip(),
        )
    code = params.get("code")
    if not code:
        return attempt.fail(400, "sso_code", "the response carries no authorization code")

    try:
        token = _exchange(config, info, code=code, verifier=str(saved["verifier"]))
    except AuthlibBaseError as exc:
        reason = f"{exc.error}: {exc.description}" if exc.description else str(exc.error)
        return attempt.fail(
            400,
            "sso_code",
            f"the identity provider refused the authorization code ({reason}); "
            "it may have been used already or expired — start again",
        )
    except (httpx.HTTPError, ValueError) as exc:
        return attempt.fail(503, "sso_unavailable", f"the identity provider is unavailable: {exc}")

    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        return attempt.fail(401, "sso_id_token", "the identity provider returned no ID token")
    try:
        kid = _unverified_header(id_token).get("kid")
        keys = provider_keys(info.jwks_uri, kid=kid if isinstance(kid, str) else None)
        claims = verify_id_token(
            id_token,
            keys=keys,
            issuer=config.issuer,
            client_id=config.client_id,
            nonce=str(saved["nonce"]),
            now=int(now.timestamp()),
        )
    except IdTokenInvalid as exc:
        return attempt.fail(401, "sso_id_token", f"the ID token failed verification: {exc}")
    except IdpUnavailable as exc:
        return attempt.fail(503, "sso_unavailable", f"the identity provider is unavailable: {exc}")
    attempt.sub = str(claims["sub"])
    attempt.actor = _actor(config.issuer, attempt.sub)

    if mapping.claim_value(claims, config.roles_claim) is None:
        # Many providers release groups only at the userinfo endpoint.
        try:
            extra = _userinfo(info, str(token.get("access_token", "")))
        except IdpUnavailable as exc:
            return attempt.fail(503, "sso_unavailable", f"the identity provider is unavailable: {exc}")
        if extra is not None:
            if extra.get("sub") != claims["sub"]:
                return attempt.fail(
                    401, "sso_userinfo", "userinfo names a different subject than the ID token"
                )
            claims = {**extra, **claims}

    try:
        matched = mapping.assign(claims, roles_claim=config.roles_claim, role_map=config.role_map)
        user, created = mapping.find_or_create(
            session, issuer=config.issuer, claims=claims, assignment=matched.assignment, now=now
        )
    except mapping.SsoRefused as exc:
        groups = mapping.groups_of(claims, config.roles_claim)[:50]
        return attempt.fail(403, exc.rule, exc.reason, groups=groups)

    ledger.append(
        session,
        actor=user.username,
        action="auth.sso",
        outcome="ok",
        source=client_address(request),
        at=now,
        detail={
            "issuer": config.issuer,
            "sub": attempt.sub,
            "groups": list(matched.groups),
            "role": user.role,
            "created": created,
        },
    )
    response = RedirectResponse("/", status_code=303, headers={"Cache-Control": "no-store"})
    _forget_state(response, settings)
    sign_in(response, session, request=request, user=user)  # commits the user, ledger and session
    return response
