"""HTTP Range (RFC 9110 §14) for one byte range; several ranges get the whole body."""

from __future__ import annotations

import re

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
