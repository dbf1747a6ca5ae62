"""Working days on the official calendar: properties against chinesecalendar, hand-counted cases
from the published 2024–2026 schedules, the year boundary, and the entered holiday table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from access import workdays
from access.chain import verify_chain
from access.ledger import LedgerEntry
from access.models import HolidayDay
from access.workdays import (
    CalendarSource,
    Deadline,
    WorkCalendar,
    add_working_days,
    enter_holiday_table,
    entered_years,
    load_calendar,
    official_years,
    parse_holiday_table,
    working_days_between,
    working_days_left,
)
from archive.errors import Refused
from portal.db import make_engine, migrate

OFFICIAL = WorkCalendar({})
ONE = timedelta(days=1)
QUICK = settings(max_examples=200, deadline=None)


def cc_workdays(start: date, end: date) -> list[date]:
    """chinesecalendar's working days in (start, end], the reference the module is checked against."""
    days = []
    day = start + ONE
    while day <= end:
        if chinese_calendar.is_workday(day):
            days.append(day)
        day += ONE
    return days


def mon_fri(start: date, days: int) -> date:
    """The `days`-th Monday–Friday after `start`, knowing no holidays at all."""
    day = start
    while days:
        day += ONE
        days -= day.weekday() < 5
    return day


def in_pause(day: date, paused: list[tuple[date, date]]) -> bool:
    return any(first <= day <= last for first, last in paused)


