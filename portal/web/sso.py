"""Single sign-on (OpenID Connect) through authlib's Starlette client: code flow, PKCE (S256), state, nonce.

`GET /sso/login` has authlib discover the provider (`{issuer}/.well-known/openid-configuration`),
make state, nonce and PKCE verifier, and keep them in the browser's state cookie (Starlette's
signed session cookie: HttpOnly, SameSite=Lax so it comes back on the provider's redirect, path
/sso, ten minutes), then redirects to the provider. `GET /sso/callback` checks the RFC 9207
`iss` parameter, and has authlib check state, exchange the code and verify the ID token against
the provider's JWKS, with the algorithm pinned to RS256 and issuer, audience, authorized party,
nonce, expiry and issued-at checked. It then maps the user's groups to a role (`access.federation`),
finds or creates the user by issuer and subject, starts a browser session and answers 303 to
`/`. Every success and failure is ledgered as `auth.sso` with the source address.

Roles follow the identity provider: each sign-in updates role, department and clearance from
the groups (see `access.federation`). When the groups are not in the ID token they are read from the
userinfo endpoint, whose `sub` must match the ID token's.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import ipaddress
import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.integrations.base_client import MismatchingStateError, OAuthError

with warnings.catch_warnings():  # authlib asks for the `httpx2` fork; plain httpx works the same
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App
from authlib.oidc.core import UserInfo
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware

from access import federation as mapping
from access import ledger
from portal.settings import Settings
from portal.web.auth import DB, client_address, sign_in, wired_of
from portal.web.errors import RETRY_AFTER
from portal.web.pages import start_page
from portal.wiring import token_secret

router = APIRouter(prefix="/sso", include_in_schema=False)

STATE_COOKIE = "casevault_sso"
STATE_PATH = "/sso"
STATE_SECONDS = 600
ID_TOKEN_ALGORITHM = "RS256"  # pinned: a token signed with anything else is refused
LEEWAY_SECONDS = 60
HTTP_TIMEOUT = 10.0
_UNVERIFIED = "sso:unverified"


class IdpUnavailable(Exception):
    """The identity provider could not be reached or answered nonsense."""


class IdTokenInvalid(Exception):
    """The ID token failed verification; the message says which check."""


@dataclass(frozen=True)
class SsoConfig:
    """The checked single sign-on settings."""

    issuer: str
    client_id: str
    client_secret: str | None
    roles_claim: str
    role_map: dict[str, mapping.Assignment]
    redirect_uri: str


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
    )


def state_secret(settings: Settings) -> str:
    """The key that signs the state cookie: derived from the token secret, used for nothing else."""
    secret = token_secret(settings).encode()
    return hmac.new(secret, b"casevault sso state cookie v2", hashlib.sha256).hexdigest()


def add_state_cookie(app: FastAPI, settings: Settings) -> None:
    """Where single sign-on is on, give /sso the session authlib keeps a sign-in's state in."""
    if settings.oidc_issuer is None:
        return
    app.add_middleware(
        SessionMiddleware,
        secret_key=state_secret(settings),
        session_cookie=STATE_COOKIE,
        max_age=STATE_SECONDS,  # also the oldest signature accepted: an older cookie is ignored
        path=STATE_PATH,
        same_site="lax",  # Strict would not come back on the provider's cross-site redirect
        https_only=settings.cookie_secure,
    )


def _unusable(metadata: dict[str, Any], *, issuer: str) -> Exception | None:
    """Why discovered metadata cannot be trusted, if it cannot."""
    if metadata.get("issuer") != issuer:
        return IdpUnavailable(f"discovery names issuer {metadata.get('issuer')!r}, not {issuer!r}")
    endpoints = ("authorization_endpoint", "token_endpoint", "jwks_uri")
    if missing := [name for name in endpoints if not metadata.get(name)]:
        return IdpUnavailable(f"discovery document lacks {', '.join(missing)}")
    offered = metadata.get("id_token_signing_alg_values_supported") or []
    if ID_TOKEN_ALGORITHM not in offered:
        return mapping.SsoMisconfigured(
            f"the identity provider does not sign ID tokens with {ID_TOKEN_ALGORITHM} (offers {offered})"
        )
    return None


