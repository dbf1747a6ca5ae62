"""Disclosure chores the serve loop runs: requests whose correction period lapsed."""

from __future__ import annotations

from access import workdays
from access.disclosure import sweeps
from portal.wiring import Wired


def expire_corrections(wired: Wired) -> list[str]:
    """Mark requests whose correction period lapsed as deemed withdrawn (视为放弃申请)."""
    with wired.sessions() as session:
        lapsed = sweeps.expire_corrections(
            session, now=wired.clock(), calendar=workdays.load_calendar(session)
        )
        session.commit()
    return lapsed
