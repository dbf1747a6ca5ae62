"""Depositing through the command line and tampering with what the store holds."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archive.s3store import S3Store
from archive.store import FileStore, read_bytes
from portal.cli.demo import case_document
from portal.wiring import Wired

PDF = "data/records/询问笔录.pdf"


def deposit(cli: Cli, make_case: Callable[..., Path], case_no: str | None = None) -> str:
    """Deposit a fresh folder of the demo case (or of `case_no`) with `casevault deposit`; its id."""
    document = case_document(case_no) if case_no else None
    result = cli("deposit", make_case(document), "--json")
    assert result.exit_code == 0, result.output
    return str(json.loads(result.output)["bundle_id"])


def change_object(wired: Wired, key: str) -> None:
    """Flip one bit of a stored object behind the archive's back, in either store."""
    store = wired.store
    if isinstance(store, FileStore):
        path = store.object_path(key)
        path.chmod(0o644)  # the store leaves objects read-only; the tamperer does not care
        path.write_bytes(flipped(path.read_bytes()))
        return
    assert isinstance(store, S3Store)
    data = flipped(read_bytes(store, key))
    store.client.put_object(store.location.bucket, key, io.BytesIO(data), len(data))


Cli = Callable[..., Any]


def flipped(data: bytes) -> bytes:
    """The same bytes with one bit in the middle changed."""
    changed = bytearray(data)
    changed[len(data) // 2] ^= 0x01
    return bytes(changed)
