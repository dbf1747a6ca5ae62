"""Key files on disk: written whole or not at all, and one rotation of a key folder at a time.

A new file is written under a temporary name, flushed to disk, renamed into place and its folder
flushed, so a crash leaves the old file or the new one, never half of either; a file that must
not exist yet is created exclusively. Rotations take an exclusive lock on the folder, so two at
once cannot retire each other's new key.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_fd(fd: int, data: bytes) -> None:
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def ensure_folder(folder: Path) -> None:
    """The key folder, made private (0700) when it is new."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)


def write_new(path: Path, data: bytes) -> None:
    """Create a file that must not exist yet (0600), durably; FileExistsError if it does."""
    ensure_folder(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        _write_fd(fd, data)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def replace_file(path: Path, data: bytes) -> None:
    """Put a file in place whole (0600): written beside it, flushed, renamed over it, flushed."""
    ensure_folder(path.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    _write_fd(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), data)
    os.replace(tmp, path)
    _sync_folder(path.parent)


def move_into_place(source: Path, path: Path) -> None:
    """Rename a file that is already on disk over another, durably."""
    os.replace(source, path)
    _sync_folder(path.parent)


def remove(path: Path) -> None:
    """Remove a file (gone already is fine), durably."""
    path.unlink(missing_ok=True)
    _sync_folder(path.parent)


@contextlib.contextmanager
def rotation_lock(folder: Path) -> Iterator[None]:
    """Hold the folder's rotation lock (blocking while another rotation runs)."""
    ensure_folder(folder)
    fd = os.open(folder / ".rotation.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
