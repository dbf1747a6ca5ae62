"""HTTP Range (RFC 9110 §14) for one byte range (several ranges get the whole body), the
streaming answers built on it for stored objects, and the headers that keep archived content
from running as script on the portal's origin."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from urllib.parse import quote

from fastapi import HTTPException
from fastapi.responses import StreamingResponse

# Types a browser shows without running anything in them (no SVG: it can carry script). Anything
# else (HTML, SVG, JavaScript, XML, office documents…) is sent as an opaque, sandboxed attachment.
SHOWN_INLINE = frozenset(
    {"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp"}
    | {"video/mp4", "video/webm", "audio/mpeg", "audio/mp4", "audio/wav"}
)
OPAQUE = "application/octet-stream"
# At most 18 digits: any real offset fits, and no header can make int() parse thousands of digits.
_SPEC = re.compile(r"^bytes=([0-9]{0,18})-([0-9]{0,18})$")


class Unsatisfiable(ValueError):
    """A range that starts past the end: 416."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive, or None for the whole body."""
    if not header:
        return None
    match = _SPEC.match(header.strip().replace(" ", ""))
    if match is None:
        return None  # several ranges or another unit: answer with the whole body
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0:
            raise Unsatisfiable(header)
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise Unsatisfiable(header)
    return start, end


def wanted_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The range a request asks for, or 416 naming the size when it starts past the end."""
    try:
        return parse_range(header, size)
    except Unsatisfiable as exc:
        raise HTTPException(
            416, "range not satisfiable", headers={"Content-Range": f"bytes */{size}"}
        ) from exc


def disposition(kind: str, filename: str) -> str:
    """`Content-Disposition` with an ASCII fallback and the real name in RFC 5987 form."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def content_headers(media_type: str, filename: str, *, download: bool) -> tuple[str, dict[str, str]]:
    """The type to send archived bytes as, and its headers: inline only for SHOWN_INLINE; anything
    else, and every download, an `octet-stream` attachment a browser neither sniffs nor runs."""
    if not download and media_type in SHOWN_INLINE:
        return media_type, {
            "Content-Disposition": disposition("inline", filename),
            "X-Content-Type-Options": "nosniff",
        }
    return OPAQUE, {
        "Content-Disposition": disposition("attachment", filename),
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "X-Content-Type-Options": "nosniff",
    }


def _opened(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Fetch the first chunk now, so a store outage is a 503 rather than a cut-off body."""
    first = next(chunks, b"")
    return itertools.chain([first], chunks)


def stream_object(
    read: Callable[..., Iterator[bytes]],
    *,
    size: int,
    wanted: tuple[int, int] | None,
    media_type: str,
    headers: dict[str, str],
) -> StreamingResponse:
    """The whole object (200) or the wanted range of it (206); `read` is the store's, bound to the key."""
    headers = {"Accept-Ranges": "bytes", **headers}
    if wanted is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(_opened(read()), media_type=media_type, headers=headers)
    first, last = wanted
    body = _opened(read(start=first, length=last - first + 1))
    headers |= {"Content-Range": f"bytes {first}-{last}/{size}", "Content-Length": str(last - first + 1)}
    return StreamingResponse(body, status_code=206, media_type=media_type, headers=headers)
