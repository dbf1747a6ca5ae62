"""Information-disclosure requests (依申请公开) through the service, as applicants and the office meet them.

Every date is fixed and every expectation is worked out on the official calendar (chinesecalendar)
by a counter of its own here, not by the module under test: a request received on Friday
2025-09-26, just before the National Day week with its swapped working Sunday and Saturday.
Each test runs on SQLite and PostgreSQL with the FileStore; one release test runs with the
archive and the release realm both on the S3 API; the deadline properties need no database.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from access import applicants, identities, workdays
from access.disclosure import applicant_side, deadlines, office_side, replies, schemas, sweeps
from access.disclosure import reminders as disclosure_reminders
from access.disclosure.models import DisclosureRequest, DisclosureStatus, ReleasedItem
from access.disclosure.schemas import Redaction, RequestView
from access.errors import Conflict, NotFound
from access.ledger import LedgerEntry
from access.models import Role, User
from access.policy import Context, Denied, Subject
from access.retrieval import CHINA
from archive.errors import ObjectMissing, Refused, StoreUnavailable
from archive.models import BundleFile
from archive.store import FileStore, ObjectStore, ObjectWriter, put_bytes, read_bytes
from portal.cli.demo import DEMO_CASE_NO, case_document
from portal.internal.archive import operations
from portal.settings import Settings
from portal.web.auth import subject_of
from portal.wiring import Wired, wire
from tests.support.portal import PASSWORD

CAL = workdays.WorkCalendar()
ONE = timedelta(days=1)
RECEIVED = date(2025, 9, 26)  # a Friday; 9-28 (Sun) and 10-11 (Sat) are working days, 10-01…10-08 off
CASE_NO = DEMO_CASE_NO
RELEASE_DAYS = 30
TRACKING = re.compile(r"GK(\d{4})-[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{8}")
SECRET_RECORD = {
    "id": "x1",
    "path": "records/涉密附件.pdf",
    "kind": "text",
    "doc_type": "other",
    "stage": "investigation",
    "title": "涉密附件",
    "created_at": "2026-03-05T10:00:00+08:00",
    "classification": {"level": "state_secret", "grade": "secret"},
}
PATHS = {
    "s1": "records/案件来源登记表.pdf",
    "d2": "records/处罚决定书.pdf",
    "i1": "records/询问笔录.pdf",
    "v1": "records/现场检查.mp4",
    "x1": "records/涉密附件.pdf",
}


pytestmark = pytest.mark.store("file")  # and the S3 API where a test says so


# --- the official calendar, counted here ---------------------------------------------------------


def official_after(start: date, n: int) -> date:
    """The n-th official working day after `start` (n < 0: before), straight from chinesecalendar."""
    step = ONE if n > 0 else -ONE
    day, left = start, abs(n)
    while left:
        day += step
        left -= chinese_calendar.is_workday(day)
    return day


def official_count(start: date, end: date, *, skip: tuple[date, date] | None = None) -> int:
    """Official working days in (start, end], leaving out [skip[0], skip[1]]."""
    count, day = 0, start + ONE
    while day <= end:
        paused = skip is not None and skip[0] <= day <= skip[1]
        count += chinese_calendar.is_workday(day) and not paused
        day += ONE
    return count


def _stream(data: bytes) -> io.BytesIO:
    """An upload, as the officer's browser sends it."""
    return io.BytesIO(data)


