"""Request bodies are bounded before they are read: a pure ASGI middleware on both apps.

A declared `Content-Length` over the limit is refused before a byte of the body is read; a
body without one (chunked) is counted as it arrives and refused as soon as it passes the limit,
so a 300 MB request costs at most one chunk over the limit in memory.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Answer = Callable[[Request, int, str], Response]


class BodyTooLarge(HTTPException):
    """413: the request body passed its limit. An HTTPException, so that FastAPI's body parsing
    passes it on (instead of calling it a parse error) and page routes render it as a page."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large(limit))


def too_large(limit: int) -> str:
    """What a 413 says: the limit, in the unit a person would use."""
    size = f"{limit >> 20} MiB" if limit >= 1 << 20 and not limit % (1 << 20) else f"{limit} bytes"
    return f"request body too large: at most {size}"


@dataclass(frozen=True)
class BodyLimits:
    """The limit for JSON and forms, and the larger one for the routes that take uploads."""

    body: int
    upload: int
    uploads: tuple[re.Pattern[str], ...] = ()
    # Paths under a mounted app that has a limiter of its own: passed on untouched.
    mounted: tuple[str, ...] = ()
    # The routes that take a whole case (a deposit ZIP, tus uploads), bounded by `deposit`.
    deposit: int = 0
    deposits: tuple[re.Pattern[str], ...] = ()

    def of(self, path: str) -> int | None:
        """The limit for a request path (relative to the app), or None where a mounted app decides."""
        if any(path == mount or path.startswith(f"{mount}/") for mount in self.mounted):
            return None
        if any(p.fullmatch(path) for p in self.deposits):
            return self.deposit
        return self.upload if any(p.fullmatch(path) for p in self.uploads) else self.body


class BodyLimit:
    """Answer 413 (through `answer`, so pages get a page) rather than read a body past its limit."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits, answer: Answer) -> None:
        self.app = app
        self.limits = limits
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count what arrives."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"].removeprefix(scope.get("root_path", ""))
        limit = self.limits.of(path)
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            response = self.answer(Request(scope), 413, too_large(limit))
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
