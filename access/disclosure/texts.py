"""The text the disclosure workflows write for people to read: messages kept on a request (shown to
the applicant and the office) and staff reminders. Kept here, in one place, until it moves into the
portal's catalogues; refusal messages are with their errors in `errors`."""

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


def overdue(tracking_code: str, days_over: int) -> str:
    """A staff reminder: the reply is late."""
    return f"公开申请 {tracking_code} 已超期 {days_over} 个工作日"


def due_soon(tracking_code: str, days_left: int, due_on: date) -> str:
    """A staff reminder: the reply is due within a few working days."""
    return f"公开申请 {tracking_code} 还剩 {days_left} 个工作日（{due_on} 到期）"


def extension_waiting(tracking_code: str, days: int | None) -> str:
    """A manager's reminder: an extension waits for approval."""
    return f"公开申请 {tracking_code} 请求延期 {days} 个工作日，待审批"
