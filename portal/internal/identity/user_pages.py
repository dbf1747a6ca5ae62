"""Account administration pages (账户管理) for the security administrator: the list, a new
account, and one account with its changes — role, department and clearance, disabling and
enabling, a new password — each with a reason.

The pages call the same operations as `GET/POST /api/v1/users` and `PATCH /api/v1/users/{username}`
(`portal.internal.identity.operations`), so each change is decided, ledgered and made in one
transaction; a refused change is the refusal page, bad input the form again naming the field (422).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from access import policy
from access.models import Department
from archive.errors import Refused
from portal.internal.identity import operations
from portal.web import api as web_api
from portal.web import auth
from portal.web.auth import DB, PAGE_CSRF, Principal
from portal.web.i18n import choose_lang, refusal
from portal.web.pages import PageCaller, PageRoute, page

router = APIRouter(include_in_schema=False, route_class=PageRoute, dependencies=[PAGE_CSRF])
NEW_FIELDS = ("username", "display_name", "role", "department", "clearance", "reason")
# Which form field a refusal is shown beside, when the field it names is not on the form.
ON_FORM = {
    "new": set(NEW_FIELDS) | {"password"},
    "standing": {"role", "department", "clearance", "reason"},
    "state": {"reason"},
    "password": {"password", "reason"},
}
DONE = ("created", "standing", "disabled", "enabled", "password")


def _choices() -> dict[str, Any]:
    return {
        "roles": operations.STAFF_ROLES,
        "departments": [d.value for d in Department],
        "clearances": operations.CLEARANCES,
    }


def _account_path(username: str) -> str:
    return f"/admin/users/{quote(username)}"


def _field_error(request: Request, exc: Refused, *, form: str, default: str) -> dict[str, str]:
    """The refusal beside the field it names (or `default`), in the page's language."""
    lang, _ = choose_lang(request)
    name, _message = web_api.refused_field(
        exc, default=default, known=ON_FORM.get(form, {default}) | {default}
    )
    return {name: refusal(lang, exc)}


@router.get("/admin/users")
def users_page(request: Request, session: DB, caller: PageCaller) -> Response:
    """Every account with its role, department, clearance and state."""
    with web_api.service_errors():
        rows = operations.list_accounts(
            session, subject=caller.subject, context=auth.policy_context(request, session, caller)
        )
    session.commit()
    return page(request, "identity/users.html", accounts=rows)


def _new_page(
    request: Request,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    empty = {name: "" for name in NEW_FIELDS} | {"role": "archivist", "clearance": "none"}
    return page(
        request,
        "identity/user_new.html",
        status=status,
        form=form or empty,
        errors=errors or {},
        **_choices(),
    )


@router.get("/admin/users/new")
def new_user_page(request: Request, session: DB, caller: PageCaller) -> Response:
    """The form for a new account (decided as `user.create`, refused to anyone else)."""
    with web_api.service_errors():
        operations.may_create(
            session, subject=caller.subject, context=auth.policy_context(request, session, caller)
        )
    session.commit()
    return _new_page(request)


@router.post("/admin/users/new")
def create_user(
    request: Request,
    session: DB,
    caller: PageCaller,
    username: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    department: Annotated[str, Form()] = "",
    clearance: Annotated[str, Form()] = "none",
    password: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Create the account → 303 to its page; a refusal names the field (422, nothing written)."""
    form = dict(zip(NEW_FIELDS, (username, display_name, role, department, clearance, reason), strict=True))
    with web_api.service_errors():
        try:
            user = operations.create_account(
                session,
                subject=caller.subject,
                context=auth.policy_context(request, session, caller),
                username=username,
                role=role,
                reason=reason,
                password=password or None,
                display_name=display_name,
                department=department,
                clearance=clearance,
            )
        except Refused as exc:
            session.rollback()
            errors = _field_error(request, exc, form="new", default="username")
            return _new_page(request, form=form, errors=errors, status=422)
    session.commit()
    return RedirectResponse(f"{_account_path(user.username)}?done=created", status_code=303)


def _account_page(
    request: Request,
    session: Session,
    caller: Principal,
    username: str,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
    done: str = "",
) -> Response:
    context = auth.policy_context(request, session, caller)
    with web_api.service_errors():
        try:
            user = operations.get_account(session, subject=caller.subject, context=context, username=username)
        except Refused as exc:
            session.commit()
            raise HTTPException(404, str(exc)) from exc
    session.commit()
    account = operations.account_json(user, now=context.now)
    standing = {k: account[k] or "" for k in ("role", "department", "clearance")}
    return page(
        request,
        "identity/user.html",
        status=status,
        account=account,
        own=user.username == caller.user.username,
        at_console=user.role in policy.THREE_ROLES,  # rule admin-account: no form would be allowed
        standing=(form or {}) | {k: v for k, v in standing.items() if k not in (form or {})},
        errors=errors or {},
        done=done if done in DONE else "",
        **_choices(),
    )


@router.get("/admin/users/{username}")
def user_page(request: Request, session: DB, caller: PageCaller, username: str, done: str = "") -> Response:
    """One account: its standing and state, and the forms that change them."""
    return _account_page(request, session, caller, username, done=done)


def _change(
    request: Request,
    session: Session,
    caller: Principal,
    username: str,
    *,
    changes: dict[str, Any],
    reason: str,
    form: str,
    done: str,
) -> Response:
    """Make one change → 303 back to the account; bad input → the page naming the field, 422."""
    with web_api.service_errors():
        try:
            user = operations.update_account(
                session,
                subject=caller.subject,
                context=auth.policy_context(request, session, caller),
                username=username,
                changes=changes,
                reason=reason,
            )
        except Refused as exc:
            session.rollback()
            if str(exc).startswith("username: no user"):
                raise HTTPException(404, str(exc)) from exc
            errors = {
                f"{form}-{k}": v for k, v in _field_error(request, exc, form=form, default="reason").items()
            }
            shown = {k: str(v) for k, v in changes.items() if k != "password"}
            return _account_page(request, session, caller, username, errors=errors, form=shown, status=422)
    session.commit()
    return RedirectResponse(f"{_account_path(user.username)}?done={done}", status_code=303)


@router.post("/admin/users/{username}/standing")
def change_standing(
    request: Request,
    session: DB,
    caller: PageCaller,
    username: str,
    role: Annotated[str, Form()] = "",
    department: Annotated[str, Form()] = "",
    clearance: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """A new role, department and clearance, with a reason (never one's own role or clearance)."""
    changes = {"role": role, "department": department, "clearance": clearance}
    return _change(
        request, session, caller, username, changes=changes, reason=reason, form="standing", done="standing"
    )


@router.post("/admin/users/{username}/state")
def change_state(
    request: Request,
    session: DB,
    caller: PageCaller,
    username: str,
    disabled: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Disable (every session and token ends) or enable an account, with a reason."""
    off = disabled == "1"
    done = "disabled" if off else "enabled"
    return _change(
        request, session, caller, username, changes={"disabled": off}, reason=reason, form="state", done=done
    )


@router.post("/admin/users/{username}/password")
def reset_password(
    request: Request,
    session: DB,
    caller: PageCaller,
    username: str,
    password: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Set a new password, with a reason; every session and token of the account ends."""
    return _change(
        request,
        session,
        caller,
        username,
        changes={"password": password},
        reason=reason,
        form="password",
        done="password",
    )
