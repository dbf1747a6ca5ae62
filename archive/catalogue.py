"""Finding cases, bundles and records (检索) — metadata only, never content."""

from __future__ import annotations

from datetime import date

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from archive.models import Bundle, BundleFile, Case, CaseParty, CaseRecord


def search_cases(session: Session, *, q: str | None, limit: int = 200) -> list[tuple[Case, Bundle]]:
    """Cases matching `q` in case number or title, each with its newest bundle."""
    newest = (
        select(Bundle.case_id, func.max(Bundle.version).label("version")).group_by(Bundle.case_id).subquery()
    )
    query = (
        select(Case, Bundle)
        .join(newest, newest.c.case_id == Case.id)
        .join(Bundle, (Bundle.case_id == Case.id) & (Bundle.version == newest.c.version))
        .order_by(Case.closed_at.desc(), Case.case_no)
        .limit(limit)
    )
    if q:
        pattern = f"%{q.strip()}%"
        query = query.where(or_(Case.case_no.ilike(pattern), Case.title.ilike(pattern)))
    return [(case, bundle) for case, bundle in session.execute(query)]


def _like(text: str) -> str:
    """A LIKE pattern for `text` anywhere, its own % and _ taken literally."""
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def find_cases(
    session: Session,
    *,
    case_no: str | None = None,
    party: str | None = None,
    closed_from: date | None = None,
    closed_to: date | None = None,
    limit: int = 50,
    leave_out_secret: frozenset[str] | None = None,
) -> list[tuple[Case, Bundle]]:
    """Cases by case number, party name and closing dates (inclusive, all given must match), each
    with its newest bundle; `leave_out_secret`: no state-secret bundle of those grades (one
    without a grade counts as top secret), left out before the limit."""
    newest = (
        select(Bundle.case_id, func.max(Bundle.version).label("version")).group_by(Bundle.case_id).subquery()
    )
    party_match = (
        exists().where(CaseParty.case_id == Case.id).where(CaseParty.name.ilike(_like(party), escape="\\"))
        if party and party.strip()
        else None
    )
    query = (
        select(Case, Bundle)
        .join(newest, newest.c.case_id == Case.id)
        .join(Bundle, (Bundle.case_id == Case.id) & (Bundle.version == newest.c.version))
        .order_by(Case.closed_at.desc(), Case.case_no)
        .limit(limit)
    )
    if case_no and case_no.strip():
        query = query.where(Case.case_no.ilike(_like(case_no), escape="\\"))
    if party_match is not None:
        query = query.where(party_match)
    if closed_from:
        query = query.where(Case.closed_at >= closed_from)
    if closed_to:
        query = query.where(Case.closed_at <= closed_to)
    if leave_out_secret is not None:
        query = query.where(
            or_(
                Bundle.classification != "state_secret",
                func.coalesce(Bundle.grade, "top_secret").not_in(sorted(leave_out_secret)),
            )
        )
    return [(case, bundle) for case, bundle in session.execute(query)]


def find_record(bundle: Bundle, record_id: str) -> tuple[CaseRecord, BundleFile] | None:
    """A record of a bundle with its stored file."""
    record = next((r for r in bundle.records if r.record_id == record_id), None)
    if record is None:
        return None
    stored = next(f for f in bundle.files if f.path == record.path)
    return record, stored
