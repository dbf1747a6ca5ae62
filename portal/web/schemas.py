"""What every JSON answer shares, as the OpenAPI documents describe it: one error body, how times
are written, and the answers that are not a JSON body (files, CSV, byte ranges).

The handlers build their bodies themselves; the models only check them on the way out. They are
strict and forbid unknown keys, so a body that drifts from its model fails loudly (500, logged)
rather than losing a field or having a value converted: what the client gets is exactly what the
handler built."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from portal.web.ranges import OPAQUE, SHOWN_INLINE


class Body(BaseModel):
    """A JSON body as a handler builds it: every key declared, no value converted."""

    model_config = ConfigDict(strict=True, extra="forbid")


# Times and dates leave the handlers as ISO 8601 text (`isoformat()`), never re-formatted here.
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Day = Annotated[str, Field(json_schema_extra={"format": "date"})]
# A number the handler rounds: an int stays an int, a float a float (no `1` → `1.0`).
Number = int | float


class BearerToken(Body):
    """A bearer token for the JSON API, from a door's `POST /api/v1/token`."""

    access_token: str
    token_type: str
    expires_in: int


class Refusal(Body):
    """The policy's refusal: the rule that refused, and why."""

    rule: str
    reason: str


class Problem(Body):
    """One field that was refused, and why."""

    field: str
    message: str


class ErrorBody(Body):
    """Every error answer: a message, a refusal naming its rule, or the fields refused."""

    detail: str | Refusal | list[Problem]


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for error statuses, each answered with `ErrorBody`."""
    return {status: {"model": ErrorBody, "description": HTTPStatus(status).phrase} for status in statuses}


def api_router(*, prefix: str, tag: str) -> APIRouter:
    """A router of the JSON API; any of its routes may meet a backing service down (503) or fail (500)."""
    # JSONResponse named outright: bodies are written by `json.dumps`, as before the models were
    # declared, not by pydantic's own writer, so the bytes (floats, escapes) stay what they were.
    return APIRouter(
        prefix=prefix, tags=[tag], responses=errors(500, 503), default_response_class=JSONResponse
    )


def file_answer(description: str, *media_types: str) -> dict[str, Any]:
    """An OpenAPI response whose body is a file of one of these types."""
    content = {media: {"schema": {"type": "string", "format": "binary"}} for media in media_types}
    return {"description": description, "content": content}


# Archived bytes are sent as what they are, when a browser may show them, else as an attachment.
ARCHIVED = (OPAQUE, *sorted(SHOWN_INLINE))
PARTIAL = file_answer("Partial Content: the single byte range asked for", *ARCHIVED)