def office_time(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """A moment of an office day (China time), in UTC as the services receive it."""
    return datetime.combine(day, time(hour, minute), CHINA).astimezone(UTC)


def test_the_fixed_dates_are_what_the_calendar_says() -> None:
    """The anchors the other tests lean on, checked by hand against the 2025 schedule."""
    assert RECEIVED.weekday() == 4
    assert chinese_calendar.is_workday(date(2025, 9, 28)) and chinese_calendar.is_workday(date(2025, 10, 11))
    assert not any(chinese_calendar.is_workday(date(2025, 10, d)) for d in range(1, 9))
    # 9-28, 9-29, 9-30, 10-09, 10-10, 10-11, 10-13: the seventh working day after receipt.
    assert official_after(RECEIVED, 7) == date(2025, 10, 13)
    assert official_after(RECEIVED, 20) == date(2025, 10, 30)
    assert official_after(date(2025, 10, 30), -20) == date(2025, 9, 26)


# --- the office: people, a session, and each step committed as the callers commit ---------------


@dataclass
class Office:
    """One database session, the people of a disclosure office, and the steps they take."""

    wired: Wired
    session: Session
    users: dict[str, User]

    def who(self, name: str) -> Subject:
        """The policy's view of a person, as the portal builds it."""
        return subject_of(self.users[name])

    def run(self, step: Callable[..., Any], /, **kwargs: Any) -> Any:
        """Take one step; commit as the portal does, or roll back what it left."""
        try:
            result = step(self.session, **kwargs)
        except BaseException:
            self.session.rollback()
            raise
        self.session.commit()
        return result

    def act(self, step: Callable[..., Any], who: str, day: date, /, hour: int = 10, **kwargs: Any) -> Any:
        """A step by `who` on an office day."""
        return self.run(step, subject=self.who(who), context=Context(now=office_time(day, hour)), **kwargs)

    def submit(
        self, *, who: str = "zhang", day: date = RECEIVED, hour: int = 10, case_no: str | None = CASE_NO
    ) -> RequestView:
        """File a request as an applicant."""
        return self.act(
            applicant_side.submit_request,
            who,
            day,
            hour=hour,
            calendar=CAL,
            relation="party",
            case_no=case_no,
            description="请公开本案现场检查录像及处罚决定书",
            delivery="online",
        )

    def view(self, request_id: int, *, who: str = "zhou", day: date = RECEIVED) -> RequestView:
        """One request as `who` sees it."""
        return self.act(applicant_side.get_request, who, day, calendar=CAL, request_id=request_id)

    def assign(
        self, request_id: int, *, officer: str = "zhou", by: str = "zhou", day: date = RECEIVED
    ) -> None:
        """Give the request to an officer (an officer takes it for themselves)."""
        self.act(office_side.assign, by, day, request_id=request_id, officer=officer)

    def handled(self, *, who: str = "zhang", day: date = RECEIVED, case_no: str | None = CASE_NO) -> int:
        """A request filed and taken by the officer zhou; its id."""
        request_id = self.submit(who=who, day=day, case_no=case_no).id
        self.assign(request_id, day=day)
        return request_id

    def decide(
        self,
        request_id: int,
        decision: str,
        *,
        who: str = "zhou",
        day: date | None = None,
        reasons: str = "经审查，依照《政府信息公开条例》第三十六条答复如下。",
        basis: str | None = None,
        record_ids: Sequence[str] = (),
        redactions: Sequence[Redaction] = (),
        archive: ObjectStore | None = None,
        release: ObjectStore | None = None,
    ) -> RequestView:
        """Answer the request (art. 36)."""
        return self.act(
            replies.decide_request,
            who,
            day or official_after(RECEIVED, 5),
            calendar=CAL,
            archive=archive or self.wired.store,
            release=release or self.wired.release,
            release_days=RELEASE_DAYS,
            request_id=request_id,
            decision=decision,
            reasons=reasons,
            basis=basis,
            record_ids=record_ids,
            redactions=redactions,
        )

    def row(self, request_id: int) -> DisclosureRequest:
        """The request as the database holds it now (a fresh session, nothing cached)."""
        with self.wired.sessions() as fresh:
            row = fresh.get(DisclosureRequest, request_id)
            assert row is not None
            fresh.expunge(row)
            return row

    def entries(self, action: str, **where: str) -> list[LedgerEntry]:
        """Ledger entries of an action (and actor/outcome), oldest first."""
        query = select(LedgerEntry).where(LedgerEntry.action == action).order_by(LedgerEntry.seq)
        for name, value in where.items():
            query = query.where(getattr(LedgerEntry, name) == value)
        with self.wired.sessions() as fresh:
            return list(fresh.scalars(query))

    def items_stored(self) -> int:
        """ReleasedItem rows in the database."""
        with self.wired.sessions() as fresh:
            return int(fresh.scalar(select(func.count()).select_from(ReleasedItem)) or 0)

    def released_keys(self) -> list[str]:
        """What the release realm holds under releases/."""
        return sorted(o.key for o in self.wired.release.list("releases/"))


STAFF = (
    # name, role, clearance: zhou may read even top-secret records, which never makes them releasable.
    ("zhou", Role.disclosure_officer, "top_secret", "信息公开经办人 周敏"),
    ("wu", Role.disclosure_officer, "none", "信息公开经办人 吴刚"),
    ("chen", Role.archive_manager, "secret", "档案负责人 陈军"),
)
APPLICANTS = (
    ("zhang", "张三", "resident_id", "11010519491231002X"),
    ("li", "李四", "passport", "E12345678"),
)


@pytest.fixture
def office(wired: Wired) -> Iterator[Office]:
    """Two officers, a manager and two applicants, each in their own account."""
    now = datetime(2025, 9, 1, tzinfo=UTC)
    with wired.sessions() as session:
        users: dict[str, User] = {}
        for name, role, clearance, display in STAFF:
            users[name] = identities.create_user(
                session,
                username=name,
                role=role.value,
                actor="test",
                now=now,
                password=PASSWORD,
                display_name=display,
                clearance=clearance,
            )
        for number, (name, full_name, id_type, id_number) in enumerate(APPLICANTS):
            applicant = applicants.register_applicant(
                session,
                username=name,
                password=PASSWORD,
                name=full_name,
                id_type=id_type,
                id_number=id_number,
                phone=f"1380013800{number}",
                email=f"{name}@example.cn",
                address=None,
                id_number_key=wired.id_number_key,
                now=now,
            )
            users[name] = applicant.user
        session.commit()
        yield Office(wired, session, users)


@dataclass(frozen=True)
class Archived:
    """The deposited case: its bundle and the folder it came from."""

    bundle_id: str
    folder: Path

    def original(self, record_id: str) -> bytes:
        """The bytes that were deposited for a record."""
        return (self.folder / PATHS[record_id]).read_bytes()


@pytest.fixture
def archived(wired: Wired, make_case: Callable[..., Path]) -> Archived:
    """The demo case (i1 is personal privacy) with a secret-grade state-secret record added."""
    document = case_document(CASE_NO)
    document["records"].append(SECRET_RECORD)
    folder = make_case(document)
    return Archived(operations.deposit(wired, folder=folder, actor="test")["bundle_id"], folder)


def sealed(wired: Wired, bundle_id: str, record_id: str) -> BundleFile:
    """The archive realm's object of a record."""
    with wired.sessions() as session:
        found = session.scalar(
            select(BundleFile)
            .where(BundleFile.bundle_id == bundle_id)
            .where(BundleFile.path == f"data/{PATHS[record_id]}")
        )
        assert found is not None
        return found


# --- submission --------------------------------------------------------------------------------


def test_submission_is_received_today_and_due_in_20_official_working_days(office: Office) -> None:
    view = office.submit()
    assert view.status == DisclosureStatus.received
    assert view.received_on == view.clock_from == RECEIVED
    assert view.due_on == official_after(RECEIVED, 20) == date(2025, 10, 30)
    assert view.working_days_left == 20
    assert view.correction_notice_by == date(2025, 10, 13)
    assert not view.estimated_years
    match = TRACKING.fullmatch(view.tracking_code)
    assert match and match.group(1) == "2025"
    assert view.applicant_name == "张三" and view.applicant_id_masked != "11010519491231002X"
    (entry,) = office.entries("disclosure.submit")
    assert (entry.actor, entry.outcome, entry.case_no) == ("zhang", "allowed", CASE_NO)
    assert entry.detail["tracking_code"] == view.tracking_code
    assert entry.detail["due_on"] == "2025-10-30"
    assert office.row(view.id).due_on == date(2025, 10, 30)


def test_the_receipt_day_is_the_office_day_in_china(office: Office) -> None:
    """17:00 UTC on 30 September is already 1 October in Shenzhen: a holiday, counted from there."""
    view = office.run(
        applicant_side.submit_request,
        subject=office.who("zhang"),
        context=Context(now=datetime(2025, 9, 30, 17, 0, tzinfo=UTC)),
        calendar=CAL,
        relation="interested_party",
        case_no=None,
        description="请公开国庆期间的检查记录",
        delivery="paper",
    )
    assert view.received_on == date(2025, 10, 1)
    assert view.due_on == official_after(date(2025, 10, 1), 20) == date(2025, 11, 4)
    # One minute earlier is still 30 September, a working day: a day earlier in the count.
    earlier = office.run(
        applicant_side.submit_request,
        subject=office.who("zhang"),
        context=Context(now=datetime(2025, 9, 30, 15, 59, tzinfo=UTC)),
        calendar=CAL,
        relation="party",
        case_no=None,
        description="同上",
        delivery="online",
    )
    assert earlier.received_on == date(2025, 9, 30)
    assert earlier.due_on == official_after(date(2025, 9, 30), 20)
    newest_first = office.act(applicant_side.own_requests, "zhang", RECEIVED, calendar=CAL)
    assert [v.tracking_code for v in newest_first] == [view.tracking_code, earlier.tracking_code]


BAD_SUBMISSIONS: list[tuple[str, dict[str, Any]]] = [
    ("relation", {"relation": "neighbour"}),
    ("delivery", {"delivery": "fax"}),
    ("description", {"description": "   "}),
    ("description", {"description": "长" * 4001}),
    ("case_no", {"case_no": "号" * 129}),
]


def test_submission_refuses_bad_input_naming_the_field(office: Office) -> None:
    good = {"relation": "party", "case_no": CASE_NO, "description": "请公开", "delivery": "online"}
    for field, overrides in BAD_SUBMISSIONS:
        with pytest.raises(Refused, match=f"^{field}: "):
            office.act(applicant_side.submit_request, "zhang", RECEIVED, calendar=CAL, **(good | overrides))
    assert office.entries("disclosure.submit") == []
    assert office.act(applicant_side.own_requests, "zhang", RECEIVED, calendar=CAL) == []


def test_staff_cannot_file_requests_and_applicants_cannot_see_the_queue(office: Office) -> None:
    with pytest.raises(Denied, match="role"):
        office.submit(who="zhou")
    with pytest.raises(Denied, match="role"):
        office.act(office_side.queue, "zhang", RECEIVED, calendar=CAL)
    assert [e.outcome for e in office.entries("disclosure.queue", actor="zhang")] == ["denied"]


# --- correction (补正, art. 30) ------------------------------------------------------------------


def ask_correction(office: Office, request_id: int, day: date, within_days: int = 10, **kw: Any) -> None:
    office.act(
        office_side.ask_correction,
        kw.pop("who", "zhou"),
        day,
        calendar=CAL,
        request_id=request_id,
        what="请补充所申请信息的名称、文号或者便于查询的其他特征性描述。",
        within_days=within_days,
        **kw,
    )


def answer_correction(office: Office, request_id: int, day: date, *, who: str = "zhang") -> RequestView:
    return office.act(
        applicant_side.answer_correction,
        who,
        day,
        calendar=CAL,
        request_id=request_id,
        correction="所申请信息为 2026 年 3 月 4 日现场检查录像。",
    )


def test_correction_notice_within_7_working_days_of_receipt_only(office: Office) -> None:
    """The seventh working day is 10-13 (late in the evening still counts); 10-14 is too late."""
    on_time, too_late = office.handled(), office.handled()
    ask_correction(office, on_time, date(2025, 10, 13), hour=23)
    with pytest.raises(Conflict, match="2025-10-13"):
        ask_correction(office, too_late, date(2025, 10, 14), hour=9)
    assert office.row(too_late).status == DisclosureStatus.received
    assert office.row(too_late).correction_asked_on is None


def test_awaiting_a_correction_stops_the_clock(office: Office) -> None:
    request_id = office.handled()
    asked = official_after(RECEIVED, 3)
    ask_correction(office, request_id, asked, within_days=10)
    for who in ("zhang", "zhou"):
        view = office.view(request_id, who=who, day=asked)
        assert view.status == DisclosureStatus.awaiting_correction
        assert view.due_on is None and view.working_days_left is None and not view.overdue
        assert view.correct_by == official_after(asked, 10)
        assert [m.kind for m in view.messages] == ["correction_notice"]
    assert office.row(request_id).due_on is None
    (entry,) = [e for e in office.entries("disclosure.handle") if e.detail.get("step") == "correction_notice"]
    assert entry.detail["correct_by"] == official_after(asked, 10).isoformat()


def test_one_correction_notice_only_and_its_period_is_bounded(office: Office) -> None:
    request_id = office.handled()
    for days in (4, 31):
        with pytest.raises(Refused, match=r"^within_days: "):
            ask_correction(office, request_id, RECEIVED, within_days=days)
    ask_correction(office, request_id, RECEIVED)
    with pytest.raises(Conflict):  # still waiting for it
        ask_correction(office, request_id, RECEIVED)
    answer_correction(office, request_id, official_after(RECEIVED, 2))
    with pytest.raises(Conflict, match="one correction notice"):
        ask_correction(office, request_id, official_after(RECEIVED, 3))


def test_a_correction_restarts_the_20_working_days(office: Office) -> None:
    request_id = office.handled()
    asked = official_after(RECEIVED, 1)
    ask_correction(office, request_id, asked, within_days=15)
    corrected = date(2025, 10, 9)  # the first working day after the holiday
    view = answer_correction(office, request_id, corrected)
    assert view.status == DisclosureStatus.received
    assert view.corrected_on == view.clock_from == corrected
    assert view.received_on == RECEIVED  # the receipt stays what it was
    assert (
        view.due_on == official_after(corrected, 20) == workdays.add_working_days(CAL, corrected, 20).due_on
    )
    assert view.due_on > official_after(RECEIVED, 20)
    assert office.row(request_id).due_on == view.due_on
    assert [m.kind for m in view.messages] == ["correction_notice", "correction"]
    (entry,) = office.entries("disclosure.correct")
    assert entry.actor == "zhang" and entry.detail["due_on"] == view.due_on.isoformat()
    with pytest.raises(Conflict):  # nothing to answer any more
        answer_correction(office, request_id, corrected)


def test_a_correction_after_its_period_is_refused_and_the_request_lapses(office: Office) -> None:
    request_id = office.handled()
    asked = official_after(RECEIVED, 2)
    ask_correction(office, request_id, asked, within_days=5)
    correct_by = official_after(asked, 5)
    with pytest.raises(Conflict, match=correct_by.isoformat()):
        answer_correction(office, request_id, correct_by + ONE)
    # On the last day nothing lapses; the day after, the request is deemed withdrawn.
    assert office.run(sweeps.expire_corrections, now=office_time(correct_by, 23), calendar=CAL) == []
    code = office.row(request_id).tracking_code
    lapsed = office.run(sweeps.expire_corrections, now=office_time(correct_by + ONE, 0, 5), calendar=CAL)
    assert lapsed == [code]
    view = office.view(request_id, who="zhang", day=correct_by + ONE)
    assert view.status == DisclosureStatus.withdrawn and not view.is_open
    assert view.due_on is None and view.working_days_left is None  # the clock never ran again
    assert office.row(request_id).due_on is None
    assert view.messages[-1].kind == "withdrawn" and correct_by.isoformat() in view.messages[-1].body
    (entry,) = office.entries("disclosure.withdrawn")
    assert (entry.actor, entry.outcome) == ("system", "ok")
    assert entry.detail == {
        "request": request_id,
        "tracking_code": code,
        "correct_by": correct_by.isoformat(),
    }
    with pytest.raises(Conflict, match="withdrawn"):
        answer_correction(office, request_id, correct_by + ONE)
    # Nothing lapses twice, and the queue of open requests no longer holds it.
    assert (
        office.run(sweeps.expire_corrections, now=office_time(correct_by + 5 * ONE), calendar=CAL) == []
    )
    assert office.act(office_side.queue, "zhou", correct_by + ONE, calendar=CAL) == []
    assert len(office.entries("disclosure.withdrawn")) == 1


def test_the_applicant_reading_their_request_withdraws_a_lapsed_one(office: Office) -> None:
    request_id = office.handled()
    ask_correction(office, request_id, RECEIVED, within_days=5)
    after = official_after(RECEIVED, 6)
    (mine,) = office.act(applicant_side.own_requests, "zhang", after, calendar=CAL)
    assert mine.status == DisclosureStatus.withdrawn
    assert office.row(request_id).status == DisclosureStatus.withdrawn  # kept, not only shown
    assert len(office.entries("disclosure.withdrawn")) == 1


def test_the_queue_withdraws_lapsed_requests_on_the_way(office: Office) -> None:
    lapsing, waiting = office.handled(), office.handled()
    ask_correction(office, lapsing, RECEIVED, within_days=5)
    queue = office.act(office_side.queue, "chen", official_after(RECEIVED, 6), calendar=CAL)
    assert [v.id for v in queue] == [waiting]
    assert office.row(lapsing).status == DisclosureStatus.withdrawn
    everything = office.act(
        office_side.queue, "chen", official_after(RECEIVED, 6), calendar=CAL, include_closed=True
    )
    assert {v.id for v in everything} == {lapsing, waiting}


# --- consultation (征求第三方意见, art. 32) --------------------------------------------------------


def consult(office: Office, request_id: int, day: date) -> None:
    office.act(
        office_side.start_consultation,
        "zhou",
        day,
        calendar=CAL,
        request_id=request_id,
        party="某商业管理有限公司",
    )


def end_consultation(office: Office, request_id: int, day: date) -> None:
    office.act(
        office_side.end_consultation, "zhou", day, calendar=CAL, request_id=request_id, reply="不同意公开"
    )


def test_consultation_time_is_not_counted(office: Office) -> None:
    """15 working days for the third party; the deadline moves by exactly the paused working days."""
    request_id = office.handled()
    before = office.view(request_id).due_on
    assert before is not None
    started = official_after(RECEIVED, 4)
    consult(office, request_id, started)
    view = office.view(request_id, day=started)
    until = official_after(started, 15)
    assert view.status == DisclosureStatus.in_consultation
    assert (view.consultation_from, view.consultation_until) == (started, until)
    paused = workdays.working_days_between(CAL, started, until)
    assert paused == 15
    assert view.due_on == official_after(before, paused)
    # Counted without the pause, exactly 20 working days still lie between receipt and the due day.
    assert official_count(RECEIVED, view.due_on, skip=(started + ONE, until)) == 20
    assert office.row(request_id).due_on == view.due_on
    with pytest.raises(Conflict):  # one consultation at a time, and a reply needs it ended
        consult(office, request_id, started)
    with pytest.raises(Conflict):
        office.decide(request_id, "not_exist", day=started)


def test_ending_a_consultation_early_shortens_the_pause(office: Office) -> None:
    request_id = office.handled()
    before = office.view(request_id).due_on
    assert before is not None
    started = official_after(RECEIVED, 4)
    consult(office, request_id, started)
    answered = official_after(started, 6)
    end_consultation(office, request_id, answered)
    view = office.view(request_id, day=answered)
    assert view.status == DisclosureStatus.received
    assert view.consultation_ended_on == answered and view.consultation_reply == "不同意公开"
    paused = workdays.working_days_between(CAL, started, answered)
    assert paused == 6
    assert view.due_on == official_after(before, paused)
    assert official_count(RECEIVED, view.due_on, skip=(started + ONE, answered)) == 20
    with pytest.raises(Conflict, match="consultation"):  # one consultation per request
        consult(office, request_id, answered)


def test_a_silent_third_party_pauses_the_full_15_working_days(office: Office) -> None:
    request_id = office.handled()
    before = office.view(request_id).due_on
    assert before is not None
    started = official_after(RECEIVED, 1)
    consult(office, request_id, started)
    end_consultation(office, request_id, official_after(started, 30))  # long after its period
    view = office.view(request_id, day=official_after(started, 30))
    assert view.consultation_ended_on == official_after(started, 15)
    assert view.due_on == official_after(before, 15)


def test_a_consultation_started_on_the_receipt_day_ended_the_same_day_pauses_nothing(office: Office) -> None:
    request_id = office.handled()
    consult(office, request_id, RECEIVED)
    end_consultation(office, request_id, RECEIVED)
    assert office.view(request_id).due_on == official_after(RECEIVED, 20)


# --- extension (延期, art. 33) -------------------------------------------------------------------


def request_extension(
    office: Office, request_id: int, days: int, *, who: str = "zhou", day: date = RECEIVED
) -> None:
    office.act(
        office_side.request_extension,
        who,
        day,
        calendar=CAL,
        request_id=request_id,
        days=days,
        reason="涉及多份音像记录，需逐段审查",
    )


def decide_extension(
    office: Office,
    request_id: int,
    approve: bool,
    *,
    who: str = "chen",
    reason: str = "同意",
    day: date = RECEIVED,
) -> None:
    office.act(
        office_side.decide_extension,
        who,
        day,
        calendar=CAL,
        request_id=request_id,
        approve=approve,
        reason=reason,
    )


def test_an_approved_extension_moves_the_deadline(office: Office) -> None:
    request_id = office.handled()
    before = office.view(request_id).due_on
    assert before is not None
    for days in (0, 21):
        with pytest.raises(Refused, match=r"^days: "):
            request_extension(office, request_id, days)
    request_extension(office, request_id, 20)
    waiting = office.view(request_id)
    assert (waiting.extension_status, waiting.extension_days, waiting.extension_requested_by) == (
        "requested",
        20,
        "zhou",
    )
    assert waiting.due_on == before  # not before a manager approves
    with pytest.raises(Denied, match="role"):  # an officer never approves
        decide_extension(office, request_id, True, who="wu")
    assert [e.detail["rule"] for e in office.entries("disclosure.extension.decide", outcome="denied")] == [
        "role"
    ]
    decide_extension(office, request_id, True, day=official_after(RECEIVED, 3))
    view = office.view(request_id)
    assert view.extension_status == "approved"
    assert view.due_on == official_after(before, 20)
    assert official_count(RECEIVED, view.due_on) == 40
    assert office.row(request_id).due_on == view.due_on
    assert office.row(request_id).extension_decided_by_id == office.users["chen"].id
    assert view.messages[-1].kind == "extension" and view.due_on.isoformat() in view.messages[-1].body
    (entry,) = office.entries("disclosure.extension.decide", outcome="allowed")
    assert entry.actor == "chen" and entry.detail["approve"] is True
    assert entry.detail["due_on"] == view.due_on.isoformat()
    with pytest.raises(Conflict, match="one extension"):
        request_extension(office, request_id, 5)
    with pytest.raises(Conflict):  # and nothing left to decide
        decide_extension(office, request_id, True)


def test_a_refused_extension_keeps_the_deadline(office: Office) -> None:
    request_id = office.handled()
    before = office.view(request_id).due_on
    request_extension(office, request_id, 10)
    with pytest.raises(Refused, match=r"^reason: "):  # a refusal says why
        decide_extension(office, request_id, False, reason=" ")
    decide_extension(office, request_id, False, reason="理由不充分")
    view = office.view(request_id)
    assert (view.extension_status, view.due_on) == ("refused", before)
    assert office.row(request_id).due_on == before
    with pytest.raises(Conflict, match="refused"):
        request_extension(office, request_id, 10)


def test_nobody_approves_their_own_extension_even_as_a_manager(office: Office) -> None:
    request_id = office.handled()
    request_extension(office, request_id, 10)
    office.users["zhou"].role = Role.archive_manager.value  # promoted while the request waits
    office.session.commit()
    with pytest.raises(Denied, match="own-request"):
        decide_extension(office, request_id, True, who="zhou")
    (entry,) = office.entries("disclosure.extension.decide", outcome="denied")
    assert entry.actor == "zhou" and entry.detail["rule"] == "own-request"
    assert office.row(request_id).extension_status == "requested"
    decide_extension(office, request_id, True, who="chen")
    assert office.row(request_id).extension_status == "approved"


def test_an_extension_is_asked_before_the_deadline_and_decided_while_the_request_is_open(
    office: Office,
) -> None:
    late, decided = office.handled(), office.handled()
    with pytest.raises(Conflict, match="has passed"):
        request_extension(office, late, 10, day=official_after(RECEIVED, 21))
    request_extension(office, decided, 10)
    office.decide(decided, "not_exist", day=official_after(RECEIVED, 2))
    due = office.row(decided).due_on
    with pytest.raises(Conflict, match="decided"):
        decide_extension(office, decided, True)
    assert office.row(decided).extension_status == "requested" and office.row(decided).due_on == due


# --- assignment ----------------------------------------------------------------------------------


def test_only_the_assigned_officer_handles_a_request(office: Office) -> None:
    request_id = office.submit().id
    with pytest.raises(Denied, match="assigned-officer"):  # nobody's yet
        ask_correction(office, request_id, RECEIVED)
    denied = office.entries("disclosure.handle", outcome="denied")
    assert len(denied) == 1, "one refusal, one ledger entry"
    assert denied[0].actor == "zhou" and denied[0].detail["rule"] == "assigned-officer"
    assert denied[0].detail["request"] == request_id
    office.assign(request_id, officer="zhou", by="zhou")  # an officer takes an unassigned one
    assert office.view(request_id).assignee == "zhou"
    with pytest.raises(Denied, match="take-unassigned"):  # but not someone else's
        office.assign(request_id, officer="wu", by="wu")
    with pytest.raises(Denied, match="take-unassigned"):
        office.assign(request_id, officer="wu", by="zhou")  # nor hands it on: a manager does
    refused = office.entries("disclosure.assign", outcome="denied")
    assert [(e.actor, e.detail["officer"]) for e in refused] == [("wu", "wu"), ("zhou", "wu")]
    for step in (
        lambda: ask_correction(office, request_id, RECEIVED, who="wu"),
        lambda: office.act(office_side.send_message, "wu", RECEIVED, request_id=request_id, body="您好"),
        lambda: request_extension(office, request_id, 5, who="wu"),
        lambda: office.decide(request_id, "not_exist", who="wu"),
    ):
        with pytest.raises(Denied, match="assigned-officer"):
            step()
    assert [e.actor for e in office.entries("disclosure.decide", outcome="denied")] == ["wu"]
    assert office.row(request_id).status == DisclosureStatus.received
    with pytest.raises(Refused, match=r"^officer: "):  # only to an active disclosure officer
        office.assign(request_id, officer="chen", by="chen")
    office.assign(request_id, officer="wu", by="chen")
    assert office.view(request_id, who="chen").assignee == "wu"
    with pytest.raises(Denied, match="assigned-officer"):
        office.act(office_side.send_message, "zhou", RECEIVED, request_id=request_id, body="您好")
    office.act(office_side.send_message, "wu", RECEIVED, request_id=request_id, body="您好，已受理。")
    assert office.view(request_id, who="zhang").messages[-1].body == "您好，已受理。"


# --- the reply (答复, art. 36) -------------------------------------------------------------------

WITHHOLDING = [
    ("not_released", "art14_state_secret"),
    ("not_released", "art15_commercial_privacy"),
    ("not_released", "art16_case_file"),
    ("not_exist", None),
    ("not_this_office", None),
    ("repeated", None),
]


@pytest.mark.parametrize(("decision", "basis"), WITHHOLDING)
def test_replies_that_release_nothing(office: Office, decision: str, basis: str | None) -> None:
    request_id = office.handled()
    day = official_after(RECEIVED, 8)
    view = office.decide(request_id, decision, basis=basis, day=day, reasons="依法答复：" + decision)
    assert view.status == DisclosureStatus.decided and not view.is_open
    assert (view.decision, view.decision_basis, view.decided_on) == (decision, basis, day)
    assert view.decided_by == "信息公开经办人 周敏"
    assert view.items == () and view.release_until is None and view.working_days_left is None
    seen = office.view(request_id, who="zhang", day=day)
    assert seen.messages[-1].kind == "decision" and seen.messages[-1].body == "依法答复：" + decision
    (entry,) = office.entries("disclosure.decide", outcome="allowed")
    assert entry.actor == "zhou"
    assert entry.detail["decision"] == decision and entry.detail["basis"] == basis
    assert entry.detail["items"] == [] and entry.detail["status"] == "decided"
    with pytest.raises(Conflict, match="decided"):  # one reply
        office.decide(request_id, "not_exist", day=day)


BAD_REPLIES: list[tuple[dict[str, Any], str]] = [
    ({"decision": "maybe"}, "decision"),
    ({"decision": "not_released"}, "basis"),
    ({"decision": "not_released", "basis": "art99"}, "basis"),
    ({"decision": "partly_released", "record_ids": ["d2"]}, "basis"),
    ({"decision": "not_exist", "basis": "art16_case_file"}, "basis"),
    ({"decision": "released", "basis": "art16_case_file", "record_ids": ["d2"]}, "basis"),
    ({"decision": "released"}, "record_ids"),
    ({"decision": "partly_released", "basis": "art16_case_file"}, "record_ids"),
    ({"decision": "not_exist", "record_ids": ["d2"]}, "record_ids"),
    ({"decision": "not_released", "basis": "art16_case_file", "record_ids": ["d2"]}, "record_ids"),
    ({"decision": "released", "record_ids": ["nope"]}, "record_ids"),
    (
        {"decision": "partly_released", "basis": "art16_case_file", "redact": ("nope", "删节.pdf")},
        "record_ids",
    ),
    ({"decision": "not_exist", "reasons": "  "}, "reasons"),
    ({"decision": "released", "record_ids": ["d2"], "redact": ("d2", "删节.pdf")}, "redactions"),
    ({"decision": "not_released", "basis": "art16_case_file", "redact": ("i1", "删节.pdf")}, "record_ids"),
    # Releasing a record whole next to its redacted derivative would undo the redaction.
    (
        {
            "decision": "partly_released",
            "basis": "art15_commercial_privacy",
            "record_ids": ["d2", "i1"],
            "redact": ("i1", "删节.pdf"),
        },
        "redactions",
    ),
    # File names a store or a download header cannot take.
    ({"decision": "partly_released", "basis": "art16_case_file", "redact": ("i1", "a\x00.pdf")}, "filename"),
    (
        {"decision": "partly_released", "basis": "art16_case_file", "redact": ("i1", "a\r\nX: y.pdf")},
        "filename",
    ),
    ({"decision": "partly_released", "basis": "art16_case_file", "redact": ("i1", "长" * 201)}, "filename"),
    # d2 would be copied first, before the redaction's file name is refused.
    (
        {
            "decision": "partly_released",
            "basis": "art16_case_file",
            "record_ids": ["d2"],
            "redact": ("i1", ".."),
        },
        "filename",
    ),
]


def test_a_reply_refuses_bad_input_naming_the_field(office: Office, archived: Archived) -> None:
    """Each mistake is refused naming its field and leaves nothing: no reply, no item, no copy."""
    request_id = office.handled()
    for given_kwargs, field in BAD_REPLIES:
        kwargs = dict(given_kwargs)
        if "redact" in kwargs:
            record_id, filename = kwargs.pop("redact")
            kwargs["redactions"] = [Redaction(record_id, filename, stream=_stream(b"%PDF-1.4 redacted"))]
        with pytest.raises(Refused, match=f"^{field}: "):
            office.decide(request_id, **kwargs)
        assert office.row(request_id).status == DisclosureStatus.received, given_kwargs
        assert office.items_stored() == 0 and office.released_keys() == [], given_kwargs
    assert office.entries("disclosure.decide") == []
    no_case = office.handled(case_no=None)
    with pytest.raises(Refused, match=r"^record_ids: the request names no archived case"):
        office.decide(no_case, "released", record_ids=["d2"])
    # The mistakes fixed, the reply goes out.
    assert office.decide(request_id, "not_exist").status == DisclosureStatus.decided


def test_released_records_are_the_sealed_bytes_in_the_release_realm_only(
    office: Office, archived: Archived
) -> None:
    request_id = office.handled()
    candidates = office.act(replies.candidates, "zhou", RECEIVED, request_id=request_id)
    releasable = {c.record_id: c.releasable for c in candidates}
    assert releasable["x1"] is False and releasable["d2"] is True and releasable["i1"] is True
    day = official_after(RECEIVED, 5)
    view = office.decide(request_id, "released", record_ids=["d2", "v1", "d2"], day=day)
    assert_released_whole(office, archived, view, ["d2", "v1"])
    assert view.release_until == office_time(day) + timedelta(days=RELEASE_DAYS)
    # The applicant sees the items and opens one; the view is ledgered.
    seen = office.view(request_id, who="zhang", day=day)
    assert [i.record_id for i in seen.items] == ["d2", "v1"]
    item = office.act(applicant_side.open_item, "zhang", day, request_id=request_id, item_id=seen.items[0].id)
    assert read_bytes(office.wired.release, item.key) == archived.original("d2")
    (viewed,) = office.entries("disclosure.release.view", outcome="allowed")
    assert viewed.actor == "zhang" and viewed.detail["sha256"] == item.sha256 and viewed.record_id == "d2"


def assert_released_whole(
    office: Office, archived: Archived, view: RequestView, record_ids: list[str]
) -> None:
    """Each item is the record's sealed bytes, in the release realm and linked to its original."""
    wired = office.wired
    assert view.status == DisclosureStatus.decided
    assert [i.record_id for i in view.items] == record_ids
    with wired.sessions() as session:
        rows = {
            r.record_id: r
            for r in session.scalars(select(ReleasedItem).where(ReleasedItem.request_id == view.id))
        }
    assert sorted(rows) == sorted(record_ids)
    assert office.released_keys() == sorted(r.key for r in rows.values())
    for record_id in record_ids:
        row, stored = rows[record_id], sealed(wired, archived.bundle_id, record_id)
        released = read_bytes(wired.release, row.key)
        assert (
            released
            == archived.original(record_id)
            == read_bytes(wired.store, stored.key, version_id=stored.version_id)
        )
        assert row.sha256 == row.original_sha256 == stored.sha256
        assert not row.redacted and row.size == len(released)
        assert row.key.startswith(f"releases/{view.tracking_code}/")
        with pytest.raises(ObjectMissing):  # the copy lives in the release realm only
            read_bytes(wired.store, row.key)
    assert [o.key for o in wired.store.list("releases/")] == []
    (entry,) = office.entries("disclosure.decide", outcome="allowed")
    assert entry.detail["items"] == [
        {
            "record": rid,
            "sha256": rows[rid].sha256,
            "original_sha256": rows[rid].original_sha256,
            "redacted": False,
        }
        for rid in record_ids
    ]


def test_a_partly_released_reply_with_a_redacted_derivative(office: Office, archived: Archived) -> None:
    request_id = office.handled()
    redacted = b"%PDF-1.4\n% the inquiry transcript with the witness's name and ID number removed\n"
    view = office.decide(
        request_id,
        "partly_released",
        basis="art15_commercial_privacy",
        record_ids=["d2"],
        redactions=[
            Redaction(record_id="i1", filename="C:\\导出\\询问笔录（删节）.pdf", stream=_stream(redacted))
        ],
    )
    by_record = {i.record_id: i for i in view.items}
    assert sorted(by_record) == ["d2", "i1"]
    derivative = by_record["i1"]
    assert derivative.redacted and derivative.filename == "询问笔录（删节）.pdf"
    assert derivative.media_type == "application/pdf" and derivative.size == len(redacted)
    original = sealed(office.wired, archived.bundle_id, "i1")
    with office.wired.sessions() as session:
        row = session.get(ReleasedItem, derivative.id)
        assert row is not None
        assert row.original_sha256 == original.sha256 != row.sha256
    assert derivative.sha256 == hashlib.sha256(redacted).hexdigest()
    assert read_bytes(office.wired.release, row.key) == redacted
    assert not by_record["d2"].redacted
    (entry,) = office.entries("disclosure.decide", outcome="allowed")
    assert entry.detail["basis"] == "art15_commercial_privacy"
    assert {
        "record": "i1",
        "sha256": derivative.sha256,
        "original_sha256": original.sha256,
        "redacted": True,
    } in entry.detail["items"]
    if isinstance(office.wired.release, FileStore):
        meta = office.wired.release._meta(row.key)
        assert meta["tags"] == {
            "realm": "release",
            "request": view.tracking_code,
            "record": "i1",
            "redacted": "yes",
        }


def test_a_redacted_word_document_is_released(office: Office, archived: Archived) -> None:
    """Officers redact in Word as often as in PDF; a long media type must not break the reply."""
    request_id = office.handled()
    document = b"PK\x03\x04 a redacted .docx"
    view = office.decide(
        request_id,
        "partly_released",
        basis="art15_commercial_privacy",
        redactions=[Redaction(record_id="i1", filename="询问笔录（删节）.docx", stream=_stream(document))],
    )
    (item,) = view.items
    assert item.redacted and item.filename == "询问笔录（删节）.docx" and item.size == len(document)
    assert item.media_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert office.items_stored() == 1 and len(office.released_keys()) == 1


@pytest.mark.store("s3")
def test_release_between_two_s3_realms(office: Office, archived: Archived) -> None:
    """Archive and release realm each in their own bucket on the S3 API."""
    assert office.wired.store.url != office.wired.release.url
    assert office.wired.release.url.startswith("s3://")
    before = office.released_keys()
    request_id = office.handled()
    assert before == []
    with pytest.raises(Denied, match="state-secret"):
        office.decide(request_id, "released", record_ids=["d2", "x1"])
    assert office.released_keys() == [] and office.items_stored() == 0
    view = office.decide(request_id, "released", record_ids=["d2", "v1"])
    assert_released_whole(office, archived, view, ["d2", "v1"])


@pytest.mark.store("s3")
def test_wiring_refuses_one_bucket_for_both_realms(tmp_path: Path, s3_url: str) -> None:
    with pytest.raises(ValueError, match="RELEASE_STORE"):
        wire(Settings(data_dir=tmp_path / "var", store=s3_url, release_store=s3_url))


def test_a_state_secret_is_never_released(office: Office, archived: Archived) -> None:
    """Not whole, not redacted, not by an officer cleared for top secret; nothing reaches the realm."""
    request_id = office.handled()
    assert office.who("zhou").clearance == "top_secret"
    before = office.released_keys()
    attempts: list[dict[str, Any]] = [
        {"decision": "released", "record_ids": ["d2", "x1"]},
        {"decision": "released", "record_ids": ["x1", "d2"]},
        {
            "decision": "partly_released",
            "basis": "art14_state_secret",
            "record_ids": ["d2"],
            "redactions": [Redaction(record_id="x1", filename="删节.pdf", stream=_stream(b"%PDF-1.4 x"))],
        },
    ]
    for attempt in attempts:
        with pytest.raises(Denied, match="state-secret"):
            office.decide(request_id, **attempt)
    assert office.released_keys() == before == []
    assert office.items_stored() == 0
    row = office.row(request_id)
    assert (row.status, row.decision, row.decided_on, row.release_until) == ("received", None, None, None)
    denied = office.entries("disclosure.release", outcome="denied")
    assert [(e.record_id, e.detail["rule"]) for e in denied] == [("x1", "state-secret")] * 3
    assert office.entries("disclosure.decide") == []
    # Withholding it under art. 14 is the reply; the rest may go out.
    view = office.decide(request_id, "partly_released", basis="art14_state_secret", record_ids=["d2"])
    assert [i.record_id for i in view.items] == ["d2"]


def test_released_material_only_inside_its_release_period(office: Office, archived: Archived) -> None:
    mine, other = office.handled(), office.handled()
    day = official_after(RECEIVED, 5)
    view = office.decide(mine, "released", record_ids=["d2"], day=day)
    theirs = office.decide(other, "released", record_ids=["v1"], day=day)
    item_id, until = view.items[0].id, view.release_until
    assert until is not None

    def open_item(request_id: int, item: int, at: datetime, who: str = "zhang") -> ReleasedItem:
        return office.run(
            applicant_side.open_item,
            subject=office.who(who),
            context=Context(now=at),
            request_id=request_id,
            item_id=item,
        )

    assert open_item(mine, item_id, until - timedelta(seconds=1)).record_id == "d2"
    with pytest.raises(Denied, match="release-period"):
        open_item(mine, item_id, until)
    (late,) = office.entries("disclosure.release.view", outcome="denied")
    assert late.detail["rule"] == "release-period"
    with pytest.raises(NotFound, match=r"^item: "):  # an item of another request, even one's own
        open_item(mine, theirs.items[0].id, until - timedelta(days=1))
    probe = office.entries("disclosure.release.view", outcome="denied")[-1]
    assert probe.detail["rule"] == "unknown-item" and probe.detail["item"] == theirs.items[0].id
    with pytest.raises(Denied, match="role"):  # the office reads the archive, not the public copies
        open_item(mine, item_id, until - timedelta(days=1), who="zhou")


# --- failures while copying into the release realm ---------------------------------------------


class _Unreachable:
    """A writer whose store goes away after `after` bytes."""

    def __init__(self, writer: ObjectWriter, after: int) -> None:
        self._writer, self._left = writer, after

    def write(self, chunk: bytes | memoryview) -> None:
        if len(chunk) > self._left:
            raise StoreUnavailable("object store unreachable while uploading")
        self._left -= len(chunk)
        self._writer.write(chunk)

    def commit(self) -> str | None:
        return self._writer.commit()

    def abort(self) -> None:
        self._writer.abort()


class FlakyStore:
    """A store that works for the first `good` objects (writes or reads), then fails mid-object."""

    def __init__(self, store: ObjectStore, *, good: int) -> None:
        self.store, self.good = store, good
        self.url = store.url

    def open_writer(self, key: str, *, tags: Mapping[str, str]) -> ObjectWriter:
        writer = self.store.open_writer(key, tags=tags)
        self.good -= 1
        return writer if self.good >= 0 else _Unreachable(writer, 100)

    def read(self, key: str, **kwargs: Any) -> Iterator[bytes]:
        self.good -= 1
        failing = self.good < 0
        for chunk in self.store.read(key, **kwargs):
            if failing:
                yield chunk[:100]
                raise StoreUnavailable(f"object store unreachable while reading {key}")
            yield chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def assert_undecided(office: Office, request_id: int) -> None:
    row = office.row(request_id)
    assert (row.status, row.decision, row.release_until) == ("received", None, None)
    assert office.items_stored() == 0
    assert office.entries("disclosure.decide") == []
    assert office.released_keys() == []


def test_reconcile_removes_release_copies_no_reply_references(office: Office, archived: Archived) -> None:
    request_id = office.handled()
    view = office.decide(request_id, "released", record_ids=["d2"])
    (kept,) = office.released_keys()
    stray = f"releases/{view.tracking_code}/deadbeef/001-审查意见.pdf"  # a reply whose commit failed
    put_bytes(office.wired.release, stray, b"%PDF-1.4 orphan", tags={"realm": "release"})
    too_young = operations.reconcile(office.wired, grace=timedelta(hours=1), actor="cli:test")
    assert too_young == []  # too young to judge
    done = operations.reconcile(office.wired, grace=timedelta(0), actor="cli:test")
    assert [key for key, _ in done] == [stray]
    assert office.released_keys() == [kept]


@pytest.mark.parametrize("side", ["release", "archive"])
def test_a_store_failing_mid_copy_leaves_the_request_undecided(
    office: Office, archived: Archived, side: str
) -> None:
    request_id = office.handled()
    flaky = FlakyStore(office.wired.release if side == "release" else office.wired.store, good=2)
    with pytest.raises(StoreUnavailable, match="unreachable"):
        office.decide(request_id, "released", record_ids=["d2", "v1", "s1"], **{side: flaky})
    assert_undecided(office, request_id)
    # Once the store is back, the same reply goes through (nothing left behind stands in its way).
    view = office.decide(request_id, "released", record_ids=["d2", "v1", "s1"])
    assert [i.record_id for i in view.items] == ["d2", "v1", "s1"]
    assert len(office.released_keys()) == 3


def test_a_database_failure_after_the_copies_takes_them_back(
    office: Office, archived: Archived, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id = office.handled()

    def lost(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError(
            "INSERT INTO ledger_entries", {}, ConnectionError("server closed the connection")
        )

    with monkeypatch.context() as patch:
        patch.setattr(replies, "ledger_step", lost)
        with pytest.raises(OperationalError):
            office.decide(request_id, "released", record_ids=["d2", "v1"])
    assert_undecided(office, request_id)
    retried = office.decide(request_id, "released", record_ids=["d2", "v1"])
    assert [i.record_id for i in retried.items] == ["d2", "v1"] and len(office.released_keys()) == 2


def test_a_tampered_archive_object_is_never_released(office: Office, archived: Archived) -> None:
    request_id = office.handled()
    stored = sealed(office.wired, archived.bundle_id, "d2")
    store = office.wired.store
    assert isinstance(store, FileStore)
    path = store.object_path(stored.key)
    path.chmod(0o644)
    path.write_bytes(b"%PDF-1.4 a decision nobody signed")
    with pytest.raises(Refused, match=r"d2.*seal"):
        office.decide(request_id, "released", record_ids=["v1", "d2"])
    assert_undecided(office, request_id)
    (alarm,) = office.entries("disclosure.release", outcome="seal-mismatch")
    assert (alarm.actor, alarm.record_id) == ("zhou", "d2")
    assert alarm.detail["expected_sha256"] == stored.sha256 != alarm.detail["found_sha256"]
    view = office.decide(request_id, "partly_released", basis="art16_case_file", record_ids=["v1"])
    assert [i.record_id for i in view.items] == ["v1"]


def test_an_oversized_redaction_is_refused_and_nothing_stays(
    office: Office, archived: Archived, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replies, "MAX_REDACTED_BYTES", 1000)
    request_id = office.handled()
    with pytest.raises(Refused, match=r"^file: "):
        office.decide(
            request_id,
            "partly_released",
            basis="art15_commercial_privacy",
            record_ids=["d2"],
            redactions=[Redaction(record_id="i1", filename="删节.pdf", stream=_stream(b"x" * 5000))],
        )
    assert_undecided(office, request_id)


def test_two_officers_deciding_at_once_make_one_reply(office: Office, archived: Archived) -> None:
    request_id = office.handled()
    office.assign(request_id, officer="zhou", by="chen")
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def reply(record_ids: list[str]) -> None:
        with office.wired.sessions() as session:
            start.wait()
            try:
                replies.decide_request(
                    session,
                    subject=office.who("zhou"),
                    context=Context(now=office_time(official_after(RECEIVED, 3))),
                    calendar=CAL,
                    archive=office.wired.store,
                    release=office.wired.release,
                    release_days=RELEASE_DAYS,
                    request_id=request_id,
                    decision="released",
                    reasons="经审查予以公开。",
                    record_ids=record_ids,
                )
                session.commit()
                outcomes.append("decided")
            except Conflict:
                session.rollback()
                outcomes.append("conflict")

    threads = [threading.Thread(target=reply, args=(ids,)) for ids in (["s1", "v1"], ["s2", "v1"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["conflict", "decided"]
    assert office.items_stored() == 2 and len(office.entries("disclosure.decide")) == 1


# --- one applicant, another's request (IDOR) ------------------------------------------------------


def test_another_applicants_request_is_not_found(office: Office, archived: Archived) -> None:
    """Li, probing Zhang's requests, learns nothing: the same answer as for no request at all."""
    answered = office.handled(who="zhang")
    view = office.decide(answered, "released", record_ids=["d2"])
    waiting = office.handled(who="zhang")
    ask_correction(office, waiting, RECEIVED)
    missing = answered + waiting + 1000
    item_id = view.items[0].id
    steps: list[tuple[int, Callable[[int], Any]]] = [
        (answered, lambda rid: office.view(rid, who="li")),
        (waiting, lambda rid: answer_correction(office, rid, RECEIVED, who="li")),
        (
            answered,
            lambda rid: office.act(applicant_side.open_item, "li", RECEIVED, request_id=rid, item_id=item_id),
        ),
    ]
    for request_id, step in steps:
        with pytest.raises(NotFound) as theirs:
            step(request_id)
        with pytest.raises(NotFound) as nobodys:
            step(missing)
        assert str(theirs.value).replace(str(request_id), "N") == str(nobodys.value).replace(
            str(missing), "N"
        )
    # Each probe is ledgered once, as refused by the rule, at the step it failed (reading the request).
    denied = [
        e for e in office.entries("disclosure.read") + office.entries("disclosure.correct") if e.actor == "li"
    ]
    assert sorted((e.action, e.detail["request"]) for e in denied) == sorted(
        [("disclosure.read", answered), ("disclosure.correct", waiting), ("disclosure.read", answered)]
    )
    assert {(e.outcome, e.detail["rule"]) for e in denied} == {("denied", "own-requests-only")}
    row = office.row(waiting)
    assert (row.status, row.correction, row.corrected_on) == ("awaiting_correction", None, None)
    assert office.entries("disclosure.release.view", outcome="allowed") == []
    assert office.act(applicant_side.own_requests, "li", RECEIVED, calendar=CAL) == []
    assert {v.id for v in office.act(applicant_side.own_requests, "zhang", RECEIVED, calendar=CAL)} == {
        answered,
        waiting,
    }


def test_the_applicant_sees_the_office_never_its_staff(office: Office) -> None:
    request_id = office.handled()
    request_extension(office, request_id, 5, day=RECEIVED)
    office.act(office_side.send_message, "zhou", RECEIVED, request_id=request_id, body="请补充联系电话")
    staff = office.view(request_id, who="zhou")
    assert (staff.assignee, staff.extension_requested_by) == ("zhou", "zhou")
    assert staff.messages[-1].author == "zhou"
    seen = office.view(request_id, who="zhang")
    assert (seen.assignee, seen.extension_requested_by, seen.decided_by) == (None, None, None)
    assert {m.author for m in seen.messages if m.from_office} == {schemas.OFFICE}


def test_the_applicant_view_hides_the_consultation(office: Office) -> None:
    request_id = office.handled()
    consult(office, request_id, RECEIVED)
    end_consultation(office, request_id, official_after(RECEIVED, 2))
    staff = office.view(request_id, who="zhou")
    assert (staff.consultation_party, staff.consultation_reply) == ("某商业管理有限公司", "不同意公开")
    for seen in (
        office.view(request_id, who="zhang"),
        *office.act(applicant_side.own_requests, "zhang", RECEIVED, calendar=CAL),
    ):
        assert seen.consultation_party is None and seen.consultation_reply is None
        assert seen.due_on == staff.due_on  # the deadline is theirs to know


def test_applicants_never_see_the_case_records_to_choose_from(office: Office, archived: Archived) -> None:
    """Record titles name witnesses and parties: the candidate list is for the office."""
    request_id = office.handled()
    with pytest.raises(Denied, match="role"):
        office.act(replies.candidates, "zhang", RECEIVED, request_id=request_id)
    (entry,) = office.entries("disclosure.queue", actor="zhang")
    assert entry.outcome == "denied" and entry.detail["rule"] == "role"
    with pytest.raises(NotFound):  # and someone else's request stays unknown
        office.act(replies.candidates, "li", RECEIVED, request_id=request_id)
    assert office.act(replies.candidates, "chen", RECEIVED, request_id=request_id)


def test_every_read_of_a_request_is_ledgered_allowed_or_refused(office: Office) -> None:
    """The officer's and the applicant's reads are on the record as well as the stranger's probe."""
    request_id = office.submit(who="zhang").id
    office.view(request_id, who="zhou")
    office.view(request_id, who="zhang")
    with pytest.raises(NotFound):
        office.view(request_id, who="li")
    read = office.entries("disclosure.read")
    assert [(e.actor, e.outcome) for e in read] == [
        ("zhou", "allowed"),
        ("zhang", "allowed"),
        ("li", "denied"),
    ]
    assert all(e.detail["request"] == request_id for e in read)


def test_an_officer_without_clearance_sees_no_secret_record_title(office: Office, archived: Archived) -> None:
    """The secret record stays listed, never releasable, with its title withheld as the catalogue does."""
    request_id = office.handled()
    uncleared = {
        c.record_id: c for c in office.act(replies.candidates, "wu", RECEIVED, request_id=request_id)
    }
    assert uncleared["x1"].title is None and uncleared["x1"].releasable is False
    assert uncleared["d2"].title == "处罚决定书" and uncleared["d2"].releasable is True
    cleared = {
        c.record_id: c for c in office.act(replies.candidates, "zhou", RECEIVED, request_id=request_id)
    }
    assert cleared["x1"].title == "涉密附件" and cleared["x1"].releasable is False


# --- the deadline as a function of the request's dates (no database) ----------------------------


@st.composite
def request_dates(draw: st.DrawFn) -> dict[str, Any]:
    """The dates a request can have: received, maybe corrected, maybe consulted, maybe extended."""
    received = draw(st.dates(date(2019, 1, 1), date(2026, 3, 31)))
    fields: dict[str, Any] = {"received_on": received, "clock_from": received, "status": "received"}
    if draw(st.booleans()):  # a correction notice within 7 working days, answered within its period
        asked = official_after(received, draw(st.integers(0, 7)))
        correct_by = official_after(asked, draw(st.integers(5, 30)))
        corrected = asked + timedelta(days=draw(st.integers(0, (correct_by - asked).days)))
        fields |= {"correction_asked_on": asked, "correct_by": correct_by, "corrected_on": corrected}
        fields["clock_from"] = corrected
    if draw(st.booleans()):  # a consultation, some calendar days into the count, maybe ended early
        started = fields["clock_from"] + timedelta(days=draw(st.integers(0, 40)))
        until = official_after(started, 15)
        fields |= {"consultation_from": started, "consultation_until": until, "status": "in_consultation"}
        if draw(st.booleans()):
            fields["consultation_ended_on"] = started + timedelta(
                days=draw(st.integers(0, (until - started).days))
            )
            fields["status"] = "received"
    if draw(st.booleans()):
        fields["extension_days"] = draw(st.integers(1, 20))
        fields["extension_status"] = draw(st.sampled_from(["requested", "approved", "refused"]))
    return fields


def due(fields: Mapping[str, Any], **changes: Any) -> date:
    """The deadline of a transient request with these dates."""
    found = deadlines.deadline(CAL, DisclosureRequest(**{**fields, **changes}))
    assert found is not None
    return found.due_on


def pause_of(fields: Mapping[str, Any]) -> tuple[date, date] | None:
    """The consultation days not counted: from the day after it began to the day it ended (or will)."""
    if "consultation_from" not in fields:
        return None
    return fields["consultation_from"] + ONE, fields.get("consultation_ended_on") or fields[
        "consultation_until"
    ]


@hypothesis_settings(max_examples=100, deadline=None)
@given(fields=request_dates())
def test_the_deadline_counts_exactly_the_working_days_the_rules_count(fields: dict[str, Any]) -> None:
    """The due day is an official working day outside the consultation, and it is the first day by
    which 20 working days (plus an approved extension) have passed since the clock's start, not
    counting the consultation; the receipt (or correction) day itself is never counted."""
    due_on = due(fields)
    approved = fields.get("extension_days", 0) if fields.get("extension_status") == "approved" else 0
    pause = pause_of(fields)
    assert chinese_calendar.is_workday(due_on)
    assert pause is None or not pause[0] <= due_on <= pause[1]
    assert official_count(fields["clock_from"], due_on, skip=pause) == 20 + approved
    assert official_count(fields["clock_from"], due_on - ONE, skip=pause) == 19 + approved
    paused = [pause] if pause and pause[0] <= pause[1] else []
    assert workdays.working_days_between(CAL, fields["clock_from"], due_on, paused=paused) == 20 + approved
    # Without any pause, the count is 20 + extension + the paused working days before the due day.
    assert official_count(fields["clock_from"], due_on) == 20 + approved + (
        official_count(pause[0] - ONE, min(pause[1], due_on)) if pause and pause[0] <= due_on else 0
    )


@hypothesis_settings(max_examples=100, deadline=None)
@given(fields=request_dates())
def test_nothing_the_office_does_makes_the_deadline_earlier(fields: dict[str, Any]) -> None:
    """A correction (the clock restarts later), a consultation (time not counted) and an approved
    extension each never make the deadline earlier; a consultation ended early never makes it
    later than one that ran its 15 days; an extension only counts once approved."""
    due_on = due(fields)
    assert due(fields, clock_from=fields["received_on"]) <= due_on
    if "consultation_from" in fields:
        assert (
            due(fields, consultation_from=None, consultation_until=None, consultation_ended_on=None) <= due_on
        )
        assert due_on <= due(fields, consultation_ended_on=None)
    if "extension_days" in fields:
        without = due(fields, extension_days=None, extension_status=None)
        if fields["extension_status"] == "approved":
            assert without < due_on
            assert official_count(without, due_on) >= fields["extension_days"]
        else:
            assert without == due_on


@pytest.mark.parametrize("status", ["awaiting_correction", "withdrawn"])
def test_no_deadline_while_a_correction_is_awaited_or_after_none_came(status: str) -> None:
    row = DisclosureRequest(received_on=RECEIVED, clock_from=RECEIVED, status=status)
    assert deadlines.deadline(CAL, row) is None


# --- reminders -----------------------------------------------------------------------------------


def test_reminders_follow_a_holiday_table_entered_after_submission(office: Office) -> None:
    # Received 2026-12-14: counted Monday–Friday into 2027 it is due 2027-01-11; once the
    # administrator enters 2027-01-01 as a holiday it is due a working day later.
    received = date(2026, 12, 14)
    request_id = office.handled(day=received)
    assert office.row(request_id).due_on == date(2027, 1, 11)
    workdays.enter_holiday_table(
        office.session, year=2027, text="2027-01-01 off 元旦", actor="sysadmin", now=office_time(received)
    )
    office.session.commit()
    calendar = workdays.load_calendar(office.session)
    day = date(2027, 1, 11)
    (notice,) = office.run(
        disclosure_reminders.reminders, subject=office.who("zhou"), now=office_time(day), calendar=calendar
    )
    assert (notice.facts["days_left"], notice.facts["due_on"]) == (1, date(2027, 1, 12))
    # …and an extension asked on the old due date is still in time.
    office.act(
        office_side.request_extension,
        "zhou",
        day,
        calendar=calendar,
        request_id=request_id,
        days=5,
        reason="复杂",
    )
    assert office.row(request_id).extension_status == "requested"


def test_reminders_for_the_officer_and_the_managers(office: Office) -> None:
    today = date(2025, 11, 20)
    overdue = office.handled(day=RECEIVED)  # due 10-30
    soon_due = official_after(today, 3)
    soon = office.handled(day=official_after(soon_due, -20))
    later = office.handled(day=today)
    theirs = office.submit(day=official_after(soon_due, -20)).id
    office.assign(theirs, officer="wu", by="wu", day=RECEIVED)
    unassigned = office.submit(day=official_after(soon_due, -20)).id
    request_extension(office, soon, 5, day=official_after(soon_due, -20))
    decided = office.handled(day=official_after(today, -19))
    office.decide(decided, "repeated", day=official_after(today, -18))
    assert office.row(overdue).due_on == date(2025, 10, 30) < today
    assert office.row(soon).due_on == soon_due

    def reminders(who: str) -> dict[tuple[str, int | None], dict[str, Any]]:
        found = office.run(
            disclosure_reminders.reminders, subject=office.who(who), now=office_time(today), calendar=CAL
        )
        return {(n.kind, n.request_id): n.facts for n in found}

    mine = reminders("zhou")
    assert set(mine) == {
        ("disclosure_due", overdue),
        ("disclosure_due", soon),
        ("disclosure_due", unassigned),
    }
    late_by = workdays.working_days_between(CAL, date(2025, 10, 30), today)
    assert mine[("disclosure_due", overdue)]["days_left"] == -late_by
    due_soon = mine[("disclosure_due", soon)]
    assert (due_soon["days_left"], due_soon["due_on"]) == (3, soon_due)
    assert set(reminders("wu")) == {("disclosure_due", theirs), ("disclosure_due", unassigned)}
    managers = reminders("chen")
    assert set(managers) == {
        ("disclosure_due", overdue),
        ("disclosure_due", soon),
        ("disclosure_due", theirs),
        ("disclosure_due", unassigned),
        ("disclosure_extension", soon),
    }
    assert managers[("disclosure_extension", soon)]["days"] == 5
    assert reminders("zhang") == {}
    assert later not in {rid for _, rid in managers}
    decide_extension(office, soon, True, day=today)  # decided: no longer waiting, and no longer due soon
    assert set(reminders("chen")) == {
        ("disclosure_due", overdue),
        ("disclosure_due", theirs),
        ("disclosure_due", unassigned),
    }


def test_every_applicant_action_but_filing_needs_the_request_to_be_theirs() -> None:
    from access.policy import ROLE_ACTIONS, Action, decide, request_of

    zhang = Subject(username="zhang", role=Role.applicant, user_id=1)
    context = Context(now=datetime.now(UTC))
    for action in ROLE_ACTIONS[Role.applicant] - {Action.disclosure_submit}:
        until = datetime.now(UTC) + timedelta(days=1)
        theirs = request_of("disclosure", case_no=None, owner="li", record_id="r1", available_until=until)
        refused = decide(zhang, action, theirs, context)
        assert (refused.allowed, refused.rule) == (False, "own-requests-only"), action
        nobodys = request_of("disclosure", case_no=None, owner=None, record_id="r1", available_until=until)
        assert not decide(zhang, action, nobodys, context).allowed, action
