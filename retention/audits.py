"""Fixity audits (定期检测, DA/T 70 long-term storage checks): which bundles are due, claiming one
at a time, checking it, and keeping the result and its alert.

A bundle is due when its last verification — its last audit, or its sealing if it was never
audited — is older than the cutoff. Runners claim one due bundle at a time in a statement of
its own (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two runners split the work without waiting
for each other; SQLite has one writer at a time anyway) and mark it claimed for `CLAIM`, so no
other runner takes it while its objects are read outside any transaction. Ledgering is the
caller's, in the transaction that records the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from archive import fixity
from archive.errors import ObjectMissing
from archive.models import Bundle
from archive.store import ObjectStore
from retention.audit_models import AuditState, FixityAlert
from retention.holds import LegalHold

# How long a claim keeps other runners off a bundle: far longer than reading one bundle takes,
# so a crashed runner's bundle is only picked up again later the same day.
CLAIM = timedelta(hours=6)
INTACT, FAILED = "intact", "failed"


def verified_at() -> ColumnElement[datetime]:
    """When a bundle was last verified: its last audit, else its sealing."""
    return func.coalesce(AuditState.last_audited_at, Bundle.sealed_at)


def ensure_states(session: Session) -> int:
    """Give every bundle an audit state row (bundles sealed since the last run have none)."""
    has_state = select(AuditState.bundle_id).where(AuditState.bundle_id == Bundle.id).exists()
    missing = session.scalars(select(Bundle.id).where(~has_state)).all()
    if not missing:
        return 0
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    rows = [{"bundle_id": b, "failures": [], "audits": 0, "failed_audits": 0} for b in missing]
    # Another runner may insert the same rows a moment earlier: theirs stand.
    session.execute(dialect.insert(AuditState).values(rows).on_conflict_do_nothing())
    return len(missing)


def claim_next(session: Session, *, runner: str, now: datetime, cutoff: datetime) -> str | None:
    """Claim the due bundle verified longest ago (sealed before `cutoff` and not audited since,
    not claimed by a live runner); None when nothing is left. The caller commits at once."""
    candidate = (
        select(AuditState.bundle_id)
        .join(Bundle, Bundle.id == AuditState.bundle_id)
        .where(verified_at() < cutoff)
        .where(or_(AuditState.claimed_until.is_(None), AuditState.claimed_until < now))
        .order_by(verified_at(), AuditState.bundle_id)
        .limit(1)
        .with_for_update(skip_locked=True, of=AuditState)
        .scalar_subquery()
    )
    return session.execute(
        update(AuditState)
        .where(AuditState.bundle_id == candidate)
        .values(claimed_by=runner, claimed_until=now + CLAIM)
        .returning(AuditState.bundle_id)
    ).scalar_one_or_none()


def check_protection(
    report: fixity.VerifyReport, *, store: ObjectStore, bundle: Bundle, held_by: Sequence[int]
) -> None:
    """Each object still protected as recorded: locked in the store at least until the bundle's
    retention ends, and under the store's legal hold while `held_by` (holds whose flags were set)
    names its case."""
    for item in bundle.files:
        if held_by and not _held(store, item.key, item.version_id):
            report.fail(item.path, f"under legal hold {held_by[0]} but not held in the store")
        try:
            until = store.retained_until(item.key, version_id=item.version_id)
        except ObjectMissing:
            until = None
        if until is None:
            report.fail(item.path, "not under a retention lock in the store")
        elif until < bundle.retain_until:
            report.fail(
                item.path,
                f"locked only until {until.date().isoformat()};"
                f" the bundle is kept until {bundle.retain_until.date().isoformat()}",
            )


def _held(store: ObjectStore, key: str, version_id: str | None) -> bool:
    try:
        return store.legal_hold(key, version_id=version_id)
    except ObjectMissing:  # reported by the digest check already
        return True


def audit_bundle(
    *, session: Session, store: ObjectStore, bundle: Bundle, jwks: dict[str, Any]
) -> fixity.VerifyReport:
    """Both digests and the seal of every object (as `verify`), then its protection in the store."""
    report = fixity.verify_bundle(session=session, store=store, bundle=bundle, jwks=jwks)
    holds_on = session.scalars(
        select(LegalHold).where(LegalHold.case_id == bundle.case_id, LegalHold.lifted_at.is_(None))
    ).all()
    # A hold whose flags the serve loop has yet to set is not yet recorded in the store.
    held_by = [hold.id for hold in holds_on if hold.objects_synced]
    check_protection(report, store=store, bundle=bundle, held_by=held_by)
    return report


def record_result(
    session: Session, *, bundle_id: str, report: fixity.VerifyReport, now: datetime
) -> FixityAlert | None:
    """Keep an audit's result and release the claim; a failure raises an alert unless one for
    this bundle is still open. Returns the alert raised."""
    state = session.get(AuditState, bundle_id, with_for_update=True)
    if state is None:
        state = AuditState(bundle_id=bundle_id, audits=0, failed_audits=0, failures=[])
        session.add(state)
    failures = [{"path": f.path, "reason": f.reason} for f in report.failures]
    state.last_audited_at = now
    state.last_outcome = INTACT if report.intact else FAILED
    state.failures = failures
    state.audits = (state.audits or 0) + 1
    state.failed_audits = (state.failed_audits or 0) + (0 if report.intact else 1)
    state.claimed_by = None
    state.claimed_until = None
    if report.intact or open_alert(session, bundle_id=bundle_id) is not None:
        return None
    alert = FixityAlert(bundle_id=bundle_id, raised_at=now, failures=failures)
    session.add(alert)
    session.flush()
    return alert


def release_claim(session: Session, *, bundle_id: str) -> None:
    """Give a bundle back unaudited (the store was unreachable): the next run takes it."""
    session.execute(
        update(AuditState)
        .where(AuditState.bundle_id == bundle_id)
        .values(claimed_by=None, claimed_until=None)
    )


def open_alert(session: Session, *, bundle_id: str) -> FixityAlert | None:
    """The bundle's unacknowledged alert, if any."""
    query = select(FixityAlert).where(
        FixityAlert.bundle_id == bundle_id, FixityAlert.acknowledged_at.is_(None)
    )
    return session.scalars(query.limit(1)).first()


