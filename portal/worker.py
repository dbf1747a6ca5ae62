"""Workers: what runs the durable jobs (`archive.jobs`), in `casevault worker` or inside `serve`.

A worker runs lanes of threads, each claiming jobs of its lane's kinds only, so a long fixity
round never holds up a copy or a ledger checkpoint: `copy` (watermarked copies and renditions,
`--concurrency` threads, each one ffmpeg at most), `chores` (the periodic chores, one thread) and
`audits` (fixity rounds, one thread). A heartbeat renews the lease of every job in hand; a worker
killed mid-job leaves its lease to run out, and the job is claimed again by any worker, here or
on another host. A handler's result commits with the job's `done` in one transaction, and only
while the lease is still this worker's, so a job's effects in the database happen once.

A worker that schedules (`casevault worker`, and the one `serve` runs) enqueues each periodic
chore once per period under a unique key `KIND@PERIOD` (the period's number since the epoch):
however many replicas schedule, the database lets one job per period in and one worker runs it.

Stopping (SIGTERM) lets every job in hand finish — a fixity round ends after the bundle it is
reading — and claims nothing more; nothing is released half-done.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from access import copy_jobs
from archive import jobs
from archive.jobs import Job
from portal.internal.anomalies import operations as anomalies_operations
from portal.internal.disclosure import operations as disclosure_operations
from portal.internal.ledger import operations as ledger_operations
from portal.internal.retention import audit_rounds
from portal.internal.retention import service as retention_service
from portal.settings import Settings
from portal.wiring import Wired

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 0.3  # a job's progress is written at most this often
CHORE_SECONDS = 60  # the period of the serve loop's minute chores
# A worker first schedules the chores this long after it starts, as the serve loop always did:
# a server started and stopped at once (a test, a health check) runs none.
SCHEDULE_DELAY_SECONDS = 60.0
FINISHED_CHORES_KEPT = timedelta(days=1)
FAILED_JOBS_KEPT = timedelta(days=30)  # long enough for an operator to read why
COPY_LANE = "copy"  # the lane `--concurrency` widens


class Work:
    """What a handler sees of the worker running it: progress to report, a stop to heed."""

    def __init__(self, report: Callable[[float], None], stop: threading.Event) -> None:
        self._report, self._stop = report, stop

    def progress(self, share: float) -> None:
        """How far the job is, 0..1 (written at most every PROGRESS_EVERY_SECONDS)."""
        self._report(share)

    def stopping(self) -> bool:
        """Whether the worker is stopping: a long job ends at its next safe point."""
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep, waking early when the worker stops; True if it is stopping."""
        return self._stop.wait(seconds)


# A job's work: it may read and write through the session, which commits with the job's `done`.
Handler = Callable[[Wired, Session, Job, Work], dict[str, Any] | None]


