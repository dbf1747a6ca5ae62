"""Copy jobs (副本制作任务): a watermarked copy prepared by a worker, with progress.

A copy job is a durable job (`archive.jobs`, kind `copy`) committed with the ledger entry that
starts it, so it survives a restart and any worker on any host prepares it. Its id is
unguessable; only the user who started it sees it, for an hour after it started. At most two
copies are prepared per user at once ("queued" or "preparing"); more are refused (`Busy`, 429).
A copy is made from the sealed original, which it only reads, into a folder of its own under the
copies folder every host shares; a viewing rendition is then moved into the renditions folder
there (`access.renditions`). A ready copy is handed over once: `deliver` marks it `delivered` in
the transaction that ledgers the delivery.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from access import watermarks
from access.models import User
from access.renditions import Renditions
from access.watermarks import Copy, Progress, Source, Stamp
from archive import jobs
from archive.db import claim_row
from archive.errors import ArchiveError, Refused, StoreUnavailable
from archive.jobs import Job
from archive.store import ObjectStore

KIND = "copy"
JOB_TTL = timedelta(hours=1)
MAX_ACTIVE_PER_USER = 2
DELIVERED = "delivered"  # a terminal job state of copies: handed over, its files deleted
RENDITIONS = "renditions"  # the folder under the copies folder where renditions are kept
# What the user is told of each job state.
STATUS = {jobs.QUEUED: "queued", jobs.RUNNING: "preparing", jobs.DONE: "ready", jobs.FAILED: "failed"}


class Busy(Refused):
    """Too many copies being prepared for one user; try again when one is done (429)."""


@dataclass(frozen=True)
class CopyJob:
    """One copy being prepared for one user, as its owner sees it."""

    id: str
    owner_id: int
    bundle_id: str
    record_id: str
    fingerprint: str
    status: str  # queued, preparing, ready, failed, delivered
    progress: float
    error: str | None
    copy: Copy | None
    view_url: str | None  # set for a viewing rendition: it is watched there, never downloaded

    @classmethod
    def of(cls, row: Job, *, root: Path) -> CopyJob:
        """The job as its owner sees it, its copy found under the copies folder `root`."""
        payload, result = row.payload, row.result or {}
        copy = None
        if row.state == jobs.DONE and result:
            copy = Copy(
                root / result["path"],
                result["file_name"],
                result["media_type"],
                result["sha256"],
                result["size"],
                result["fingerprint"],
            )
        return cls(
            id=row.id,
            owner_id=row.owner_id or 0,
            bundle_id=payload["bundle_id"],
            record_id=payload["record_id"],
            fingerprint=payload["stamp"]["fingerprint"],
            status=STATUS.get(row.state, row.state),
            progress=1.0 if row.state == jobs.DONE else row.progress,
            error=row.last_error if row.state == jobs.FAILED else None,
            copy=copy,
            view_url=payload.get("view_url"),
        )

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


def rendition_key(key: str) -> str:
    """The unique key of the job preparing one holder's rendition of one record."""
    return f"rendition:{key}"


def start(
    session: Session,
    *,
    owner_id: int,
    bundle_id: str,
    record_id: str,
    source: Source,
    stamp: Stamp,
    now: datetime,
    view_url: str | None = None,
    rendition: str | None = None,
    expires_at: datetime | None = None,
) -> str | None:
    """Queue a copy (or, with `rendition` and `view_url`, a viewing rendition kept until
    `expires_at`) in the caller's transaction; refuse when the user already has enough going.
    The job's id, or None when that rendition is being prepared already."""
    claim_row(session, User, owner_id)  # one user's starts one at a time, on every host
    session.get(User, owner_id, with_for_update=True)
    active = session.scalar(
        select(func.count())
        .select_from(Job)
        .where(Job.kind == KIND, Job.owner_id == owner_id, Job.state.in_(jobs.ACTIVE))
        .where(Job.created_at > now - JOB_TTL)
    )
    if (active or 0) >= MAX_ACTIVE_PER_USER:
        raise Busy(f"copies: {active} copies are already being prepared for you; wait for one")
    payload = {
        "bundle_id": bundle_id,
        "record_id": record_id,
        "source": asdict(source),
        "stamp": asdict(stamp) | {"at": stamp.at.isoformat()},
        "view_url": view_url,
        "rendition": rendition,
        "expires_at": expires_at.isoformat() if expires_at else None,
    }
    return jobs.enqueue(
        session,
        kind=KIND,
        now=now,
        payload=payload,
        owner_id=owner_id,
        unique_key=rendition_key(rendition) if rendition else None,
    )


