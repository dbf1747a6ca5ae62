"""A worker process with the test kinds of job only, as the queue tests start (and kill) it.

    python -m tests.support.job_worker [CONCURRENCY]

It reads the same `CASEVAULT_*` settings as `casevault worker`, runs the kinds below until
SIGTERM (the jobs in hand finish first), and prints `running NAME` once it is claiming. Each
job writes a `job_runs` row in a transaction of its own as it starts (so a test sees every
run, even one killed before it finished) and a `job_effects` row in the transaction that marks
it done (so a test sees what committed).
"""

from __future__ import annotations

import signal
import sys
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from archive.jobs import Job
from portal.settings import Settings
from portal.wiring import Wired, wire
from portal.worker import COPY_LANE, Kind, Work, Worker

KIND = "test.effect"
TABLES = (
    "CREATE TABLE job_runs (job_id VARCHAR(48) NOT NULL, worker VARCHAR(128) NOT NULL,"
    " attempt INTEGER NOT NULL)",
    "CREATE TABLE job_effects (job_id VARCHAR(48) NOT NULL, worker VARCHAR(128) NOT NULL)",
)


def effect(wired: Wired, session: Session, job: Job, work: Work) -> dict[str, Any]:
    """Note the run; on the first attempt hang for `hang` seconds (heeding no stop) if asked;
    sleep `seconds`; then record the effect with the job's completion."""
    worker = job.locked_by or ""
    with wired.sessions() as own:
        own.execute(
            text("INSERT INTO job_runs VALUES (:job, :worker, :attempt)"),
            {"job": job.id, "worker": worker, "attempt": job.attempts},
        )
        own.commit()
    if job.attempts == 1 and job.payload.get("hang"):
        time.sleep(float(job.payload["hang"]))
    time.sleep(float(job.payload.get("seconds", 0)))
    session.execute(text("INSERT INTO job_effects VALUES (:job, :worker)"), {"job": job.id, "worker": worker})
    return {"by": worker}


KINDS = {KIND: Kind(effect, COPY_LANE, max_attempts=3)}


def main() -> None:
    """Run the test kinds until SIGTERM."""
    wired = wire(Settings())
    worker = Worker(wired, kinds=KINDS, concurrency=int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    worker.start()
    print(f"running {worker.name}", flush=True)
    while any(thread.is_alive() for thread in worker.threads):
        worker.join(timeout=0.2)


if __name__ == "__main__":
    main()
