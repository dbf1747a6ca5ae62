"""Fixity audit rounds as `casevault audit run` and the serve loop start them.

Each bundle is claimed in a short transaction of its own, read and checked outside any
transaction, and its result, any alert it raises and its `bundle.audit` ledger entry commit
together. Acknowledging an alert is ledgered the same way.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from access.policy import Action, Context, Denied, Subject, collection, record, require, resource_of
from archive import fixity, service
from archive.errors import StoreUnavailable
from portal.wiring import Wired, operator
from retention import audits

# Who the serve loop's audits are ledgered as.
SERVE_AUDITOR = "system:audit"


@dataclass
class AuditRun:
    """What one round audited: a report per bundle, and the alerts it raised (bundle → id)."""

    reports: list[fixity.VerifyReport] = field(default_factory=list)
    alerts: dict[str, int] = field(default_factory=dict)

    @property
    def intact(self) -> bool:
        """True when every audited bundle was intact."""
        return all(r.intact for r in self.reports)

    def as_json(self) -> dict[str, Any]:
        """The `audit run --json` shape."""
        return {
            "intact": self.intact,
            "audited": len(self.reports),
            "failed": sum(1 for r in self.reports if not r.intact),
            "bundles": [{**r.as_json(), "alert": self.alerts.get(r.bundle_id or "")} for r in self.reports],
        }


def _runner_name(actor: str) -> str:
    """Names this runner in its claims, so a stuck claim says whose it was."""
    return f"{actor}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"[:128]


def audit_one(
    wired: Wired, *, bundle_id: str, actor: str, jwks: dict[str, Any], runner: str
) -> tuple[fixity.VerifyReport, int | None, int]:
    """Audit one claimed bundle; the result, its alert and its ledger entry commit together.
    Returns the report, the alert raised and the bytes read."""
    subject = operator(wired, actor)
    with wired.sessions() as session:
        bundle = service.get_bundle(session, bundle_id)
        resource = resource_of(bundle)
        context = Context(now=wired.clock(), source="audit")
        try:
            decision = require(
                session, subject=subject, action=Action.bundle_audit, resource=resource, context=context
            )
        except Denied:
            _release(session, bundle_id)
            raise
        _ = bundle.files, bundle.previous  # loaded now: the reading happens outside a transaction
        session.commit()
        try:
            report = audits.audit_bundle(session=session, store=wired.store, bundle=bundle, jwks=jwks)
        except StoreUnavailable:
            _release(session, bundle_id)  # an outage says nothing about the bundle
            raise
        now = wired.clock()
        alert = audits.record_result(session, bundle_id=bundle_id, report=report, now=now)
        record(
            session,
            subject=subject,
            action=Action.bundle_audit,
            resource=resource,
            context=Context(now=now, source="audit"),
            decision=decision,
            outcome=audits.INTACT if report.intact else audits.FAILED,
            detail={
                "failures": [f.path for f in report.failures][:50],
                "runner": runner,
                **({"alert": alert.id} if alert else {}),
            },
        )
        session.commit()
        return report, alert.id if alert else None, sum(f.size for f in bundle.files)


def _release(session: Session, bundle_id: str) -> None:
    session.rollback()
    audits.release_claim(session, bundle_id=bundle_id)
    session.commit()


def run_audits(
    wired: Wired,
    *,
    actor: str,
    everything: bool = False,
    sleep: Callable[[float], object] = time.sleep,
    stopped: Callable[[], bool] = lambda: False,
) -> AuditRun:
    """Audit what is due (with `everything`, every bundle not audited since this round began),
    verified longest ago first, one claimed bundle at a time, reading no faster than configured."""
    settings = wired.settings
    start = wired.clock()
    cutoff = start if everything else start - timedelta(days=settings.audit_every_days)
    runner = _runner_name(actor)
    jwks = wired.keyring.jwks()
    with wired.sessions() as session:
        audits.ensure_states(session)
        session.commit()
    run = AuditRun()
    most = settings.audit_bundles_per_run
    while not stopped() and (most <= 0 or len(run.reports) < most):
        with wired.sessions() as session:
            bundle_id = audits.claim_next(session, runner=runner, now=wired.clock(), cutoff=cutoff)
            session.commit()
        if bundle_id is None:
            break
        began = time.monotonic()
        report, alert, read = audit_one(wired, bundle_id=bundle_id, actor=actor, jwks=jwks, runner=runner)
        run.reports.append(report)
        if alert is not None:
            run.alerts[bundle_id] = alert
        sleep(
            audits.pause_after(
                size=read, elapsed=time.monotonic() - began, bytes_per_second=settings.audit_bytes_per_second
            )
        )
    return run


def acknowledge(session: Session, *, subject: Subject, context: Context, alert_id: int, note: str) -> None:
    """Close an open alert with a note; the acknowledgement and its ledger entry commit together."""
    resource = collection("fixity")
    decision = require(
        session, subject=subject, action=Action.fixity_acknowledge, resource=resource, context=context
    )
    alert = audits.acknowledge(session, alert_id=alert_id, by=subject.username, note=note, now=context.now)
    bundle = service.get_bundle(session, alert.bundle_id)
    record(
        session,
        subject=subject,
        action=Action.fixity_acknowledge,
        resource=collection("fixity", case_no=bundle.case.case_no),
        context=context,
        decision=decision,
        outcome="ok",
        detail={"alert": alert.id, "bundle": alert.bundle_id, "note": note},
    )
    session.commit()
