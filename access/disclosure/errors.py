"""Every refusal a disclosure step raises: a stable machine `code`, the `params` it is about, and
the message people read (`"field: what is wrong"`, the field first, as the pages and the API show
it). Unknown requests and items are `NotFound` (404), steps the request's state does not allow
`Conflict` (409), bad input plain `Refused` (422)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import ClassVar

from access.errors import Conflict, NotFound
from archive.errors import Refused


class DisclosureRefused(Refused):
    """A disclosure step refused; nothing has been kept."""

    code: ClassVar[str] = "disclosure.refused"

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message)
        self.params: dict[str, object] = params


class DisclosureNotFound(DisclosureRefused, NotFound):
    """An unknown request or item, or one that is not the caller's (404)."""


class DisclosureConflict(DisclosureRefused, Conflict):
    """A step the request's state, or its history, does not allow (409)."""


# --- not found ---------------------------------------------------------------------------------


class RequestNotFound(DisclosureNotFound):
    """No such request, or another applicant's."""

    code = "disclosure.request_not_found"

    def __init__(self, request_id: int) -> None:
        super().__init__(f"request: no disclosure request {request_id}", request_id=request_id)


class ItemNotFound(DisclosureNotFound):
    """No such released item on this request."""

    code = "disclosure.item_not_found"

    def __init__(self, item_id: int) -> None:
        super().__init__(f"item: no released item {item_id} on this request", item_id=item_id)


# --- the request's state -----------------------------------------------------------------------


class StepNotAllowed(DisclosureConflict):
    """A step the transition table does not allow from the request's status."""

    code = "disclosure.step_not_allowed"

    def __init__(self, *, tracking_code: str, status: str, step: str, allowed: Sequence[str]) -> None:
        super().__init__(
            f"request: {tracking_code} is {status}; this step needs {', '.join(allowed)}",
            tracking_code=tracking_code,
            status=status,
            step=step,
            allowed=tuple(allowed),
        )


class CorrectionPeriodEnded(DisclosureConflict):
    """A correction that arrives after the period the notice gave."""

    code = "disclosure.correction_period_ended"

    def __init__(self, correct_by: date) -> None:
        super().__init__(
            f"request: the correction period ended on {correct_by.isoformat()}", correct_by=correct_by
        )


class CorrectionAlreadyAsked(DisclosureConflict):
    """A second correction notice (art. 30 allows one)."""

    code = "disclosure.correction_already_asked"

    def __init__(self) -> None:
        super().__init__("correction: a request gets one correction notice only (art. 30)")


class CorrectionNoticeLate(DisclosureConflict):
    """A correction notice later than 7 working days after receipt."""

    code = "disclosure.correction_notice_late"

    def __init__(self, notice_by: date) -> None:
        super().__init__(
            f"correction: the notice had to go out by {notice_by.isoformat()} (7 working days)",
            notice_by=notice_by,
        )


class ConsultationAlreadyHeld(DisclosureConflict):
    """A second consultation of a third party."""

    code = "disclosure.consultation_already_held"

    def __init__(self) -> None:
        super().__init__("consultation: this request has had its consultation")


class ExtensionAlreadyAsked(DisclosureConflict):
    """A second extension (art. 33 allows one)."""

    code = "disclosure.extension_already_asked"

    def __init__(self, extension_status: str) -> None:
        super().__init__(
            f"extension: already {extension_status}; one extension per request (art. 33)",
            extension_status=extension_status,
        )


class ExtensionTooLate(DisclosureConflict):
    """An extension asked for after the deadline."""

    code = "disclosure.extension_too_late"

    def __init__(self, due_on: date) -> None:
        super().__init__(f"extension: the deadline {due_on.isoformat()} has passed", due_on=due_on)


class NoExtensionWaiting(DisclosureConflict):
    """A manager's decision on an extension nobody asked for (or one already decided)."""

    code = "disclosure.no_extension_waiting"

    def __init__(self) -> None:
        super().__init__("extension: no extension is waiting for a decision")


# --- bad input ---------------------------------------------------------------------------------


