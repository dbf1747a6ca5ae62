"""Checking an applicant's identity (核对身份): the officer handling a request may read the
applicant's full ID number, giving a reason. The policy decides (`disclosure.identity.reveal`: the
assigned officer only), the reason is required, and every reveal is ledgered with it; pages show
the masked number otherwise. The number itself is never written to the ledger."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy.orm import Session

from access import fields, id_numbers
from access.disclosure.steps import ledger_step, permitted_request
from access.errors import Conflict
from access.policy import Action, Context, Subject

REASON_LIMIT = 500


def reveal_id_number(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    request_id: int,
    reason: str | None,
    keys: Sequence[X25519PrivateKey],
) -> str:
    """The applicant's full ID number, for the assigned officer, with a reason; ledgered."""
    row = permitted_request(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_identity_reveal,
        request_id=request_id,
        detail={"reason": (reason or "").strip()[:REASON_LIMIT]},
        lock=False,
    )
    said = fields.text("reason", reason, limit=REASON_LIMIT)
    applicant = row.applicant
    username = applicant.user.username
    try:
        number, _ = id_numbers.unseal_with(applicant.id_number_sealed, keys=keys, username=username)
    except ValueError as exc:
        raise Conflict(
            "id_number: the sealed ID number cannot be opened with this portal's key",
            code="disclosure.id_unreadable",
        ) from exc
    ledger_step(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_identity_reveal,
        row=row,
        detail={"reason": said, "id_type": applicant.id_type, "masked": applicant.id_number_masked},
    )
    return number
