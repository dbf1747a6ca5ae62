"""`casevault backup` and `casevault restore`: the database and the keys in one encrypted file.

Inside the encryption (see `container`) the backup is JSON lines: a preamble, then each table as
a header line and one line per row, then each file under the data dir's `keys/` as one line,
then the manifest — the migration revision, each table's row count, the ledger head, and the
SHA-256 of every part — which a restore checks, over the whole file, before it writes anything.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from access import ledger
from alembic import command
from archive.errors import Refused
from portal import db
from portal.backup import rows
from portal.backup.container import BackupDamaged, SealedReader, SealedWriter
from portal.settings import Settings
from portal.wiring import Wired

FORMAT = 1
MIN_PASSPHRASE = 12
# Secrets an operator may configure instead of leaving them in keys/: named in the manifest, never kept.
CONFIGURED_SECRETS = {
    "token_secret": "CASEVAULT_TOKEN_SECRET",
    "public_token_secret": "CASEVAULT_PUBLIC_TOKEN_SECRET",
}

Progress = Callable[[int], None] | None


def _line(record: Any) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _key_files(settings: Settings) -> list[tuple[str, Path]]:
    """Every file under the data dir's keys/ (whatever rotation left there), by relative path."""
    folder = settings.data_dir / "keys"
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            raise Refused(f"{path}: a symbolic link among the keys; keys/ must hold files only")
        if path.is_file():
            found.append((path.relative_to(folder).as_posix(), path))
    return found


def backup(
    *, settings: Settings, dest: Path, passphrase: str, force: bool, progress: Progress = None
) -> dict[str, Any]:
    """Write an encrypted backup of the database and the keys to `dest` (whole, or not at all)."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise Refused(f"passphrase: at least {MIN_PASSPHRASE} characters")
    if dest.is_dir():
        raise Refused(f"{dest}: a folder; give the backup file's name")
    if dest.exists() and not force:
        raise Refused(f"{dest}: already exists; give --force to replace it")
    if not dest.parent.is_dir():
        raise Refused(f"{dest.parent}: no such folder")
    url = settings.resolved_migration_database_url
    engine = db.make_engine(url)
    temporary = dest.parent / f".{dest.name}.{secrets.token_hex(6)}.partial"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            manifest = _write(out, engine=engine, settings=settings, passphrase=passphrase, progress=progress)
            out.flush()
            os.fsync(out.fileno())
        if force:
            os.replace(temporary, dest)
        else:
            os.link(temporary, dest)  # refuses, atomically, a DEST made meanwhile
            temporary.unlink()
    except FileExistsError:
        raise Refused(f"{dest}: already exists; give --force to replace it") from None
    finally:
        engine.dispose()
        temporary.unlink(missing_ok=True)
    _sync_folder(dest.parent)
    return manifest


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(
    out: BinaryIO, *, engine: Engine, settings: Settings, passphrase: str, progress: Progress
) -> dict[str, Any]:
    sealed = SealedWriter(out, passphrase=passphrase)
    parts: list[dict[str, Any]] = []
    with rows.snapshot(engine) as conn:
        at = rows.revision(conn)
        tables = rows.tables_of(conn)
        preamble = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(),
            "engine": engine.dialect.name,
            "database": db.shown_url(engine.url),
            "alembic_revision": at,
            "tables": [t.name for t in tables],
        }
        sealed.write(_line({"backup": preamble}))
        for table in tables:
            columns = [c.name for c in table.columns]
            sealed.write(_line({"table": table.name, "columns": columns}))
            digest, n = hashlib.sha256(), 0
            for cells in rows.on_each_batch(rows.dump(conn, table), progress):
                line = _line(cells)
                digest.update(line)
                sealed.write(line)
                n += 1
            parts.append({"part": f"database/{table.name}", "rows": n, "sha256": digest.hexdigest()})
        head = rows.ledger_head(conn)
    # Read after the snapshot: keys are only ever added, so every key a snapshot's seal or
    # checkpoint names is here.
    for name, path in _key_files(settings):
        data = path.read_bytes()
        mode = path.stat().st_mode & 0o777
        sealed.write(_line({"key": name, "mode": mode, "data": base64.b64encode(data).decode()}))
        parts.append({"part": f"keys/{name}", "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    manifest = {
        **preamble,
        "ledger_head": head,
        "parts": parts,
        "configured_secrets": [env for field, env in CONFIGURED_SECRETS.items() if getattr(settings, field)],
    }
    sealed.write(_line({"manifest": manifest}))
    sealed.close()
    return manifest


# --- reading a backup ---------------------------------------------------------------------------


def _records(chunks: Iterator[bytes]) -> Iterator[tuple[bytes, Any]]:
    """(line, parsed) for every line of the decrypted stream."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line + b"\n", json.loads(line)
    if pending:
        yield pending, json.loads(pending)


