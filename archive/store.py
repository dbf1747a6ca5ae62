"""Object stores: one protocol, the embedded `FileStore` here and `S3Store` beside it.

Both are write-once: a key is written exactly once, through an `ObjectWriter` that the
deposit pipeline feeds while it hashes, and only becomes visible when the writer commits.

A deposit writes many objects and then locks them all: it opens its writers with
`durable=False` and makes them durable in one go with `apply_retention_all`, so that the
FileStore syncs each file once and each folder once per deposit, not once per object.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from archive.errors import ArchiveError, ObjectExists, ObjectMissing, RetentionLocked, StoreUnavailable

CHUNK = 1 << 20


@dataclass(frozen=True)
class ObjectInfo:
    """A key as listed by a store, with the time it was last written.

    `upload_id` is set for an upload that was begun but never completed.
    """

    key: str
    modified_at: datetime
    upload_id: str | None = None


class ObjectWriter(Protocol):
    """Receives one object's bytes in order; nothing is visible before `commit`."""

    def write(self, chunk: bytes | memoryview) -> None: ...

    def commit(self) -> str | None:
        """Make the object visible; returns its version id where the store keeps versions."""
        ...

    def abort(self) -> None: ...


class ObjectStore(Protocol):
    """What the archive needs of a write-once object store."""

    url: str

    def open_writer(self, key: str, *, tags: Mapping[str, str], durable: bool = True) -> ObjectWriter:
        """A writer for a new key. With `durable=False` the object is visible at commit but sure
        to survive a crash only once `apply_retention_all` has locked it."""
        ...

    def read(
        self, key: str, *, version_id: str | None = None, start: int = 0, length: int | None = None
    ) -> Iterator[bytes]: ...

    def current_version(self, key: str) -> str | None:
        """The version a plain GET would return now (`None` where versions are not kept)."""
        ...

    def apply_retention(self, key: str, *, version_id: str | None, until: datetime) -> None: ...

    def apply_retention_all(self, items: Sequence[tuple[str, str | None]], *, until: datetime) -> None:
        """Lock every (key, version id) until `until`; on return each is locked and durable."""
        ...

    def retained_until(self, key: str, *, version_id: str | None) -> datetime | None: ...

    def list(self, prefix: str) -> Iterator[ObjectInfo]: ...

    def list_pending(self, prefix: str) -> Iterator[ObjectInfo]:
        """Uploads begun and never completed (their parts take space but no key)."""
        ...

    def discard(self, item: ObjectInfo) -> str:
        """Remove a leftover that no sealed bundle references; says what was done."""
        ...

    def set_legal_hold(self, key: str, *, version_id: str | None, on: bool) -> None:
        """Place or clear the legal hold (冻结) on one object version; a held object cannot be removed."""
        ...

    def legal_hold(self, key: str, *, version_id: str | None) -> bool: ...

    def destroy(self, key: str) -> int:
        """Remove every version of a key, for an approved disposition only; refuses (and removes
        nothing) while any version is locked or held. Returns how many versions went."""
        ...


def put_bytes(
    store: ObjectStore, key: str, data: bytes, *, tags: Mapping[str, str], durable: bool = True
) -> str | None:
    """Write a small object in one go."""
    writer = store.open_writer(key, tags=tags, durable=durable)
    try:
        writer.write(data)
        return writer.commit()
    except BaseException:
        writer.abort()
        raise


def read_bytes(store: ObjectStore, key: str, *, version_id: str | None = None) -> bytes:
    """Read a small object whole."""
    return b"".join(store.read(key, version_id=version_id))


def _fsync_path(path: Path) -> None:
    """fsync a file or a folder by name (Linux flushes the inode whichever descriptor asks)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_SYNCERS = 8  # fsyncs in flight at once: the filesystem's journal commits them together


def _fsync_all(paths: Iterable[Path]) -> None:
    unique = list(dict.fromkeys(paths))
    if len(unique) <= 1:
        for path in unique:
            _fsync_path(path)
        return
    with ThreadPoolExecutor(max_workers=min(_SYNCERS, len(unique))) as pool:
        list(pool.map(_fsync_path, unique))


def _with_parents(path: Path, root: Path) -> Iterator[Path]:
    """`path` and each folder above it up to `root`: a new folder's own entry needs syncing too."""
    while root in path.parents:
        yield path
        path = path.parent
    yield root


