"""The web apps: internal portal and API at `/`, public portal at `/public`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError, OperationalError, StatementError
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from archive.errors import ArchiveError, Refused, StoreUnavailable, UnknownBundle
from portal import api, operations
from portal.context import PublicWired, Wired

log = logging.getLogger(__name__)
AppKind = Literal["both", "internal", "public"]
RETRY_AFTER = "30"
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


def _unavailable(_request: Request, exc: Exception) -> JSONResponse:
    what = "object store" if isinstance(exc, StoreUnavailable) else "database"
    return JSONResponse(
        {"detail": f"the {what} is unavailable; retry in {RETRY_AFTER} seconds"},
        status_code=503,
        headers={"Retry-After": RETRY_AFTER},
    )


def _refused(_request: Request, exc: Exception) -> JSONResponse:
    status = 404 if isinstance(exc, UnknownBundle) else 422
    return JSONResponse({"detail": str(exc)}, status_code=status)


def _unstorable(_request: Request, exc: Exception) -> JSONResponse:
    # The last line of defence for input no check caught: a NUL the database refuses, a date or
    # number past what it can hold. A person's mistake, so 422 — never a stack trace.
    cause = exc.orig if isinstance(exc, StatementError) and not isinstance(exc, DataError) else exc
    if not isinstance(cause, (DataError, OverflowError)):
        log.error("database statement failed", exc_info=exc)
        return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)
    return JSONResponse(
        {"detail": "a value is out of range or holds characters that cannot be stored; check the input"},
        status_code=422,
    )


def _failed(_request: Request, exc: Exception) -> JSONResponse:
    # The archive could not finish (a transcoder failed, a stored object is gone or damaged):
    # say so plainly; the details go to the log, not to the caller.
    log.error("archive operation failed", exc_info=exc)
    return JSONResponse({"detail": f"the archive could not complete this: {exc}"}, status_code=500)


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


def _install(app: FastAPI, wired: PublicWired | None) -> FastAPI:
    if wired is not None:
        app.state.wired = wired
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(StoreUnavailable, _unavailable)
    app.add_exception_handler(OperationalError, _unavailable)
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(ArchiveError, _failed)  # the most precise handler wins: Refused is one
    app.add_exception_handler(StatementError, _unstorable)  # DataError, or a wrapped OverflowError
    app.add_exception_handler(OverflowError, _unstorable)
    app.add_exception_handler(RequestValidationError, _invalid)
    return app


HOUSEKEEPING_SECONDS = 60


@asynccontextmanager
async def _housekeeping(app: FastAPI) -> AsyncIterator[None]:
    """While serving: sign a ledger checkpoint when one is due, and withdraw disclosure requests
    whose correction period lapsed (so the applicant's page says so without anyone looking first)."""
    wired: Wired = app.state.wired
    chores = (operations.checkpoint_ledger, operations.expire_corrections)

    async def loop() -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_SECONDS)
            for chore in chores:
                try:
                    await asyncio.to_thread(chore, wired)
                except Exception:  # a failed round is retried next time; the reason is logged
                    log.exception("%s failed", chore.__name__)

    task = asyncio.create_task(loop())
    yield
    task.cancel()


def create_public_only(wired: PublicWired) -> FastAPI:
    """The public portal served alone (`serve --app public`), still at `/public`."""
    from portal import public

    app = _install(FastAPI(title="casevault public", docs_url=None, redoc_url=None), None)
    app.mount("/public", _install(public.create_public_app(wired), wired))

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/public/", status_code=307)

    return app


def create_app(wired: Wired, *, kind: AppKind = "both") -> FastAPI:
    """Build the app(s); the public app gets only `wired.public()`, never the archive realm."""
    from portal import disclosure_pages, pages, proofs, public, retrieval_pages, retrievals, sso

    if kind == "public":
        return create_public_only(wired.public())
    app = _install(
        FastAPI(title="casevault", version="1", docs_url=None, redoc_url=None, lifespan=_housekeeping), wired
    )
    app.include_router(api.router)
    app.include_router(retrievals.router)
    app.include_router(proofs.router)
    app.include_router(sso.router)
    app.include_router(retrieval_pages.router)
    app.include_router(disclosure_pages.router)
    app.include_router(pages.router)
    pages.mount_static(app)
    if kind == "both":
        public_wired = wired.public()
        app.mount("/public", _install(public.create_public_app(public_wired), public_wired))
    return app