class OpenIDProvider(StarletteOAuth2App):
    """authlib's OpenID client, trusting only the configured issuer and RS256-signed ID tokens."""

    def __init__(self, *args: Any, issuer: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.issuer = issuer

    async def load_server_metadata(self) -> dict[str, Any]:
        """The discovered metadata, ID-token algorithm pinned; unusable metadata is discovered again."""
        metadata: dict[str, Any] = await super().load_server_metadata()
        problem = _unusable(metadata, issuer=self.issuer)
        if problem is not None:
            self.server_metadata.pop("_loaded_at", None)  # authlib's mark of a finished discovery
            raise problem
        return {**metadata, "id_token_signing_alg_values_supported": [ID_TOKEN_ALGORITHM]}

    async def parse_id_token(
        self,
        token: dict[str, Any],
        nonce: str,
        claims_options: object = None,
        claims_cls: object = None,
        leeway: int = LEEWAY_SECONDS,
    ) -> UserInfo:
        """The ID token's claims, once authlib has checked signature, issuer, audience, azp, nonce, times."""
        del claims_options, leeway  # whoever calls, the issuer, audience and leeway are ours
        await self.load_server_metadata()  # its failures are the provider's, not the token's
        options = {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "value": self.client_id},
        }
        try:
            claims: UserInfo | None = await super().parse_id_token(
                token, nonce, claims_options=options, claims_cls=claims_cls, leeway=LEEWAY_SECONDS
            )
        except httpx.HTTPError:
            raise  # the keys could not be fetched: the provider is unavailable
        except Exception as exc:  # authlib raises joserfc's errors, or ValueError on a malformed token
            raise IdTokenInvalid(f"{exc.__class__.__name__}: {exc}") from exc
        if claims is None:
            raise IdTokenInvalid("the identity provider returned no ID token")
        return claims


def openid_provider(config: SsoConfig) -> OpenIDProvider:
    """authlib's client for the configured provider; it discovers the provider on first use."""
    provider: OpenIDProvider = OAuth().register(
        "casevault",
        client_cls=OpenIDProvider,
        issuer=config.issuer,
        client_id=config.client_id,
        client_secret=config.client_secret,
        server_metadata_url=f"{config.issuer}/.well-known/openid-configuration",
        client_kwargs={
            "token_endpoint_auth_method": "client_secret_basic" if config.client_secret else "none",
            "code_challenge_method": "S256",
            "timeout": HTTP_TIMEOUT,
            "follow_redirects": False,
        },
    )
    return provider


def _provider_of(request: Request, config: SsoConfig) -> OpenIDProvider:
    """This app's client, made once: it keeps the discovered metadata and keys."""
    state = request.app.state
    if getattr(state, "sso_provider", None) is None:
        state.sso_provider = openid_provider(config)
    return state.sso_provider


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


def _misconfigured(exc: mapping.SsoMisconfigured) -> tuple[int, str, str]:
    return 500, "sso_configuration", f"single sign-on is misconfigured: {exc}"


def _unavailable(exc: Exception) -> tuple[int, str, str]:
    return 503, "sso_unavailable", f"the identity provider is unavailable: {exc}"


def _scope(config: SsoConfig, supported: object) -> str:
    """The scopes to ask for: the standard ones, and the roles claim's own scope where offered."""
    if not isinstance(supported, list):  # scopes_supported is only RECOMMENDED: ask for the standard scopes
        return "openid profile email"
    wanted = ["openid", "profile", "email", config.roles_claim.split(".")[0]]
    return " ".join(s for s in dict.fromkeys(wanted) if s == "openid" or s in supported)


# --- routes -----------------------------------------------------------------------------------


@router.get("/login")
async def sso_login(request: Request) -> Response:
    """Start single sign-on: authlib keeps state, nonce and PKCE verifier in the state cookie."""
    try:
        config = config_of(wired_of(request).settings)
        if config is None:
            return _not_configured()
        provider = _provider_of(request, config)
        metadata = await provider.load_server_metadata()
    except mapping.SsoMisconfigured as exc:
        return _problem(request, *_misconfigured(exc))
    except (IdpUnavailable, httpx.HTTPError, ValueError) as exc:
        return _problem(request, *_unavailable(exc))
    authorization = await provider.create_authorization_url(
        config.redirect_uri, scope=_scope(config, metadata.get("scopes_supported"))
    )
    await provider.save_authorize_data(
        request,
        redirect_uri=config.redirect_uri,
        state=authorization["state"],
        nonce=authorization["nonce"],
        code_verifier=authorization["code_verifier"],
    )
    return RedirectResponse(authorization["url"], status_code=303, headers={"Cache-Control": "no-store"})


