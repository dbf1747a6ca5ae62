"""Legal holds (冻结/保全): while a case is held, none of its versions is appraised, approved for
or subjected to destruction, and every stored object of it carries the store's legal hold.

A hold is placed by a person for a review, a suit, a petition or a disciplinary inquiry, or by
the archive itself while a disclosure request about the case is open. The database row is the
hold; the object flag follows it (`sync_objects`), so a hold filed from the public portal, which
never reaches the archive realm, still binds at once and reaches the objects on the next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from archive.db import Base, UTCDateTime
from archive.errors import ObjectMissing, Refused
from archive.models import Bundle, Case
from archive.store import ObjectStore

LIMITS = {"title": 256, "reason": 2000}


class Mandate(StrEnum):
    """What a hold is for."""

    reconsideration = "administrative_reconsideration"  # 行政复议
    litigation = "administrative_litigation"  # 行政诉讼
    petition = "petition"  # 信访
    discipline = "discipline_inspection"  # 纪检监察
    disclosure = "disclosure_request"  # 依申请公开 (placed and lifted by the request itself)


# The Chinese names people type; the command line and forms accept either.
MANDATE_NAMES = {
    "行政复议": Mandate.reconsideration,
    "行政诉讼": Mandate.litigation,
    "信访": Mandate.petition,
    "纪检监察": Mandate.discipline,
}


class NotFound(Refused):
    """An unknown case, hold or disposition (404)."""


class Conflict(Refused):
    """A hold or disposition not in a state that allows the step (409)."""


class LegalHold(Base):
    """A hold on every version of one case, active until lifted with a reason."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    title: Mapped[str] = mapped_column(String(256))
    mandate: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(128))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set for the hold a disclosure request places; that request's closing lifts it.
    disclosure_request_id: Mapped[int | None] = mapped_column(index=True)
    lifted_by: Mapped[str | None] = mapped_column(String(128))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lift_reason: Mapped[str | None] = mapped_column(Text)
    # Whether the store's object flags match this row: False until `sync_objects` has run.
    objects_synced: Mapped[bool] = mapped_column(default=False)

    case: Mapped[Case] = relationship()

    @property
    def active(self) -> bool:
        """True until lifted."""
        return self.lifted_at is None


@dataclass(frozen=True)
class HoldView:
    """A hold as the API and the pages show it."""

    id: int
    case_no: str
    title: str
    mandate: str
    reason: str
    placed_by: str
    placed_at: str
    active: bool
    lifted_by: str | None
    lifted_at: str | None
    lift_reason: str | None

    @classmethod
    def of(cls, hold: LegalHold) -> HoldView:
        """The view of one row."""
        return cls(
            hold.id,
            hold.case.case_no,
            hold.title,
            hold.mandate,
            hold.reason,
            hold.placed_by,
            hold.placed_at.isoformat(),
            hold.active,
            hold.lifted_by,
            hold.lifted_at.isoformat() if hold.lifted_at else None,
            hold.lift_reason,
        )


