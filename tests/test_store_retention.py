"""The FileStore keeps what S3 COMPLIANCE mode keeps: a locked object cannot be removed or
rewritten, and its lock can be extended but never shortened."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.errors import ObjectExists, RetentionLocked
from archive.store import FileStore, put_bytes, read_bytes

KEY = "bundles/b1/data/a.pdf"


def test_retention_can_be_extended_but_never_shortened(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    put_bytes(store, KEY, b"sealed", tags={})
    store.apply_retention(KEY, version_id=None, until=datetime(2056, 1, 1, tzinfo=UTC))
    with pytest.raises(RetentionLocked, match="retained until 2056-01-01; cannot shorten it to 2000-01-01"):
        store.apply_retention(KEY, version_id=None, until=datetime(2000, 1, 1, tzinfo=UTC))
    store.apply_retention(KEY, version_id=None, until=datetime(2060, 1, 1, tzinfo=UTC))
    assert store.retained_until(KEY, version_id=None) == datetime(2060, 1, 1, tzinfo=UTC)


def test_an_object_under_retention_cannot_be_removed(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    put_bytes(store, KEY, b"sealed", tags={})
    store.apply_retention(KEY, version_id=None, until=datetime(2056, 1, 1, tzinfo=UTC))
    (info,) = store.list("bundles/")
    with pytest.raises(RetentionLocked, match="cannot remove it"):
        store.discard(info)
    assert read_bytes(store, KEY) == b"sealed"
    with pytest.raises(ObjectExists):  # nor rewritten
        put_bytes(store, KEY, b"forged", tags={})


def test_an_expired_lock_no_longer_protects(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    put_bytes(store, KEY, b"old", tags={})
    store.apply_retention(KEY, version_id=None, until=datetime(2001, 1, 1, tzinfo=UTC))
    (info,) = store.list("bundles/")
    assert store.discard(info) == "removed"
    assert list(store.list("bundles/")) == []


def test_locking_many_at_once_refuses_them_all_when_one_would_be_shortened(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    other = "bundles/b1/data/b.pdf"
    put_bytes(store, KEY, b"sealed", tags={})
    put_bytes(store, other, b"written as a deposit writes, synced when locked", tags={}, durable=False)
    store.apply_retention(KEY, version_id=None, until=datetime(2056, 1, 1, tzinfo=UTC))
    with pytest.raises(RetentionLocked, match="cannot shorten it to 2040-01-01"):
        store.apply_retention_all([(other, None), (KEY, None)], until=datetime(2040, 1, 1, tzinfo=UTC))
    assert store.retained_until(other, version_id=None) is None  # nothing locked by half
    store.apply_retention_all([(other, None), (KEY, None)], until=datetime(2060, 1, 1, tzinfo=UTC))
    assert [store.retained_until(k, version_id=None) for k in (other, KEY)] == [
        datetime(2060, 1, 1, tzinfo=UTC)
    ] * 2
    assert read_bytes(store, other) == b"written as a deposit writes, synced when locked"
