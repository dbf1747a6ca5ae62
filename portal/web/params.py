"""Path parameters shared by the routes, and the one reading of a whole number typed into a form."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

# A database row id: a positive 32-bit integer, so an absurd number is a 422, never a database error.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# A ledger position (sequence number or tree size): a positive 64-bit integer.
MAX_SEQ = 2**63 - 1
Seq = Annotated[int, Path(ge=1, le=MAX_SEQ)]
SeqBelow = Annotated[int | None, Query(ge=1, le=MAX_SEQ, description="page: positions below this")]


def whole_number(text: str) -> int | None:
    """A whole number typed into a form (ASCII digits, at most 9), or None: `str.isdigit` alone
    lets "²" through, which `int` then refuses with a 500."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None
