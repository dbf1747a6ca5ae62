"""Working days (工作日) on the official Chinese calendar, for information-disclosure deadlines.

The Regulations on Open Government Information (2019) count deadlines in working days: 20 to
answer a request, 7 to send a correction notice, 15 for a third party to reply; the day the
request is received is not counted, and time spent consulting a third party is not counted.

A day's calendar comes from one of three sources, per year:

* `official`: the `chinesecalendar` package, which knows the State Council's holidays and the
  weekend days swapped into working days (调休), for the years it covers;
* `entered`: a holiday table an administrator entered for a year the package does not cover yet
  (the State Council publishes next year's schedule late in the year);
* `weekdays`: neither, so Monday to Friday; a deadline counted through such a year is only an
  estimate and says so (`Deadline.estimated_years`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

import chinese_calendar
from sqlalchemy import ColumnElement, String, select
from sqlalchemy.orm import Session

from access import fields, ledger
from access.models import HolidayDay, HolidayYear
from archive.errors import Refused

_ONE_DAY = timedelta(days=1)
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class CalendarSource(StrEnum):
    """Where a year's working days come from."""

    official = "official"  # the chinesecalendar package (State Council schedule)
    entered = "entered"  # a holiday table an administrator entered
    weekdays = "weekdays"  # Monday to Friday only: deadlines are estimates


# --- the official calendar -------------------------------------------------------------------


@functools.cache
def official_years() -> frozenset[int]:
    """The years the installed chinesecalendar package covers (probed once, never hard-coded)."""
    # The package raises NotImplementedError outside its range; its data dicts bound the probe.
    known = {day.year for day in chinese_calendar.holidays} | {day.year for day in chinese_calendar.workdays}
    covered = set()
    for year in range(min(known), max(known) + 1):
        try:
            chinese_calendar.is_workday(date(year, 1, 1))
        except NotImplementedError:
            continue
        covered.add(year)
    return frozenset(covered)


# Unbounded is bounded in practice: only days in official_years() ever reach it (~365 a year).
@functools.cache
def _official_is_workday(day: date) -> bool:
    return bool(chinese_calendar.is_workday(day))


# --- calendars and deadlines -----------------------------------------------------------------


class WorkCalendar:
    """Working days per year: official where the package covers it, else entered, else Mon–Fri."""

    def __init__(self, entered: Mapping[int, Mapping[date, bool]] | None = None) -> None:
        """Take the entered exceptions to Mon–Fri, year → {day: is_workday}."""
        self._entered: dict[int, dict[date, bool]] = {}
        for year, days in (entered or {}).items():
            for day in days:
                if day.year != year:
                    raise ValueError(f"entered table for {year} holds {day.isoformat()}")
            self._entered[year] = dict(days)

    def source(self, year: int) -> CalendarSource:
        """Which source decides the working days of `year`."""
        if year in official_years():
            return CalendarSource.official
        if year in self._entered:
            return CalendarSource.entered
        return CalendarSource.weekdays

    def is_workday(self, day: date) -> bool:
        """Whether `day` is a working day."""
        source = self.source(day.year)
        if source is CalendarSource.official:
            return _official_is_workday(day)
        if source is CalendarSource.entered:
            return self._entered[day.year].get(day, day.weekday() < 5)
        return day.weekday() < 5


@dataclass(frozen=True)
class Deadline:
    """A due date, and the years it was only estimated for (Mon–Fri, no holiday table)."""

    due_on: date
    estimated_years: tuple[int, ...] = ()

    @property
    def estimated(self) -> bool:
        """Whether some year on the way had no calendar, so holidays may move the date."""
        return bool(self.estimated_years)


def _check_paused(paused: Sequence[tuple[date, date]]) -> None:
    for first, last in paused:
        if last < first:
            raise ValueError(
                f"paused interval ends ({last.isoformat()}) before it starts ({first.isoformat()})"
            )


def _counted_days(
    calendar: WorkCalendar, start: date, paused: Sequence[tuple[date, date]], *, until: date = date.max
) -> Iterator[date]:
    """The counted working days in (start, until], in order."""
    day = start
    while day < until:
        day += _ONE_DAY
        if calendar.is_workday(day) and not any(first <= day <= last for first, last in paused):
            yield day


