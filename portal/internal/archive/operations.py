"""Archive operations as the command line offers them: deposit, verify, export, reconcile,
extend retention locks, verify what was destroyed.

Each goes through the policy decision point as the operator, and its decision is ledgered in
the same transaction as the action.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from access.disclosure import sweeps
from access.ledger import LedgerEntry
from access.policy import (
    Action,
    Context,
    Decision,
    Denied,
    Resource,
    Subject,
    collection,
    record,
    require,
    resource_of,
)
from archive import fixity, service
from archive.errors import ArchiveError, StoreMismatch
from archive.models import Bundle
from archive.sip import CaseFile
from portal.wiring import Wired, operator
from retention import disposition
from retention import service as retention
from retention.disposition import Tombstone
from retention.schedule import facts_of_sip

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Ruling:
    """The policy's yes to the operator for one action on one resource; it ledgers how it ends."""

    subject: Subject
    action: Action
    resource: Resource
    context: Context
    decision: Decision

    def ledger(
        self, session: Session, *, outcome: str, detail: dict[str, Any], resource: Resource | None = None
    ) -> None:
        """Ledger the outcome (on `resource` when the action made it, as a deposit makes its
        bundle) and commit."""
        record(
            session,
            subject=self.subject,
            action=self.action,
            resource=resource or self.resource,
            context=self.context,
            decision=self.decision,
            outcome=outcome,
            detail=detail,
        )
        session.commit()


def _decide(
    wired: Wired,
    session: Session,
    actor: str,
    action: Action,
    resource: Resource,
    *,
    subject: Subject | None = None,
    source: str | None = "cli",
) -> Ruling:
    """Ask the policy as the operator (or as `subject`, a signed-in user); a refusal is ledgered
    and committed at once, then raised."""
    subject, context = subject or operator(wired, actor), Context(now=wired.clock(), source=source)
    decision = require(session, subject=subject, action=action, resource=resource, context=context)
    return Ruling(subject, action, resource, context, decision)


def deposit(
    wired: Wired,
    *,
    folder: Path,
    actor: str,
    progress: Progress | None = None,
    before_write: Callable[[int], None] | None = None,
    subject: Subject | None = None,
    source: str | None = "cli",
    supplement: bool = True,
) -> dict[str, Any]:
    """Seal a deposit folder as a new bundle version; the bundle and its entry commit together.

    The one deposit path: the command line calls it as the operator, the portal and the API as
    the signed-in `subject` (from `source`), and without `supplement` when a new version of a
    sealed case must be asked for."""
    bundle_id = service.new_bundle_id()
    years = wired.settings.retention_years

    try:
        with wired.sessions() as session:
            ruling = _decide(
                wired,
                session,
                actor,
                Action.bundle_deposit,
                collection("archive"),
                subject=subject,
                source=source,
            )
            version, rules = retention.current_rules(session)

            def until(case: CaseFile) -> datetime:
                found = retention.disposition_date(
                    case=facts_of_sip(case), rules=rules, default_years=years, version=version
                )
                return retention.lock_date(found, now=ruling.context.now)

            bundle = service.deposit_case(
                session=session,
                store=wired.store,
                keyring=wired.keyring,
                folder=folder,
                bundle_id=bundle_id,
                sealed_by=actor,
                algorithms=wired.settings.algorithms,
                source_organization=wired.settings.source_organization,
                retain_until=until,
                progress=progress,
                before_write=before_write,
                supplement=supplement,
            )
            summary = {
                "bundle_id": bundle.id,
                "case_no": bundle.case.case_no,
                "version": bundle.version,
                "seal_digest": bundle.seal_digest,
                "classification": bundle.classification,
                "findings": bundle.findings,
            }
            detail = {
                "version": bundle.version,
                "seal_digest": bundle.seal_digest,
                "files": len(bundle.files),
                "findings": len(bundle.findings),
            }
            ruling.ledger(session, outcome="ok", detail=detail, resource=resource_of(bundle))
    except Denied:
        raise  # nothing was written
    except Exception:
        # An ordinary failure cleans up at once; a crash is left to `reconcile`.
        with contextlib.suppress(Exception):
            service.discard_bundle_objects(store=wired.store, bundle_id=bundle_id)
        raise
    return summary


def extend_retention_locks(wired: Wired, *, actor: str, progress: Progress | None = None) -> dict[str, Any]:
    """Extend the store locks committed schedule changes lengthened, and renew the permanent ones
    running out (`retention.service`); ledgered with what was done."""
    resource = collection("retention")
    with wired.sessions() as session:
        ruling = _decide(wired, session, actor, Action.retention_locks, resource)
        extended = retention.extend_locks(
            session=session, store=wired.store, now=ruling.context.now, progress=progress
        )
        renewed = retention.extend_permanent_locks(
            session=session,
            store=wired.store,
            now=ruling.context.now,
            default_years=wired.settings.retention_years,
            progress=progress,
        )
        done = {"extended": extended, "renewed": renewed}
        ruling.ledger(session, outcome="ok", detail={"extended": extended, "renewed": renewed[:200]})
    return done


