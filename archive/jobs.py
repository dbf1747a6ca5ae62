"""Durable jobs (后台任务): work queued in the database, shared by every worker on every host.

A job is a row of `jobs`: its kind, a JSON payload, and where it stands — `queued` (waiting
until `run_after`), `running` (leased to one worker until `lease_until`, a lease the worker's
heartbeat renews), `done` with a JSON result, or `failed` with the error. A worker claims the
oldest runnable job in one statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two workers
never take the same row; SQLite lets one writer in at a time, which serialises claims the same
way). A running job whose lease ran out — its worker was killed or lost its host — is runnable
again. A job that raises is queued again after a backoff that doubles with each attempt, and
failed for good after its last attempt (or at once when the error says trying again cannot
help). Finishing checks the lease: a worker that lost its job commits nothing of it.

Jobs are rows like any other, so they commit in the same transaction as whatever enqueues them:
a copy job and its ledger entry, or neither. `unique_key` makes an enqueue idempotent (one
scheduled chore per period, one rendition being prepared per holder).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String, Text, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from archive.db import Base, UTCDateTime

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
ACTIVE = (QUEUED, RUNNING)
DEFAULT_ATTEMPTS = 5
BACKOFF = timedelta(seconds=30)  # after the first failure; doubled after each further one
BACKOFF_CAP = timedelta(hours=1)
ERROR_CHARS = 2000


class Job(Base):
    """One unit of durable work and where it stands."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_run_after", "state", "run_after"),)

    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    state: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    # The user a job was made for (copies: only they see it); None for the system's chores.
    owner_id: Mapped[int | None] = mapped_column(Integer, index=True)
    unique_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=DEFAULT_ATTEMPTS)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_by: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def new_id() -> str:
    """An unguessable job id (copy jobs' ids are their owners' handles on them)."""
    return secrets.token_urlsafe(24)


