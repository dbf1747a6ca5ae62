"""Holds and dispositions as the API, the pages and the command line carry them out.

Each step asks the policy first (a refusal is ledgered and committed at once), then calls the
`retention` service and ledgers what it did in the same transaction; the caller commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from access.disclosure.models import ReleasedItem
from access.ledger import LedgerEntry
from access.models import Role
from access.policy import (
    Action,
    Context,
    Decision,
    Resource,
    Subject,
    collection,
    record,
    request_of,
    require,
)
from portal.wiring import Wired
from retention import disposition, holds
from retention import service as schedule
from retention.disposition import Disposition, Tombstone


def _ledger(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    action: Action,
    resource: Resource,
    decision: Decision,
    detail: dict[str, Any],
) -> None:
    record(
        session,
        subject=subject,
        action=action,
        resource=resource,
        context=context,
        decision=decision,
        outcome="ok",
        detail=detail,
    )


def _allow(
    session: Session, subject: Subject, context: Context, action: Action, resource: Resource
) -> Decision:
    return require(session, subject=subject, action=action, resource=resource, context=context)


# --- holds ---------------------------------------------------------------------------------------


def place_hold(
    wired: Wired,
    session: Session,
    *,
    subject: Subject,
    context: Context,
    case_no: str,
    mandate: str,
    reason: str,
    title: str = "",
) -> holds.HoldView:
    """Place a legal hold on a case and set the object legal hold on every version of it."""
    resource = collection("holds", case_no=case_no)
    decision = _allow(session, subject, context, Action.holds_place, resource)
    hold = holds.place(
        session,
        case_no=case_no,
        mandate=mandate,
        reason=reason,
        title=title,
        placed_by=subject.username,
        now=context.now,
    )
    holds.sync_objects(session, store=wired.store)
    _ledger(
        session,
        subject=subject,
        context=context,
        action=Action.holds_place,
        resource=resource,
        decision=decision,
        detail={"hold": hold.id, "mandate": hold.mandate},
    )
    return holds.HoldView.of(hold)


def lift_hold(
    wired: Wired, session: Session, *, subject: Subject, context: Context, hold_id: int, reason: str
) -> holds.HoldView:
    """Lift a hold with a reason; the objects' flags clear when no other hold remains on the case."""
    # Decided before the hold is looked up: a caller refused learns nothing of which holds exist.
    found = session.get(holds.LegalHold, hold_id)
    resource = collection("holds", case_no=found.case.case_no if found else None)
    decision = _allow(session, subject, context, Action.holds_lift, resource)
    hold = holds.lift(session, hold_id=hold_id, reason=reason, lifted_by=subject.username, now=context.now)
    holds.sync_objects(session, store=wired.store)
    _ledger(
        session,
        subject=subject,
        context=context,
        action=Action.holds_lift,
        resource=resource,
        decision=decision,
        detail={"hold": hold.id},
    )
    return holds.HoldView.of(hold)


def list_holds(session: Session, *, subject: Subject, context: Context) -> list[dict[str, Any]]:
    """Every hold, newest first (ledgered as one read)."""
    resource = collection("holds")
    decision = _allow(session, subject, context, Action.holds_read, resource)
    rows = [asdict(holds.HoldView.of(h)) for h in holds.list_holds(session)]
    _ledger(
        session,
        subject=subject,
        context=context,
        action=Action.holds_read,
        resource=resource,
        decision=decision,
        detail={"holds": len(rows)},
    )
    return rows


# --- dispositions --------------------------------------------------------------------------------


def summary(row: Disposition) -> dict[str, Any]:
    """A disposition list as the API returns it."""
    return {
        "id": row.id,
        "status": row.status,
        "action": row.action,
        "years": row.years,
        "opinion": row.opinion,
        "case_nos": [item.case.case_no for item in row.items],
        "proposed_by": row.proposed_by,
        "proposed_at": row.proposed_at.isoformat(),
        "approvals": [
            {"manager": a.manager, "approve": a.approve, "reason": a.reason, "witnesses": a.witnesses}
            for a in row.approvals
        ],
        "certificate_no": row.certificate_no,
        "executed_at": row.executed_at.isoformat() if row.executed_at else None,
    }


def read(session: Session, *, subject: Subject, context: Context, what: str) -> Decision:
    """Ask and ledger one read of what is due, the lists or a certificate."""
    resource = collection("disposition")
    decision = _allow(session, subject, context, Action.disposition_read, resource)
    _ledger(
        session,
        subject=subject,
        context=context,
        action=Action.disposition_read,
        resource=resource,
        decision=decision,
        detail={"read": what},
    )
    return decision


def propose(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    case_nos: list[str],
    action: str,
    opinion: str,
    years: int | None = None,
) -> Disposition:
    """An archivist's appraisal of due cases (鉴定意见); a held or not-yet-due case is refused."""
    resource = collection("disposition", case_no=case_nos[0] if len(case_nos) == 1 else None)
    decision = _allow(session, subject, context, Action.disposition_propose, resource)
    row = disposition.propose(
        session,
        case_nos=case_nos,
        action=action,
        opinion=opinion,
        years=years,
        proposed_by=subject.username,
        now=context.now,
    )
    _ledger(
        session,
        subject=subject,
        context=context,
        action=Action.disposition_propose,
        resource=resource,
        decision=decision,
        detail={"disposition": row.id, "action": row.action, "years": row.years, "case_nos": case_nos},
    )
    return row


