"""The archive's figures for `/metrics`, read from the database at each scrape: deposits,
verifications and fixity audits by outcome (counted from the ledger, so the command line's and
cron's count too), bytes sealed, the ledger's size and its last checkpoint's age, open fixity
alerts, and the depth of the job queue.

They are the archive's, not the process's: every replica reports the same values (aggregate with
`max`, not `sum`). A database that does not answer makes `casevault_archive_figures_up` 0 and
leaves the others out; the scrape itself still succeeds.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from access import checkpoints
from access.ledger import LedgerEntry, LedgerHead
from access.policy import Action
from archive import jobs
from archive.models import BundleFile
from retention import audits

log = logging.getLogger(__name__)

COUNTED = {
    Action.bundle_deposit.value: ("casevault_deposits", "Deposits, by outcome (from the ledger)."),
    Action.bundle_verify.value: (
        "casevault_verifications",
        "Bundle verifications, by outcome (from the ledger).",
    ),
    Action.bundle_audit.value: ("casevault_fixity_audits", "Fixity audits, by outcome (from the ledger)."),
}


class ArchiveFigures(Collector):
    """Reads the figures at each scrape; the ledger's counts incrementally, from the last entry
    counted, so a scrape reads only what was appended since the one before."""

    def __init__(self, *, sessions: Callable[[], Session], clock: Callable[[], datetime]) -> None:
        self.sessions, self.clock = sessions, clock
        self._counted: Counter[tuple[str, str]] = Counter()
        self._upto = 0
        self._lock = threading.Lock()  # two scrapes at once count each entry once

    def _count_new(self, session: Session, head: int) -> None:
        query = (
            select(LedgerEntry.action, LedgerEntry.outcome, func.count())
            .where(LedgerEntry.action.in_(COUNTED), LedgerEntry.seq > self._upto, LedgerEntry.seq <= head)
            .group_by(LedgerEntry.action, LedgerEntry.outcome)
        )
        for action, outcome, n in session.execute(query):
            self._counted[(action, outcome)] += n
        self._upto = head

    def collect(self) -> Iterator[Metric]:
        """The figures, or `casevault_archive_figures_up 0` when the database does not answer."""
        up = GaugeMetricFamily("casevault_archive_figures_up", "1 if the archive's figures could be read.")
        try:
            with self._lock, self.sessions() as session:
                head = int(session.scalar(select(LedgerHead.seq)) or 0)
                self._count_new(session, head)
                counted = dict(self._counted)
                sealed = int(session.scalar(select(func.coalesce(func.sum(BundleFile.size), 0))) or 0)
                latest = checkpoints.latest(session)
                alerts = audits.open_alert_count(session)
                depth = jobs.queue_depth(session)
        except SQLAlchemyError as exc:
            log.warning("archive figures unavailable: %s", exc.__class__.__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        for action, (name, documentation) in COUNTED.items():
            family = CounterMetricFamily(name, documentation, labels=["outcome"])
            for (counted_action, outcome), n in sorted(counted.items()):
                if counted_action == action:
                    family.add_metric([outcome], n)
            yield family
        yield CounterMetricFamily("casevault_sealed_bytes", "Bytes of every file sealed.", value=sealed)
        yield GaugeMetricFamily("casevault_ledger_entries", "Entries in the access ledger.", value=head)
        covered = GaugeMetricFamily(
            "casevault_ledger_checkpoint_entries", "Entries the latest signed checkpoint covers."
        )
        age = GaugeMetricFamily(
            "casevault_ledger_checkpoint_age_seconds", "Seconds since the latest checkpoint was signed."
        )
        if latest is not None:
            covered.add_metric([], latest.tree_size)
            age.add_metric([], max(0.0, (self.clock() - latest.created_at).total_seconds()))
        yield covered
        yield age
        yield GaugeMetricFamily(
            "casevault_fixity_alerts_open", "Fixity alerts not acknowledged.", value=alerts
        )
        waiting = GaugeMetricFamily(
            "casevault_queue_depth", "Jobs waiting or running, by kind and state.", labels=["kind", "state"]
        )
        for kind, states in sorted(depth.items()):
            for state in (jobs.QUEUED, jobs.RUNNING):
                waiting.add_metric([kind, state], states.get(state, 0))
        yield waiting

    def describe(self) -> Iterator[Metric]:
        """Nothing described ahead: registering must not read the database."""
        return iter(())
