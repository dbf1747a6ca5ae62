"""Disclosure handling through the internal pages: filing as an applicant, then each officer's step."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from access import applicants, workdays
from access.disclosure import applicant_side
from access.models import User
from access.policy import Context
from portal.cli.demo import case_document
from portal.web.auth import subject_of
from portal.web.i18n import CST
from tests.support.portal import PASSWORD, Portal
from tests.support.web import session_csrf, signed_in

CASE_NO = case_document()["case_no"]


ID_NUMBER = "11010519491231002X"  # the GB 11643 example


MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=CST)  # March 2026: the official calendar, no holidays near


def at(portal: Portal, moment: datetime) -> None:
    """Move the app's clock (sessions expire after 8 hours: sign in again after a jump)."""
    portal.wired.clock = lambda: moment


def file_request(
    portal: Portal,
    *,
    username: str = "zhangsan",
    case_no: str = CASE_NO,
    description: str = "请公开本案处罚决定书",
) -> int:
    """An applicant (registered on first use) files a request through the service; its id."""
    wired = portal.wired
    with wired.sessions() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            applicant = applicants.register_applicant(
                session,
                username=username,
                password=PASSWORD,
                name="张三",
                id_type="resident_id",
                id_number=ID_NUMBER,
                phone="13800138000",
                email=f"{username}@example.cn",
                address="深圳市福田区示例路1号",
                id_number_key=wired.id_number_key,
                now=wired.clock(),
            )
            user = applicant.user
        view = applicant_side.submit_request(
            session,
            subject=subject_of(user),
            context=Context(now=wired.clock()),
            calendar=workdays.load_calendar(session),
            relation="party",
            case_no=case_no,
            description=description,
            delivery="online",
        )
        session.commit()
        return view.id


def as_role(portal: Portal, role: str) -> Portal:
    """Sign out whoever was signed in, and sign in as `role` through the form."""
    portal.client.cookies.clear()
    return signed_in(portal, role)


def post(portal: Portal, path: str, data: dict[str, Any], *, files: Any = None, csrf: bool = True) -> Any:
    """POST a page form with the session's CSRF token, not following the redirect."""
    if csrf:
        data = {"csrf_token": session_csrf(portal)} | data
    return portal.client.post(path, data=data, files=files, follow_redirects=False)


def take(portal: Portal, request_id: int) -> None:
    """The signed-in officer takes the request."""
    answer = post(portal, f"/disclosures/{request_id}/assign", {"officer": "disclosure-officer"})
    assert answer.status_code == 303, answer.text


def reply(portal: Portal, request_id: int, data: dict[str, Any], *, files: Any = None) -> Any:
    return post(portal, f"/disclosures/{request_id}/decision", data, files=files)