def enqueue(
    session: Session,
    *,
    kind: str,
    now: datetime,
    payload: dict[str, Any] | None = None,
    owner_id: int | None = None,
    unique_key: str | None = None,
    max_attempts: int = DEFAULT_ATTEMPTS,
) -> str | None:
    """Add a job (committed by the caller, with whatever enqueues it); its id, or None when a job
    with this `unique_key` exists already."""
    values = {
        "id": new_id(),
        "kind": kind,
        "state": QUEUED,
        "payload": payload or {},
        "progress": 0.0,
        "owner_id": owner_id,
        "unique_key": unique_key,
        "attempts": 0,
        "max_attempts": max_attempts,
        "run_after": now,
        "created_at": now,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(Job).values(values).on_conflict_do_nothing(index_elements=[Job.unique_key])
    added = session.execute(statement.returning(Job.id)).scalar_one_or_none()
    return added


def claim(
    session: Session, *, worker: str, now: datetime, lease: timedelta, kinds: Iterable[str]
) -> Job | None:
    """Lease the oldest runnable job of these kinds to `worker` (queued and due, or running under a
    lease that ran out); None when there is none. The caller commits at once."""
    runnable = (Job.kind.in_(list(kinds))) & or_(
        (Job.state == QUEUED) & (Job.run_after <= now),
        (Job.state == RUNNING) & (Job.lease_until < now),
    )
    # A plain read first: an idle worker's look takes no lock (on SQLite, not the write lock).
    if session.scalar(select(Job.id).where(runnable).limit(1)) is None:
        return None
    candidate = (
        select(Job.id)
        .where(runnable)
        .order_by(Job.run_after, Job.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claimed = session.execute(
        update(Job)
        .where(Job.id == candidate)
        .values(
            state=RUNNING,
            locked_by=worker,
            lease_until=now + lease,
            attempts=Job.attempts + 1,
            started_at=now,
        )
        .returning(Job.id)
    ).scalar_one_or_none()
    if claimed is None:
        return None
    return session.get(Job, claimed, populate_existing=True)


def _held(job_id: str, worker: str) -> Any:
    return (Job.id == job_id) & (Job.locked_by == worker) & (Job.state == RUNNING)


def renew(session: Session, *, worker: str, job_ids: Iterable[str], now: datetime, lease: timedelta) -> int:
    """Extend the leases `worker` still holds on these jobs (its heartbeat); how many it holds."""
    ids = list(job_ids)
    if not ids:
        return 0
    held = (Job.id.in_(ids)) & (Job.locked_by == worker) & (Job.state == RUNNING)
    return session.execute(update(Job).where(held).values(lease_until=now + lease)).rowcount  # type: ignore[attr-defined, no-any-return]


def report_progress(session: Session, *, worker: str, job_id: str, progress: float) -> None:
    """Record how far a leased job is (0..1); it never goes back (a retry starts where one ended)."""
    share = min(1.0, max(0.0, progress))
    forward = case((Job.progress < share, share), else_=Job.progress)
    session.execute(update(Job).where(_held(job_id, worker)).values(progress=forward))


def finish(
    session: Session, *, worker: str, job_id: str, now: datetime, result: dict[str, Any] | None
) -> bool:
    """Mark a leased job done with its result; False (commit nothing then) when the lease was lost."""
    done = session.execute(
        update(Job)
        .where(_held(job_id, worker))
        .values(
            state=DONE,
            result=result,
            progress=1.0,
            locked_by=None,
            lease_until=None,
            finished_at=now,
            last_error=None,
        )
    )
    return done.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def backoff(attempts: int) -> timedelta:
    """How long a job waits after its `attempts`-th failure before it is tried again."""
    return min(BACKOFF * (1 << min(20, max(0, attempts - 1))), BACKOFF_CAP)


def fail(
    session: Session,
    *,
    worker: str,
    job: Job,
    now: datetime,
    error: str,
    final: bool = False,
) -> str | None:
    """A leased job went wrong: queued again after a backoff, or (`final`, or its last attempt)
    failed for good with the error kept. Its new state, or None when the lease was lost."""
    gives_up = final or job.attempts >= job.max_attempts
    values: dict[str, Any] = {"last_error": error[:ERROR_CHARS], "locked_by": None, "lease_until": None}
    if gives_up:
        values |= {"state": FAILED, "finished_at": now}
    else:
        values |= {"state": QUEUED, "run_after": now + backoff(job.attempts)}
    changed = session.execute(update(Job).where(_held(job.id, worker)).values(values))
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return str(values["state"])


def get(session: Session, job_id: str) -> Job | None:
    """A job by id, as the database has it now."""
    return session.get(Job, job_id, populate_existing=True)


def keyed(session: Session, unique_key: str) -> Job | None:
    """The job holding this unique key, if any."""
    return session.scalar(
        select(Job).where(Job.unique_key == unique_key).execution_options(populate_existing=True)
    )


def release_key(session: Session, *, job_id: str) -> None:
    """Let another job take this job's unique key (it stays, to say how it ended)."""
    session.execute(update(Job).where(Job.id == job_id).values(unique_key=None))


def purge(session: Session, *, kinds: Iterable[str], before: datetime, states: Iterable[str]) -> int:
    """Delete jobs of these kinds in these (finished) states created before `before`; how many."""
    gone = session.execute(
        delete(Job)
        .where(Job.kind.in_(list(kinds)))
        .where(Job.state.in_(list(states)))
        .where(Job.created_at < before)
    )
    return gone.rowcount  # type: ignore[attr-defined, no-any-return]


def queue_depth(session: Session) -> dict[str, dict[str, int]]:
    """How many jobs there are, by kind and state: {"copy": {"queued": 2, "running": 1}, …}."""
    depth: dict[str, dict[str, int]] = {}
    rows = session.execute(select(Job.kind, Job.state, func.count()).group_by(Job.kind, Job.state))
    for kind, state, count in rows:
        depth.setdefault(kind, {})[state] = int(count)
    return depth