def approve(
    wired: Wired,
    session: Session,
    *,
    subject: Subject,
    context: Context,
    disposition_id: int,
    approve: bool,
    reason: str,
    witnesses: list[str],
) -> Disposition:
    """One archive manager's approval or refusal; the proposer is refused by the policy."""
    # Decided before the list is looked up: a caller refused learns nothing of which lists exist.
    found = session.get(Disposition, disposition_id)
    names = [item.case.case_no for item in found.items] if found else []
    resource = request_of(
        "disposition",
        case_no=names[0] if len(names) == 1 else None,
        owner=found.proposed_by if found else None,
    )
    decision = _allow(session, subject, context, Action.disposition_approve, resource)
    row = disposition.approve(
        session,
        store=wired.store,
        disposition_id=disposition_id,
        manager=subject.username,
        approve=approve,
        reason=reason,
        witnesses=witnesses,
        now=context.now,
    )
    _ledger(
        session,
        subject=subject,
        context=context,
        action=Action.disposition_approve,
        resource=resource,
        decision=decision,
        detail={
            "disposition": row.id,
            "approve": approve,
            "status": row.status,
            "witnesses": witnesses if approve else [],
        },
    )
    return row


def _release_keys(session: Session) -> Callable[[list[str]], list[str]]:
    def keys(bundle_ids: list[str]) -> list[str]:
        return list(session.scalars(select(ReleasedItem.key).where(ReleasedItem.bundle_id.in_(bundle_ids))))

    return keys


def run(
    wired: Wired, session: Session, *, subject: Subject, context: Context, dry_run: bool
) -> dict[str, Any]:
    """What is due, the open lists, and (unless a dry run) the approved destructions carried out."""
    read(session, subject=subject, context=context, what="due")
    destroyed: list[dict[str, Any]] = []
    if not dry_run:
        resource = collection("disposition")
        decision = _allow(session, subject, context, Action.disposition_execute, resource)
        # Permanent bundles hold a lock some years ahead: renewed before anything is judged due.
        renewed = schedule.extend_permanent_locks(
            session=session, store=wired.store, now=context.now, default_years=wired.settings.retention_years
        )
        if renewed:
            record(
                session,
                subject=subject,
                action=Action.disposition_execute,
                resource=resource,
                context=context,
                decision=decision,
                outcome="renewed",
                detail={"renewed": renewed},
            )
        holds.sync_objects(session, store=wired.store)
        session.commit()
    due = [item.as_json() for item in disposition.due(session, now=context.now)]
    session.commit()
    if not dry_run:
        for row in disposition.list_dispositions(session, status=disposition.Status.approved.value):
            if row.action != disposition.DispositionAction.destroy.value:
                continue
            outcome = disposition.execute(
                session,
                row=row,
                store=wired.store,
                release=wired.release,
                keyring=wired.keyring,
                release_keys=_release_keys(session),
                now=context.now,
                rule_of=lambda bundle: schedule.kept_under(
                    session=session, bundle=bundle, default_years=wired.settings.retention_years
                ),
            )
            record(
                session,
                subject=subject,
                action=Action.disposition_execute,
                resource=collection(
                    "disposition", case_no=outcome.case_nos[0] if len(outcome.case_nos) == 1 else None
                ),
                context=context,
                decision=decision,
                outcome="destroyed" if outcome.certificate_no else "waiting",
                detail=outcome.as_json(),
            )
            session.commit()
            if outcome.certificate_no:
                destroyed.append(outcome.as_json())
    opened = [
        summary(row) for row in disposition.list_dispositions(session) if row.status in disposition.OPEN
    ]
    return {"due": due, "opened": opened, "destroyed": destroyed}


SYSTEM = Subject(username="system", role=Role.archivist)
DAILY = timedelta(days=1)


def housekeeping(wired: Wired) -> None:
    """The serve loop's round: object flags for holds filed meanwhile (a disclosure request on the
    public portal) at once; once a day, what `retention run` does. The last daily run is read
    from the ledger, so a restart neither skips nor repeats a day."""
    now = wired.clock()
    context = Context(now=now, source="serve")
    with wired.sessions() as session:
        holds.sync_objects(session, store=wired.store)
        session.commit()
        last = session.scalar(
            select(func.max(LedgerEntry.at)).where(
                LedgerEntry.actor == SYSTEM.username, LedgerEntry.action == Action.disposition_read.value
            )
        )
        if last is None or now - last >= DAILY:
            run(wired, session, subject=SYSTEM, context=context, dry_run=False)


def certificate(
    session: Session, *, subject: Subject, context: Context, disposition_id: int
) -> dict[str, Any]:
    """The signed destruction certificate (销毁清册) of an executed list."""
    read(session, subject=subject, context=context, what=f"certificate of disposition {disposition_id}")
    row = disposition.get(session, disposition_id)
    if row.certificate_jws is None:
        raise holds.Conflict(f"disposition {row.id} is {row.status}; no certificate yet")
    return {
        "certificate_no": row.certificate_no,
        "disposition_id": row.id,
        "certificate": row.certificate,
        "jws": row.certificate_jws,
    }


def destroyed(session: Session, bundle_ids: list[str]) -> dict[str, Tombstone]:
    """Tombstones of those of these bundles that are destroyed."""
    found = disposition.destroyed_ids(session, bundle_ids)
    return {b: t for b in found if (t := disposition.tombstone(session, b)) is not None}
