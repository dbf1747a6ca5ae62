"""The accountability API's answers (`portal.internal.accountability.api`), as the OpenAPI document
describes them; the handlers build the bodies, these models check them on the way out."""

from __future__ import annotations

from portal.web.schemas import Body, Day


class Line(Body):
    """One finding of a sealed case against one officer answerable for it; title and messages are
    null for a state-secret case, badge number and name null where the finding names nobody."""

    case_no: str
    title: str | None
    bundle_id: str
    version: int
    closed_at: Day
    article: int
    gap: str
    record_id: str | None
    message: str | None
    message_zh: str | None
    badge_no: str | None
    officer: str | None
    department: str | None


class OfficerCount(Body):
    """How many findings one officer answers for, in all and per article (keys are article numbers)."""

    badge_no: str | None
    officer: str | None
    department: str | None
    findings: int
    cases: int
    by_article: dict[str, int]


class Report(Body):
    """The accountability report (rules art. 20): its lines and their counts."""

    filters: dict[str, str | int | None]
    cases: int
    findings: int
    by_article: dict[str, int]
    by_gap: dict[str, int]
    by_officer: list[OfficerCount]
    departments: list[str]
    lines: list[Line]