class NotAChoice(DisclosureRefused):
    """A value that is not one of the field's choices."""

    code = "disclosure.not_a_choice"

    def __init__(self, field: str, value: object, choices: Sequence[str]) -> None:
        super().__init__(
            f"{field}: {value!r} is not one of {', '.join(choices)}",
            field=field,
            value=value,
            choices=tuple(choices),
        )


class WorkingDaysOutOfRange(DisclosureRefused):
    """A number of working days outside what the rules allow."""

    code = "disclosure.working_days_out_of_range"

    def __init__(self, field: str, low: int, high: int) -> None:
        super().__init__(f"{field}: between {low} and {high} working days", field=field, low=low, high=high)


class NotAnOfficer(DisclosureRefused):
    """An assignment to someone who is not an active disclosure officer."""

    code = "disclosure.not_an_officer"

    def __init__(self, officer: str) -> None:
        super().__init__(f"officer: {officer!r} is not an active disclosure officer", officer=officer)


class UnusableFilename(DisclosureRefused):
    """A redacted derivative's file name that is empty, a path step, or too long."""

    code = "disclosure.unusable_filename"

    def __init__(self, filename: str) -> None:
        super().__init__(f"filename: {filename!r} is not a usable file name", filename=filename)


class FilenameControlCharacters(DisclosureRefused):
    """A file name with control characters (they break object keys and download headers)."""

    code = "disclosure.filename_control_characters"

    def __init__(self, filename: str) -> None:
        super().__init__(f"filename: {filename!r} holds control characters", filename=filename)


class FileTooLarge(DisclosureRefused):
    """An uploaded redacted derivative over the size limit."""

    code = "disclosure.file_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"file: larger than {limit >> 20} MiB", limit=limit)


class BasisNotApplicable(DisclosureRefused):
    """A legal basis on a reply that withholds nothing."""

    code = "disclosure.basis_not_applicable"

    def __init__(self, decision: str) -> None:
        super().__init__(
            f"basis: a {decision} reply withholds nothing, so it has no basis", decision=decision
        )


class NothingChosen(DisclosureRefused):
    """A releasing reply that names nothing to release."""

    code = "disclosure.nothing_chosen"

    def __init__(self) -> None:
        super().__init__("record_ids: choose the records (or redacted derivatives) to release")


class ReleaseNotApplicable(DisclosureRefused):
    """Records named on a reply that releases nothing."""

    code = "disclosure.release_not_applicable"

    def __init__(self, decision: str) -> None:
        super().__init__(f"record_ids: a {decision} reply releases nothing", decision=decision)


class RedactionNotApplicable(DisclosureRefused):
    """Redacted derivatives on a reply other than a partial release."""

    code = "disclosure.redaction_not_applicable"

    def __init__(self) -> None:
        super().__init__("redactions: redacted derivatives belong to a partly released reply (art. 37)")


class ReleasedTwice(DisclosureRefused):
    """Records chosen both whole and as a redacted derivative."""

    code = "disclosure.released_twice"

    def __init__(self, record_ids: Sequence[str]) -> None:
        super().__init__(
            f"redactions: {', '.join(record_ids)} would be released whole as well; choose one",
            record_ids=tuple(record_ids),
        )


class NoArchivedCase(DisclosureRefused):
    """Records to release from a request whose case is not archived (or not named)."""

    code = "disclosure.no_archived_case"

    def __init__(self) -> None:
        super().__init__("record_ids: the request names no archived case to release from")


class NotARecordOfCase(DisclosureRefused):
    """A record id the requested case does not hold."""

    code = "disclosure.not_a_record_of_case"

    def __init__(self, record_id: str, case_no: str | None) -> None:
        super().__init__(
            f"record_ids: {record_id!r} is not a record of case {case_no}",
            record_id=record_id,
            case_no=case_no,
        )


class SealMismatch(DisclosureRefused):
    """A sealed record whose bytes no longer match its seal: never released, always ledgered."""

    code = "disclosure.seal_mismatch"

    def __init__(self, record_id: str, *, expected: str, found: str) -> None:
        super().__init__(
            f"record_ids: {record_id} no longer matches its seal; nothing was released; "
            "run `casevault verify`",
            record_id=record_id,
            expected=expected,
            found=found,
        )
        self.record_id, self.expected, self.found = record_id, expected, found