class _FileWriter:
    def __init__(self, store: FileStore, key: str, tags: Mapping[str, str], durable: bool) -> None:
        self._store = store
        self._key = key
        self._tags = dict(tags)
        self._durable = durable
        self._final = store.object_path(key)
        self._final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._final.parent, prefix=".incoming-")
        self._tmp = Path(tmp)
        self._file = os.fdopen(fd, "wb", buffering=0)

    def write(self, chunk: bytes | memoryview) -> None:
        # No writeback is started from here: measured, starting it every few MiB made the
        # writer wait on the disk queue, and the fsyncs at the end overlap one another anyway.
        self._file.write(chunk)

    def commit(self) -> str | None:
        self._file.flush()
        if self._durable:  # else `apply_retention_all` syncs it
            os.fsync(self._file.fileno())
        self._file.close()
        os.chmod(self._tmp, 0o444)
        try:
            # link() refuses an existing name, which is what makes the store write-once.
            os.link(self._tmp, self._final)
        except FileExistsError as exc:
            raise ObjectExists(f"{self._key}: already stored") from exc
        finally:
            self._tmp.unlink(missing_ok=True)
        # Not synced: applying retention rewrites and syncs it before anything commits.
        self._store.write_meta(self._key, {"tags": self._tags, "retain_until": None}, durable=False)
        if self._durable:
            _fsync_path(self._final.parent)
        else:
            self._store.defer(self._key)
        return None

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        self._tmp.unlink(missing_ok=True)


