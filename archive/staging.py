"""Staging (暂存) for deposits that arrive over the network: resumable uploads (the tus 1.0
protocol's state: length, offset, metadata, owner) and the folder a deposit is unpacked into.

Everything here lives in a staging folder on local disk, outside the archive realm; nothing of
it is sealed or ledgered. A deposit reads the folder it is given by `unpack_zip` or
`lay_out_uploads` exactly as `casevault deposit` reads a folder, and the caller removes it
afterwards. ZIP members and uploaded paths are held to the rules a deposit folder's own paths
are: no absolute paths, no `..`, no symbolic links, no two names alike after Unicode NFC
normalisation, and never more bytes than the configured maximum.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import stat
import unicodedata
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from archive.errors import DepositRefused, Refused, TooLarge

UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
ZIP_NAME = "the ZIP"
MAX_MEMBERS = 100_000
CHUNK = 1 << 20


class UploadNotFound(Refused):
    """An upload that does not exist, has expired, or belongs to someone else (alike: 404)."""


class OffsetMismatch(Refused):
    """A PATCH that does not start where the upload stands, or one already under way (409)."""


@dataclass(frozen=True)
class Upload:
    """One resumable upload in staging: who made it, how long it will be, what it said of itself."""

    id: str
    owner: int
    length: int
    metadata: dict[str, str]
    created_at: datetime
    folder: Path

    @property
    def data(self) -> Path:
        """The bytes received so far."""
        return self.folder / "data"

    @property
    def offset(self) -> int:
        """How many bytes the server holds: where the next PATCH starts."""
        try:
            return self.data.stat().st_size
        except FileNotFoundError:
            return 0

    @property
    def complete(self) -> bool:
        """Whether every byte has arrived."""
        return self.offset == self.length


def too_large(*, limit: int) -> str:
    """What a refusal for size says: the maximum, in the unit a person would use."""
    size = (
        f"{limit >> 30} GiB"
        if limit >= 1 << 30 and not limit % (1 << 30)
        else (f"{limit >> 20} MiB" if limit >= 1 << 20 and not limit % (1 << 20) else f"{limit} bytes")
    )
    return f"a deposit may hold at most {size}"


def _uploads(root: Path) -> Path:
    return root / "uploads"


def create_upload(
    *, root: Path, owner: int, length: int, metadata: dict[str, str], limit: int, now: datetime
) -> Upload:
    """Stage a new, empty upload of `length` bytes for `owner`; beyond `limit` it is `TooLarge`."""
    if length > limit:
        raise TooLarge(f"Upload-Length: {length} bytes; {too_large(limit=limit)}", limit=limit)
    _uploads(root).mkdir(parents=True, exist_ok=True, mode=0o700)
    with (root / "uploads.lock").open("a") as lock:  # one creation at a time: the sum holds
        fcntl.flock(lock, fcntl.LOCK_EX)
        held = _held_by(root=root, owner=owner)
        if held + length > limit:
            raise TooLarge(
                f"Upload-Length: {length} bytes, and {held} bytes of your uploads wait in staging; "
                f"together {too_large(limit=limit)} (finish or delete them first)",
                limit=limit,
            )
        upload_id = uuid.uuid4().hex
        folder = _uploads(root) / upload_id
        folder.mkdir(mode=0o700)
        (folder / "data").touch(mode=0o600)
        info = {"owner": owner, "length": length, "metadata": metadata, "created_at": now.isoformat()}
        (folder / "info.json").write_text(json.dumps(info, ensure_ascii=False), encoding="utf-8")
    return Upload(upload_id, owner, length, dict(metadata), now, folder)


def _held_by(*, root: Path, owner: int) -> int:
    """The bytes `owner`'s uploads in staging declare: one person never stages more than a deposit."""
    held = 0
    for info in _uploads(root).glob("*/info.json"):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            facts = json.loads(info.read_text(encoding="utf-8"))
            if facts["owner"] == owner:
                held += int(facts["length"])
    return held


