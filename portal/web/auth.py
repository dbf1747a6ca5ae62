"""Who is calling: bearer tokens for the API, session cookies for pages, CSRF for both (a router
dependency per kind: the form field for pages, a header for the API).

Two doors share the mechanics and nothing else: the internal portal (staff) and the public
portal (applicants) each have their own cookie, token audience and token secret, and each
refuses the other's people.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from access import identities, ledger, sessions, tokens
from access.models import Clearance, Role, User, WebSession
from access.policy import Context, Subject, load_grants
from portal.settings import Settings
from portal.wiring import (
    PUBLIC_TOKEN_SECRET,
    TOKEN_SECRET,
    PublicWired,
    Wired,
    public_token_secret,
    retired_token_secrets,
    token_secret,
)

ISSUER = "casevault"


@dataclass(frozen=True)
class Door:
    """One way in: its cookie, token audience and secret, and who may come through it."""

    cookie: str
    audience: str
    cookie_path: str
    public: bool  # applicants only; else staff only
    secret: Callable[[Settings], str]
    key_file: str  # under the data dir's keys/; its rotated-out secrets are kept beside it

    def admits(self, user: User) -> bool:
        """Applicants use the public door, staff the internal one."""
        return (user.role == Role.applicant) == self.public


INTERNAL = Door("casevault_session", "casevault-internal", "/", False, token_secret, TOKEN_SECRET)
PUBLIC = Door(
    "casevault_public", "casevault-public", "/public", True, public_token_secret, PUBLIC_TOKEN_SECRET
)
SESSION_COOKIE = INTERNAL.cookie


def wired_of(request: Request) -> Wired:
    """The wired archive this (internal) app was built with."""
    return request.app.state.wired


def public_wired_of(request: Request) -> PublicWired:
    """The wiring of either app; the public app's holds no archive realm."""
    return request.app.state.wired


def db(request: Request) -> Iterator[Session]:
    """One database session per request."""
    with public_wired_of(request).sessions() as session:
        yield session


DB = Annotated[Session, Depends(db)]


def token_settings(wired: PublicWired, *, door: Door = INTERNAL) -> tokens.TokenSettings:
    """Token settings for a door from the wired settings, with the secrets rotated out."""
    return tokens.TokenSettings(
        secret=door.secret(wired.settings),
        issuer=ISSUER,
        audience=door.audience,
        lifetime=timedelta(minutes=wired.settings.token_minutes),
        retired=retired_token_secrets(wired.settings, door.key_file),
    )


def subject_of(user: User) -> Subject:
    """The policy's view of a user."""
    return Subject(
        username=user.username,
        role=Role(user.role),
        clearance=Clearance(user.clearance),
        department=user.department,
        user_id=user.id,
    )


@dataclass(frozen=True)
class Principal:
    """The signed-in user, and the browser session when signed in by cookie."""

    user: User
    web: WebSession | None

    @property
    def subject(self) -> Subject:
        """The policy's view of this user."""
        return subject_of(self.user)


def client_address(request: Request) -> str | None:
    """The peer address, for the ledger."""
    return request.client.host if request.client else None


