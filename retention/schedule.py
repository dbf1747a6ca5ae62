"""The retention schedule (保管期限表): how long a sealed bundle is locked in the store.

Case files are kept 30 years from closing by default (国家档案局令第8号 art. 6 allows
permanent, 30 or 10 years); the term is configurable.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from archive.sip import CaseFile


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


def retain_until(case: CaseFile, *, years: int) -> datetime:
    """End of the retention period for a case file: `years` after it was closed, at midnight UTC."""
    return datetime.combine(_add_years(case.closed_at, years), time.min, tzinfo=UTC)
