"""The trails API's answers (`portal.internal.trails.api`), as the OpenAPI document describes
them; the handlers build the bodies, these models check them on the way out."""

from __future__ import annotations

from portal.web.schemas import Body, Timestamp


class TrailFilter(Body):
    """What the trail holds: any of a person, a case, a record, and a period (times in UTC)."""

    actor: str | None
    case_no: str | None
    record_id: str | None
    since: Timestamp | None
    until: Timestamp | None


class TrailEntry(Body):
    """One entry of a trail: who did what, when, from where, allowed or refused and why."""

    seq: int
    at: Timestamp
    actor: str
    name: str
    role: str | None
    action: str
    outcome: str
    case_no: str | None
    bundle_id: str | None
    record_id: str | None
    source: str | None
    rule: str | None
    reason: str | None
    reason_zh: str
    entry_hash: str


class TrailPage(Body):
    """`GET /api/v1/trails`: the trail newest first, how many entries it holds in all, and
    `next_before` to ask for the page after."""

    trail: str
    query: TrailFilter
    count: int
    entries: list[TrailEntry]
    next_before: int | None
