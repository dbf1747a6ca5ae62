"""Anomaly evaluation as the serve loop and the pages run it: the entries since the cursor."""

from __future__ import annotations

from access import anomalies
from portal.wiring import Wired


def evaluate_anomalies(wired: Wired) -> anomalies.Evaluation:
    """Evaluate every ledger entry the rules have not seen yet (the serve loop's chore)."""
    with wired.sessions() as session:
        return anomalies.evaluate(session, now=wired.clock())
