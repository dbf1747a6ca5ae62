"""The web apps, wired: internal portal and API at `/`, public portal at `/public`.

The only module that puts the doors together: each domain's routers under `portal.internal`,
the public portal from `portal.public`, the shared machinery from `portal.web`, and the
in-process worker that runs the durable jobs and the periodic chores (`portal.worker`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response

from portal.internal.accountability import api as accountability_api
from portal.internal.accountability import pages as accountability_pages
from portal.internal.anomalies import api as anomalies_api
from portal.internal.anomalies import pages as anomalies_pages
from portal.internal.archive import api as archive_api
from portal.internal.archive import copies as archive_copies
from portal.internal.archive import pages as archive_pages
from portal.internal.deposit import api as deposit_api
from portal.internal.deposit import pages as deposit_pages
from portal.internal.disclosure import pages as disclosure_pages
from portal.internal.identity import api as identity_api
from portal.internal.identity import pages as identity_pages
from portal.internal.identity import user_pages
from portal.internal.ledger import api as ledger_api
from portal.internal.ledger import pages as ledger_pages
from portal.internal.retention import api as retention_api
from portal.internal.retention import disposition_pages, fixity_pages, schedule_pages
from portal.internal.retrieval import api as retrieval_api
from portal.internal.retrieval import pages as retrieval_pages
from portal.internal.system import activities_pages
from portal.internal.system import metrics as system_metrics
from portal.internal.system import pages as system_pages
from portal.internal.trails import api as trails_api
from portal.internal.trails import pages as trails_pages
from portal.public import app as public_app
from portal.public import pages as public_pages
from portal.settings import Settings
from portal.web import ops, sso
from portal.web.errors import HANDLERS, ErrorPage, SecurityHeaders, answer
from portal.web.limits import BodyLimit, BodyLimits
from portal.web.metrics import Metrics
from portal.web.pages import add_favicon, error_page, mount_static
from portal.wiring import PublicWired, Wired
from portal.worker import Worker

log = logging.getLogger(__name__)

# Routes that take files (a disclosure reply's redacted copies): multipart, spooled to disk.
UPLOAD_ROUTES = (re.compile(r"/disclosures/[^/]+/decision"),)

AppKind = Literal["both", "internal", "public"]


def _install(
    app: FastAPI, wired: PublicWired | None, *, limits: BodyLimits, error_page: ErrorPage | None = None
) -> FastAPI:
    if wired is not None:
        app.state.wired = wired
    app.state.error_page = error_page
    app.add_middleware(BodyLimit, limits=limits, answer=answer)
    app.add_middleware(SecurityHeaders)  # outermost, so that a 413 carries the headers too
    for exc_type, handler in HANDLERS:
        app.add_exception_handler(exc_type, handler)
    return app


def body_limits(settings: Settings, *, uploads: bool, mounted: tuple[str, ...] = ()) -> BodyLimits:
    """The configured body limits; `uploads` for the app whose routes take files."""
    return BodyLimits(
        body=settings.body_limit_bytes,
        upload=settings.upload_limit_bytes,
        uploads=UPLOAD_ROUTES if uploads else (),
        mounted=mounted,
        deposit=settings.deposit_limit_bytes,
        deposits=deposit_api.DEPOSIT_ROUTES if uploads else (),
    )


def _operations(app: FastAPI, metrics: Metrics) -> FastAPI:
    """`/healthz`, `/readyz` and `/metrics` on the app a process serves, and, outermost, each
    request's id, access line and metrics (`portal.web.ops`)."""
    app.state.metrics = metrics
    app.include_router(ops.router)
    app.add_middleware(ops.Telemetry, metrics=metrics)
    return app


@asynccontextmanager
async def _housekeeping(app: FastAPI) -> AsyncIterator[None]:
    """While serving, a worker in this process (`CASEVAULT_SERVE_WORKERS` copy threads; none
    with 0) runs the durable jobs and schedules the periodic chores — a ledger checkpoint when
    one is due, lapsed disclosure corrections, holds and approved destructions, the anomaly
    rules, and every `audit_run_every_minutes` (0: never) a fixity round — each once per period
    however many replicas serve (`portal.worker`). On shutdown the jobs in hand finish first."""
    wired: Wired = app.state.wired
    running = None
    if wired.settings.serve_workers > 0:
        running = Worker(wired, concurrency=wired.settings.serve_workers, scheduling=True).start()
        app.state.worker = running
    yield
    if running is not None:
        running.stop()
        await asyncio.to_thread(running.join)
    log.info("serve loop stopped")


def create_public_only(wired: PublicWired) -> FastAPI:
    """The public portal served alone (`serve --app public`), still at `/public`."""
    outer = body_limits(wired.settings, uploads=False, mounted=("/public",))
    app = FastAPI(title="casevault public", docs_url=None, redoc_url=None)
    # Outside /public too, a browser gets the public portal's own page for an unknown address.
    app = _install(app, wired, limits=outer, error_page=public_pages.error_page)
    mount_static(app)
    add_favicon(app)
    inner = public_app.create_public_app(wired)
    limits = body_limits(wired.settings, uploads=False)
    app.mount("/public", _install(inner, wired, limits=limits, error_page=public_pages.error_page))

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/public/", status_code=307)

    return _operations(app, Metrics())


def create_app(wired: Wired, *, kind: AppKind = "both") -> FastAPI:
    """Build the app(s); the public app gets only `wired.public()`, never the archive realm."""
    if kind == "public":
        return create_public_only(wired.public())
    mounted = ("/public",) if kind == "both" else ()
    app = FastAPI(title="casevault", version="1", docs_url=None, redoc_url=None, lifespan=_housekeeping)
    sso.add_state_cookie(app, wired.settings)  # inside the body limits and security headers
    app = _install(
        app,
        wired,
        limits=body_limits(wired.settings, uploads=True, mounted=mounted),
        error_page=error_page,
    )
    metrics = Metrics()
    figures = system_metrics.ArchiveFigures(sessions=wired.sessions, clock=wired.clock)
    metrics.add(figures)
    _operations(app, metrics)
    for router in (
        archive_api.router,
        archive_copies.router,
        deposit_api.router,
        identity_api.router,
        identity_api.accounts,
        ledger_api.router,
        anomalies_api.router,
        trails_api.router,
        retrieval_api.router,
        retention_api.router,
        accountability_api.router,
        sso.router,
        retrieval_pages.router,
        disclosure_pages.router,
        fixity_pages.router,
        schedule_pages.router,
        disposition_pages.router,
        identity_pages.signin,
        identity_pages.router,
        user_pages.router,
        system_pages.router,
        activities_pages.router,
        accountability_pages.router,
        ledger_pages.router,
        anomalies_pages.router,
        trails_pages.router,
        deposit_pages.router,
        archive_pages.router,
    ):
        app.include_router(router)
    mount_static(app)
    add_favicon(app)
    if kind == "both":
        public_wired = wired.public()
        limits = body_limits(public_wired.settings, uploads=False)
        inner = public_app.create_public_app(public_wired)
        app.mount("/public", _install(inner, public_wired, limits=limits, error_page=public_pages.error_page))
    return app
