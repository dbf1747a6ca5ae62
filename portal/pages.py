"""Internal portal pages (内部门户)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

router = APIRouter(include_in_schema=False)


def mount_static(app: FastAPI) -> None:
    """Serve the portal's CSS and scripts."""
