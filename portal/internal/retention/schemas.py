"""The retention API's answers (`portal.internal.retention.api`), as the OpenAPI document
describes them; the handlers build the bodies, these models check them on the way out."""

from __future__ import annotations

from typing import Any

from portal.web.schemas import Body, Timestamp


class Hold(Body):
    """A legal hold (冻结) on every version of a case, active or lifted."""

    id: int
    case_no: str
    title: str
    mandate: str
    reason: str
    placed_by: str
    placed_at: Timestamp
    active: bool
    lifted_by: str | None
    lifted_at: Timestamp | None
    lift_reason: str | None


class Holds(Body):
    """`GET /api/v1/holds`: newest first."""

    holds: list[Hold]


class DueBundle(Body):
    """A bundle whose retention has ended, and the holds that keep it."""

    bundle_id: str
    case_no: str
    retain_until: Timestamp
    held_by: list[int]


class Approval(Body):
    """A manager's approval or refusal of a disposition list."""

    manager: str
    approve: bool
    reason: str
    witnesses: list[str]


class DispositionSummary(Body):
    """A disposition list (鉴定与销毁): the appraisal, its approvals and, once done, its certificate."""

    id: int
    status: str
    action: str
    years: int | None
    opinion: str
    case_nos: list[str]
    proposed_by: str
    proposed_at: Timestamp
    approvals: list[Approval]
    certificate_no: str | None
    executed_at: Timestamp | None


class Dispositions(Body):
    """`GET /api/v1/dispositions`: what is due, and every list newest first."""

    due: list[DueBundle]
    dispositions: list[DispositionSummary]


class Certificate(Body):
    """The destruction certificate (销毁清册): its claims and the JWS over them."""

    certificate_no: str | None
    disposition_id: int
    certificate: dict[str, Any] | None
    jws: str
