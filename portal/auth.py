"""Who is calling: bearer tokens for the API, session cookies for pages, CSRF for forms."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response
from sqlalchemy.orm import Session

from access import ledger, sessions, tokens
from access.models import Clearance, Role, User, WebSession
from access.policy import Context, Subject, load_grants
from portal.context import Wired, token_secret

SESSION_COOKIE = "casevault_session"
ISSUER = "casevault"
AUDIENCE = "casevault-internal"


def wired_of(request: Request) -> Wired:
    """The wired archive this app was built with."""
    return request.app.state.wired  # type: ignore[no-any-return]


def db(request: Request) -> Iterator[Session]:
    """One database session per request."""
    with wired_of(request).sessions() as session:
        yield session


DB = Annotated[Session, Depends(db)]


def token_settings(wired: Wired, *, audience: str = AUDIENCE) -> tokens.TokenSettings:
    """Token settings from the wired settings."""
    return tokens.TokenSettings(
        secret=token_secret(wired.settings),
        issuer=ISSUER,
        audience=audience,
        lifetime=timedelta(minutes=wired.settings.token_minutes),
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


def optional_principal(request: Request, session: DB) -> Principal | None:
    """The caller if signed in by bearer token or session cookie, else None."""
    wired = wired_of(request)
    now = wired.clock()
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value:
            raise _unauthenticated("Authorization must be 'Bearer <token>'")
        try:
            claims = tokens.read(value.strip(), settings=token_settings(wired), now=now)
        except tokens.TokenInvalid as exc:
            raise _unauthenticated(f"invalid token: {exc}") from exc
        user = session.query(User).filter_by(username=claims["sub"]).one_or_none()
        if user is None or user.disabled or claims.get("tv") != user.token_version:
            raise _unauthenticated("token no longer valid; sign in again")
        if user.role == Role.applicant:
            raise HTTPException(403, {"rule": "realm", "reason": "applicants use the public portal"})
        return Principal(user=user, web=None)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = sessions.resume(session, cookie=cookie, now=now)
        if found is not None:
            return Principal(user=found[1], web=found[0])
    return None


def principal(caller: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    """The caller, who must be signed in."""
    if caller is None:
        raise _unauthenticated("sign in first")
    return caller


Caller = Annotated[Principal, Depends(principal)]


def policy_context(request: Request, session: Session, caller: Principal) -> Context:
    """The decision context for this request: time, address and the caller's grants."""
    wired = wired_of(request)
    return Context(
        now=wired.clock(),
        source=client_address(request),
        grants=load_grants(session, user_id=caller.user.id),
    )


def check_csrf(caller: Principal, submitted: str | None) -> None:
    """Forms posted with a session cookie must carry that session's CSRF token."""
    if caller.web is None:
        return  # bearer tokens are not sent by browsers on their own
    if not submitted or not hmac.compare_digest(submitted, caller.web.csrf_token):
        raise HTTPException(403, {"rule": "csrf", "reason": "missing or wrong CSRF token; reload the page"})


def sign_in(response: Response, session: Session, *, request: Request, user: User) -> None:
    """Start a fresh browser session (never reusing one from before sign-in) and set its cookie."""
    wired = wired_of(request)
    now = wired.clock()
    stale = request.cookies.get(SESSION_COOKIE)
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
        SESSION_COOKIE,
        value,
        max_age=int((row.expires_at - now).total_seconds()),
        path="/",
        httponly=True,
        secure=wired.settings.cookie_secure,
        samesite="lax",
    )


def sign_out(response: Response, session: Session, *, request: Request) -> None:
    """End the browser session at once and clear its cookie."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        sessions.end(session, cookie=cookie, now=wired_of(request).clock())
        session.commit()
    response.delete_cookie(SESSION_COOKIE, path="/")