class FileStore:
    """The embedded store: read-only files under `root/objects`, tags and retention in `root/meta`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = f"file://{root}"
        (root / "objects").mkdir(parents=True, exist_ok=True)
        (root / "meta").mkdir(parents=True, exist_ok=True)
        self._deferred: set[str] = set()  # committed with durable=False, not locked yet
        self._lock = threading.Lock()

    def defer(self, key: str) -> None:
        """Note an object committed without its fsyncs; `apply_retention_all` makes it durable."""
        with self._lock:
            self._deferred.add(key)

    def _undefer(self, keys: Iterable[str]) -> set[str]:
        with self._lock:
            found = self._deferred.intersection(keys)
            self._deferred.difference_update(found)
        return found

    def object_path(self, key: str) -> Path:
        """Where a key lives on disk."""
        return self.root / "objects" / key

    def _meta_path(self, key: str) -> Path:
        return self.root / "meta" / f"{key}.json"

    def write_meta(self, key: str, meta: Mapping[str, object], *, durable: bool = True) -> None:
        """Replace a key's sidecar metadata atomically."""
        path = self._meta_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(meta, out, ensure_ascii=False)
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.replace(tmp, path)

    def _unreadable(self, key: str, exc: OSError) -> ArchiveError:
        """A missing file is a missing object only while the store's folders are there; without
        them (an unmounted volume, a moved folder) or on any other I/O error the store is down."""
        mounted = (self.root / "objects").is_dir() and (self.root / "meta").is_dir()
        if isinstance(exc, FileNotFoundError) and mounted:
            return ObjectMissing(f"{key}: not in the store")
        return StoreUnavailable(f"{self.url}: cannot read {key} ({exc.__class__.__name__})")

    def _meta(self, key: str) -> dict[str, object]:
        try:
            meta: dict[str, object] = json.loads(self._meta_path(key).read_text(encoding="utf-8"))
        except OSError as exc:
            raise self._unreadable(key, exc) from exc
        return meta

    def open_writer(self, key: str, *, tags: Mapping[str, str], durable: bool = True) -> ObjectWriter:
        if self.object_path(key).exists():
            raise ObjectExists(f"{key}: already stored")
        return _FileWriter(self, key, tags, durable)

    def read(
        self, key: str, *, version_id: str | None = None, start: int = 0, length: int | None = None
    ) -> Iterator[bytes]:
        try:
            handle = self.object_path(key).open("rb")
        except OSError as exc:
            raise self._unreadable(key, exc) from exc
        with handle:
            handle.seek(start)
            remaining = length
            while remaining is None or remaining > 0:
                chunk = handle.read(CHUNK if remaining is None else min(CHUNK, remaining))
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def current_version(self, key: str) -> str | None:
        try:
            self.object_path(key).stat()
        except OSError as exc:
            raise self._unreadable(key, exc) from exc
        return None

    def _locked_meta(self, key: str, until: datetime) -> dict[str, object]:
        # As S3 COMPLIANCE mode: a lock may be extended, never shortened.
        meta = self._meta(key)
        value = meta.get("retain_until")
        current = datetime.fromisoformat(str(value)) if value else None
        if current is not None and until < current:
            raise RetentionLocked(
                f"{key}: retained until {current.date().isoformat()};"
                f" cannot shorten it to {until.date().isoformat()}"
            )
        meta["retain_until"] = until.astimezone(UTC).isoformat()
        return meta

    def apply_retention(self, key: str, *, version_id: str | None, until: datetime) -> None:
        self.apply_retention_all([(key, version_id)], until=until)

    def apply_retention_all(self, items: Sequence[tuple[str, str | None]], *, until: datetime) -> None:
        keys = [key for key, _version in items]
        metas = {key: self._locked_meta(key, until) for key in keys}  # every refusal before any write
        # The objects' bytes reach the disk before the locks that promise them do.
        deferred = self._undefer(keys)
        _fsync_all(self.object_path(key) for key in keys if key in deferred)
        for key, meta in metas.items():
            self.write_meta(key, meta, durable=False)
        _fsync_all(self._meta_path(key) for key in keys)
        # A rename needs its folder synced; the folders a deposit made need their parents' too.
        objects, meta_root = self.root / "objects", self.root / "meta"
        _fsync_all(
            [
                *(f for k in deferred for f in _with_parents(self.object_path(k).parent, objects)),
                *(f for k in deferred for f in _with_parents(self._meta_path(k).parent, meta_root)),
                *(self._meta_path(k).parent for k in keys),
            ]
        )

    def retained_until(self, key: str, *, version_id: str | None) -> datetime | None:
        value = self._meta(key).get("retain_until")
        return datetime.fromisoformat(str(value)) if value else None

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        base = self.root / "objects"
        for dirpath, _dirs, files in os.walk(base):
            for name in files:  # half-written `.incoming-` files are listed too
                path = Path(dirpath) / name
                key = path.relative_to(base).as_posix()
                if key.startswith(prefix):
                    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                    yield ObjectInfo(key=key, modified_at=modified)

    def list_pending(self, prefix: str) -> Iterator[ObjectInfo]:
        return iter(())  # half-written files are plain `.incoming-` files, listed by `list`

    def _refuse_removal(self, key: str) -> None:
        """As S3 COMPLIANCE mode and legal hold: nothing locked or held is removed, whoever asks."""
        meta = self._meta(key)
        if meta.get("legal_hold"):
            raise RetentionLocked(f"{key}: under a legal hold; cannot remove it")
        value = meta.get("retain_until")
        until = datetime.fromisoformat(str(value)) if value else None
        if until is not None and until > datetime.now(UTC):
            raise RetentionLocked(f"{key}: retained until {until.date().isoformat()}; cannot remove it")

    def discard(self, item: ObjectInfo) -> str:
        if not item.key.rpartition("/")[2].startswith(".incoming-"):
            with contextlib.suppress(ObjectMissing):
                self._refuse_removal(item.key)
        self.object_path(item.key).unlink(missing_ok=True)
        self._meta_path(item.key).unlink(missing_ok=True)
        self._undefer([item.key])
        return "removed"

    def set_legal_hold(self, key: str, *, version_id: str | None, on: bool) -> None:
        meta = self._meta(key)
        meta["legal_hold"] = on
        self.write_meta(key, meta)

    def legal_hold(self, key: str, *, version_id: str | None) -> bool:
        return bool(self._meta(key).get("legal_hold"))

    def destroy(self, key: str) -> int:
        path = self.object_path(key)
        if not path.exists() and not self._meta_path(key).exists():
            return 0  # already gone: a destruction interrupted before is finished, not failed
        # A half-written file was never sealed; for anything else a sidecar that cannot be read
        # refuses too: without it nobody can say the lock has passed.
        if not key.rpartition("/")[2].startswith(".incoming-"):
            self._refuse_removal(key)
        path.unlink(missing_ok=True)
        self._meta_path(key).unlink(missing_ok=True)
        if path.parent.is_dir():
            _fsync_path(path.parent)
        return 1
