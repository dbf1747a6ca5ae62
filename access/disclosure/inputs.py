"""Checks of what an applicant or officer typed; each refusal names the field."""

from __future__ import annotations

from enum import StrEnum
from pathlib import PurePosixPath

from access import fields
from access.disclosure.errors import FilenameControlCharacters, NotAChoice, UnusableFilename

LIMITS = {"case_no": 128, "description": 4000, "text": 4000, "party": 256, "filename": 200}


def text(field_name: str, value: str | None, *, limit: str = "text", required: bool = True) -> str:
    """The value trimmed, present if `required`, within the field's limit."""
    return fields.text(field_name, value, limit=LIMITS[limit], required=required)


def choice(field_name: str, value: str | None, kind: type[StrEnum]) -> str:
    """The value, if it is one of `kind`'s members."""
    if value is None or value not in kind.__members__:
        raise NotAChoice(field_name, value, list(kind))
    return value


def safe_filename(name: str) -> str:
    """The last part of an uploaded file's name, if it is usable as a key and a download name."""
    base = PurePosixPath(name.replace("\\", "/")).name.strip()
    if not base or base in {".", ".."} or len(base) > LIMITS["filename"]:
        raise UnusableFilename(name)
    # Control characters break object keys (NUL) and download headers (CR, LF).
    if any(ord(c) < 32 or ord(c) == 127 for c in base):
        raise FilenameControlCharacters(name)
    return base