def _text(name: str, value: str, *, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise Refused(f"{name}: required", code="field.required")
    if len(value) > LIMITS[name]:
        raise Refused(f"{name}: at most {LIMITS[name]} characters", code="field.too_long", n=LIMITS[name])
    return value


def mandate_of(value: str) -> Mandate:
    """A mandate from its value or Chinese name; the message lists what is accepted."""
    value = (value or "").strip()
    if value in MANDATE_NAMES:
        return MANDATE_NAMES[value]
    try:
        return Mandate(value)
    except ValueError:
        accepted = ", ".join([*MANDATE_NAMES, *(m.value for m in Mandate if m is not Mandate.disclosure)])
        raise Refused(
            f"mandate: {value!r} is not one of {accepted}", code="hold.mandate", value=value
        ) from None


def case_by_no(session: Session, case_no: str) -> Case:
    """A case by its number, or NotFound."""
    case = session.scalar(select(Case).where(Case.case_no == case_no))
    if case is None:
        raise NotFound(f"case_no: no archived case {case_no!r}", code="hold.no_case", case_no=case_no)
    return case


def active_holds(session: Session, *, case_ids: list[int]) -> dict[int, list[int]]:
    """Ids of the active holds on each of these cases (cases without one are left out)."""
    found: dict[int, list[int]] = {}
    if not case_ids:
        return found
    rows = session.execute(
        select(LegalHold.case_id, LegalHold.id)
        .where(LegalHold.case_id.in_(case_ids), LegalHold.lifted_at.is_(None))
        .order_by(LegalHold.id)
    )
    for case_id, hold_id in rows:
        found.setdefault(case_id, []).append(hold_id)
    return found


def place(
    session: Session,
    *,
    case_no: str,
    mandate: str,
    reason: str,
    placed_by: str,
    now: datetime,
    title: str = "",
) -> LegalHold:
    """Place a hold on every version of a case (its objects follow in `sync_objects`)."""
    case = case_by_no(session, case_no)
    # Waits for a destruction of this case under way, and is seen by any that starts after.
    session.execute(select(Case.id).where(Case.id == case.id).with_for_update())
    kind = mandate_of(mandate)
    if kind is Mandate.disclosure:
        raise Refused(
            "mandate: a disclosure request places its own hold while it is open",
            code="hold.disclosure_mandate",
        )
    hold = LegalHold(
        case=case,
        title=_text("title", title, required=False) or case.title[: LIMITS["title"]],
        mandate=kind.value,
        reason=_text("reason", reason),
        placed_by=placed_by,
        placed_at=now,
    )
    session.add(hold)
    session.flush()
    return hold


def get(session: Session, hold_id: int, *, lock: bool = False) -> LegalHold:
    """One hold, or NotFound."""
    query = select(LegalHold).where(LegalHold.id == hold_id)
    hold = session.scalar(query.with_for_update() if lock else query)
    if hold is None:
        raise NotFound(f"no hold {hold_id}", code="hold.no_hold", id=hold_id)
    return hold


def lift(
    session: Session,
    *,
    hold_id: int,
    reason: str,
    lifted_by: str,
    now: datetime,
    request_closed: bool = False,
) -> LegalHold:
    """Lift an active hold with a reason; a disclosure request's hold goes with the request only."""
    hold = get(session, hold_id, lock=True)
    if not hold.active:
        raise Conflict(
            f"hold {hold_id} was lifted on {hold.lifted_at:%Y-%m-%d}", code="hold.lifted", id=hold_id
        )
    if hold.disclosure_request_id is not None and not request_closed:
        raise Conflict(
            f"hold {hold_id} stays while disclosure request {hold.disclosure_request_id} is open",
            code="hold.disclosure_open",
            id=hold_id,
        )
    hold.lifted_by, hold.lifted_at, hold.lift_reason = lifted_by, now, _text("reason", reason)
    hold.objects_synced = False
    session.flush()
    return hold


def list_holds(session: Session, *, active_only: bool = False) -> list[LegalHold]:
    """Every hold, newest first."""
    query = select(LegalHold).order_by(LegalHold.id.desc())
    if active_only:
        query = query.where(LegalHold.lifted_at.is_(None))
    return list(session.scalars(query))


def open_for_request(
    session: Session, *, case_no: str | None, request_id: int, tracking_code: str, now: datetime
) -> LegalHold | None:
    """The hold an open disclosure request places on the case it names, if the archive has it.

    Reads only the case's id, so the public portal's database role needs no more of `cases`."""
    case_id = session.scalar(select(Case.id).where(Case.case_no == case_no)) if case_no else None
    if case_id is None:
        return None
    hold = LegalHold(
        case_id=case_id,
        title=f"依申请公开 {tracking_code}",
        mandate=Mandate.disclosure.value,
        reason=f"依申请公开 {tracking_code} 办理中 · disclosure request {tracking_code} is open",
        placed_by="system",
        placed_at=now,
        disclosure_request_id=request_id,
    )
    session.add(hold)
    session.flush()
    return hold


def close_for_request(session: Session, *, request_id: int, now: datetime) -> None:
    """Lift the hold of a disclosure request that is answered or withdrawn."""
    open_holds = session.scalars(
        select(LegalHold.id).where(
            LegalHold.disclosure_request_id == request_id, LegalHold.lifted_at.is_(None)
        )
    ).all()
    for hold_id in open_holds:
        lift(
            session,
            hold_id=hold_id,
            reason="依申请公开已办结 · the request is closed",
            lifted_by="system",
            now=now,
            request_closed=True,
        )


def sync_objects(session: Session, *, store: ObjectStore) -> int:
    """Make every object's legal hold match the holds on its case; returns how many holds synced.

    An object stays held while any active hold names its case, so lifting one of two holds
    leaves the flags on."""
    pending = list(session.scalars(select(LegalHold).where(LegalHold.objects_synced.is_(False))))
    for hold in pending:
        on = bool(active_holds(session, case_ids=[hold.case_id]))
        for bundle in session.scalars(select(Bundle).where(Bundle.case_id == hold.case_id)):
            for stored in bundle.files:
                if store_has(store, stored.key, stored.version_id):
                    store.set_legal_hold(stored.key, version_id=stored.version_id, on=on)
        hold.objects_synced = True
    session.flush()
    return len(pending)


def store_has(store: ObjectStore, key: str, version_id: str | None) -> bool:
    """Whether an object is (still) stored; a destroyed case has none left to hold."""
    try:
        store.retained_until(key, version_id=version_id)
    except ObjectMissing:
        return False
    return True
