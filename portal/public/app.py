"""The public portal (公众门户): it holds no archive-realm credentials, by construction.

Applicants register, sign in, file information-disclosure requests (依申请公开) and see what
was released to them — through pages (`portal.public.pages`) and a JSON API under `/api/v1`
(`portal.public.api`). Released copies are read from the release realm only.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from access import activities
from portal.public import api as public_api
from portal.public import ledger as public_ledger
from portal.public import openness
from portal.public import pages as public_pages
from portal.web.auth import DB
from portal.web.i18n import render
from portal.wiring import PublicWired

STATIC = Path(__file__).resolve().parent.parent / "static"


def create_public_app(wired: PublicWired) -> FastAPI:
    """The public app; built from the public wiring alone, it cannot reach the archive realm."""
    app = FastAPI(title="casevault public", docs_url=None, redoc_url=None)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    organization = wired.settings.source_organization

    @app.get("/", include_in_schema=False)
    def recorded_activities(request: Request, session: DB) -> Response:
        """The published list of enforcement activities recorded on camera (kept by the system
        administrator, `access.activities`), and how to ask for records."""
        return render(
            request,
            "public/index.html",
            organization=organization,
            activities=activities.published(session),
            root=str(request.scope.get("root_path", "")),
            me=None,
        )

    for router in (
        public_api.signin,
        public_api.router,
        public_ledger.router,
        openness.api,
        public_pages.signin,
        public_pages.router,
        openness.pages,
    ):
        app.include_router(router)
    return app
