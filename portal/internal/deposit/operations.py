"""Deposits that arrive over the network, as the portal and the API take them: the ZIP or the
uploaded files are unpacked into staging, then sealed by the one deposit path the command line
uses (`portal.internal.archive.operations.deposit`), as the signed-in user; the staging folder is
removed afterwards whatever happened, and the uploads once their deposit is sealed."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from access.policy import Subject
from archive import staging
from archive.errors import DepositRefused
from portal.internal.archive import operations as archive
from portal.wiring import Wired


def staging_root(wired: Wired) -> Path:
    """The staging folder (never the archive store), created on first use."""
    root = wired.settings.resolved_staging_dir
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def sweep(wired: Wired) -> list[str]:
    """Remove uploads and unpacked folders nobody touched within the configured hours."""
    return staging.sweep(
        root=staging_root(wired),
        now=wired.clock(),
        older_than=timedelta(hours=wired.settings.upload_expiry_hours),
    )


def _seal(
    wired: Wired, folder: Path, *, subject: Subject, source: str | None, supplement: bool
) -> dict[str, Any]:
    return archive.deposit(
        wired, folder=folder, actor=subject.username, subject=subject, source=source, supplement=supplement
    )


def deposit_zip(
    wired: Wired, *, source_zip: Path, subject: Subject, source: str | None, supplement: bool
) -> dict[str, Any]:
    """Unpack a case folder's ZIP in staging and seal it; what `casevault deposit --json` prints."""
    dest = staging.new_deposit_folder(root=staging_root(wired))
    try:
        folder = staging.unpack_zip(source=source_zip, dest=dest, limit=wired.settings.deposit_limit_bytes)
        return _seal(wired, folder, subject=subject, source=source, supplement=supplement)
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def deposit_uploads(
    wired: Wired,
    *,
    upload: str | None,
    uploads: list[str] | None,
    owner: int,
    subject: Subject,
    source: str | None,
    supplement: bool,
) -> dict[str, Any]:
    """Seal the caller's tus uploads (one ZIP, or a folder's files); removed once sealed, kept if refused."""
    root = staging_root(wired)
    limit = wired.settings.deposit_limit_bytes
    found = [
        staging.find_upload(root=root, upload_id=i, owner=owner)
        for i in ([upload] if upload is not None else uploads or [])
    ]
    if upload is not None:
        (zipped,) = found
        if not zipped.complete:
            raise DepositRefused(
                f"{staging.ZIP_NAME}: upload incomplete ({zipped.offset} of {zipped.length} bytes)"
            )
        result = deposit_zip(
            wired, source_zip=zipped.data, subject=subject, source=source, supplement=supplement
        )
    else:
        dest = staging.new_deposit_folder(root=root)
        try:
            folder = staging.lay_out_uploads(uploads=found, dest=dest, limit=limit)
            result = _seal(wired, folder, subject=subject, source=source, supplement=supplement)
        finally:
            shutil.rmtree(dest, ignore_errors=True)
    for item in found:
        staging.remove_upload(upload=item)
    return result
