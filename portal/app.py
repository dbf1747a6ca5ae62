"""The web apps: internal portal and API at `/`, public portal at `/public`."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.utils import is_body_allowed_for_status_code
from sqlalchemy.exc import DataError, OperationalError, StatementError
from starlette.exceptions import HTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from archive.errors import ArchiveError, ObjectMissing, Refused, StoreUnavailable, UnknownBundle
from archive.service import BUNDLE_ID
from portal import api, audit_runs, dispositions, operations
from portal.context import PublicWired, Wired
from portal.limits import BodyLimit, BodyLimits
from portal.settings import Settings

log = logging.getLogger(__name__)
AppKind = Literal["both", "internal", "public"]
RETRY_AFTER = "30"
ErrorPage = Callable[[Request, int, Any], Response]
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; media-src 'self'; object-src 'self'; "
        "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "SAMEORIGIN",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders(BaseHTTPMiddleware):
    """The same defensive headers on every response."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def wants_page(request: Request) -> bool:
    """A browser asking for a page, not the JSON API: its errors are answered in HTML."""
    path = request.scope["path"].removeprefix(request.scope.get("root_path", ""))
    return not path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def answer(request: Request, status: int, detail: Any, headers: Mapping[str, str] | None = None) -> Response:
    """An error as the app's error page for browsers, as `{"detail": …}` for everyone else."""
    render: ErrorPage | None = getattr(request.app.state, "error_page", None)
    if render is not None and wants_page(request):
        try:
            response = render(request, status, detail)
        except Exception:  # the page frame may need what is down; the JSON answer needs nothing
            log.exception("error page for HTTP %s could not be rendered", status)
        else:
            response.headers.update(headers or {})
            return response
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def unavailable(request: Request, what: str) -> Response:
    """503 with Retry-After for a backing service that is down (the store, the database)."""
    detail = f"the {what} is unavailable; retry in {RETRY_AFTER} seconds"
    return answer(request, 503, detail, {"Retry-After": RETRY_AFTER})


def _unavailable(request: Request, exc: Exception) -> Response:
    log.warning("backing service unavailable: %s", exc)
    return unavailable(request, "object store" if isinstance(exc, StoreUnavailable) else "database")


def _damaged(request: Request, exc: Exception) -> Response:
    # The store answers but lacks an object a sealed bundle references. The key stays in the log:
    # it says how the store is laid out, and the operator's next step is the same either way.
    log.error("stored object missing", exc_info=exc)
    bundle_id = request.path_params.get("bundle_id")
    target = bundle_id if isinstance(bundle_id, str) and BUNDLE_ID.fullmatch(bundle_id) else "--all"
    return answer(request, 409, f"damaged: run casevault verify {target}")


def _refused(request: Request, exc: Exception) -> Response:
    status = 404 if isinstance(exc, UnknownBundle) else 422
    return answer(request, status, str(exc))


def _unstorable(request: Request, exc: Exception) -> Response:
    # The last line of defence for input no check caught: a NUL the database refuses, a date or
    # number past what it can hold. A person's mistake, so 422 — never a stack trace.
    cause = exc.orig if isinstance(exc, StatementError) and not isinstance(exc, DataError) else exc
    if not isinstance(cause, (DataError, OverflowError)):
        log.error("database statement failed", exc_info=exc)
        return answer(request, 500, "internal error; it has been logged")
    return answer(
        request, 422, "a value is out of range or holds characters that cannot be stored; check the input"
    )


def _failed(request: Request, exc: Exception) -> Response:
    # The archive could not finish (a transcoder failed): say so plainly; the details go to the
    # log, not to the caller.
    log.error("archive operation failed", exc_info=exc)
    return answer(request, 500, f"the archive could not complete this: {exc}")


def _crashed(request: Request, exc: Exception) -> Response:
    # Anything else: Starlette logs the traceback after this answer; the caller sees no trace.
    # This answer leaves from outside the other middleware, so it brings the headers itself.
    return answer(request, 500, "internal error; it has been logged", SECURITY_HEADERS)


async def _http_error(request: Request, exc: Exception) -> Response:
    # Starlette's own (an unknown path, a wrong method) as well as those the routes raise.
    assert isinstance(exc, HTTPException)
    if wants_page(request) and is_body_allowed_for_status_code(exc.status_code):
        return answer(request, exc.status_code, exc.detail, exc.headers)
    return await http_exception_handler(request, exc)


def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {
            "field": ".".join(str(p) for p in e["loc"] if p not in {"body", "query", "path", "form"}),
            "message": e["msg"],
        }
        for e in exc.errors()
    ]
    return JSONResponse({"detail": problems}, status_code=422)


# Routes that take files (a disclosure reply's redacted copies): multipart, spooled to disk.
UPLOAD_ROUTES = (re.compile(r"/disclosures/[^/]+/decision"),)