def find_upload(*, root: Path, upload_id: str, owner: int) -> Upload:
    """The caller's own upload; unknown, malformed and other people's ids are refused alike."""
    folder = _uploads(root) / upload_id
    try:
        if not UPLOAD_ID.match(upload_id):
            raise FileNotFoundError(upload_id)
        info = json.loads((folder / "info.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError) as exc:
        raise UploadNotFound(f"upload {upload_id!r}: no such upload") from exc
    if info["owner"] != owner:
        raise UploadNotFound(f"upload {upload_id!r}: no such upload")
    created = datetime.fromisoformat(info["created_at"])
    return Upload(upload_id, info["owner"], info["length"], info["metadata"], created, folder)


@contextlib.contextmanager
def appending(*, upload: Upload, offset: int) -> Iterator[BinaryIO]:
    """The upload's data file, open at `offset` (where it stands) for one writer; what is written stays."""
    with (upload.folder / "info.json").open("rb") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise OffsetMismatch(f"upload {upload.id}: another PATCH is under way") from exc
        current = upload.offset
        if offset != current:
            raise OffsetMismatch(f"Upload-Offset: {offset}, but the upload stands at {current}")
        with upload.data.open("ab") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())


def remove_upload(*, upload: Upload) -> None:
    """Remove an upload and what it received (tus termination, or once its deposit is sealed)."""
    shutil.rmtree(upload.folder, ignore_errors=True)


def sweep(*, root: Path, now: datetime, older_than: timedelta) -> list[str]:
    """Remove uploads and unpacked folders last touched before `now - older_than`; their ids."""
    gone: list[str] = []
    for parent in (_uploads(root), root / "deposits", root / "incoming"):
        if not parent.is_dir():
            continue
        for folder in parent.iterdir():  # an upload's or unpacked folder, or a received ZIP
            real = folder.is_dir() and not folder.is_symlink()  # a link is removed, never followed
            inside = folder.glob("*") if real else ()
            try:
                stamps = [p.lstat().st_mtime for p in (folder, *inside)]
            except FileNotFoundError:  # removed meanwhile (a DELETE, a deposit)
                continue
            if datetime.fromtimestamp(max(stamps), UTC) < now - older_than:
                if real:
                    shutil.rmtree(folder, ignore_errors=True)
                else:
                    folder.unlink(missing_ok=True)
                gone.append(folder.name)
    return gone


def _why(exc: Exception) -> str:
    """What went wrong, for a refusal: an OS error's own words, never the staging path it names."""
    return (exc.strerror or type(exc).__name__) if isinstance(exc, OSError) else str(exc)


def new_deposit_folder(*, root: Path) -> Path:
    """A fresh, empty folder in staging to unpack one deposit into."""
    folder = root / "deposits" / uuid.uuid4().hex
    folder.mkdir(parents=True, mode=0o700)
    return folder


def member_path(*, raw: str, where: str) -> str:
    """A relative path from a ZIP or an upload's metadata, normalised, or a refusal naming it."""
    if "\\" in raw or "\x00" in raw:
        raise DepositRefused(f"{raw}: {where}: must use '/' separators only")
    path = PurePosixPath(raw)
    if path.is_absolute() or re.match(r"^[A-Za-z]:", raw):
        raise DepositRefused(f"{raw}: {where}: an absolute path is not accepted")
    if any(part in {"..", "."} for part in path.parts) or not path.parts:
        raise DepositRefused(f"{raw}: {where}: must not contain '.' or '..'")
    return unicodedata.normalize("NFC", str(path))


def _strip_top(paths: list[str], *, where: str) -> dict[str, str]:
    """Each path under the deposit folder: as is with case.json on top, else below the one shared folder."""
    if "case.json" in paths:
        return {p: p for p in paths}
    tops = {PurePosixPath(p).parts[0] for p in paths}
    if len(tops) == 1:
        (top,) = tops
        if f"{top}/case.json" in paths:
            return {p: p.removeprefix(f"{top}/") for p in paths}
    raise DepositRefused(f"case.json: missing at the top of {where} (or of the one folder it holds)")


def _unique(paths: list[str], *, where: str = ZIP_NAME) -> None:
    seen: set[str] = set()
    for path in paths:
        key = path.rstrip("/")
        if key in seen:
            raise DepositRefused(f"{key}: {where} holds two entries of this name")
        seen.add(key)
    for path in paths:  # a file that is also another's folder
        parents = PurePosixPath(path).parents
        clash = next((str(p) for p in parents if str(p) in seen and str(p) != "."), None)
        if clash is not None and clash + "/" not in paths:
            raise DepositRefused(f"{clash}: {where} holds it both as a file and as a folder")


def unpack_zip(*, source: Path, dest: Path, limit: int) -> Path:
    """Check every member of a deposit ZIP, then unpack it into `dest`; the deposit folder."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DepositRefused(f"{ZIP_NAME}: not a ZIP file ({_why(exc)})") from exc
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise DepositRefused(f"{ZIP_NAME}: more than {MAX_MEMBERS} entries")
        names: list[str] = []
        files: list[tuple[str, zipfile.ZipInfo]] = []
        declared = 0
        for info in members:
            mode = info.external_attr >> 16
            kind = stat.S_IFMT(mode)
            if kind == stat.S_IFLNK:
                raise DepositRefused(f"{info.filename}: symbolic links are not accepted")
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise DepositRefused(f"{info.filename}: not a regular file")
            if info.flag_bits & 0x1:
                raise DepositRefused(f"{info.filename}: encrypted entries are not accepted")
            path = member_path(
                raw=info.filename.rstrip("/") if info.is_dir() else info.filename, where=ZIP_NAME
            )
            names.append(path + "/" if info.is_dir() else path)
            if not info.is_dir():
                files.append((path, info))
                declared += info.file_size
        if declared > limit:
            raise TooLarge(f"{ZIP_NAME}: unpacks to {declared} bytes; {too_large(limit=limit)}", limit=limit)
        _unique(names)
        under = _strip_top([p for p, _ in files], where=ZIP_NAME)
        written = 0
        for path, info in files:
            target = dest / under[path]
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as member, target.open("xb") as out:
                    while chunk := member.read(CHUNK):
                        written += len(chunk)
                        if written > limit:
                            raise TooLarge(
                                f"{ZIP_NAME}: unpacks to more than {too_large(limit=limit)}", limit=limit
                            )
                        out.write(chunk)
            except (zipfile.BadZipFile, EOFError, NotImplementedError, OSError) as exc:
                raise DepositRefused(f"{path}: cannot be unpacked from {ZIP_NAME} ({_why(exc)})") from exc
    return dest


def lay_out_uploads(*, uploads: list[Upload], dest: Path, limit: int) -> Path:
    """Lay uploaded files out in `dest` by the relative path in each one's metadata; the deposit folder."""
    where = "the uploaded folder"
    paths: list[str] = []
    for upload in uploads:
        raw = (
            upload.metadata.get("path")
            or upload.metadata.get("relativePath")
            or upload.metadata.get("filename")
        )
        if not raw:
            raise DepositRefused(f"upload {upload.id}: Upload-Metadata: no 'path' for the file")
        path = member_path(raw=raw, where=where)
        if not upload.complete:
            raise DepositRefused(f"{path}: upload incomplete ({upload.offset} of {upload.length} bytes)")
        paths.append(path)
    total = sum(u.length for u in uploads)
    if total > limit:
        raise TooLarge(f"{where}: {total} bytes; {too_large(limit=limit)}", limit=limit)
    seen: dict[str, str] = {}
    for path in paths:
        if path in seen:
            raise DepositRefused(f"{path}: uploaded twice")
        seen[path] = path
    _unique(paths, where=where)
    under = _strip_top(paths, where=where)
    for path, upload in zip(paths, uploads, strict=True):
        target = dest / under[path]
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(upload.data, target)
            except OSError:
                shutil.copyfile(upload.data, target)
        except OSError as exc:
            raise DepositRefused(f"{path}: cannot be laid out in {where} ({_why(exc)})") from exc
    return dest