KeyFile = tuple[str, bytes, int]  # path under keys/, contents, mode


def check(reader: SealedReader, *, name: str) -> tuple[dict[str, Any], list[KeyFile]]:
    """Read the whole backup and hold it to its manifest: the manifest and the key files, or
    `BackupDamaged` naming what is wrong."""
    keys: list[KeyFile] = []
    digests: dict[str, Any] = {}
    current: str | None = None
    manifest: dict[str, Any] | None = None
    try:
        records = _records(reader.chunks())
        first = next(records)[1]
        if not isinstance(first, dict) or "backup" not in first:
            raise BackupDamaged(f"{name}: no preamble")
        for line, record in records:
            if manifest is not None:
                raise BackupDamaged(f"{name}: records after the manifest")
            if isinstance(record, list):
                if current is None:
                    raise BackupDamaged(f"{name}: a row outside any table")
                digests[current][0].update(line)
                digests[current][1] += 1
            elif "table" in record:
                current = f"database/{record['table']}"
                digests[current] = [hashlib.sha256(), 0]
            elif "key" in record:
                current = None
                data = base64.b64decode(record["data"])
                digests[f"keys/{record['key']}"] = [hashlib.sha256(data), len(data)]
                keys.append((record["key"], data, int(record["mode"]) & 0o777))
            elif "manifest" in record:
                manifest = record["manifest"]
            else:
                raise BackupDamaged(f"{name}: an unknown record")
        if manifest is None:
            raise BackupDamaged(f"{name}: no manifest; the backup is not whole")
        listed = {p["part"]: p for p in manifest["parts"]}
        if set(listed) != set(digests):
            raise BackupDamaged(f"{name}: its parts are not the ones its manifest lists")
        for part, (digest, size) in digests.items():
            expected = listed[part]
            if digest.hexdigest() != expected["sha256"] or size != expected.get(
                "rows", expected.get("bytes")
            ):
                raise BackupDamaged(f"{name}: {part} does not match its manifest")
    except (ValueError, KeyError, TypeError, StopIteration) as exc:
        raise BackupDamaged(f"{name}: not a well-formed backup ({exc.__class__.__name__})") from None
    return manifest, keys


# --- restoring ----------------------------------------------------------------------------------


def _key_target(keys: Path, name: str) -> Path:
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise BackupDamaged(f"keys/{name}: not a path inside keys/")
    return keys.joinpath(*relative.parts)


def _plan_keys(keys: list[KeyFile], *, settings: Settings) -> list[tuple[Path, bytes, int]]:
    """The key files to write; refuses a data dir that holds a different key of the same name."""
    folder, planned = settings.data_dir / "keys", []
    for name, data, mode in keys:
        target = _key_target(folder, name)
        if target.exists() or target.is_symlink():
            if not target.is_file() or target.read_bytes() != data:
                raise Refused(
                    f"{target}: the data dir holds a different key; restore into a data dir "
                    "without keys (nothing was written)"
                )
            continue
        planned.append((target, data, mode))
    return planned