def _unauthenticated(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def caller_at(door: Door, request: Request, session: Session) -> Principal | None:
    """The caller at a door if signed in there by bearer token or session cookie, else None."""
    wired = public_wired_of(request)
    now = wired.clock()
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value:
            raise _unauthenticated("Authorization must be 'Bearer <token>'")
        try:
            claims = tokens.read(value.strip(), settings=token_settings(wired, door=door), now=now)
        except tokens.TokenInvalid as exc:
            raise _unauthenticated(f"invalid token: {exc}") from exc
        user = session.query(User).filter_by(username=claims["sub"]).one_or_none()
        if user is None or user.disabled or claims.get("tv") != user.token_version or not door.admits(user):
            raise _unauthenticated("token no longer valid; sign in again")
        return Principal(user=user, web=None)
    cookie = request.cookies.get(door.cookie)
    if cookie:
        found = sessions.resume(session, cookie=cookie, now=now)
        if found is not None and door.admits(found[1]):
            return Principal(user=found[1], web=found[0])
    return None


def optional_principal(request: Request, session: DB) -> Principal | None:
    """The staff member calling the internal portal, if signed in."""
    return caller_at(INTERNAL, request, session)


def authenticate_at(
    door: Door, request: Request, session: Session, *, username: str, password: str
) -> User | None:
    """Check a password (lockout and ledger included, committed); people of the other door are refused
    before their password is checked."""
    wired = public_wired_of(request)
    settings = wired.settings
    user = identities.authenticate(
        session,
        username=username,
        password=password,
        now=wired.clock(),
        source=client_address(request),
        lockout=identities.Lockout(settings.lockout_attempts, settings.lockout_minutes),
        admits=door.admits,
        door=door.audience,
    )
    session.commit()
    return user


def password_token(
    door: Door, request: Request, session: Session, *, username: str, password: str
) -> dict[str, Any]:
    """The token endpoint of a door: a bearer token for the right password, else 401."""
    user = authenticate_at(door, request, session, username=username, password=password)
    if user is None:
        raise HTTPException(
            401,
            "wrong username or password, or the account is locked, disabled or not one of this portal's",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return issue_token(door, request, user)


def issue_token(door: Door, request: Request, user: User) -> dict[str, Any]:
    """A bearer token for a user who just proved their password at this door."""
    wired = public_wired_of(request)
    settings = token_settings(wired, door=door)
    token = tokens.issue(
        settings=settings, username=user.username, token_version=user.token_version, now=wired.clock()
    )
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": int(settings.lifetime.total_seconds()),
    }


def principal(caller: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    """The caller, who must be signed in."""
    if caller is None:
        raise _unauthenticated("sign in first")
    return caller


Caller = Annotated[Principal, Depends(principal)]


def policy_context(request: Request, session: Session, caller: Principal) -> Context:
    """The decision context for this request: time, address and the caller's grants."""
    wired = public_wired_of(request)
    return Context(
        now=wired.clock(),
        source=client_address(request),
        grants=load_grants(session, user_id=caller.user.id),
    )


# Methods that change state: a request by one of them carries the session's CSRF token.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
CsrfCheck = Callable[[Request, Session], Coroutine[Any, Any, None]]


def session_csrf_token(door: Door, request: Request, session: Session) -> str | None:
    """The CSRF token of the browser session the caller came with at this door; None for bearer
    tokens (browsers do not send them on their own) and for nobody signed in (the route refuses)."""
    caller = caller_at(door, request, session)
    return caller.web.csrf_token if caller is not None and caller.web is not None else None


async def _form_token(request: Request) -> str | None:
    # Starlette keeps the parsed form, so the route's own Form parameters read the same one.
    value = (await request.form()).get(CSRF_FIELD)
    return value if isinstance(value, str) else None


async def _header_token(request: Request) -> str | None:
    return request.headers.get(CSRF_HEADER)


def _csrf_check(door: Door, submitted: Callable[[Request], Awaitable[str | None]]) -> CsrfCheck:
    async def require_csrf(request: Request, session: DB) -> None:
        """Refuse (403) an unsafe request made with a session cookie that lacks the session's token.

        It reads the caller through the request's own database session (FastAPI hands the route
        the same one), so the route finds that caller again in the session, not in the database."""
        if request.method not in UNSAFE_METHODS:
            return
        expected = await run_in_threadpool(session_csrf_token, door, request, session)
        if expected is None:
            return
        given = await submitted(request)
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            reason = "missing or wrong CSRF token; reload the page"
            raise HTTPException(403, {"rule": "csrf", "reason": reason})

    return require_csrf


def form_csrf(door: Door) -> CsrfCheck:
    """A page router's CSRF check: forms posted with a session cookie carry the `csrf_token` field."""
    return _csrf_check(door, _form_token)


def header_csrf(door: Door) -> CsrfCheck:
    """An API router's CSRF check: calls made with a session cookie carry the `X-CSRF-Token` header."""
    return _csrf_check(door, _header_token)


# One per kind and door, on every router but the sign-in ones (which check the pre-session pair).
PAGE_CSRF = Depends(form_csrf(INTERNAL))
API_CSRF = Depends(header_csrf(INTERNAL))
PUBLIC_PAGE_CSRF = Depends(form_csrf(PUBLIC))
PUBLIC_API_CSRF = Depends(header_csrf(PUBLIC))


def sign_in(
    response: Response, session: Session, *, request: Request, user: User, door: Door = INTERNAL
) -> None:
    """Start a fresh browser session (never reusing one from before sign-in) and set its cookie."""
    wired = public_wired_of(request)
    now = wired.clock()
    stale = request.cookies.get(door.cookie)
    if stale:
        sessions.end(session, cookie=stale, now=now)
    value, row = sessions.start(session, user=user, now=now)
    ledger.append(
        session,
        actor=user.username,
        action="auth.session_start",
        outcome="ok",
        source=client_address(request),
        at=now,
    )
    session.commit()
    response.set_cookie(
        door.cookie,
        value,
        max_age=int((row.expires_at - now).total_seconds()),
        path=door.cookie_path,
        httponly=True,
        secure=wired.settings.cookie_secure,
        samesite="lax",
    )


def sign_out(response: Response, session: Session, *, request: Request, door: Door = INTERNAL) -> None:
    """End the browser session at once and clear its cookie."""
    cookie = request.cookies.get(door.cookie)
    if cookie:
        sessions.end(session, cookie=cookie, now=public_wired_of(request).clock())
        session.commit()
    response.delete_cookie(door.cookie, path=door.cookie_path)


def pre_session_token(request: Request, cookie: str) -> str:
    """A sign-in or registration form's double-submit CSRF token: the browser's current one (in
    `cookie`) if it looks like ours, else a new one."""
    kept = request.cookies.get(cookie, "")
    return kept if 32 <= len(kept) <= 64 and kept.isascii() else secrets.token_urlsafe(32)


def same_pre_session_token(request: Request, cookie: str, field: str | None) -> bool:
    """Whether the pre-session CSRF cookie and the form field carry the same token (constant time)."""
    kept = request.cookies.get(cookie)
    if not kept or not field:
        return False
    return hmac.compare_digest(kept.encode(), field.encode())
