"""The text the disclosure workflows keep on a request for people to read (shown to the applicant
and the office): stored with the request, so bilingual here. Reminders are facts the portal words
(`Notice.facts`); refusals carry codes the portal translates (`errors`)."""

from __future__ import annotations

from datetime import date

# The message a withdrawal keeps when the applicant gives no reason.
WITHDRAWN_BY_APPLICANT = "申请人撤回申请。The applicant withdrew the request."


def correction_lapsed(correct_by: date | None) -> str:
    """The office's message when no correction came in time and the request is deemed withdrawn."""
    return (
        f"补正期限（{correct_by}）已过，未收到补正，视为放弃申请。"
        f" No correction arrived by {correct_by}; the request is deemed withdrawn."
    )


def extension_approved(*, days: int | None, due_on: date | None, reason: str | None) -> str:
    """The office's message to the applicant when a manager approves an extension."""
    return (
        f"经批准，答复期限延长 {days} 个工作日，至 {due_on}。"
        f"理由：{reason} / The time to reply is extended by {days} "
        f"working days, to {due_on}."
    )
