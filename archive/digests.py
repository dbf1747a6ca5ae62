"""Digests computed in one streaming pass while bytes flow to their destination.

SM3 (GB/T 32905, named by DA/T 97-2023 for electronic evidence) is several times slower than
SHA-256. When there are fewer large files than cores, `overlap=True` runs each extra
algorithm in its own thread fed through a bounded queue (hashlib releases the GIL); when every
core already has a file, all digests run in the file's own thread, which is cheaper.
"""

from __future__ import annotations

import hashlib
import os
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
    chunks: Iterable[bytes | memoryview],
    *,
    algorithms: tuple[str, ...],
    sink: Callable[[bytes | memoryview], object] | None = None,
    progress: Callable[[int], None] | None = None,
    overlap: bool = False,
) -> Digested:
    """Hash every chunk with each algorithm and hand it to `sink`, in one pass."""
    first = hashlib.new(algorithms[0])
    inline = [] if overlap else [hashlib.new(name) for name in algorithms[1:]]
    helpers: list[tuple[threading.Thread, queue.Queue[bytes | None], hashlib._Hash]] = []
    for name in algorithms[1:] if overlap else ():
        hasher = hashlib.new(name)
        inbox: queue.Queue[bytes | None] = queue.Queue(maxsize=_DEPTH)
        thread = threading.Thread(target=_helper, args=(hasher, inbox), daemon=True)
        thread.start()
        helpers.append((thread, inbox, hasher))
    size = 0
    try:
        for chunk in chunks:
            for _thread, inbox, _hasher in helpers:
                inbox.put(bytes(chunk) if isinstance(chunk, memoryview) else chunk)
            first.update(chunk)
            for hasher in inline:
                hasher.update(chunk)
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
    digests.update({h.name: h.hexdigest() for h in inline})
    return Digested(size=size, digests=digests)


def read_file(
    path: str, *, chunk_size: int = 1 << 20, reuse_buffer: bool = False
) -> Iterable[bytes | memoryview]:
    """Stream a local file in chunks; with `reuse_buffer`, each chunk is only valid until the next."""
    with open(path, "rb", buffering=0) as handle:
        if not reuse_buffer:
            while chunk := handle.read(chunk_size):
                yield chunk
            return
        buffer = bytearray(chunk_size)
        view = memoryview(buffer)
        while count := handle.readinto(buffer):
            yield view[:count]


LARGE = 8 << 20


def overlap_digests(sizes: Iterable[int]) -> bool:
    """Give each digest its own thread only when some cores would otherwise have no large file."""
    return sum(1 for size in sizes if size >= LARGE) < (os.cpu_count() or 2)
