"""Sign-in and sign-out pages of the internal portal (登录): password with a double-submit
CSRF pair, lockout after repeated failures; single sign-on is `portal.web.sso`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from portal.web import auth
from portal.web.auth import DB, PAGE_CSRF, Principal, optional_principal, wired_of
from portal.web.i18n import choose_lang, translate
from portal.web.pages import PageCaller, PageRoute, landing, page, safe_next

LOGIN_CSRF_COOKIE = "csrf_login"
LOGIN_CSRF_AGE = 3600

# Sign-in checks its own double-submit pair (there is no session yet); everything else the
# session's CSRF token.
signin = APIRouter(include_in_schema=False, route_class=PageRoute)
router = APIRouter(include_in_schema=False, route_class=PageRoute, dependencies=[PAGE_CSRF])


def login_page(
    request: Request, *, status: int = 200, username: str = "", error: str | None = None, back_to: str = "/"
) -> Response:
    """The sign-in form, with a fresh or kept double-submit CSRF token in cookie and field."""
    settings = wired_of(request).settings
    token = auth.pre_session_token(request, LOGIN_CSRF_COOKIE)
    response = page(
        request,
        "identity/login.html",
        status=status,
        csrf=token,
        username=username,
        error=error,
        next=safe_next(back_to),
        sso=bool(settings.oidc_issuer),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=LOGIN_CSRF_AGE,
        path="/login",
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
    )
    return response


@signin.get("/login")
def login_form(
    request: Request,
    caller: Annotated[Principal | None, Depends(optional_principal)],
    next: str = "/",
) -> Response:
    """The sign-in page; someone already signed in goes straight on (to their start page)."""
    if caller is not None and caller.web is not None:
        return RedirectResponse(landing(caller.user.role, next), status_code=303)
    return login_page(request, back_to=next)


@signin.post("/login")
def login(
    request: Request,
    session: DB,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the CSRF pair, then the password; start a fresh session and go on (303) to the page
    asked for, else the role's start page."""
    lang, _ = choose_lang(request)
    if not auth.same_pre_session_token(request, LOGIN_CSRF_COOKIE, csrf_token):
        error = translate(lang, "login.csrf")
        return login_page(request, status=403, username=username, error=error, back_to=next)
    settings = wired_of(request).settings
    user = auth.authenticate_at(auth.INTERNAL, request, session, username=username, password=password)
    if user is None:
        error = translate(
            lang, "login.failed", attempts=settings.lockout_attempts, minutes=settings.lockout_minutes
        )
        return login_page(request, status=401, username=username, error=error, back_to=next)
    response = RedirectResponse(landing(user.role, next), status_code=303)
    auth.sign_in(response, session, request=request, user=user)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, session: DB, caller: PageCaller) -> Response:
    """End the session (the form must carry the session's CSRF token) and go to the sign-in page."""
    response = RedirectResponse("/login", status_code=303)
    auth.sign_out(response, session, request=request)
    return response
