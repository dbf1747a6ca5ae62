"""The operations endpoints of a served process — `/healthz`, `/readyz`, `/metrics` — and the
middleware that gives every request its id, its log line and its place in the metrics.

- `/healthz`: the process answers; nothing it depends on is touched.
- `/readyz`: the database (reachable, at this code's schema revision), the stores and the key
  files; 200 with each check, or 503 with Retry-After naming the failed ones. Open to anyone
  (load balancers ask it): it shows no URL, path or exception text — those go to the log.
- `/metrics`: Prometheus text, for the operations network only — a caller from
  `CASEVAULT_METRICS_NETWORKS` (loopback by default) or with `CASEVAULT_METRICS_TOKEN` as its
  bearer token (compared in constant time); anyone else gets 404, as for an unknown address.

None of them has a session, a CSRF check or a ledger entry: they read no record and change
nothing, and a probe every few seconds must not grow the ledger. They are not in the OpenAPI
documents (they are not the archive's API) nor in any page's navigation.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.settings import Settings
from portal.web import health
from portal.web.errors import RETRY_AFTER
from portal.web.logs import REQUEST_ID, request_id
from portal.web.metrics import CONTENT_TYPE, UNMATCHED, Metrics
from portal.web.schemas import Body

log = logging.getLogger(__name__)
access_log = logging.getLogger("casevault.access")
OPERATIONS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # logged at debug: probes are frequent
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

router = APIRouter(include_in_schema=False)


class Liveness(Body):
    """The process answers."""

    status: Literal["ok"]


class CheckResult(Body):
    """One readiness check: passed or not, what it checked, and in a few words why not."""

    ok: bool
    kind: str
    reason: str


class Readiness(Body):
    """Every check; `failed` names those that did not pass (then the answer is 503)."""

    status: Literal["ready", "unavailable"]
    failed: list[str]
    checks: dict[str, CheckResult]


@router.get("/healthz", response_model=Liveness)
async def healthz() -> dict[str, str]:
    """200 while the process runs: no database, store or file is touched."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
def readyz(request: Request) -> Response:
    """200 when everything this app needs answers; else 503 with Retry-After, naming what failed."""
    results = health.readiness(request.app.state.wired)
    for check, probe in results:
        if not check.ok:
            log.warning("not ready: %s %s (%s)", check.name, check.reason, probe.detail)
    failed = [check.name for check, _probe in results if not check.ok]
    body = Readiness(
        status="unavailable" if failed else "ready",
        failed=failed,
        checks={c.name: CheckResult(ok=c.ok, kind=c.kind, reason=c.reason) for c, _probe in results},
    )
    headers = (
        {"Retry-After": RETRY_AFTER, "Cache-Control": "no-store"} if failed else {"Cache-Control": "no-store"}
    )
    return JSONResponse(body.model_dump(), status_code=503 if failed else 200, headers=headers)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """The Prometheus exposition, to the operations network only (404 to anyone else)."""
    settings: Settings = request.app.state.wired.settings
    if not may_scrape(request, settings):
        raise HTTPException(404, "Not Found")
    registry: Metrics = request.app.state.metrics
    return Response(registry.exposition(), media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


def may_scrape(request: Request, settings: Settings) -> bool:
    """The metrics token as a bearer token, or a caller from a metrics network (deny by default)."""
    if settings.metrics_token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), settings.metrics_token.encode()
        ):
            return True
    address = caller(request, proxies=settings.proxies)
    return address is not None and any(address in network for network in settings.metrics_allowed)


def _address(text: str) -> Address | None:
    try:
        found = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    mapped = found.ipv4_mapped if isinstance(found, ipaddress.IPv6Address) else None
    return mapped or found


def caller(
    request: Request, *, proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
) -> Address | None:
    """Who is asking: the peer, or — when the peer is a configured proxy — the nearest address of
    X-Forwarded-For that is not one of the proxies. None (refused) for anything unreadable, and
    for a proxy that does not say whom it forwards: never the proxy's own address."""
    peer = _address(request.client.host) if request.client else None
    if peer is None or not any(peer in proxy for proxy in proxies):
        return peer
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    hops = [_address(hop) for hop in forwarded.split(",") if hop.strip()]
    if not hops or None in hops:
        return None
    for hop in reversed(hops):
        assert hop is not None
        if not any(hop in proxy for proxy in proxies):
            return hop
    return None  # every hop a proxy of ours: nobody to believe


def route_template(scope: Scope, root: str) -> str:
    """The route that answered, as declared (`/api/v1/bundles/{bundle_id}`), under the mounts
    passed on the way; a static folder is `{path}`; no route at all is one label for all."""
    mounts = str(scope.get("root_path", ""))[len(root) :]
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return mounts + path
    return f"{mounts}/{{path}}" if mounts else UNMATCHED


class Telemetry:
    """Outermost on a served app: a request id (the caller's X-Request-ID when well formed, else
    new) on every log line while the request is handled and on its answer, one access line with
    the route template and no query string, and the request in the metrics."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one request, counted and timed."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id")
        rid = request_id(incoming.decode("latin-1") if incoming is not None else None)
        # Each request runs in a task of its own, so the id stays with this request (the handler's
        # worker threads get a copy) and is still set when the server logs an error after it.
        REQUEST_ID.set(rid)
        root, status, started = str(scope.get("root_path", "")), 500, time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = rid
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.in_flight.dec()
            seconds = time.perf_counter() - started
            route = route_template(scope, root)
            self.metrics.observe(method=scope["method"], route=route, status=status, seconds=seconds)
            path = str(scope["path"])
            access_log.log(
                logging.DEBUG if path in OPERATIONS_PATHS else logging.INFO,
                "%s %s %s",
                scope["method"],
                route,
                status,
                extra={
                    "fields": {
                        "method": scope["method"],
                        "route": route,
                        "path": path,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 1),
                        "client": scope["client"][0] if scope.get("client") else None,
                    }
                },
            )