def open_alerts(session: Session) -> Sequence[FixityAlert]:
    """Every unacknowledged alert, newest first."""
    query = select(FixityAlert).where(FixityAlert.acknowledged_at.is_(None))
    return session.scalars(query.order_by(FixityAlert.raised_at.desc(), FixityAlert.id.desc())).all()


def open_alert_count(session: Session) -> int:
    """How many alerts wait for an acknowledgement (the badge in the navigation)."""
    query = select(func.count(FixityAlert.id)).where(FixityAlert.acknowledged_at.is_(None))
    return int(session.scalar(query) or 0)


class AlertClosed(LookupError):
    """No open alert by that id (unknown, or acknowledged already)."""


def acknowledge(session: Session, *, alert_id: int, by: str, note: str, now: datetime) -> FixityAlert:
    """Close an open alert with who did it and their note."""
    alert = session.get(FixityAlert, alert_id, with_for_update=True)
    if alert is None or alert.acknowledged_at is not None:
        raise AlertClosed(f"no open alert {alert_id}")
    alert.acknowledged_at = now
    alert.acknowledged_by = by
    alert.note = note
    return alert


def last_audit(session: Session, *, bundle_id: str) -> AuditState | None:
    """A bundle's audit state, if it was ever audited."""
    state = session.get(AuditState, bundle_id)
    return state if state is not None and state.last_audited_at is not None else None


@dataclass(frozen=True)
class Standing:
    """One bundle as the fixity page shows it."""

    bundle_id: str
    case_no: str
    verified_at: datetime
    audited: bool
    outcome: str | None
    failures: list[dict[str, str]]


def standings(session: Session) -> list[Standing]:
    """Every bundle with when it was last verified and how its last audit ended, oldest first."""
    rows = session.execute(
        select(Bundle, AuditState)
        .outerjoin(AuditState, AuditState.bundle_id == Bundle.id)
        .order_by(func.coalesce(AuditState.last_audited_at, Bundle.sealed_at), Bundle.id)
    )
    found = []
    for bundle, state in rows:
        audited_at = state.last_audited_at if state is not None else None
        found.append(
            Standing(
                bundle_id=bundle.id,
                case_no=bundle.case.case_no,
                verified_at=bundle.sealed_at if audited_at is None else audited_at,
                audited=audited_at is not None,
                outcome=state.last_outcome if state else None,
                failures=list(state.failures or []) if state else [],
            )
        )
    return found


def pause_after(*, size: int, elapsed: float, bytes_per_second: int) -> float:
    """Seconds to wait after reading `size` bytes in `elapsed` seconds to stay within the rate
    (0 when there is no limit or the read was slow enough)."""
    if bytes_per_second <= 0:
        return 0.0
    return max(0.0, size / bytes_per_second - elapsed)