@pytest.fixture
def covered_to_2026(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin the official coverage at 2004–2026 so that 2027 stays the year without data.

    A later chinesecalendar will cover 2027 once the State Council publishes it; these tests are
    about what happens without it.
    """
    assert 2026 in official_years()
    monkeypatch.setattr(workdays, "official_years", lambda: frozenset(range(2004, 2027)))


# --- the package ------------------------------------------------------------------------------


def test_official_years_are_probed_from_the_package() -> None:
    years = official_years()
    assert set(range(2019, 2027)) <= years
    assert years == frozenset(range(min(years), max(years) + 1))  # one unbroken range
    for outside in (min(years) - 1, max(years) + 1):
        with pytest.raises(NotImplementedError):
            chinese_calendar.is_workday(date(outside, 6, 1))


def test_sources_per_year(covered_to_2026: None) -> None:
    calendar = WorkCalendar({2027: {date(2027, 1, 1): False}})
    assert calendar.source(2025) is CalendarSource.official
    assert calendar.source(2026) is CalendarSource.official
    assert calendar.source(2027) is CalendarSource.entered
    assert calendar.source(2028) is CalendarSource.weekdays
    # An entered table never overrides the official calendar.
    overridden = WorkCalendar({2025: {date(2025, 10, 1): True}})
    assert overridden.source(2025) is CalendarSource.official
    assert not overridden.is_workday(date(2025, 10, 1))


def test_entered_table_must_hold_days_of_its_own_year() -> None:
    with pytest.raises(ValueError, match="2028-01-03"):
        WorkCalendar({2027: {date(2028, 1, 3): False}})


# --- properties against chinesecalendar -------------------------------------------------------

starts = st.dates(date(2019, 1, 1), date(2026, 10, 31))
counts = st.integers(1, 40)


@QUICK
@given(start=starts, n=counts)
def test_due_date_is_the_nth_official_working_day_after_start(start: date, n: int) -> None:
    deadline = add_working_days(OFFICIAL, start, n)
    due = deadline.due_on
    assert chinese_calendar.is_workday(due)
    assert len(cc_workdays(start, due)) == n
    assert not deadline.estimated and deadline.estimated_years == ()
    # The start day is never counted, working day or not: [start, due] holds one more if it is one.
    assert len(cc_workdays(start - ONE, due)) == n + chinese_calendar.is_workday(start)
    assert working_days_between(OFFICIAL, start, due) == n
    assert working_days_between(OFFICIAL, start, due - ONE) == n - 1


@QUICK
@given(start=starts, n=st.integers(1, 39))
def test_due_date_grows_with_the_count(start: date, n: int) -> None:
    assert add_working_days(OFFICIAL, start, n + 1).due_on > add_working_days(OFFICIAL, start, n).due_on


@QUICK
@given(start=starts, n=counts)
def test_working_days_left_counts_down_to_the_due_date(start: date, n: int) -> None:
    due = add_working_days(OFFICIAL, start, n).due_on
    assert working_days_left(OFFICIAL, today=start, due_on=due) == n
    assert working_days_left(OFFICIAL, today=due, due_on=start) == -n
    assert working_days_left(OFFICIAL, today=due, due_on=due) == 0


@st.composite
def paused_intervals(draw: st.DrawFn, start: date) -> list[tuple[date, date]]:
    intervals = []
    for _ in range(draw(st.integers(0, 3))):
        first = start + timedelta(days=draw(st.integers(-5, 50)))
        intervals.append((first, first + timedelta(days=draw(st.integers(0, 20)))))
    return intervals


@QUICK
@given(data=st.data(), start=st.dates(date(2019, 1, 1), date(2026, 6, 30)), n=counts)
def test_paused_working_days_are_not_counted(data: st.DataObject, start: date, n: int) -> None:
    paused = data.draw(paused_intervals(start))
    due = add_working_days(OFFICIAL, start, paused=paused, days=n).due_on
    official = cc_workdays(start, due)
    counted = [day for day in official if not in_pause(day, paused)]
    assert len(counted) == n
    assert counted[-1] == due  # the due date itself is a counted day, never a paused one
    # The pause pushes the unpaused date on by exactly the official working days it swallowed.
    swallowed = len(official) - len(counted)
    assert add_working_days(OFFICIAL, start, n + swallowed).due_on == due
    assert due >= add_working_days(OFFICIAL, start, n).due_on
    assert working_days_between(OFFICIAL, start, due, paused=paused) == n


@QUICK
@given(start=st.dates(date(2019, 1, 1), date(2026, 8, 31)), later=st.integers(0, 60), n=counts)
def test_a_corrected_request_never_brings_the_deadline_forward(start: date, later: int, n: int) -> None:
    corrected = start + timedelta(days=later)
    assert add_working_days(OFFICIAL, corrected, n).due_on >= add_working_days(OFFICIAL, start, n).due_on


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        add_working_days(OFFICIAL, date(2025, 3, 3), 0)
    with pytest.raises(ValueError, match="before it starts"):
        add_working_days(OFFICIAL, date(2025, 3, 3), 5, paused=[(date(2025, 3, 10), date(2025, 3, 9))])
    assert working_days_between(OFFICIAL, date(2025, 3, 10), date(2025, 3, 3)) == 0
    assert working_days_between(OFFICIAL, date(2025, 3, 10), date(2025, 3, 10)) == 0


# --- cases counted by hand from the published schedules ---------------------------------------

HAND_COUNTED = [
    # National Day 2025: Wed Oct 1 – Wed Oct 8 off; Sun Sep 28 and Sat Oct 11 are working days.
    # Received Tue Sep 30, the day before: Oct 9 (1), Oct 10 (2), Sat Oct 11 (3), Oct 13–17 (4–8),
    # Oct 20–24 (9–13), Oct 27–31 (14–18), Nov 3 (19), Nov 4 (20).
    (date(2025, 9, 30), 20, date(2025, 11, 4)),
    # Received Sat Sep 27: Sun Sep 28 (1), Sep 29 (2), Sep 30 (3), Oct 9 (4), Oct 10 (5),
    # Sat Oct 11 (6), Mon Oct 13 (7): the 7-day correction notice.
    (date(2025, 9, 27), 7, date(2025, 10, 13)),
    # Spring Festival 2026: Sun Feb 15 – Mon Feb 23 off; Sat Feb 14 and Sat Feb 28 are working days.
    # Received Fri Feb 13: Sat Feb 14 (1), Feb 24–27 (2–5), Sat Feb 28 (6), Mar 2–6 (7–11),
    # Mar 9–13 (12–16), Mar 16–19 (17–20).
    (date(2026, 2, 13), 20, date(2026, 3, 19)),
    # Received on the swapped Saturday Feb 14 itself: it is a working day but not counted, so
    # Feb 24–27 (1–4), Sat Feb 28 (5), Mar 2–6 (6–10), Mar 9–13 (11–15), Mar 16–20 (16–20).
    (date(2026, 2, 14), 20, date(2026, 3, 20)),
    # Spring Festival 2024: Feb 10–17 off; Sun Feb 4 and Sun Feb 18 are working days. Received
    # Fri Feb 9, a third party has 15: Sun Feb 18 (1), Feb 19–23 (2–6), Feb 26–Mar 1 (7–11),
    # Mar 4–7 (12–15).
    (date(2024, 2, 9), 15, date(2024, 3, 7)),
    # New Year 2026: Jan 1–3 off, Sun Jan 4 a working day. Received Wed Dec 31 2025:
    # Sun Jan 4 (1), Jan 5–9 (2–6), Mon Jan 12 (7). Both years official: exact.
    (date(2025, 12, 31), 7, date(2026, 1, 12)),
]


@pytest.mark.parametrize(("received", "days", "due"), HAND_COUNTED)
def test_hand_counted_deadlines(received: date, days: int, due: date) -> None:
    assert add_working_days(OFFICIAL, received, days) == Deadline(due_on=due, estimated_years=())
    assert cc_workdays(received, due)[-1] == due and len(cc_workdays(received, due)) == days
    assert working_days_between(OFFICIAL, received, due) == days


def test_national_day_2025_swapped_days_and_mon_fri_would_be_wrong() -> None:
    assert OFFICIAL.is_workday(date(2025, 9, 28))  # Sunday, swapped
    assert OFFICIAL.is_workday(date(2025, 10, 11))  # Saturday, swapped
    assert not any(OFFICIAL.is_workday(date(2025, 10, d)) for d in range(1, 9))
    # Counting Mon–Fri would have set Tue Oct 28, a week early: Oct 1–3, 6–10, 13–17, 20–24, 27–28.
    assert mon_fri(date(2025, 9, 30), 20) == date(2025, 10, 28)


def test_working_days_left_and_overdue() -> None:
    due = date(2025, 11, 4)
    assert working_days_left(OFFICIAL, today=date(2025, 9, 30), due_on=due) == 20
    # From Sun Oct 5 (holiday): Oct 9, 10, 11 and then the same 17 as above.
    assert working_days_left(OFFICIAL, today=date(2025, 10, 5), due_on=due) == 20
    assert working_days_left(OFFICIAL, today=date(2025, 11, 3), due_on=due) == 1
    assert working_days_left(OFFICIAL, today=due, due_on=due) == 0
    # Two working days late on Thu Nov 6 (Nov 5 and 6); three from Fri Nov 7 through Sun Nov 9.
    assert working_days_left(OFFICIAL, today=date(2025, 11, 6), due_on=due) == -2
    assert working_days_left(OFFICIAL, today=date(2025, 11, 9), due_on=due) == -3


def test_pause_for_a_third_party_moves_the_date_by_the_paused_working_days() -> None:
    # Received Tue Sep 30 2025 (due Nov 4 unpaused). Paused Oct 13–17 (five working days) while a
    # third party was consulted: those five move the date from Nov 4 to Tue Nov 11 (Nov 5–7, 10–11).
    paused = [(date(2025, 10, 13), date(2025, 10, 17))]
    deadline = add_working_days(OFFICIAL, date(2025, 9, 30), 20, paused=paused)
    assert deadline.due_on == date(2025, 11, 11)
    assert len(cc_workdays(date(2025, 11, 4), date(2025, 11, 11))) == 5
    # A pause over holidays only swallows nothing.
    over_holiday = [(date(2025, 10, 1), date(2025, 10, 8))]
    assert add_working_days(OFFICIAL, date(2025, 9, 30), 20, paused=over_holiday).due_on == date(2025, 11, 4)


# --- the year boundary ------------------------------------------------------------------------

TABLE_2027 = """\
# 2027 (made up for the test: the schedule is not published yet)
2027-01-01 off 元旦
2027-01-04 休 元旦调休
2027-01-09 班 调休上班   # a Saturday
"""


def test_into_a_year_without_data_is_an_estimate_on_mon_fri(covered_to_2026: None) -> None:
    # Received Sun Dec 20 2026: Dec 21–25 (1–5), Dec 28–31 (6–9) on the official calendar,
    # then Mon–Fri: Fri Jan 1 (10), Jan 4–8 (11–15), Jan 11–15 (16–20).
    deadline = add_working_days(WorkCalendar({}), date(2026, 12, 20), 20)
    assert deadline == Deadline(due_on=date(2027, 1, 15), estimated_years=(2027,))
    assert deadline.estimated
    assert deadline.due_on == mon_fri(date(2026, 12, 20), 20)
    assert len(cc_workdays(date(2026, 12, 20), date(2026, 12, 31))) == 9  # no late-December holidays
    # Nine days end on Dec 31: 2027 is never reached, so nothing is estimated.
    assert not add_working_days(WorkCalendar({}), date(2026, 12, 20), 9).estimated
    assert add_working_days(WorkCalendar({}), date(2026, 12, 31), 1).estimated_years == (2027,)
    assert add_working_days(WorkCalendar({}), date(2027, 12, 20), 20).estimated_years == (2027, 2028)


def test_into_a_year_with_an_entered_table_is_exact(covered_to_2026: None) -> None:
    calendar = WorkCalendar({2027: parse_holiday_table(2027, TABLE_2027)})
    # Dec 21–25, 28–31 (1–9), Jan 5–8 (10–13), swapped Sat Jan 9 (14), Jan 11–15 (15–19), Mon Jan 18 (20).
    deadline = add_working_days(calendar, date(2026, 12, 20), 20)
    assert deadline == Deadline(due_on=date(2027, 1, 18), estimated_years=())
    assert not deadline.estimated
    assert calendar.is_workday(date(2027, 1, 9)) and not calendar.is_workday(date(2027, 1, 4))
    assert add_working_days(calendar, date(2026, 12, 20), 14).due_on == date(2027, 1, 9)
    assert working_days_between(calendar, date(2027, 1, 8), date(2027, 1, 11)) == 2  # Sat 9, Mon 11


def test_an_empty_table_confirms_plain_mon_fri(covered_to_2026: None) -> None:
    calendar = WorkCalendar({2027: parse_holiday_table(2027, "")})
    assert calendar.source(2027) is CalendarSource.entered
    assert add_working_days(calendar, date(2026, 12, 20), 20) == Deadline(date(2027, 1, 15), ())


# --- the holiday table ------------------------------------------------------------------------


def test_parse_accepts_both_spellings_comments_and_names(covered_to_2026: None) -> None:
    text = "\n  \n" + TABLE_2027 + "2027-02-08 OFF\n2027-02-20\u3000work\u3000春节调休\n"
    assert parse_holiday_table(2027, text) == {
        date(2027, 1, 1): False,
        date(2027, 1, 4): False,
        date(2027, 1, 9): True,
        date(2027, 2, 8): False,
        date(2027, 2, 20): True,
    }
    assert parse_holiday_table(2027, "# nothing but a comment\n") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2027-01-01 off\nnonsense", r"^line 2: expected 'YYYY-MM-DD off\|work \[name\]'"),
        ("2027-01-01 maybe 元旦", r"^line 1: expected .*'2027-01-01 maybe 元旦'"),
        ("2027-01-01", r"^line 1: expected"),
        ("2027-1-1 off", r"^line 1: expected"),
        ("# header\n2027-02-30 off", r"^line 2: 2027-02-30 is not a date$"),
        ("\n\n2028-01-03 off", r"^line 3: 2028-01-03 is not in 2027$"),
        ("2027-01-01 off\n2027-01-01 休 元旦", r"^line 2: 2027-01-01 is already given on line 1$"),
        ("2027-01-02 off", r"^line 1: 2027-01-02 is a Saturday, a day off anyway$"),
        ("2027-01-01 off\n2027-01-04 班", r"^line 2: 2027-01-04 is a Monday, a working day anyway$"),
        ("2027-01-01 off " + "x" * 65, r"^line 1: at most 64 characters$"),
    ],
)
def test_parse_refusals_name_the_line(covered_to_2026: None, text: str, message: str) -> None:
    with pytest.raises(Refused, match=message):
        parse_holiday_table(2027, text)


def test_parse_refuses_a_year_the_official_calendar_covers() -> None:
    with pytest.raises(Refused, match=r"^year 2025 is covered by the official calendar$"):
        parse_holiday_table(2025, "")
    with pytest.raises(Refused, match=r"^year 2026 is covered by the official calendar$"):
        parse_holiday_table(2026, "2026-10-01 off")


# --- the database (SQLite and PostgreSQL) -----------------------------------------------------

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    migrate(engine)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


def _calendar_entries(session: Session) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(LedgerEntry.action == "calendar.enter").order_by(LedgerEntry.seq)
    return list(session.scalars(query))


def test_enter_holiday_table_round_trips_and_is_ledgered(
    covered_to_2026: None, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        assert load_calendar(session).source(2027) is CalendarSource.weekdays
        days = enter_holiday_table(
            session, year=2027, text=TABLE_2027, actor="sysadmin", now=NOW, source="web"
        )
        session.commit()
    assert days == 3
    with sessions() as session:
        calendar = load_calendar(session)
        assert calendar.source(2027) is CalendarSource.entered
        assert add_working_days(calendar, date(2026, 12, 20), 20) == Deadline(date(2027, 1, 18), ())
        [year] = entered_years(session)
        assert (year.year, year.entered_by, year.entered_at) == (2027, "sysadmin", NOW)
        names = {row.day: row.name for row in session.scalars(select(HolidayDay))}
        assert names == {date(2027, 1, 1): "元旦", date(2027, 1, 4): "元旦调休", date(2027, 1, 9): "调休上班"}
        [entry] = _calendar_entries(session)
        assert (entry.actor, entry.outcome, entry.source, entry.at) == ("sysadmin", "ok", "web", NOW)
        assert entry.detail == {"year": 2027, "days": 3, "off": 2, "work": 1}


def test_entering_again_replaces_the_year(covered_to_2026: None, sessions: sessionmaker[Session]) -> None:
    later = NOW + timedelta(days=3)
    with sessions() as session:
        enter_holiday_table(session, year=2027, text=TABLE_2027, actor="sysadmin", now=NOW)
        enter_holiday_table(session, year=2028, text="", actor="sysadmin", now=NOW)
        session.commit()
    with sessions() as session:
        load_calendar(session)  # the old rows are in this session when they are replaced
        replaced = enter_holiday_table(
            session, year=2027, text="2027-01-01 off 元旦\n2027-01-02 work", actor="admin2", now=later
        )
        session.commit()
    assert replaced == 2
    with sessions() as session:
        calendar = load_calendar(session)
        assert not calendar.is_workday(date(2027, 1, 1))
        assert calendar.is_workday(date(2027, 1, 2))  # new swapped Saturday
        assert calendar.is_workday(date(2027, 1, 4))  # the old table's holiday is gone
        assert not calendar.is_workday(date(2027, 1, 9))  # and so is its swapped Saturday
        assert calendar.source(2028) is CalendarSource.entered  # the empty year is kept as entered
        assert [(y.year, y.entered_by, y.entered_at) for y in entered_years(session)] == [
            (2027, "admin2", later),
            (2028, "sysadmin", NOW),
        ]
        details = [entry.detail for entry in _calendar_entries(session)]
        assert details == [
            {"year": 2027, "days": 3, "off": 2, "work": 1},
            {"year": 2028, "days": 0, "off": 0, "work": 0},
            {"year": 2027, "days": 2, "off": 1, "work": 1},
        ]
        assert verify_chain(session).intact


def test_a_refused_table_writes_nothing(covered_to_2026: None, sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        enter_holiday_table(session, year=2027, text=TABLE_2027, actor="sysadmin", now=NOW)
        session.commit()
    with sessions() as session:
        with pytest.raises(Refused, match=r"^line 2: 2027-01-03 is a Sunday"):
            enter_holiday_table(session, year=2027, text="2027-01-01 off\n2027-01-03 off", actor="x", now=NOW)
        with pytest.raises(Refused, match=r"^year 2026 is covered"):
            enter_holiday_table(session, year=2026, text="", actor="x", now=NOW)
        session.commit()
    with sessions() as session:
        calendar = load_calendar(session)
        assert not calendar.is_workday(date(2027, 1, 4)) and calendar.is_workday(date(2027, 1, 9))
        assert [entry.actor for entry in _calendar_entries(session)] == ["sysadmin"]
