"""Durable jobs: they survive a restart and a killed worker, run once however many workers there
are, retry with backoff, and fail for good saying why."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import text

from archive import jobs
from portal.app import create_app
from portal.settings import Settings
from portal.wiring import Wired
from portal.worker import KINDS, Kind, Work, Worker, schedule
from tests.support import job_worker
from tests.support.portal import Portal
from tests.support.retrieval import approved, entries

pytestmark = [pytest.mark.store("file")]
ROOT = Path(__file__).resolve().parent.parent
LEASE_SECONDS = 1.5  # the worker processes' lease: a killed worker's job is free this soon
BOUND = 60.0  # seconds any wait below may take at most: a bound, not a timing


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    """This process's environment with the test's settings, for a worker process."""
    return os.environ | {
        "CASEVAULT_DATA_DIR": str(settings.data_dir),
        "CASEVAULT_DATABASE_URL": settings.resolved_database_url,
        "CASEVAULT_STORE": settings.store_url,
        "CASEVAULT_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "CASEVAULT_JOB_POLL_SECONDS": "0.1",
        **extra,
    }


class Process:
    """A worker process, started and waited for until it says it is claiming."""

    def __init__(self, command: list[str], settings: Settings) -> None:
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment(settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_running(self, stream: str = "stdout") -> None:
        """Block until the worker prints its `running` line."""
        pipe, seen = getattr(self.proc, stream), []
        while not seen or "running" not in seen[-1]:
            seen.append(pipe.readline())
            assert seen[-1], "".join(seen) + self.proc.communicate(timeout=BOUND)[1]

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send a signal and wait for the process to end; its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        self.proc.communicate(timeout=BOUND)
        return self.proc.returncode


@pytest.fixture
def workers(settings: Settings) -> Iterator[Any]:
    """Start test worker processes (`tests.support.job_worker`); any left are killed at the end."""
    started: list[Process] = []

    def start(*concurrency: int) -> list[Process]:
        command = [sys.executable, "-m", "tests.support.job_worker"]
        now = [Process([*command, str(n)], settings) for n in concurrency or (1,)]
        started.extend(now)
        for process in now:  # started together, then waited for
            process.wait_running()
        return now

    yield start
    for process in started:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.communicate(timeout=BOUND)


@pytest.fixture
def effects(wired: Wired) -> Wired:
    """The archive with the test kinds' two tables."""
    with wired.sessions() as session:
        for statement in job_worker.TABLES:
            session.execute(text(statement))
        session.commit()
    return wired


def enqueue(wired: Wired, count: int = 1, **payload: Any) -> list[str]:
    """Queue test jobs; their ids."""
    with wired.sessions() as session:
        ids = [
            jobs.enqueue(session, kind=job_worker.KIND, now=wired.clock(), payload=payload, max_attempts=3)
            for _ in range(count)
        ]
        session.commit()
    return [i for i in ids if i is not None]


def rows(wired: Wired, table: str) -> list[tuple[Any, ...]]:
    """Every row of a test table."""
    with wired.sessions() as session:
        return [tuple(row) for row in session.execute(text(f"SELECT * FROM {table}"))]


def until(condition: Any, what: str) -> None:
    """Wait (within BOUND) until `condition()` is true."""
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {BOUND} s"
        time.sleep(0.05)


def depth(wired: Wired) -> dict[str, dict[str, int]]:
    """The queue's depth now."""
    with wired.sessions() as session:
        return jobs.queue_depth(session)


def state(wired: Wired, job_id: str) -> jobs.Job:
    """A job as the database has it now."""
    with wired.sessions() as session:
        found = jobs.get(session, job_id)
        assert found is not None
        return found


# --- a killed worker, a stopped worker, two workers -------------------------------------------


def test_a_killed_workers_job_is_run_again_after_its_lease_once_and_sigterm_finishes_the_job_in_hand(
    effects: Wired, workers: Any
) -> None:
    (job_id,) = enqueue(effects, hang=BOUND)  # the first attempt hangs until it is killed
    (first,) = workers()
    until(lambda: rows(effects, "job_runs"), "the first attempt")
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL  # mid-job: nothing of it committed
    assert rows(effects, "job_effects") == [] and state(effects, job_id).state == jobs.RUNNING
    (second,) = workers()
    until(lambda: state(effects, job_id).state == jobs.DONE, "the second attempt")
    runs = rows(effects, "job_runs")
    assert [(r[0], r[2]) for r in runs] == [(job_id, 1), (job_id, 2)] and runs[0][1] != runs[1][1]
    assert rows(effects, "job_effects") == [(job_id, runs[1][1])]  # once, by the second worker
    done = state(effects, job_id)
    assert done.attempts == 2 and done.result == {"by": runs[1][1]} and done.locked_by is None

    # SIGTERM while a job is in hand: it finishes and commits; the next one is left queued
    (held,) = enqueue(effects, seconds=1.0)
    until(lambda: len(rows(effects, "job_runs")) == 3, "the next job's start")
    (waiting,) = enqueue(effects)
    assert second.stop(signal.SIGTERM) == 0
    assert state(effects, held).state == jobs.DONE and len(rows(effects, "job_effects")) == 2
    assert state(effects, waiting).state == jobs.QUEUED and len(rows(effects, "job_runs")) == 3