def _write_keys(planned: list[tuple[Path, bytes, int]]) -> list[Path]:
    written = []
    try:
        for target, data, mode in planned:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            temporary = target.parent / f".{target.name}.{secrets.token_hex(6)}.restoring"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode or 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(temporary, target)  # never over a key that appeared meanwhile
            finally:
                temporary.unlink()
            written.append(target)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written


def _schema_ready(engine: Engine, *, wanted: str, shown: str) -> None:
    """Migrate a database with no schema to the backup's revision; refuse one at another revision."""
    known = {s.revision for s in ScriptDirectory(str(db.MIGRATIONS)).walk_revisions()}
    if wanted not in known:
        raise Refused(
            f"the backup is at revision {wanted}, which this casevault does not know; "
            "restore with a newer casevault"
        )
    with engine.connect() as conn:
        found = rows.revision(conn)
        foreign = found is None and inspect(conn).get_table_names()
    if foreign:
        raise Refused(
            f"{shown}: the database holds tables ({', '.join(sorted(foreign))}) but no casevault "
            "schema; restore into an empty database — nothing was written"
        )
    if found is None:
        command.upgrade(db.alembic_config(engine), wanted)
    elif found != wanted:
        raise Refused(
            f"{shown}: the database is at revision {found}, the backup at {wanted}; restore into a database "
            "with no schema (restore migrates it), or one migrated to the backup's revision"
        )


def restore(
    *, settings: Settings, source: Path, passphrase: str, progress: Progress = None
) -> dict[str, Any]:
    """Restore a backup into an empty database and the data dir's keys: all of it, or nothing."""
    if not source.is_file():
        raise Refused(f"{source}: no such file")
    url = settings.resolved_migration_database_url
    shown = db.shown_url(url)
    with source.open("rb") as handle:
        reader = SealedReader(handle, passphrase=passphrase, name=str(source))
        manifest, keys = check(reader, name=str(source))
        planned = _plan_keys(keys, settings=settings)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = db.make_engine(url, create=True)
        try:
            _schema_ready(engine, wanted=manifest["alembic_revision"], shown=shown)
            with engine.connect() as conn:
                transaction = conn.begin()
                tables = rows.tables_of(conn)
                rows.require_empty(conn, tables, shown=shown)
                loader = rows.Loader(conn, tables)
                loader.clear_migration_rows()
                loaded = 0
                for _, record in _records(reader.chunks()):
                    if isinstance(record, list):
                        loader.add(record)
                        loaded += 1
                        if progress is not None and loaded % rows.BATCH == 0:
                            progress(rows.BATCH)
                    elif "table" in record:
                        loader.begin(record["table"], record["columns"])
                loader.advance_sequences()
                written = _write_keys(planned)
                try:
                    transaction.commit()
                except BaseException:
                    for path in written:
                        path.unlink(missing_ok=True)
                    raise
            if manifest["alembic_revision"] != db.SCHEMA_REVISION:
                command.upgrade(db.alembic_config(engine), "head")
        finally:
            engine.dispose()
    return {
        **manifest,
        "database": shown,
        "keys_written": len(written),
        "keys_present": len(key_parts(manifest)) - len(written),
    }


def record(wired: Wired, *, action: str, manifest: dict[str, Any], file: Path, actor: str) -> None:
    """Ledger a backup written or restored (备份/恢复): which file, of which ledger head."""
    detail = {
        "file": file.name,
        "ledger_head": manifest["ledger_head"]["seq"],
        "alembic_revision": manifest["alembic_revision"],
        "keys": len(key_parts(manifest)),
    }
    with wired.sessions() as session:
        ledger.append(session, actor=actor, action=action, outcome="ok", at=wired.clock(), detail=detail)
        session.commit()


def key_parts(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifest's entries for key files."""
    return [p for p in manifest["parts"] if p["part"].startswith("keys/")]
