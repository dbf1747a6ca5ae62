"""Finding cases, bundles and records (检索) — metadata only, never content."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from archive.models import Bundle, BundleFile, Case, CaseRecord


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


def find_record(bundle: Bundle, record_id: str) -> tuple[CaseRecord, BundleFile] | None:
    """A record of a bundle with its stored file."""
    record = next((r for r in bundle.records if r.record_id == record_id), None)
    if record is None:
        return None
    stored = next(f for f in bundle.files if f.path == record.path)
    return record, stored