def verify(
    wired: Wired, *, bundle_id: str | None, actor: str, progress: Progress | None = None
) -> list[fixity.VerifyReport]:
    """Verify one bundle, or all of them; each check is ledgered with its outcome."""
    jwks = wired.keyring.jwks()
    reports = []
    with wired.sessions() as session:
        if bundle_id is None:
            ids = list(session.scalars(select(Bundle.id).order_by(Bundle.sealed_at)))
        else:
            ids = [service.get_bundle(session, bundle_id).id]
        gone = disposition.destroyed_ids(session, ids)  # reported apart by `verify_destroyed`
        for each in (i for i in ids if i not in gone):
            bundle = service.get_bundle(session, each)
            resource = resource_of(bundle)
            ruling = _decide(wired, session, actor, Action.bundle_verify, resource)
            report = fixity.verify_bundle(
                session=session, store=wired.store, bundle=bundle, jwks=jwks, progress=progress
            )
            ruling.ledger(
                session,
                outcome="intact" if report.intact else "failed",
                detail={"failures": [f.path for f in report.failures][:50]},
            )
            reports.append(report)
    return reports


def export(wired: Wired, *, bundle_id: str, dest: Path, actor: str, progress: Progress | None = None) -> Path:
    """Export a bundle as a bag with seal and JWKS; the export and its entry are ledgered."""
    with wired.sessions() as session:
        bundle = service.get_bundle(session, bundle_id)
        resource = resource_of(bundle)
        ruling = _decide(wired, session, actor, Action.bundle_export, resource)
        try:
            path = service.export_bundle(
                store=wired.store,
                bundle=bundle,
                jwks=wired.keyring.jwks(),
                dest=dest,
                progress=progress,
            )
        except ArchiveError as exc:
            ruling.ledger(session, outcome="failed", detail={"failure": str(exc)})
            raise
        ruling.ledger(session, outcome="ok", detail={"dest": dest.name})
    return path


def _reported_leftovers(session: Session) -> frozenset[str]:
    """Bundles whose retained leftovers an earlier reconcile reported (and so kept)."""
    details = session.scalars(
        select(LedgerEntry.detail).where(
            LedgerEntry.action == Action.store_reconcile.value, LedgerEntry.outcome == "ok"
        )
    )
    return frozenset(bundle_id for detail in details for bundle_id in detail.get("kept_bundles", []))


def reconcile(wired: Wired, *, grace: timedelta, actor: str) -> list[tuple[str, str]]:
    """Remove leftovers of deposits that never committed (never anything under retention), and
    release copies no reply references; ledgered, a refusal included."""
    older_than = datetime.now(UTC) - grace
    with wired.sessions() as session:
        resource = collection("archive")
        ruling = _decide(wired, session, actor, Action.store_reconcile, resource)
        try:
            done = service.reconcile(
                session=session,
                store=wired.store,
                older_than=older_than,
                reported=_reported_leftovers(session),
            )
        except StoreMismatch as exc:
            ruling.ledger(session, outcome="refused", detail={"refusal": str(exc)})
            raise
        done += sweeps.sweep_release_realm(session=session, release=wired.release, older_than=older_than)
        kept = sorted({key.split("/")[1] for key, action in done if action.startswith("kept")})
        removed = sum(1 for _key, action in done if not action.startswith("kept"))
        ruling.ledger(session, outcome="ok", detail={"removed": removed, "kept_bundles": kept})
        return done


def verify_destroyed(wired: Wired, *, bundle_id: str | None, actor: str) -> dict[str, Tombstone]:
    """Tombstones of the destroyed bundles among those `verify` is asked about, each ledgered."""
    with wired.sessions() as session:
        if bundle_id is None:
            ids = list(session.scalars(select(Bundle.id).order_by(Bundle.sealed_at)))
        else:
            ids = [service.get_bundle(session, bundle_id).id]
        gone = {i: t for i in ids if (t := disposition.tombstone(session, i)) is not None}
        for each, stone in gone.items():
            bundle = service.get_bundle(session, each)
            resource = resource_of(bundle)
            ruling = _decide(wired, session, actor, Action.bundle_verify, resource)
            ruling.ledger(session, outcome="destroyed", detail={"certificate_no": stone.certificate_no})
    return gone
