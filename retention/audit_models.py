"""Fixity audit state (定期检测): when each bundle was last audited, how it ended, and the alerts
a failed audit raises until someone acknowledges them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from archive.db import Base, UTCDateTime


class AuditState(Base):
    """One row per sealed bundle: its last audit and the claim of a runner auditing it now."""

    __tablename__ = "audit_states"

    bundle_id: Mapped[str] = mapped_column(ForeignKey("bundles.id"), primary_key=True)
    last_audited_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    last_outcome: Mapped[str | None] = mapped_column(String(16))  # intact | failed
    # The failing paths of the last audit, [{"path", "reason"}]; empty when intact.
    failures: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    audits: Mapped[int] = mapped_column(Integer, default=0)
    failed_audits: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FixityAlert(Base):
    """A failed audit, shown to archive staff and auditors until acknowledged with a note."""

    __tablename__ = "fixity_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    bundle_id: Mapped[str] = mapped_column(ForeignKey("bundles.id"), index=True)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    failures: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)
