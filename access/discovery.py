"""Finding what one may ask for (检索): supervisors search the catalogue by case number, party or
closing date and see case metadata only — number, title, type, dates — never a record, never a
record's title, and the title of a case above their clearance withheld (such a case is found by
its number only, so a search by party never tells who is in it). Every search is ledgered with
what was asked and how many cases it found; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from access import fields
from access.policy import (
    CLEARANCE_RANK,
    GRADES,
    Action,
    Context,
    Subject,
    collection,
    decide,
    record,
    require,
    resource_of,
)
from archive import catalogue
from archive.errors import Refused
from archive.models import Bundle

LIMITS = {"case_no": 128, "party": 256}
MAX_RESULTS = 50


@dataclass(frozen=True)
class FoundCase:
    """A case as a search shows it: metadata, and whether the searcher may open it now (a grant)."""

    case_no: str
    title: str | None  # None: above the searcher's clearance
    enforcement_type: str
    closed_at: date
    sealed_at: datetime
    version: int
    bundle_id: str
    granted: bool

    def as_json(self) -> dict[str, Any]:
        """The case as the JSON API gives it."""
        return {
            "case_no": self.case_no,
            "title": self.title,
            "withheld": self.title is None,
            "enforcement_type": self.enforcement_type,
            "closed_at": self.closed_at.isoformat(),
            "sealed_at": self.sealed_at.isoformat(),
            "version": self.version,
            "bundle_id": self.bundle_id,
            "granted": self.granted,
        }


def above_clearance(subject: Subject, bundle: Bundle) -> bool:
    """Is the bundle a state secret graded above the subject's clearance?"""
    if bundle.classification != "state_secret":
        return False
    return CLEARANCE_RANK[subject.clearance.value] < CLEARANCE_RANK[bundle.grade or "top_secret"]


def _grades_above(subject: Subject) -> frozenset[str]:
    """The state-secret grades above the subject's clearance."""
    mine = CLEARANCE_RANK[subject.clearance.value]
    return frozenset(g for g in GRADES if CLEARANCE_RANK[g] > mine)


def search_cases(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    case_no: str | None = None,
    party: str | None = None,
    closed_from: date | None = None,
    closed_to: date | None = None,
) -> list[FoundCase]:
    """Cases matching every criterion given (at least one), newest closed first; ledgered."""
    resource = collection("catalogue")
    decision = require(
        session, subject=subject, action=Action.case_search, resource=resource, context=context
    )
    number = fields.text("case_no", case_no, limit=LIMITS["case_no"], required=False)
    name = fields.text("party", party, limit=LIMITS["party"], required=False)
    if not (number or name or closed_from or closed_to):
        raise Refused("case_no: give a case number, a party or a closing date", code="discovery.criteria")
    if closed_from and closed_to and closed_from > closed_to:
        raise Refused("to: the closing date range ends before it starts", code="discovery.range")
    found: list[FoundCase] = []
    rows = catalogue.find_cases(
        session,
        case_no=number or None,
        party=name or None,
        closed_from=closed_from,
        closed_to=closed_to,
        limit=MAX_RESULTS,
        # by party, a case above the clearance is left out in the query, not after the limit:
        # else the results a search by party shows would shift for a secret case of that party
        leave_out_secret=_grades_above(subject) if name else None,
    )
    for case, bundle in rows:
        withheld = above_clearance(subject, bundle)
        if withheld and name:
            continue  # listing it would say who is a party to a case the searcher may not know of
        granted = decide(subject, Action.bundle_read, resource_of(bundle), context).allowed
        found.append(
            FoundCase(
                case_no=case.case_no,
                title=None if withheld else case.title,
                enforcement_type=case.enforcement_type,
                closed_at=case.closed_at,
                sealed_at=bundle.sealed_at,
                version=bundle.version,
                bundle_id=bundle.id,
                granted=granted,
            )
        )
    criteria = {
        "case_no": number or None,
        "party": name or None,
        "from": closed_from.isoformat() if closed_from else None,
        "to": closed_to.isoformat() if closed_to else None,
    }
    record(
        session,
        subject=subject,
        action=Action.case_search,
        resource=resource,
        context=context,
        decision=decision,
        outcome="ok",
        detail={"criteria": {k: v for k, v in criteria.items() if v}, "results": len(found)},
    )
    return found
