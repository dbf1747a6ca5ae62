"""Bearer tokens for the internal JSON API (`POST /api/v1/token`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request

from portal.web.auth import (
    DB,
    INTERNAL,
    password_token,
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
