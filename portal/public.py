"""The public portal (公众门户): it holds no archive-realm credentials, by construction."""

from __future__ import annotations

from fastapi import FastAPI

from portal.settings import Settings


def create_public_app(settings: Settings) -> FastAPI:
    """The public app; built from settings alone, it cannot reach the archive realm."""
    return FastAPI(title="casevault public", docs_url=None, redoc_url=None)
