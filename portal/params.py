"""Path parameters shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

# A database row id: a positive 32-bit integer, so an absurd number is a 422, never a database error.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