class _Refused(Exception):
    """The callback cannot sign anyone in: status, rule and reason for the answer and the ledger."""

    def __init__(self, status: int, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.rule, self.reason = status, rule, reason


@dataclass
class _Attempt:
    """One callback being handled: what is known so far, for the ledger."""

    issuer: str
    sub: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        return f"sso:{self.issuer}|{self.sub}"[:128] if self.sub else _UNVERIFIED


async def _verify(request: Request, attempt: _Attempt, config: SsoConfig) -> None:
    """Have authlib check the provider's answer, and gather the claims (from userinfo too)."""
    params = request.query_params
    provider = _provider_of(request, config)
    try:
        metadata = await provider.load_server_metadata()
        if (
            "iss" in params or metadata.get("authorization_response_iss_parameter_supported")
        ) and params.get("iss") != config.issuer:
            raise _Refused(
                400, "sso_issuer", "the response does not come from the configured identity provider"
            )
        token = await provider.authorize_access_token(request)
    except MismatchingStateError as exc:
        raise _Refused(
            400,
            "sso_state",
            "the state parameter does not match this sign-in, or it has expired or was not started "
            "here (no valid state cookie); start again",
        ) from exc
    except OAuthError as exc:
        if "error" in params:
            said = f"{params.get('error', '')[:64]} {params.get('error_description', '')[:200]}".strip()
            reason = f"the identity provider did not sign you in: {said}"
            raise _Refused(400, "sso_provider_error", reason) from exc
        reason = f"{exc.error}: {exc.description}" if exc.description else str(exc.error)
        raise _Refused(
            400,
            "sso_code",
            f"the identity provider refused the authorization code ({reason}); "
            "it may have been used already or expired — start again",
        ) from exc
    except IdTokenInvalid as exc:
        raise _Refused(401, "sso_id_token", f"the ID token failed verification: {exc}") from exc
    except mapping.SsoMisconfigured as exc:
        raise _Refused(*_misconfigured(exc)) from exc
    except (IdpUnavailable, httpx.HTTPError, ValueError) as exc:
        raise _Refused(*_unavailable(exc)) from exc
    if "userinfo" not in token:
        raise _Refused(401, "sso_id_token", "the identity provider returned no ID token")
    attempt.claims = dict(token["userinfo"])
    attempt.sub = str(attempt.claims["sub"])

    if mapping.claim_value(attempt.claims, config.roles_claim) is None and (
        metadata.get("userinfo_endpoint") and token.get("access_token")
    ):
        # Many providers release groups only at the userinfo endpoint.
        try:
            extra = dict(await provider.userinfo(token=token))
        except (httpx.HTTPError, ValueError) as exc:
            raise _Refused(*_unavailable(exc)) from exc
        if extra.get("sub") != attempt.claims["sub"]:
            raise _Refused(401, "sso_userinfo", "userinfo names a different subject than the ID token")
        attempt.claims = {**extra, **attempt.claims}


def _finish(request: Request, session: Session, attempt: _Attempt, config: SsoConfig) -> Response:
    """Map the verified claims to a user, ledger the sign-in and start a browser session."""
    now = wired_of(request).clock()
    claims = attempt.claims
    try:
        matched = mapping.assign(claims, roles_claim=config.roles_claim, role_map=config.role_map)
        user, created = mapping.find_or_create(
            session, issuer=config.issuer, claims=claims, assignment=matched.assignment, now=now
        )
    except mapping.SsoRefused as exc:
        groups = mapping.groups_of(claims, config.roles_claim)[:50]
        return _refuse(request, session, attempt, _Refused(403, exc.rule, exc.reason), groups=groups)
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
    response = RedirectResponse(start_page(user.role), status_code=303, headers={"Cache-Control": "no-store"})
    sign_in(response, session, request=request, user=user)  # commits the user, ledger and session
    return response


def _refuse(
    request: Request, session: Session, attempt: _Attempt, refused: _Refused, **detail: Any
) -> Response:
    """Ledger the failure, answer with the reason, and forget the sign-in's state."""
    session.rollback()
    ledger.append(
        session,
        actor=attempt.actor,
        action="auth.sso",
        outcome="failed",
        source=client_address(request),
        at=wired_of(request).clock(),
        detail={
            "issuer": attempt.issuer,
            "sub": attempt.sub,
            "rule": refused.rule,
            "reason": refused.reason,
            **detail,
        },
    )
    session.commit()
    request.session.clear()  # the state cookie serves one callback only
    return _problem(request, refused.status, refused.rule, refused.reason)


@router.get("/callback")
async def sso_callback(request: Request, session: DB) -> Response:
    """Finish single sign-on: authlib checks state, code and ID token; then the user is signed in."""
    settings = wired_of(request).settings
    attempt = _Attempt(issuer=settings.oidc_issuer or "")
    try:
        config = config_of(settings)
    except mapping.SsoMisconfigured as exc:
        return await run_in_threadpool(_refuse, request, session, attempt, _Refused(*_misconfigured(exc)))
    if config is None:
        return _not_configured()
    attempt.issuer = config.issuer
    try:
        await _verify(request, attempt, config)
    except _Refused as refused:
        return await run_in_threadpool(_refuse, request, session, attempt, refused)
    # The database work runs off the event loop, as it does for every other route.
    return await run_in_threadpool(_finish, request, session, attempt, config)
