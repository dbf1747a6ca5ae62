"""Digests computed in one streaming pass while bytes flow to their destination.

SM3 (GB/T 32905, named by DA/T 97-2023 for electronic evidence) is several times slower than
SHA-256, so each extra algorithm runs in its own thread fed through a bounded queue:
hashlib releases the GIL, and the copy and the other digests overlap with it.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

SUPPORTED = ("sha256", "sm3")
_DEPTH = 8  # chunks in flight per helper thread: bounds memory at a few MiB per file


def parse_algorithms(value: str) -> tuple[str, ...]:
    """Read `CASEVAULT_DIGESTS`: a comma list that must include sha256."""
    names = tuple(dict.fromkeys(n.strip().lower() for n in value.split(",") if n.strip()))
    unknown = [n for n in names if n not in SUPPORTED]
    if unknown:
        raise ValueError(f"CASEVAULT_DIGESTS: unknown algorithm {unknown[0]!r} (use sha256, sm3)")
    if "sha256" not in names:
        raise ValueError("CASEVAULT_DIGESTS: sha256 is required (BagIt and the seal use it)")
    for name in names:
        hashlib.new(name)  # fail early where OpenSSL lacks SM3
    return names


@dataclass(frozen=True)
class Digested:
    """What one pass produced: size and hex digests by algorithm."""

    size: int
    digests: dict[str, str]


def _helper(hasher: hashlib._Hash, inbox: queue.Queue[bytes | None]) -> None:
    while (chunk := inbox.get()) is not None:
        hasher.update(chunk)


def digest_stream(
    chunks: Iterable[bytes],
    *,
    algorithms: tuple[str, ...],
    sink: Callable[[bytes], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Digested:
    """Hash every chunk with each algorithm and hand it to `sink`, in one pass."""
    first = hashlib.new(algorithms[0])
    helpers: list[tuple[threading.Thread, queue.Queue[bytes | None], hashlib._Hash]] = []
    for name in algorithms[1:]:
        hasher = hashlib.new(name)
        inbox: queue.Queue[bytes | None] = queue.Queue(maxsize=_DEPTH)
        thread = threading.Thread(target=_helper, args=(hasher, inbox), daemon=True)
        thread.start()
        helpers.append((thread, inbox, hasher))
    size = 0
    try:
        for chunk in chunks:
            for _thread, inbox, _hasher in helpers:
                inbox.put(chunk)
            first.update(chunk)
            if sink is not None:
                sink(chunk)
            size += len(chunk)
            if progress is not None:
                progress(len(chunk))
    finally:
        for thread, inbox, _hasher in helpers:
            inbox.put(None)
            thread.join()
    digests = {algorithms[0]: first.hexdigest()}
    digests.update({h.name: h.hexdigest() for _t, _q, h in helpers})
    return Digested(size=size, digests=digests)


def read_file(path: str, *, chunk_size: int = 1 << 20) -> Iterable[bytes]:
    """Stream a local file in chunks."""
    with open(path, "rb", buffering=0) as handle:
        while chunk := handle.read(chunk_size):
            yield chunk
