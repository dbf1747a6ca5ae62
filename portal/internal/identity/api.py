"""Bearer tokens for the internal JSON API (`POST /api/v1/token`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request

from portal.web.auth import (
    DB,
    INTERNAL,
    password_token,
)

router = APIRouter(prefix="/api/v1", tags=["internal"])


@router.post("/token")
def token(
    request: Request,
    session: DB,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> dict[str, Any]:
    """Exchange a username and password for a short-lived bearer token."""
    return password_token(INTERNAL, request, session, username=username, password=password)
