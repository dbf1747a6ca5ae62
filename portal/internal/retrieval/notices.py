"""What a notice says, in the reader's language: the services hand over a notice's facts, the
portal words them (the JSON API's `message` is the Chinese wording)."""

from __future__ import annotations

from functools import partial

from access.retrieval import Notice
from portal.web.i18n import label, local_date, local_time, translate


def notice_text(lang: str, notice: Notice) -> str:
    """The notice's sentence in `lang`."""
    t, facts = partial(translate, lang), notice.facts
    match notice.kind:
        case "pending":
            unit = label(lang, "department", facts["department"]) or label(lang, "role", facts["role"])
            return t(
                "notice.pending",
                id=notice.request_id,
                requester=facts["requester"],
                unit=unit,
                records=facts["records"],
                case_no=notice.case_no,
            )
        case "decided":
            status = label(lang, "notice.status", facts["status"])
            by = facts.get("by") or "-"
            if facts["reason"]:
                return t(
                    "notice.decided_reason",
                    id=notice.request_id,
                    case_no=notice.case_no,
                    status=status,
                    by=by,
                    reason=facts["reason"],
                )
            return t("notice.decided", id=notice.request_id, case_no=notice.case_no, status=status, by=by)
        case "expiring":
            return t(
                "notice.expiring", grant=notice.grant_id, case_no=notice.case_no, until=local_time(notice.at)
            )
        case "disclosure_due" if facts["days_left"] < 0:
            return t("notice.disclosure_overdue", code=facts["tracking_code"], days=-facts["days_left"])
        case "disclosure_due":
            due_on = local_date(facts["due_on"])
            return t(
                "notice.disclosure_due", code=facts["tracking_code"], days=facts["days_left"], due_on=due_on
            )
        case "disclosure_extension":
            return t("notice.disclosure_extension", code=facts["tracking_code"], days=facts["days"])
        case "disclosure_new":
            return t("notice.disclosure_new", code=facts["tracking_code"])
        case "disclosure_assigned":
            return t("notice.disclosure_assigned", code=facts["tracking_code"], by=facts["by"] or "-")
        case "disposition_pending":
            action = label(lang, "disposition_action", facts["action"])
            return t(
                "notice.disposition_pending",
                list=facts["list"],
                n=facts["cases"],
                action=action,
                by=facts["by"],
            )
        case "fixity_failed":
            return t("notice.fixity_failed", bundle=facts["bundle_id"], n=facts["failures"])
    raise ValueError(f"no wording for a {notice.kind!r} notice")


def notice_href(notice: Notice) -> str | None:
    """Where a notice's link goes: the request, the disposition lists, the fixity page."""
    if notice.kind == "disposition_pending":
        return "/retention"
    if notice.kind == "fixity_failed":
        return "/fixity"
    if notice.request_id is None:
        return None
    return (
        f"/disclosures/{notice.request_id}"
        if notice.kind.startswith("disclosure")
        else f"/retrievals/{notice.request_id}"
    )
