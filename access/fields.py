"""Checks of free-text input shared by the workflows; a refusal names the field."""

from __future__ import annotations

import re

from archive.errors import Refused

# Control characters other than tab and line breaks: no person types them, and PostgreSQL
# refuses NUL in text, so they are named as bad input rather than failing at the database.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text(field: str, value: str | None, *, limit: int, required: bool = True) -> str:
    """The value trimmed, present if `required` and at most `limit` characters."""
    value = (value or "").strip()
    if required and not value:
        raise Refused(f"{field}: required", code="field.required")
    if len(value) > limit:
        raise Refused(f"{field}: at most {limit} characters", code="field.too_long", n=limit)
    if _CONTROL.search(value):
        raise Refused(f"{field}: control characters are not allowed", code="field.control")
    return value
