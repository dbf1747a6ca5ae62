"""Bearer tokens for the internal JSON API (`POST /api/v1/token`), and the accounts the security
administrator manages (`GET/POST /api/v1/users`, `PATCH /api/v1/users/{username}`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, HTTPException, Request

from archive.errors import Refused
from portal.internal.identity import operations
from portal.internal.identity.schemas import Account, AccountChange, Accounts, NewAccount
from portal.web.api import service_errors
from portal.web.auth import (
    API_CSRF,
    DB,
    INTERNAL,
    Caller,
    password_token,
    policy_context,
)
from portal.web.schemas import BearerToken, api_router, errors

router = api_router(prefix="/api/v1", tag="internal")


@router.post("/token", response_model=BearerToken, responses=errors(401, 413, 422))
def token(
    request: Request,
    session: DB,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> dict[str, Any]:
    """Exchange a username and password for a short-lived bearer token."""
    return password_token(INTERNAL, request, session, username=username, password=password)


# --- accounts (the security administrator) ---------------------------------------------------

accounts = api_router(prefix="/api/v1", tag="internal", dependencies=[API_CSRF])


def _refused(exc: Refused) -> HTTPException:
    """An unknown account is 404; any other refusal 422 naming its field."""
    status = 404 if str(exc).startswith("username: no user") else 422
    return HTTPException(status, str(exc))


@accounts.get("/users", response_model=Accounts, responses=errors(401, 403))
def list_users(request: Request, session: DB, caller: Caller) -> dict[str, Any]:
    """Every account (security administrators only); never a password hash."""
    with service_errors():
        rows = operations.list_accounts(
            session, subject=caller.subject, context=policy_context(request, session, caller)
        )
    session.commit()
    return {"users": rows}


@accounts.post("/users", status_code=201, response_model=Account, responses=errors(401, 403, 413, 422))
def create_user(request: Request, session: DB, caller: Caller, body: NewAccount) -> dict[str, Any]:
    """Create a staff account with a reason → 201 the account (ledgered with the decision)."""
    context = policy_context(request, session, caller)
    with service_errors():
        try:
            user = operations.create_account(
                session, subject=caller.subject, context=context, **body.model_dump()
            )
        except Refused as exc:
            session.rollback()
            raise _refused(exc) from exc
    session.commit()
    return operations.account_json(user, now=context.now)


@accounts.patch("/users/{username}", response_model=Account, responses=errors(401, 403, 404, 413, 422))
def update_user(
    request: Request, session: DB, caller: Caller, username: str, body: AccountChange
) -> dict[str, Any]:
    """Change an account — role, department, clearance, disabled, password — with a reason. Nobody
    changes their own role or clearance (403, ledgered)."""
    context = policy_context(request, session, caller)
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    with service_errors():
        try:
            user = operations.update_account(
                session,
                subject=caller.subject,
                context=context,
                username=username,
                changes=changes,
                reason=body.reason,
            )
        except Refused as exc:
            session.rollback()
            raise _refused(exc) from exc
    session.commit()
    return operations.account_json(user, now=context.now)