def get(session: Session, job_id: str, *, owner_id: int, now: datetime, root: Path) -> CopyJob | None:
    """A live copy job of this user; None for unknown, expired and other users' jobs alike."""
    row = jobs.get(session, job_id)
    if row is None or row.kind != KIND or row.owner_id != owner_id or row.created_at <= now - JOB_TTL:
        return None
    return CopyJob.of(row, root=root)


def preparing_rendition(
    session: Session, *, key: str, owner_id: int, now: datetime, root: Path
) -> CopyJob | None:
    """The live job preparing this rendition for this user; a job past its hour, or whose
    rendition is gone again, lets go of the rendition (the next view starts another)."""
    row = jobs.keyed(session, rendition_key(key))
    if row is None:
        return None
    job = get(session, row.id, owner_id=owner_id, now=now, root=root)
    if job is None or (job.status == "ready" and (job.copy is None or not job.copy.path.exists())):
        forget(session, job_id=row.id)
        return None
    return job


def rendition_job_id(session: Session, *, key: str) -> str | None:
    """The id of the job holding this rendition's key, if any."""
    row = jobs.keyed(session, rendition_key(key))
    return row.id if row is not None else None


def forget(session: Session, *, job_id: str) -> None:
    """The rendition job is over (said so once, or gone): the next view starts another."""
    jobs.release_key(session, job_id=job_id)


def deliver(session: Session, *, job_id: str) -> bool:
    """Take a ready copy for delivery, once (in the transaction that ledgers it): False if it was
    taken already."""
    taken = session.execute(
        update(Job).where(Job.id == job_id, Job.kind == KIND, Job.state == jobs.DONE).values(state=DELIVERED)
    )
    return taken.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def discard(job: CopyJob) -> None:
    """Delete a delivered copy's folder (never a rendition: those stay until their grant ends)."""
    if job.copy is not None and job.view_url is None:
        shutil.rmtree(job.copy.path.parent, ignore_errors=True)


def workdir_of(root: Path, job_id: str, attempt: int) -> Path:
    """The folder one attempt at a job works in (no job id in the path)."""
    return root / f"job-{hashlib.sha256(job_id.encode()).hexdigest()[:16]}-{attempt}"


def make(
    *, job_id: str, attempt: int, payload: dict[str, Any], store: ObjectStore, root: Path, progress: Progress
) -> dict[str, Any]:
    """Prepare a queued copy from the sealed original (only read) into its own folder, a
    rendition then published in the renditions folder; the job's result."""
    source = Source(**payload["source"])
    stamp = Stamp(**payload["stamp"] | {"at": datetime.fromisoformat(payload["stamp"]["at"])})
    workdir = workdir_of(root, job_id, attempt)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, mode=0o700)
    try:
        made = watermarks.make_copy(
            store=store, source=source, stamp=stamp, workdir=workdir, progress=progress
        )
        if payload.get("rendition"):
            expires_at = datetime.fromisoformat(payload["expires_at"])
            made = Renditions(root / RENDITIONS).publish(payload["rendition"], made, expires_at=expires_at)
            shutil.rmtree(workdir, ignore_errors=True)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return {
        "path": str(made.path.relative_to(root)),
        "file_name": made.file_name,
        "media_type": made.media_type,
        "sha256": made.sha256,
        "size": made.size,
        "fingerprint": made.fingerprint,
    }


def final(exc: BaseException) -> bool:
    """Whether trying again cannot mend a copy's failure: a record that cannot be marked, a
    damaged original, ffmpeg's refusal. An unreachable store may be back next time."""
    return isinstance(exc, ArchiveError) and not isinstance(exc, StoreUnavailable)


def error_text(exc: BaseException) -> str:
    """What the user is told of a failure: the archive's words, or a pointer to the log."""
    return str(exc) if isinstance(exc, ArchiveError) else "the copy could not be made; see the log"


def sweep(session: Session, *, now: datetime, root: Path) -> int:
    """Forget copy jobs past their hour (their folders deleted first) and folders an attempt
    left behind; renditions whose grant ended go too. How many jobs were forgotten."""
    cutoff = now - JOB_TTL
    old = session.scalars(
        select(Job).where(Job.kind == KIND, Job.created_at < cutoff).where(Job.state.not_in(jobs.ACTIVE))
    ).all()
    for row in old:
        if not row.payload.get("rendition"):
            discard(CopyJob.of(row, root=root))
    gone = jobs.purge(session, kinds=[KIND], before=cutoff, states=[jobs.DONE, jobs.FAILED, DELIVERED])
    left = time.time() - JOB_TTL.total_seconds()
    for folder in [*root.glob("job-*"), *root.glob("copy-*")]:
        with contextlib.suppress(OSError):
            if folder.stat().st_mtime < left:
                shutil.rmtree(folder, ignore_errors=True)
    Renditions(root / RENDITIONS).sweep(now=now)
    return gone
