"""The retrieval API's answers (`portal.internal.retrieval.api`), as the OpenAPI document
describes them; the handlers build the bodies, these models check them on the way out."""

from __future__ import annotations

from portal.web.schemas import Body, Timestamp


class RequestSummary(Body):
    """A request after a step of the workflow: its status and its grant, if any."""

    id: int
    status: str
    case_no: str
    bundle_id: str
    record_ids: list[str]
    actions: list[str]
    days: int
    grant_id: int | None
    grant_expires_at: Timestamp | None
    revoked_at: Timestamp | None


class Access(Body):
    """One ledgered use of a record under a grant."""

    at: Timestamp
    record_id: str | None
    action: str
    outcome: str
    fingerprint: str | None


class RegisterRow(Body):
    """A request with its decision, its grant and the accesses made under the grant."""

    id: int
    created_at: Timestamp
    requester: str
    requester_name: str
    requester_role: str
    department: str | None
    case_no: str
    bundle_id: str
    record_ids: list[str]
    purpose: str
    legal_basis: str
    actions: list[str]
    days: int
    status: str
    state: str
    decider: str | None
    decider_name: str | None
    decided_at: Timestamp | None
    reason: str | None
    grant_id: int | None
    grant_starts_at: Timestamp | None
    grant_expires_at: Timestamp | None
    revoked_at: Timestamp | None
    revoked_by: str | None
    revoked_by_name: str | None
    revoke_reason: str | None
    accesses: list[Access]
    access_count: int


class Register(Body):
    """The register (or the caller's own requests), newest first."""

    requests: list[RegisterRow]
    count: int


class Notice(Body):
    """Something to act on or know: a request to decide, a decision, a grant ending."""

    kind: str
    request_id: int | None
    grant_id: int | None
    case_no: str | None
    at: Timestamp
    message: str
    unread: bool


class Notices(Body):
    """`GET /api/v1/notifications`."""

    notifications: list[Notice]
    count: int
    unread: int
