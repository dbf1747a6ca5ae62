"""How the apps answer what went wrong: a page for a browser, `{"detail": …}` for everyone else;
503 with Retry-After for a backing service that is down, 409 for a damaged bundle, 422 for input
no check caught, and never a stack trace. The same defensive headers on every response."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.utils import is_body_allowed_for_status_code
from sqlalchemy.exc import DataError, OperationalError, StatementError
from starlette.exceptions import HTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from archive.errors import ArchiveError, ObjectMissing, Refused, StoreUnavailable, UnknownBundle
from archive.service import BUNDLE_ID
from portal.web.logs import REQUEST_ID

log = logging.getLogger(__name__)
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
    # This answer leaves from outside the other middleware, so it brings the headers itself, and
    # the request's id (the log's traceback carries it too).
    rid = REQUEST_ID.get()
    return answer(
        request,
        500,
        "internal error; it has been logged",
        SECURITY_HEADERS | ({"X-Request-ID": rid} if rid else {}),
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    # Starlette's own (an unknown path, a wrong method) as well as those the routes raise.
    assert isinstance(exc, HTTPException)
    if wants_page(request) and is_body_allowed_for_status_code(exc.status_code):
        return answer(request, exc.status_code, exc.detail, exc.headers)
    return await http_exception_handler(request, exc)


def _invalid(request: Request, exc: Exception) -> Response:
    # A browser gets the page naming the fields; everyone else the JSON list.
    assert isinstance(exc, RequestValidationError)
    problems = [
        {
            "field": ".".join(str(p) for p in e["loc"] if p not in {"body", "query", "path", "form"}),
            "message": e["msg"],
        }
        for e in exc.errors()
    ]
    if wants_page(request):
        return answer(request, 422, problems)
    return JSONResponse({"detail": problems}, status_code=422)


# The most precise handler wins: Refused is an ArchiveError, DataError a StatementError.
HANDLERS: tuple[tuple[type[Exception], Callable[..., Any]], ...] = (
    (StoreUnavailable, _unavailable),
    (OperationalError, _unavailable),
    (ObjectMissing, _damaged),
    (Refused, _refused),
    (ArchiveError, _failed),
    (StatementError, _unstorable),
    (OverflowError, _unstorable),
    (RequestValidationError, _invalid),
    (HTTPException, _http_error),
    (Exception, _crashed),
)
