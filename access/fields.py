"""Checks of free-text input shared by the workflows; a refusal names the field."""

from __future__ import annotations

from archive.errors import Refused


def text(field: str, value: str | None, *, limit: int, required: bool = True) -> str:
    """The value trimmed, present if `required` and at most `limit` characters."""
    value = (value or "").strip()
    if required and not value:
        raise Refused(f"{field}: required")
    if len(value) > limit:
        raise Refused(f"{field}: at most {limit} characters")
    return value
