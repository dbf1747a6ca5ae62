"""Which step may move a disclosure request from which status, and to which: one table, and the one
function through which every status change goes.

A request is filed `received`. Steps that keep its status (assignment, messages, extensions) are
in the table too, mapping a status to itself, so the table says where every step may be taken.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from access.disclosure.errors import StepNotAllowed
from access.disclosure.models import OPEN, DisclosureRequest, DisclosureStatus


class Step(StrEnum):
    """What is done to a request."""

    correct = "correct"  # the applicant's correction arrives (补正)
    withdraw = "withdraw"  # the applicant withdraws (撤回申请)
    lapse = "lapse"  # no correction within the period: deemed withdrawn (视为放弃)
    assign = "assign"  # given to an officer (分办)
    ask_correction = "ask_correction"  # the correction notice (补正告知)
    start_consultation = "start_consultation"  # a third party is asked (征求意见)
    end_consultation = "end_consultation"  # its answer, or its silence, is recorded
    request_extension = "request_extension"  # an officer asks for the extension (延期)
    decide_extension = "decide_extension"  # a manager approves or refuses it
    message = "message"  # the office writes to the applicant
    reply = "reply"  # the reply (答复, art. 36)


INITIAL: Final = DisclosureStatus.received

_received, _awaiting, _consulting, _decided, _withdrawn = (
    DisclosureStatus.received,
    DisclosureStatus.awaiting_correction,
    DisclosureStatus.in_consultation,
    DisclosureStatus.decided,
    DisclosureStatus.withdrawn,
)
_STAYS_OPEN: Final = {status: status for status in OPEN}

# step → {status it may be taken from: status it leaves the request in}
TRANSITIONS: Final[Mapping[Step, Mapping[DisclosureStatus, DisclosureStatus]]] = {
    Step.correct: {_awaiting: _received},
    Step.withdraw: {status: _withdrawn for status in OPEN},
    Step.lapse: {_awaiting: _withdrawn},
    Step.assign: _STAYS_OPEN,
    Step.ask_correction: {_received: _awaiting},
    Step.start_consultation: {_received: _consulting},
    Step.end_consultation: {_consulting: _received},
    Step.request_extension: {_received: _received, _consulting: _consulting},
    Step.decide_extension: _STAYS_OPEN,
    Step.message: {status: status for status in DisclosureStatus},
    Step.reply: {_received: _decided},
}


def check(row: DisclosureRequest, step: Step) -> DisclosureStatus:
    """The status `step` would leave the request in; `StepNotAllowed` if its status does not allow it."""
    allowed = TRANSITIONS[step]
    target = next((to for source, to in allowed.items() if source == row.status), None)
    if target is None:
        raise StepNotAllowed(
            tracking_code=row.tracking_code, status=row.status, step=step, allowed=list(allowed)
        )
    return target


def advance(row: DisclosureRequest, step: Step) -> None:
    """Take the request through `step`: the only place a request's status changes."""
    row.status = check(row, step).value
