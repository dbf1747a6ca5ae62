"""The embedded FileStore and the archive key, as an operator finds them on disk."""

from __future__ import annotations

import json
import os
import pty
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archive.errors import ObjectExists
from archive.models import Bundle
from archive.store import FileStore, put_bytes
from portal.settings import Settings
from portal.wiring import Wired

pytestmark = [
    pytest.mark.store("file"),
]


def test_sealed_objects_are_read_only_files_named_after_the_record(cli, make_case, wired: Wired) -> None:
    out = json.loads(cli("deposit", make_case(), "--json").output)
    store = wired.store
    assert isinstance(store, FileStore)
    with wired.sessions() as session:
        bundle = session.get(Bundle, out["bundle_id"])
        assert bundle is not None
        paths = [store.object_path(f.key) for f in bundle.files]
    footage = next(p for p in paths if p.suffix == ".mp4")
    assert footage.name == "现场检查.mp4"
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o444 for p in paths)
    assert store.retained_until(str(footage.relative_to(store.root / "objects")), version_id=None)


def test_a_key_cannot_be_written_twice(wired: Wired) -> None:
    put_bytes(wired.store, "probe/once.pdf", b"%PDF-1", tags={})
    with pytest.raises(ObjectExists):
        put_bytes(wired.store, "probe/once.pdf", b"%PDF-2", tags={})
    assert b"".join(wired.store.read("probe/once.pdf")) == b"%PDF-1"


def test_archive_key_is_private_and_published_as_jwks(cli, make_case, settings: Settings) -> None:
    cli("deposit", make_case())
    keys = list((settings.data_dir / "keys").glob("*.pem"))
    assert len(keys) == 1
    assert stat.S_IMODE(keys[0].stat().st_mode) == 0o600


def test_progress_bar_shows_on_a_terminal(make_case, settings: Settings) -> None:
    env = dict(
        os.environ,
        CASEVAULT_DATA_DIR=str(settings.data_dir),
        CASEVAULT_DATABASE_URL=str(settings.database_url),
        CASEVAULT_STORE=str(settings.store),
        COLUMNS="100",
    )
    primary, secondary = pty.openpty()
    proc = subprocess.run(
        [sys.executable, "-m", "portal.cli", "deposit", str(make_case())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=secondary,
        env=env,
        timeout=120,
        check=False,
    )
    os.close(secondary)
    terminal = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        terminal += chunk
    os.close(primary)
    assert proc.returncode == 0
    assert b"sealing" in terminal
    assert b"bundle_id" in proc.stdout


def test_database_down_gives_a_retry_hint(cli, make_case, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("CASEVAULT_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{port}/none")
    result = cli("deposit", make_case())
    assert result.exit_code == 75
    assert "database unavailable" in result.stderr and "retry later" in result.stderr


def test_nothing_is_written_when_the_database_is_down(cli, make_case, wired: Wired, monkeypatch) -> None:
    test_database_down_gives_a_retry_hint(cli, make_case, monkeypatch)
    assert list(wired.store.list("bundles/")) == []
    with wired.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Bundle)) == 0


def test_settings_name_the_bad_variable(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEVAULT_DIGESTS", "sha256,md5")
    result = cli("verify", "--all")
    assert result.exit_code == 2
    assert "CASEVAULT_DIGESTS" in result.stderr and "md5" in result.stderr


def test_data_dir_layout(cli, make_case, settings: Settings) -> None:
    cli("deposit", make_case())
    names = {p.name for p in Path(settings.data_dir).iterdir()}
    assert {"keys"} <= names
