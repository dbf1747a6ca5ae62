"""The anomalies API's answers (`portal.internal.anomalies.api`), as the OpenAPI document
describes them; the handlers build the bodies, these models check them on the way out."""

from __future__ import annotations

from typing import Any

from portal.web.schemas import Body, Timestamp


class Anomaly(Body):
    """One flag: the rule that raised it, the entry that did, the entries it links, its acknowledgement."""

    id: int
    kind: str
    seq: int
    at: Timestamp
    actor: str | None
    source: str | None
    case_no: str | None
    detail: dict[str, Any]
    entries: list[int]
    raised_at: Timestamp
    acknowledged_at: Timestamp | None
    acknowledged_by: str | None
    note: str | None


class AnomalyPage(Body):
    """`GET /api/v1/anomalies`: flags newest first; `next_before` asks for the page after;
    `evaluated_to` is the last ledger entry the rules have seen, `head` the ledger's last."""

    anomalies: list[Anomaly]
    next_before: int | None
    evaluated_to: int
    head: int
