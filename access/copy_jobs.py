"""Copy jobs (副本制作任务): a watermarked copy prepared in its own thread, with progress.

In-process only: jobs are keyed by unguessable ids, visible to the user who started them,
and forgotten (their files deleted) an hour after they started. At most two copies are
prepared per user at once and two ffmpeg processes run at once; more wait as "queued".
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from access.watermarks import Copy, Progress
from archive.errors import ArchiveError, Refused

log = logging.getLogger(__name__)

JOB_TTL_SECONDS = 3600.0
MAX_ACTIVE_PER_USER = 2
MAX_RUNNING = 2  # ffmpeg processes at once; more jobs wait as "queued"
RUNNING = ("queued", "preparing")


class Busy(Refused):
    """Too many copies being prepared for one user; try again when one is done (429)."""


@dataclass
class CopyJob:
    """One copy being prepared for one user."""

    id: str
    owner_id: int
    bundle_id: str
    record_id: str
    fingerprint: str
    workdir: Path
    created: float = field(default_factory=time.monotonic)
    status: str = "queued"  # queued, preparing, ready, failed, delivered
    progress: float = 0.0
    error: str | None = None
    copy: Copy | None = None
    view_url: str | None = None  # set for a viewing rendition: it is watched there, never downloaded

    def as_json(self) -> dict[str, Any]:
        """The job as the API reports it (the caller adds the download URL)."""
        return {
            "job_id": self.id,
            "status": self.status,
            "progress": round(self.progress, 3),
            "bundle_id": self.bundle_id,
            "record_id": self.record_id,
            "error": self.error,
            "file_name": self.copy.file_name if self.copy else None,
            "size": self.copy.size if self.copy else None,
            "view_url": self.view_url,
        }


class CopyJobs:
    """In-process registry of copy jobs, one thread each, keyed by unguessable ids; an hour to live."""

    def __init__(self, root: Path, *, ttl: float = JOB_TTL_SECONDS) -> None:
        self.root, self.ttl = root, ttl
        self._jobs: dict[str, CopyJob] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_RUNNING)
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        """Folders older than the time to live were left by a process that stopped."""
        cutoff = time.time() - self.ttl
        for folder in self.root.glob("job-*"):
            with contextlib.suppress(OSError):
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)

    def start(
        self,
        *,
        owner_id: int,
        bundle_id: str,
        record_id: str,
        fingerprint: str,
        make: Callable[[Path, Progress], Copy],
        view_url: str | None = None,
    ) -> CopyJob:
        """Start preparing a copy (or, with `view_url`, a viewing rendition) in its own thread;
        refuse when the user already has enough going."""
        self.sweep()
        with self._lock:
            active = [j for j in self._jobs.values() if j.owner_id == owner_id and j.status in RUNNING]
            if len(active) >= MAX_ACTIVE_PER_USER:
                raise Busy(f"copies: {len(active)} copies are already being prepared for you; wait for one")
            job_id = secrets.token_urlsafe(24)
            workdir = self.root / f"job-{secrets.token_hex(8)}"
            workdir.mkdir(mode=0o700)
            job = CopyJob(job_id, owner_id, bundle_id, record_id, fingerprint, workdir, view_url=view_url)
            self._jobs[job_id] = job
        threading.Thread(target=self._run, args=(job, make), name=f"copy-{job_id[:6]}", daemon=True).start()
        return job

    def _run(self, job: CopyJob, make: Callable[[Path, Progress], Copy]) -> None:
        def progress(share: float) -> None:
            job.progress = max(job.progress, min(1.0, share))

        with self._slots:
            job.status = "preparing"
            try:
                job.copy = make(job.workdir, progress)
            except Exception as exc:
                if not isinstance(exc, ArchiveError):
                    log.exception("copy job %s failed", job.id[:6])
                shutil.rmtree(job.workdir, ignore_errors=True)
                job.error = (
                    str(exc) if isinstance(exc, ArchiveError) else "the copy could not be made; see the log"
                )
                job.status = "failed"
            else:
                job.progress, job.status = 1.0, "ready"

    def get(self, job_id: str, *, owner_id: int) -> CopyJob | None:
        """A live job of this user; None for unknown, expired and other users' jobs alike."""
        self.sweep()
        with self._lock:
            job = self._jobs.get(job_id)
        return job if job is not None and job.owner_id == owner_id else None

    def claim(self, job: CopyJob) -> bool:
        """Take a ready copy for delivery, once: False if it was taken already."""
        with self._lock:
            if job.status != "ready":
                return False
            job.status = "delivered"
            return True

    def discard(self, job: CopyJob) -> None:
        """Delete a job's files (after delivery); the job stays to say so until it expires."""
        shutil.rmtree(job.workdir, ignore_errors=True)

    def waiting(self) -> int:
        """How many jobs are queued or being prepared."""
        with self._lock:
            return sum(1 for job in self._jobs.values() if job.status in RUNNING)

    def sweep(self) -> None:
        """Forget jobs older than the time to live and delete what they left."""
        cutoff = time.monotonic() - self.ttl
        with self._lock:
            old = [j for j in self._jobs.values() if j.created < cutoff and j.status not in RUNNING]
            for job in old:
                del self._jobs[job.id]
        for job in old:
            shutil.rmtree(job.workdir, ignore_errors=True)