def _described(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _never(_exc: BaseException) -> bool:
    return False


@dataclass(frozen=True)
class Kind:
    """A kind of job: its handler, its lane, how it fails, and (a chore) how often it is due."""

    run: Handler
    lane: str
    max_attempts: int = jobs.DEFAULT_ATTEMPTS
    final: Callable[[BaseException], bool] = _never  # an error that trying again cannot mend
    describe: Callable[[BaseException], str] = _described  # the error as the job keeps it
    every: Callable[[Settings], float] | None = None  # seconds between scheduled runs (0: never)


# --- the kinds casevault runs ----------------------------------------------------------------


def _copy(wired: Wired, _session: Session, job: Job, work: Work) -> dict[str, Any]:
    return copy_jobs.make(
        job_id=job.id,
        attempt=job.attempts,
        payload=job.payload,
        store=wired.store,
        root=wired.settings.resolved_copies_dir,
        progress=work.progress,
    )


def _checkpoint(wired: Wired, _session: Session, _job: Job, _work: Work) -> dict[str, Any]:
    made = ledger_operations.checkpoint_ledger(wired)
    return {"tree_size": made.tree_size if made else None}


def _corrections(wired: Wired, _session: Session, _job: Job, _work: Work) -> dict[str, Any]:
    return {"withdrawn": disclosure_operations.expire_corrections(wired)}


def _retention(wired: Wired, _session: Session, _job: Job, _work: Work) -> None:
    retention_service.housekeeping(wired)


def _anomalies(wired: Wired, _session: Session, _job: Job, _work: Work) -> None:
    anomalies_operations.evaluate_anomalies(wired)


def _fixity(wired: Wired, _session: Session, _job: Job, work: Work) -> dict[str, Any]:
    run = audit_rounds.run_audits(
        wired, actor=audit_rounds.SERVE_AUDITOR, sleep=work.wait, stopped=work.stopping
    )
    return {"audited": len(run.reports), "failed": sum(1 for r in run.reports if not r.intact)}


def _sweep(wired: Wired, session: Session, _job: Job, _work: Work) -> dict[str, Any]:
    now = wired.clock()
    forgotten = copy_jobs.sweep(session, now=now, root=wired.settings.resolved_copies_dir)
    chores = [name for name, kind in KINDS.items() if kind.every is not None]
    purged = jobs.purge(session, kinds=chores, before=now - FINISHED_CHORES_KEPT, states=[jobs.DONE])
    purged += jobs.purge(session, kinds=KINDS, before=now - FAILED_JOBS_KEPT, states=[jobs.FAILED])
    return {"copies_forgotten": forgotten, "jobs_purged": purged}


def _minutely(_settings: Settings) -> float:
    return CHORE_SECONDS


def _audit_period(settings: Settings) -> float:
    return settings.audit_run_every_minutes * 60.0


# A chore fails once per period at most: the next period is its retry, as it always was.
KINDS: dict[str, Kind] = {
    copy_jobs.KIND: Kind(
        _copy, COPY_LANE, max_attempts=3, final=copy_jobs.final, describe=copy_jobs.error_text
    ),
    "ledger.checkpoint": Kind(_checkpoint, "chores", max_attempts=1, every=_minutely),
    "disclosure.corrections": Kind(_corrections, "chores", max_attempts=1, every=_minutely),
    "retention.housekeeping": Kind(_retention, "chores", max_attempts=1, every=_minutely),
    "anomalies.evaluate": Kind(_anomalies, "chores", max_attempts=1, every=_minutely),
    "jobs.sweep": Kind(_sweep, "chores", max_attempts=1, every=_minutely),
    "fixity.round": Kind(_fixity, "audits", max_attempts=3, every=_audit_period),
}


def period_of(kind: Kind, settings: Settings, now: datetime) -> int | None:
    """The number of the chore's current period since the epoch; None for a kind not scheduled."""
    every = kind.every(settings) if kind.every else 0
    return int(now.timestamp() // every) if every > 0 else None


def schedule(session: Session, *, kinds: Mapping[str, Kind], settings: Settings, now: datetime) -> list[str]:
    """Enqueue each chore not yet queued for its current period (the caller commits); the kinds
    this call enqueued. A chore already enqueued for the period, by any replica, is left be."""
    added = []
    for name, kind in kinds.items():
        period = period_of(kind, settings, now)
        if period is None:
            continue
        key = f"{name}@{period}"
        if jobs.enqueue(session, kind=name, now=now, unique_key=key, max_attempts=kind.max_attempts):
            added.append(name)
    return added


# --- the worker ------------------------------------------------------------------------------


def worker_name() -> str:
    """Names this worker in its leases: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"[:128]


@dataclass
class Worker:
    """Lanes of threads running the jobs of `kinds`; `scheduling` enqueues the periodic chores,
    `idle_exit` (seconds) ends a lane thread that found nothing to do for that long."""

    wired: Wired
    kinds: Mapping[str, Kind] = field(default_factory=lambda: KINDS)
    concurrency: int = 1  # threads of the `copy` lane; every other lane has one
    scheduling: bool = False
    idle_exit: float | None = None
    name: str = field(default_factory=worker_name)

    def __post_init__(self) -> None:
        settings = self.wired.settings
        self.lease = timedelta(seconds=settings.job_lease_seconds)
        self.poll = settings.job_poll_seconds
        self._stop, self._wake = threading.Event(), threading.Event()
        self._ended = threading.Event()  # the last lane has ended: the heartbeat ends too
        self._lock = threading.Lock()
        self._held: set[str] = set()
        self._live = 0
        self._threads: list[threading.Thread] = []
        self._scheduled: dict[str, int] = {}
        self._claims_failing = False

    # --- running ---

    def start(self) -> Worker:
        """Start the lanes and the heartbeat in threads of their own (daemons)."""
        lanes: dict[str, list[str]] = {}
        for name, kind in self.kinds.items():
            lanes.setdefault(kind.lane, []).append(name)
        for lane, names in sorted(lanes.items()):
            for n in range(self.concurrency if lane == COPY_LANE else 1):
                self._spawn(f"jobs-{lane}-{n}", self._lane, names)
        self._spawn("jobs-heartbeat", self._heartbeat)
        return self

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        if target == self._lane:
            with self._lock:
                self._live += 1
        self._threads.append(thread)
        thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the lanes (and then the heartbeat) to end."""
        for thread in self._threads:
            thread.join(timeout)

    @property
    def threads(self) -> list[threading.Thread]:
        """The lanes' threads and the heartbeat's."""
        return list(self._threads)

    def stop(self) -> None:
        """Claim nothing more; the jobs in hand finish (a long one at its next safe point)."""
        self._stop.set()
        self._wake.set()

    def wake(self) -> bool:
        """Look for work now (a job was just queued); False when no lane is left to look."""
        with self._lock:
            if self._live == 0 or self._stop.is_set():
                return False
            self._wake.set()
            return True

    def _lane(self, names: list[str]) -> None:
        idle_since = time.monotonic()
        while not self._stop.is_set():
            try:
                ran = self.run_one(names)
            except Exception as exc:  # the database is down, say: look again after a pause
                if self.idle_exit is not None:  # started for a job: the next one queued starts another
                    log.warning("worker %s: could not claim a job (%s); ending", self.name, exc)
                    break
                if not self._claims_failing:  # once per outage, not once a second
                    log.exception("worker %s: could not claim a job; trying again", self.name)
                self._claims_failing, ran = True, False
            else:
                self._claims_failing = False
            if ran:
                idle_since = time.monotonic()
                continue
            if self.idle_exit is not None and time.monotonic() - idle_since >= self.idle_exit:
                with self._lock:  # a wake that comes after this finds no lane and starts a worker
                    if not self._wake.is_set():
                        self._lane_ended()
                        return
            self._wake.wait(self.poll)
            self._wake.clear()
            if self._stop.is_set():  # every lane shares the wake: leave it set for the others
                self._wake.set()
        with self._lock:
            self._lane_ended()

    def _lane_ended(self) -> None:
        """Count a lane out (under the lock); the last one lets the heartbeat end at once."""
        self._live -= 1
        if self._live == 0:
            self._ended.set()

    def _heartbeat(self) -> None:
        renewed = started = time.monotonic()
        while True:
            with self._lock:
                if self._live == 0:
                    return
            if time.monotonic() - renewed >= self.lease.total_seconds() / 3:
                renewed = time.monotonic()
                self._renew()
            waited = time.monotonic() - started >= SCHEDULE_DELAY_SECONDS
            if self.scheduling and waited and not self._stop.is_set():
                self._schedule()
            self._ended.wait(min(self.poll, self.lease.total_seconds() / 6))

    def _renew(self) -> None:
        with self._lock:
            held = set(self._held)
        if not held:
            return
        try:
            with self.wired.sessions() as session:
                jobs.renew(session, worker=self.name, job_ids=held, now=self.wired.clock(), lease=self.lease)
                session.commit()
        except Exception:  # the lease may run out; finishing then commits nothing
            log.exception("worker %s: could not renew its leases", self.name)

    def _schedule(self) -> None:
        # Each period is offered to the database once per worker: most ticks write nothing.
        now, settings = self.wired.clock(), self.wired.settings
        periods = {name: period_of(kind, settings, now) for name, kind in self.kinds.items()}
        due = {
            name: self.kinds[name]
            for name, period in periods.items()
            if period is not None and self._scheduled.get(name) != period
        }
        if not due:
            return
        try:
            with self.wired.sessions() as session:
                schedule(session, kinds=due, settings=settings, now=now)
                session.commit()
        except Exception:
            log.exception("worker %s: could not schedule the chores", self.name)
            return
        self._scheduled |= {name: periods[name] for name in due}  # type: ignore[misc]
        self._wake.set()

    # --- one job ---

    def run_one(self, names: list[str] | None = None) -> bool:
        """Claim one runnable job (of these kinds) and run it in this thread; False if none."""
        with self.wired.sessions() as session:
            job = jobs.claim(
                session,
                worker=self.name,
                now=self.wired.clock(),
                lease=self.lease,
                kinds=names if names is not None else list(self.kinds),
            )
            session.commit()
        if job is None:
            return False
        with self._lock:
            self._held.add(job.id)
        try:
            self._run(job)
        finally:
            with self._lock:
                self._held.discard(job.id)
        return True

    def _run(self, job: Job) -> None:
        kind = self.kinds[job.kind]
        if job.attempts > job.max_attempts:  # every worker that took it stopped before finishing
            self._fail(
                job, kind, f"gave up after {job.max_attempts} attempt(s): its worker stopped", final=True
            )
            return
        work = Work(self._reporter(job.id), self._stop)
        try:
            with self.wired.sessions() as session:
                result = kind.run(self.wired, session, job, work)
                if jobs.finish(
                    session, worker=self.name, job_id=job.id, now=self.wired.clock(), result=result
                ):
                    session.commit()
                else:
                    session.rollback()
                    log.warning(
                        "worker %s lost job %s (%s) before it finished", self.name, job.id[:6], job.kind
                    )
        except Exception as exc:
            final = kind.final(exc)
            if final:
                log.info("job %s (%s) failed: %s", job.id[:6], job.kind, exc)
            else:
                log.exception("job %s (%s) failed", job.id[:6], job.kind)
            self._fail(job, kind, kind.describe(exc), final=final)

    def _fail(self, job: Job, kind: Kind, error: str, *, final: bool) -> None:
        with self.wired.sessions() as session:
            jobs.fail(session, worker=self.name, job=job, now=self.wired.clock(), error=error, final=final)
            session.commit()

    def _reporter(self, job_id: str) -> Callable[[float], None]:
        last = [0.0, -1.0]  # when written, what

        def report(share: float) -> None:
            if share <= last[1] or (time.monotonic() - last[0] < PROGRESS_EVERY_SECONDS and share < 1.0):
                return
            last[:] = [time.monotonic(), share]
            try:
                with self.wired.sessions() as session:
                    jobs.report_progress(session, worker=self.name, job_id=job_id, progress=share)
                    session.commit()
            except Exception:  # progress is a courtesy; the job goes on
                log.exception("job %s: could not record its progress", job_id[:6])

        return report


# --- the in-process worker of an app ---------------------------------------------------------

_on_demand_lock = threading.Lock()
ON_DEMAND_IDLE_SECONDS = 5.0


def kick(state: Any, wired: Wired) -> None:
    """A job was queued by this app: wake its worker — the one `serve` runs, or else one started
    now for the queued copies that ends when idle (an app served without its lifespan). With
    `CASEVAULT_SERVE_WORKERS=0` the app runs no jobs: `casevault worker` does."""
    if wired.settings.serve_workers <= 0:
        return
    with _on_demand_lock:
        for name in ("worker", "on_demand_worker"):
            running = getattr(state, name, None)
            if running is not None and running.wake():
                return
        state.on_demand_worker = Worker(
            wired,
            kinds={copy_jobs.KIND: KINDS[copy_jobs.KIND]},
            concurrency=wired.settings.serve_workers,
            idle_exit=ON_DEMAND_IDLE_SECONDS,
        ).start()
