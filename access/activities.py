"""The published list of enforcement activities recorded on video (音像记录清单, rules art. 12).

Art. 12 asks the office to record on video the steps disputes arise from, to record without
interruption on-site enforcement that directly touches major property interests, and to publish
the list. The list is a table the system administrator keeps (`change`: each change with a reason,
decided and ledgered as `activities.edit` in the same transaction); the public portal reads it
(`published`) without signing in. Migration 0012 seeds it with the activities art. 12 names.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from access import policy
from access.policy import Action, Context, Subject, collection
from archive.db import Base, UTCDateTime
from archive.errors import Refused

CODE = re.compile(r"^[a-z][a-z0-9_]{1,47}$")
LIMITS = {"name_zh": 128, "name_en": 128, "basis": 1000, "reason": 1000}


class RecordedActivity(Base):
    """One kind of enforcement activity the office records on video, as published."""

    __tablename__ = "recorded_activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)  # the AV `activity` value it matches
    name_zh: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(128))
    continuous: Mapped[bool]  # recorded throughout, without interruption (全过程无间断)
    basis: Mapped[str] = mapped_column(Text)  # why, in the rules' words
    position: Mapped[int]
    published: Mapped[bool]
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    changed_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)  # of the last change

    def as_json(self) -> dict[str, object]:
        """As the public API gives it."""
        return {
            "code": self.code,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "continuous": self.continuous,
            "basis": self.basis,
            "position": self.position,
            "changed_at": self.changed_at.isoformat(),
        }


def listed(session: Session) -> list[RecordedActivity]:
    """Every activity of the list, published or not, in its order."""
    return list(
        session.scalars(select(RecordedActivity).order_by(RecordedActivity.position, RecordedActivity.id))
    )


def published(session: Session) -> list[RecordedActivity]:
    """What the public portal shows, in order."""
    return [a for a in listed(session) if a.published]


def _text(name: str, value: str, *, required: bool = True) -> str:
    cleaned = value.strip()
    if required and not cleaned:
        raise Refused(f"{name}: required")
    if len(cleaned) > LIMITS[name]:
        raise Refused(f"{name}: at most {LIMITS[name]} characters")
    return cleaned


def change(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    code: str,
    name_zh: str,
    name_en: str,
    continuous: bool,
    basis: str,
    position: int | None,
    published: bool,
    reason: str,
) -> RecordedActivity:
    """Add an activity (a new `code`) or change one, with a reason: decided and ledgered as
    `activities.edit` with what changed; the caller commits. Bad input is `Refused` naming the field,
    a refusal `policy.Denied` (ledgered)."""
    fields = {"code": code, "reason": reason}
    policy.require(
        session,
        subject=subject,
        action=Action.activities_edit,
        resource=collection("activities"),
        context=context,
        detail=fields,
    )
    code = code.strip()
    if not CODE.fullmatch(code):
        raise Refused("code: lower-case letters, digits and _ (2–48), starting with a letter")
    if position is None or not 0 <= position <= 999:
        raise Refused("position: a whole number from 0 to 999")
    after = {
        "name_zh": _text("name_zh", name_zh),
        "name_en": _text("name_en", name_en),
        "continuous": continuous,
        "basis": _text("basis", basis, required=False),
        "position": position,
        "published": published,
    }
    why = _text("reason", reason)
    row = session.scalar(select(RecordedActivity).where(RecordedActivity.code == code))
    before = (
        None
        if row is None
        else {
            k: getattr(row, k) for k in ("name_zh", "name_en", "continuous", "basis", "position", "published")
        }
    )
    if row is None:
        row = RecordedActivity(
            code=code, **after, changed_at=context.now, changed_by=subject.username, reason=why
        )
        session.add(row)
    else:
        for key, value in after.items():
            setattr(row, key, value)
        row.changed_at, row.changed_by, row.reason = context.now, subject.username, why
    changed = {k: v for k, v in after.items() if before is None or before[k] != v}
    policy.enforce(
        session,
        subject=subject,
        action=Action.activities_edit,
        resource=collection("activities"),
        context=context,
        detail={"code": code, "reason": why, "added": before is None, "changed": changed, "before": before},
    )
    session.flush()
    return row