@pytest.mark.only_on("postgresql", why="FOR UPDATE SKIP LOCKED between workers on other hosts")
def test_two_workers_never_run_the_same_job(effects: Wired, workers: Any) -> None:
    one, two = workers(3, 3)
    ids = enqueue(effects, 40, seconds=0.01)
    until(lambda: depth(effects) == {job_worker.KIND: {jobs.DONE: 40}}, "every job")
    assert one.stop() == 0 and two.stop() == 0
    runs, done = rows(effects, "job_runs"), rows(effects, "job_effects")
    assert sorted(r[0] for r in runs) == sorted(ids)  # each job run once, not twice
    assert sorted(d[0] for d in done) == sorted(ids)  # and its effect committed once
    assert len({r[1].rsplit(":", 1)[0] for r in runs}) == 2  # both processes took jobs


# --- failing, and trying again ---------------------------------------------------------------


def test_a_failing_job_is_tried_again_after_a_growing_backoff_then_fails_for_good(wired: Wired) -> None:
    calls: list[int] = []

    def flaky(_wired: Wired, _session: Any, job: jobs.Job, _work: Work) -> None:
        calls.append(job.attempts)
        raise RuntimeError(f"the service said no (attempt {job.attempts})")

    now = [datetime.now(wired.clock().tzinfo)]
    wired.clock = lambda: now[0]
    worker = Worker(wired, kinds={"test.flaky": Kind(flaky, "test", max_attempts=3)})
    with wired.sessions() as session:
        job_id = jobs.enqueue(session, kind="test.flaky", now=now[0], max_attempts=3)
        session.commit()
    assert job_id is not None
    waits = []
    for attempt in (1, 2):
        assert worker.run_one()
        again = state(wired, job_id)
        assert (
            again.state == jobs.QUEUED
            and again.last_error == f"RuntimeError: the service said no (attempt {attempt})"
        )
        waits.append(again.run_after - now[0])
        now[0] = again.run_after - timedelta(seconds=1)
        assert not worker.run_one()  # not before its time
        now[0] += timedelta(seconds=1)
    assert waits == [jobs.backoff(1), jobs.backoff(2)] and waits[1] == 2 * waits[0]
    assert worker.run_one()
    failed = state(wired, job_id)
    assert failed.state == jobs.FAILED and failed.attempts == 3 and calls == [1, 2, 3]
    assert (
        failed.last_error == "RuntimeError: the service said no (attempt 3)" and failed.finished_at == now[0]
    )
    now[0] += timedelta(days=1)
    assert not worker.run_one()  # failed for good
    with wired.sessions() as session:
        assert jobs.queue_depth(session) == {"test.flaky": {jobs.FAILED: 1}}


# --- the chores, once per period ---------------------------------------------------------------


def test_each_chore_is_queued_once_per_period_however_many_replicas_schedule(wired: Wired) -> None:
    now = datetime(2026, 12, 3, 10, 0, 30, tzinfo=wired.clock().tzinfo)
    replicas = [wired.sessions() for _ in range(2)]
    first = schedule(replicas[0], kinds=KINDS, settings=wired.settings, now=now)
    replicas[0].commit()
    second = schedule(replicas[1], kinds=KINDS, settings=wired.settings, now=now + timedelta(seconds=20))
    replicas[1].commit()
    chores = sorted(name for name, kind in KINDS.items() if kind.every is not None)
    assert sorted(first) == chores and second == []
    a_minute_on = schedule(replicas[1], kinds=KINDS, settings=wired.settings, now=now + timedelta(minutes=1))
    replicas[1].commit()
    assert sorted(a_minute_on) == sorted(set(chores) - {"fixity.round"})  # its period is a day
    for session in replicas:
        session.close()
    with wired.sessions() as session:
        depth = jobs.queue_depth(session)
    assert depth["ledger.checkpoint"] == {jobs.QUEUED: 2} and depth["fixity.round"] == {jobs.QUEUED: 1}


# --- a copy survives a restart -----------------------------------------------------------------


def test_a_copy_queued_before_a_restart_is_made_by_a_worker_and_fetched_once(portal: Portal) -> None:
    wired = portal.wired
    approved(portal, actions=["view", "download"])
    wired.settings = wired.settings.model_copy(update={"serve_workers": 0})  # this app runs no jobs
    headers = portal.as_role("supervisor")
    with TestClient(create_app(wired), base_url="https://testserver") as client:
        started = client.post(f"/api/v1/bundles/{portal.bundle_id}/records/d1/copies", headers=headers)
        assert started.status_code == 202, started.text
        job_id = started.json()["job_id"]
        assert client.get(f"/api/v1/copies/{job_id}", headers=headers).json()["status"] == "queued"
    # the app is gone; the job is in the database, and `casevault worker` makes it
    command = [sys.executable, "-m", "portal.cli", "worker", "--concurrency", "1"]
    process = Process(command, wired.settings)
    process.wait_running("stderr")
    until(lambda: state(wired, job_id).state == jobs.DONE, "the copy")
    assert process.stop() == 0
    with TestClient(create_app(wired), base_url="https://testserver") as client:
        status = client.get(f"/api/v1/copies/{job_id}", headers=headers).json()
        assert status["status"] == "ready" and status["progress"] == 1.0, status
        fetched = client.get(status["download_url"], headers=headers)
        assert fetched.status_code == 200 and fetched.headers["content-type"] == "application/pdf"
        fingerprint = fetched.headers["x-casevault-fingerprint"]
        page = PdfReader(io.BytesIO(fetched.content)).pages[0].extract_text()
        assert "supervisor" in page and fingerprint in page
        assert client.get(status["download_url"], headers=headers).status_code == 410
        assert client.get(f"/api/v1/copies/{job_id}", headers=headers).json()["status"] == "delivered"
    steps = [e for e in entries(portal, "record.download") if e.actor == "supervisor"]
    assert [e.outcome for e in steps] == ["preparing", "delivered"]
    assert {e.detail["fingerprint"] for e in steps} == {fingerprint}
