"""Viewing renditions (查阅副本): watermarked footage for viewers who may not have the original.

A rendition is made once per holder (a retrieval grant, or a member of staff viewing by role)
and record, by a copy job (`access.copy_jobs`, which also knows which job is preparing each
one), and kept under its own folder until the grant ends, so that a player can seek in it with
Range requests. It is a `Copy` like a download copy:
its stamp names the viewer, grant and time, and its fingerprint is in its metadata.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from datetime import datetime
from pathlib import Path

from access.watermarks import Copy

FILE = "rendition.mp4"
FACTS = "rendition.json"


def holder_key(*, bundle_id: str, record_id: str, holder: str) -> str:
    """The folder name of one holder's rendition of one record (no ids in the path)."""
    return hashlib.sha256(f"{bundle_id}\n{record_id}\n{holder}".encode()).hexdigest()[:32]


class Renditions:
    """Finished renditions on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def get(self, key: str, *, now: datetime) -> Copy | None:
        """The finished rendition, or None; one whose grant has ended is deleted instead."""
        folder = self.root / key
        try:
            facts = json.loads((folder / FACTS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if now >= datetime.fromisoformat(facts["expires_at"]):
            shutil.rmtree(folder, ignore_errors=True)
            return None
        file_name, sha256, size, fingerprint = (
            facts["file_name"],
            facts["sha256"],
            facts["size"],
            facts["fingerprint"],
        )
        return Copy(folder / FILE, file_name, "video/mp4", sha256, size, fingerprint)

    def publish(self, key: str, copy: Copy, *, expires_at: datetime) -> Copy:
        """Move a finished copy into place; its facts are written last, so a half-moved one is unseen."""
        self.sweep(now=datetime.now(expires_at.tzinfo))
        folder = self.root / key
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(mode=0o700)
        target = folder / FILE
        shutil.move(copy.path, target)
        facts = {
            "file_name": copy.file_name,
            "sha256": copy.sha256,
            "size": copy.size,
            "fingerprint": copy.fingerprint,
            "expires_at": expires_at.isoformat(),
        }
        partial = folder / f"{FACTS}.part"
        partial.write_text(json.dumps(facts), encoding="utf-8")
        os.replace(partial, folder / FACTS)
        return Copy(target, copy.file_name, copy.media_type, copy.sha256, copy.size, copy.fingerprint)

    def sweep(self, *, now: datetime) -> None:
        """Delete every rendition whose grant has ended."""
        for folder in self.root.iterdir():
            with contextlib.suppress(OSError):
                self.get(folder.name, now=now)
