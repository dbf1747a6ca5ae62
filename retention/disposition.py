"""Appraisal and disposition (鉴定与销毁): the only path by which anything sealed leaves the store.

An archivist proposes a list of due cases with an appraisal opinion (destroy, extend by N
years, keep permanently); two different archive managers, neither the proposer, approve it —
one refusal ends the list. An approved extension takes effect at once (locks only grow); an
approved destruction is carried out by `retention run` once every lock has expired: every
version of every object of the case goes from the archive realm, its released copies from the
release realm, and a tombstone per bundle and a signed destruction certificate (销毁清册) stay.
A case under a legal hold is never proposed, approved or destroyed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from archive.db import Base, UTCDateTime, claim_row
from archive.errors import Refused, RetentionLocked
from archive.models import Bundle, Case
from archive.seal import Keyring, sign_jws, verify_jws
from archive.store import ObjectStore
from retention import holds
from retention.holds import Conflict, NotFound

APPROVALS_NEEDED = 2
WITNESSES = 2
MAX_CASES = 500
MAX_YEARS = 100
# "Permanent" is a lock this far ahead, kept ahead of time by the schedule's runs.
PERMANENT_YEARS = 100
LIMITS = {"opinion": 4000, "reason": 2000, "witness": 64}


class DispositionAction(StrEnum):
    """The appraisal opinion (鉴定意见)."""

    destroy = "destroy"  # 销毁
    extend = "extend"  # 延长保管期限
    permanent = "permanent"  # 改为永久保管


class Status(StrEnum):
    """Where a disposition list stands."""

    proposed = "proposed"  # 待审批
    approved = "approved"  # 已批准, awaiting the locks' expiry (destruction only)
    refused = "refused"  # 不予批准
    executed = "executed"  # 已执行


OPEN = (Status.proposed.value, Status.approved.value)


class Disposition(Base):
    """One disposition list (处置清单): its cases, opinion, approvals and, once executed, certificate."""

    __tablename__ = "dispositions"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(16))
    years: Mapped[int | None] = mapped_column(Integer)
    opinion: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    proposed_by: Mapped[str] = mapped_column(String(128))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    certificate_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    certificate: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    certificate_jws: Mapped[str | None] = mapped_column(Text)

    items: Mapped[list[DispositionItem]] = relationship(
        order_by="DispositionItem.id", back_populates="disposition"
    )
    approvals: Mapped[list[DispositionApproval]] = relationship(
        order_by="DispositionApproval.id", back_populates="disposition"
    )


class DispositionItem(Base):
    """One case of a list."""

    __tablename__ = "disposition_items"
    __table_args__ = (UniqueConstraint("disposition_id", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    disposition_id: Mapped[int] = mapped_column(ForeignKey("dispositions.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)

    disposition: Mapped[Disposition] = relationship(back_populates="items")
    case: Mapped[Case] = relationship()


class DispositionApproval(Base):
    """One manager's approval or refusal, with the two witnesses (监销人) they named."""

    __tablename__ = "disposition_approvals"
    __table_args__ = (UniqueConstraint("disposition_id", "manager"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    disposition_id: Mapped[int] = mapped_column(ForeignKey("dispositions.id"), index=True)
    manager: Mapped[str] = mapped_column(String(128))
    approve: Mapped[bool]
    reason: Mapped[str] = mapped_column(Text)
    witnesses: Mapped[list[str]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    disposition: Mapped[Disposition] = relationship(back_populates="approvals")


class Tombstone(Base):
    """What stays of a destroyed bundle, forever: who it was, what it held, under which certificate."""

    __tablename__ = "tombstones"

    bundle_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_no: Mapped[str] = mapped_column(String(128), index=True)
    title: Mapped[str] = mapped_column(String(512))
    version: Mapped[int]
    seal_digest: Mapped[str] = mapped_column(String(64))
    tagmanifest_sha256: Mapped[str] = mapped_column(String(64))
    payload_files: Mapped[int]
    payload_bytes: Mapped[int] = mapped_column(BigInteger)
    retain_until: Mapped[datetime] = mapped_column(UTCDateTime())
    rule: Mapped[str] = mapped_column(String(256))
    approvals: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    disposition_id: Mapped[int] = mapped_column(ForeignKey("dispositions.id"), index=True)
    certificate_no: Mapped[str] = mapped_column(String(32))
    destroyed_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class DueItem:
    """A bundle whose retention has ended, and the holds that keep it."""

    bundle_id: str
    case_no: str
    retain_until: datetime
    held_by: list[int]

    def as_json(self) -> dict[str, Any]:
        """As `retention run --json` prints it."""
        return {
            "bundle_id": self.bundle_id,
            "case_no": self.case_no,
            "retain_until": self.retain_until.isoformat(),
            "held_by": self.held_by,
        }


def _text(name: str, value: str | None, *, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise Refused(f"{name}: required", code="field.required")
    if len(value) > LIMITS[name]:
        raise Refused(f"{name}: at most {LIMITS[name]} characters", code="field.too_long", n=LIMITS[name])
    return value


def tombstone(session: Session, bundle_id: str) -> Tombstone | None:
    """The tombstone of a destroyed bundle, or None while it is archived."""
    return session.get(Tombstone, bundle_id)


def destroyed_ids(session: Session, bundle_ids: Iterable[str]) -> set[str]:
    """Which of these bundles are destroyed."""
    ids = list(bundle_ids)
    if not ids:
        return set()
    return set(session.scalars(select(Tombstone.bundle_id).where(Tombstone.bundle_id.in_(ids))))


def _case_destroyed(session: Session, case: Case) -> bool:
    return bool(destroyed_ids(session, (b.id for b in case.bundles)))


def due(session: Session, *, now: datetime) -> list[DueItem]:
    """Every archived bundle whose retention has ended, oldest first, with its case's active holds."""
    rows = list(
        session.execute(
            select(Bundle, Case)
            .join(Case, Bundle.case_id == Case.id)
            .outerjoin(Tombstone, Tombstone.bundle_id == Bundle.id)
            .where(Bundle.retain_until <= now, Tombstone.bundle_id.is_(None))
            .order_by(Bundle.retain_until, Bundle.id)
        )
    )
    held = holds.active_holds(session, case_ids=sorted({case.id for _b, case in rows}))
    return [DueItem(b.id, case.case_no, b.retain_until, held.get(case.id, [])) for b, case in rows]


def _blockers(session: Session, cases: list[Case], *, now: datetime, proposing: bool) -> dict[str, str]:
    """Why each case (by number) cannot go on: held, not yet due, destroyed, or on an open list."""
    held = holds.active_holds(session, case_ids=[c.id for c in cases])
    problems: dict[str, str] = {}
    for case in cases:
        if case.id in held:
            problems[case.case_no] = (
                f"{case.case_no} is under legal hold {', '.join(map(str, held[case.id]))}"
            )
        elif _case_destroyed(session, case):
            problems[case.case_no] = f"{case.case_no} is destroyed"
        elif proposing and (late := max(b.retain_until for b in case.bundles)) > now:
            problems[case.case_no] = f"{case.case_no} is retained until {late.date().isoformat()}"
        elif proposing and session.scalar(
            select(Disposition.id)
            .join(DispositionItem, DispositionItem.disposition_id == Disposition.id)
            .where(DispositionItem.case_id == case.id, Disposition.status.in_(OPEN))
        ):
            problems[case.case_no] = f"{case.case_no} is already on an open disposition list"
    return problems


def propose(
    session: Session,
    *,
    case_nos: list[str],
    action: str,
    opinion: str,
    proposed_by: str,
    now: datetime,
    years: int | None = None,
) -> Disposition:
    """An archivist's disposition list of due cases with the appraisal opinion (鉴定意见)."""
    names = list(dict.fromkeys(c.strip() for c in case_nos if c and c.strip()))
    if not names:
        raise Refused("case_nos: name at least one case", code="disposition.no_cases")
    if len(names) > MAX_CASES:
        raise Refused(
            f"case_nos: at most {MAX_CASES} cases per list", code="disposition.too_many", n=MAX_CASES
        )
    try:
        kind = DispositionAction(action)
    except ValueError:
        raise Refused(
            f"action: {action!r} is not one of destroy, extend, permanent",
            code="disposition.action",
            value=action,
        ) from None
    if kind is DispositionAction.extend and not (years and 1 <= years <= MAX_YEARS):
        raise Refused(
            f"years: an extension needs 1 to {MAX_YEARS} years", code="disposition.years", max=MAX_YEARS
        )
    opinion = _text("opinion", opinion)
    cases = [holds.case_by_no(session, name) for name in names]
    # Lock the cases so a hold placed meanwhile waits for this list or sees it.
    session.execute(select(Case.id).where(Case.id.in_([c.id for c in cases])).with_for_update())
    if problems := _blockers(session, cases, now=now, proposing=True):
        raise Conflict(
            "case_nos: " + "; ".join(problems.values()), code="disposition.blocked", cases="、".join(problems)
        )
    row = Disposition(
        action=kind.value,
        years=years if kind is DispositionAction.extend else None,
        opinion=opinion,
        status=Status.proposed.value,
        proposed_by=proposed_by,
        proposed_at=now,
    )
    row.items = [DispositionItem(case=case) for case in cases]
    session.add(row)
    session.flush()
    return row


def get(session: Session, disposition_id: int, *, lock: bool = False) -> Disposition:
    """One disposition list, or NotFound."""
    query = select(Disposition).where(Disposition.id == disposition_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound(f"no disposition {disposition_id}", code="disposition.none", id=disposition_id)
    return row


def list_dispositions(session: Session, *, status: str | None = None) -> list[Disposition]:
    """Disposition lists, newest first."""
    query = select(Disposition).order_by(Disposition.id.desc())
    if status:
        query = query.where(Disposition.status == status)
    return list(session.scalars(query))


def _add_years(at: datetime, years: int) -> datetime:
    try:
        return at.replace(year=at.year + years)
    except ValueError:  # 29 February
        return at.replace(year=at.year + years, day=28)


def _extend(row: Disposition, *, store: ObjectStore, now: datetime) -> None:
    years = row.years if row.action == DispositionAction.extend.value else PERMANENT_YEARS
    assert years is not None
    for item in row.items:
        for bundle in item.case.bundles:
            base = max(bundle.retain_until, datetime.combine(now.date(), time.min, tzinfo=UTC))
            until = _add_years(base, years)
            for stored in bundle.files:
                store.apply_retention(stored.key, version_id=stored.version_id, until=until)
            bundle.retain_until = until
    row.status, row.executed_at = Status.executed.value, now


def approve(
    session: Session,
    *,
    store: ObjectStore,
    disposition_id: int,
    manager: str,
    approve: bool,
    reason: str,
    witnesses: list[str],
    now: datetime,
) -> Disposition:
    """One manager's decision; the second approval approves the list, one refusal ends it.

    The proposer is kept out by the policy (nobody decides their own request)."""
    row = get(session, disposition_id, lock=True)
    if row.status != Status.proposed.value:
        raise Conflict(f"disposition {row.id} is {row.status}", code="disposition.decided", id=row.id)
    if any(a.manager == manager for a in row.approvals):
        raise Conflict(
            f"{manager} has already decided disposition {row.id}; a second manager must",
            code="disposition.second_manager",
            id=row.id,
        )
    reason = _text("reason", reason, required=not approve)
    names = [_text("witness", w) for w in witnesses if w and w.strip()]
    if approve and row.action == DispositionAction.destroy.value:
        if len(set(names)) != WITNESSES:
            raise Refused(
                f"witnesses: name {WITNESSES} different witnesses (监销人)",
                code="disposition.witnesses",
                n=WITNESSES,
            )
        if manager in names:
            raise Refused(
                "witnesses: a manager approving is not also a witness", code="disposition.manager_witness"
            )
    if approve and (problems := _blockers(session, [i.case for i in row.items], now=now, proposing=False)):
        raise Conflict(
            "case_nos: " + "; ".join(problems.values()), code="disposition.blocked", cases="、".join(problems)
        )
    row.approvals.append(
        DispositionApproval(manager=manager, approve=approve, reason=reason, witnesses=names, at=now)
    )
    if not approve:
        row.status, row.decided_at = Status.refused.value, now
    elif sum(a.approve for a in row.approvals) >= APPROVALS_NEEDED:
        row.status, row.decided_at = Status.approved.value, now
        if row.action != DispositionAction.destroy.value:
            _extend(row, store=store, now=now)
    session.flush()
    return row


def bundles_of(row: Disposition) -> list[Bundle]:
    """Every version of every case on the list."""
    return [bundle for item in row.items for bundle in item.case.bundles]


def _approvals_json(row: Disposition) -> list[dict[str, Any]]:
    return [
        {
            "manager": a.manager,
            "approve": a.approve,
            "reason": a.reason,
            "witnesses": a.witnesses,
            "at": a.at.isoformat(),
        }
        for a in row.approvals
    ]


def certificate_no(row: Disposition, *, now: datetime) -> str:
    """The certificate's number: year and list number (销毁清册 XH2026-00001)."""
    return f"XH{now.year}-{row.id:05d}"


def _certificate(
    row: Disposition, *, number: str, now: datetime, rule_of: Callable[[Bundle], str]
) -> dict[str, Any]:
    return {
        "certificate_no": number,
        "disposition_id": row.id,
        "action": row.action,
        "opinion": row.opinion,
        "proposed_by": row.proposed_by,
        "proposed_at": row.proposed_at.isoformat(),
        "approvals": _approvals_json(row),
        "witnesses": sorted({w for a in row.approvals for w in a.witnesses}),
        "destroyed_at": now.isoformat(),
        "items": [
            {
                "case_no": item.case.case_no,
                "title": item.case.title,
                "bundles": [
                    {
                        "bundle_id": b.id,
                        "version": b.version,
                        "seal_digest": b.seal_digest,
                        "tagmanifest_sha256": b.tagmanifest_sha256,
                        "payload_files": b.payload_files,
                        "payload_bytes": b.payload_bytes,
                        "rule": rule_of(b),
                    }
                    for b in item.case.bundles
                ],
            }
            for item in row.items
        ],
    }


@dataclass(frozen=True)
class Outcome:
    """What one run did with one approved destruction."""

    disposition_id: int
    case_nos: list[str]
    certificate_no: str | None  # None: not carried out this time
    waiting: str | None  # why not

    def as_json(self) -> dict[str, Any]:
        """As `retention run --json` prints it."""
        return {
            "disposition_id": self.disposition_id,
            "case_nos": self.case_nos,
            "certificate_no": self.certificate_no,
            **({"waiting": self.waiting} if self.waiting else {}),
        }


def _destroy_objects(store: ObjectStore, keys: Iterable[str]) -> int:
    return sum(store.destroy(key) for key in dict.fromkeys(keys))


def execute(
    session: Session,
    *,
    row: Disposition,
    store: ObjectStore,
    release: ObjectStore,
    keyring: Keyring,
    release_keys: Callable[[list[str]], list[str]],
    now: datetime,
    rule_of: Callable[[Bundle], str],
) -> Outcome:
    """Carry out one approved destruction whose locks have all expired; the caller commits.
    `rule_of` names the retention each bundle was kept under, for tombstone and certificate.

    Objects go first and the tombstones after: an interrupted run leaves objects gone and the
    list still approved, and the next run (which finds nothing left to remove) finishes it."""
    # Two runners never carry out one list twice, and no hold slips in between the check and
    # the removal: the list and its cases stay locked until the caller commits.
    claim_row(session, Disposition, row.id)
    session.refresh(row, with_for_update=True)
    cases = [item.case for item in row.items]
    names = [c.case_no for c in cases]
    if row.status != Status.approved.value or row.action != DispositionAction.destroy.value:
        return Outcome(row.id, names, None, f"disposition {row.id} is {row.status}")
    session.execute(select(Case.id).where(Case.id.in_([c.id for c in cases])).with_for_update())
    if problems := _blockers(session, cases, now=now, proposing=False):
        return Outcome(row.id, names, None, "; ".join(problems.values()))
    bundles = bundles_of(row)
    if (late := max(b.retain_until for b in bundles)) > now:
        return Outcome(row.id, names, None, f"locked until {late.date().isoformat()}")
    try:
        for bundle in bundles:
            keys = [f.key for f in bundle.files] + [o.key for o in store.list(bundle.prefix)]
            _destroy_objects(store, keys)
        _destroy_objects(release, release_keys([b.id for b in bundles]))
    except RetentionLocked as exc:
        return Outcome(row.id, names, None, str(exc))
    number = certificate_no(row, now=now)
    claims = _certificate(row, number=number, now=now, rule_of=rule_of)
    _kid, token = sign_jws(json.dumps(claims, ensure_ascii=False, sort_keys=True).encode(), keyring=keyring)
    approvals = _approvals_json(row)
    for bundle in bundles:
        session.add(
            Tombstone(
                bundle_id=bundle.id,
                case_no=bundle.case.case_no,
                title=bundle.case.title,
                version=bundle.version,
                seal_digest=bundle.seal_digest,
                tagmanifest_sha256=bundle.tagmanifest_sha256,
                payload_files=bundle.payload_files,
                payload_bytes=bundle.payload_bytes,
                retain_until=bundle.retain_until,
                rule=rule_of(bundle),
                approvals=approvals,
                disposition_id=row.id,
                certificate_no=number,
                destroyed_at=now,
            )
        )
    row.status, row.executed_at = Status.executed.value, now
    row.certificate_no, row.certificate, row.certificate_jws = number, claims, token.decode()
    session.flush()
    return Outcome(row.id, names, number, None)


def verify_certificate(token: str, *, jwks: dict[str, Any]) -> dict[str, Any]:
    """The claims of a destruction certificate whose signature verifies against the JWKS."""
    _kid, payload = verify_jws(token, jwks=jwks)
    return dict(json.loads(payload))