def add_working_days(
    calendar: WorkCalendar, start: date, days: int, *, paused: Sequence[tuple[date, date]] = ()
) -> Deadline:
    """The `days`-th working day after `start` (not counted), skipping working days while paused."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    _check_paused(paused)
    counted = _counted_days(calendar, start, paused)
    due_on = start
    for _ in range(days):
        due_on = next(counted)
    # Estimated: any year the counted span (start, due_on] touches that only Mon–Fri decided.
    years = range((start + _ONE_DAY).year, due_on.year + 1)
    estimated = tuple(year for year in years if calendar.source(year) is CalendarSource.weekdays)
    return Deadline(due_on=due_on, estimated_years=estimated)


def working_days_between(
    calendar: WorkCalendar, start: date, end: date, *, paused: Sequence[tuple[date, date]] = ()
) -> int:
    """How many counted working days lie in (start, end]; 0 if `end` is not after `start`."""
    _check_paused(paused)
    return sum(1 for _ in _counted_days(calendar, start, paused, until=end))


def working_days_left(calendar: WorkCalendar, *, today: date, due_on: date) -> int:
    """Working days in (today, due_on]; when overdue, minus the working days in (due_on, today]."""
    if today <= due_on:
        return working_days_between(calendar, today, due_on)
    return -working_days_between(calendar, due_on, today)


# --- the holiday table an administrator enters -----------------------------------------------

_KINDS = {"off": False, "work": True, "休": False, "班": True}
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _declared_length(column: ColumnElement[Any]) -> int:
    """The N of a `String(N)` column, so that input is refused here, not as a database error."""
    if not isinstance(column.type, String) or column.type.length is None:
        raise TypeError(f"{column.key}: not a string column of bounded length")
    return column.type.length


_NAME_LENGTH = _declared_length(HolidayDay.__table__.c.name)


@dataclass(frozen=True)
class _TableLine:
    day: date
    workday: bool
    name: str | None


def _parse_table(year: int, text: str) -> list[_TableLine]:
    if year in official_years():
        raise Refused(
            f"year {year} is covered by the official calendar", code="calendar.official_year", year=year
        )
    lines: list[_TableLine] = []
    seen: dict[date, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(None, 2)  # str.split() also splits on the ideographic space
        if len(parts) < 2 or not _DATE.fullmatch(parts[0]) or parts[1].lower() not in _KINDS:
            raise Refused(
                f"line {number}: expected 'YYYY-MM-DD off|work [name]' (or 休/班), got {raw.strip()!r}",
                code="calendar.line_format",
                line=number,
                text=raw.strip(),
            )
        try:
            day = date.fromisoformat(parts[0])
        except ValueError:
            raise Refused(
                f"line {number}: {parts[0]} is not a date",
                code="calendar.not_a_date",
                line=number,
                text=parts[0],
            ) from None
        if day.year != year:
            raise Refused(
                f"line {number}: {day.isoformat()} is not in {year}",
                code="calendar.other_year",
                line=number,
                day=day,
                year=year,
            )
        if day in seen:
            raise Refused(
                f"line {number}: {day.isoformat()} is already given on line {seen[day]}",
                code="calendar.repeated",
                line=number,
                day=day,
                earlier=seen[day],
            )
        workday = _KINDS[parts[1].lower()]
        weekday = _WEEKDAY_NAMES[day.weekday()]
        # A line that restates Mon–Fri is most likely a typo in the date: refuse it.
        if not workday and day.weekday() >= 5:
            raise Refused(
                f"line {number}: {day.isoformat()} is a {weekday}, a day off anyway",
                code="calendar.weekend_off",
                line=number,
                day=day,
            )
        if workday and day.weekday() < 5:
            raise Refused(
                f"line {number}: {day.isoformat()} is a {weekday}, a working day anyway",
                code="calendar.weekday_work",
                line=number,
                day=day,
            )
        seen[day] = number
        given = parts[2] if len(parts) > 2 else ""
        name = fields.text(f"line {number}", given, limit=_NAME_LENGTH, required=False)
        lines.append(_TableLine(day=day, workday=workday, name=name or None))
    return lines


def parse_holiday_table(year: int, text: str) -> dict[date, bool]:
    """Parse a year's table (`YYYY-MM-DD off|work [name]` a line) into {day: is_workday}."""
    return {line.day: line.workday for line in _parse_table(year, text)}


# --- the database ----------------------------------------------------------------------------


def load_calendar(session: Session) -> WorkCalendar:
    """The calendar with every entered year's table."""
    entered: dict[int, dict[date, bool]] = {year: {} for year in session.scalars(select(HolidayYear.year))}
    for row in session.scalars(select(HolidayDay)):
        if row.year in entered:
            entered[row.year][row.day] = row.workday
    return WorkCalendar(entered)


def entered_years(session: Session) -> list[HolidayYear]:
    """The entered years, oldest first."""
    return list(session.scalars(select(HolidayYear).order_by(HolidayYear.year)))


def enter_holiday_table(
    session: Session, *, year: int, text: str, actor: str, now: datetime, source: str | None = None
) -> int:
    """Replace `year`'s holiday table with `text` and ledger it; return the days; the caller commits."""
    lines = _parse_table(year, text)
    # Delete through the session (not a bulk DELETE) so rows it already holds cannot clash.
    for old in session.scalars(select(HolidayDay).where(HolidayDay.year == year)):
        session.delete(old)
    session.flush()
    entry = session.get(HolidayYear, year)
    if entry is None:
        session.add(HolidayYear(year=year, entered_by=actor, entered_at=now))
    else:
        entry.entered_by, entry.entered_at = actor, now
    session.add_all(
        HolidayDay(day=line.day, year=year, workday=line.workday, name=line.name) for line in lines
    )
    work = sum(line.workday for line in lines)
    ledger.append(
        session,
        actor=actor,
        action="calendar.enter",
        outcome="ok",
        source=source,
        detail={"year": year, "days": len(lines), "off": len(lines) - work, "work": work},
        at=now,
    )
    return len(lines)