def _install(
    app: FastAPI, wired: PublicWired | None, *, limits: BodyLimits, error_page: ErrorPage | None = None
) -> FastAPI:
    if wired is not None:
        app.state.wired = wired
    app.state.error_page = error_page
    app.add_middleware(BodyLimit, limits=limits, answer=answer)
    app.add_middleware(SecurityHeaders)  # outermost, so that a 413 carries the headers too
    app.add_exception_handler(StoreUnavailable, _unavailable)
    app.add_exception_handler(OperationalError, _unavailable)
    app.add_exception_handler(ObjectMissing, _damaged)
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(ArchiveError, _failed)  # the most precise handler wins: Refused is one
    app.add_exception_handler(StatementError, _unstorable)  # DataError, or a wrapped OverflowError
    app.add_exception_handler(OverflowError, _unstorable)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _crashed)
    return app


def body_limits(settings: Settings, *, uploads: bool, mounted: tuple[str, ...] = ()) -> BodyLimits:
    """The configured body limits; `uploads` for the app whose routes take files."""
    return BodyLimits(
        body=settings.body_limit_bytes,
        upload=settings.upload_limit_bytes,
        uploads=UPLOAD_ROUTES if uploads else (),
        mounted=mounted,
    )


HOUSEKEEPING_SECONDS = 60


@asynccontextmanager
async def _housekeeping(app: FastAPI) -> AsyncIterator[None]:
    """While serving: sign a ledger checkpoint when one is due, withdraw disclosure requests
    whose correction period lapsed (so the applicant's page says so without anyone looking first),
    keep holds and approved destructions going (`portal.dispositions.housekeeping`), and every
    `audit_run_every_minutes` (0: never) audit the bundles that are due."""
    wired: Wired = app.state.wired
    chores = (operations.checkpoint_ledger, operations.expire_corrections, dispositions.housekeeping)

    async def loop() -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_SECONDS)
            for chore in chores:
                try:
                    await asyncio.to_thread(chore, wired)
                except Exception:  # a failed round is retried next time; the reason is logged
                    log.exception("%s failed", chore.__name__)

    async def audit_rounds() -> None:
        # A task of its own: a round may read for hours (rate-limited) and must not hold up
        # checkpoints; `stop` ends it between bundles when the server shuts down.
        await asyncio.sleep(HOUSEKEEPING_SECONDS)
        while True:
            try:
                await asyncio.to_thread(
                    audit_runs.run_audits,
                    wired,
                    actor=audit_runs.SERVE_AUDITOR,
                    sleep=stop.wait,
                    stopped=stop.is_set,
                )
            except Exception:  # the bundle stays due; the next round takes it
                log.exception("fixity audit round failed")
            await asyncio.sleep(wired.settings.audit_run_every_minutes * 60)

    stop = threading.Event()
    tasks = [asyncio.create_task(loop())]
    if wired.settings.audit_run_every_minutes > 0:
        tasks.append(asyncio.create_task(audit_rounds()))
    yield
    stop.set()
    for task in tasks:
        task.cancel()


def create_public_only(wired: PublicWired) -> FastAPI:
    """The public portal served alone (`serve --app public`), still at `/public`."""
    from portal import public, public_pages

    outer = body_limits(wired.settings, uploads=False, mounted=("/public",))
    app = _install(FastAPI(title="casevault public", docs_url=None, redoc_url=None), None, limits=outer)
    inner = public.create_public_app(wired)
    limits = body_limits(wired.settings, uploads=False)
    app.mount("/public", _install(inner, wired, limits=limits, error_page=public_pages.error_page))

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/public/", status_code=307)

    return app


def create_app(wired: Wired, *, kind: AppKind = "both") -> FastAPI:
    """Build the app(s); the public app gets only `wired.public()`, never the archive realm."""
    from portal import (
        disclosure_pages,
        disposition_pages,
        fixity_pages,
        holds_api,
        pages,
        proofs,
        public,
        public_pages,
        retention_pages,
        retrieval_pages,
        retrievals,
        sso,
    )

    if kind == "public":
        return create_public_only(wired.public())
    mounted = ("/public",) if kind == "both" else ()
    app = FastAPI(title="casevault", version="1", docs_url=None, redoc_url=None, lifespan=_housekeeping)
    sso.add_state_cookie(app, wired.settings)  # inside the body limits and security headers
    app = _install(
        app,
        wired,
        limits=body_limits(wired.settings, uploads=True, mounted=mounted),
        error_page=pages.error_page,
    )
    app.include_router(api.router)
    app.include_router(retrievals.router)
    app.include_router(proofs.router)
    app.include_router(holds_api.router)
    app.include_router(sso.router)
    app.include_router(retrieval_pages.router)
    app.include_router(disclosure_pages.router)
    app.include_router(fixity_pages.router)
    app.include_router(retention_pages.router)
    app.include_router(disposition_pages.router)
    app.include_router(pages.router)
    pages.mount_static(app)
    if kind == "both":
        public_wired = wired.public()
        limits = body_limits(public_wired.settings, uploads=False)
        inner = public.create_public_app(public_wired)
        app.mount("/public", _install(inner, public_wired, limits=limits, error_page=public_pages.error_page))
    return app
