"""Log lines for operators: one JSON object per line (or plain text), every line written while a
request is handled carrying that request's id, and no secret in any of them.

Secrets are kept out twice: nothing here logs a header, a cookie or a body, and every part of
a line — message, fields and traceback — passes `redact` on its way out, which masks bearer tokens, JWTs,
`Authorization` and `Cookie` values, the session cookies, `password=`/`secret=`/`token=` pairs
and the password of any URL (`s3://ACCESS:SECRET@host/…`).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# The id of the request being handled, if any: set by `portal.web.telemetry` for each request and
# carried into the worker threads that run its handler.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
# An incoming X-Request-ID is kept only in this form; anything else is replaced by a new id.
WELL_FORMED_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
MASK = "[redacted]"

_SECRETS = (
    # the password of a URL's user info: scheme://user:password@host
    (re.compile(r"([a-z][a-z0-9+.-]*://[^\s/:@]*):[^\s/@]+@", re.IGNORECASE), rf"\1:{MASK}@"),
    # whole header values that are credentials
    (
        re.compile(
            r"((?:proxy-)?authorization|cookie|set-cookie|x-csrf-token)(['\"]?\s*[:=]\s*['\"]?)[^\r\n'\"]+",
            re.IGNORECASE,
        ),
        rf"\1\2{MASK}",
    ),
    (re.compile(r"\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE), rf"\1 {MASK}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), MASK),  # a JWT anywhere
    (re.compile(r"\b(casevault_[a-z_]+)=[^;\s]+"), rf"\1={MASK}"),  # the session cookies
    (
        re.compile(
            r"\b([a-z_]*(?:password|passwd|secret|token|passphrase|api_key))(['\"]?\s*[:=]\s*['\"]?)[^\s'\"&,;}]+",
            re.IGNORECASE,
        ),
        rf"\1\2{MASK}",
    ),
)


def redact(text: str) -> str:
    """The text with every credential it shows masked."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def request_id(incoming: str | None) -> str:
    """The id for a request: the caller's X-Request-ID when well formed, else a new one."""
    if incoming is not None and WELL_FORMED_ID.fullmatch(incoming):
        return incoming
    return secrets.token_hex(16)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, and the line's fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one redacted line of JSON."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": REQUEST_ID.get(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(
                {k: redact(v) if isinstance(v, str) else v for k, v in fields.items() if k not in line}
            )
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exception"] = redact(record.exc_text)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Plain text for a person at a terminal, the request id in brackets."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as redacted text, with the request id and the line's fields."""
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict) and fields:
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        rid = REQUEST_ID.get()
        return redact(f"[{rid}] {text}" if rid else text)


def config(*, json_lines: bool, level: str) -> dict[str, Any]:
    """The logging configuration `serve` hands uvicorn: one handler on stderr for every logger,
    uvicorn's own included (its access log is off: `portal.web.telemetry` writes one line per
    request with the route template instead, never the query string)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"()": JsonFormatter if json_lines else TextFormatter}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "line", "stream": "ext://sys.stderr"}
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            name: {"handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }
