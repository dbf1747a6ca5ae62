"""The public portal's API as an applicant and the disclosure officer use it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from access import workdays
from access.disclosure import office_side, replies, schemas
from access.disclosure.models import DisclosureRequest
from access.models import User
from access.policy import Context
from portal.cli.demo import case_document
from portal.web.auth import subject_of
from tests.support.portal import Portal

CASE_NO = case_document()["case_no"]


API = "/public/api/v1"


OFFICER = "disclosure-officer"


APPLICANT_PASSWORD = "申请人的密码 is long enough"


_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(first17: str) -> str:
    """A resident ID number with its GB 11643 check digit."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


ID_A = "11010519491231002X"  # the standard's own example


def registration(**overrides: Any) -> dict[str, Any]:
    """A complete registration body."""
    return {
        "username": "zhangsan",
        "password": APPLICANT_PASSWORD,
        "name": "张三",
        "id_type": "resident_id",
        "id_number": ID_A,
        "phone": "138 0013 8000",
        "email": "zhangsan@example.cn",
        "address": "深圳市福田区示例路1号",
    } | overrides


def register(portal: Portal, **overrides: Any) -> Any:
    """POST a registration."""
    return portal.client.post(f"{API}/register", json=registration(**overrides))


def bearer(token: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {token}"}


def public_token(portal: Portal, username: str, password: str = APPLICANT_PASSWORD) -> Any:
    """POST the public token form."""
    return portal.client.post(f"{API}/token", data={"username": username, "password": password})


NAMES = {"zhangsan": "张三", "lisi": "李四"}


def applicant(portal: Portal, username: str = "zhangsan", id_number: str = ID_A) -> dict[str, str]:
    """Register an applicant and return their bearer header."""
    answer = register(
        portal,
        username=username,
        name=NAMES.get(username, username),
        id_number=id_number,
        email=f"{username}@example.cn",
    )
    assert answer.status_code == 201, answer.text
    found = public_token(portal, username)
    assert found.status_code == 200, found.text
    return bearer(found.json()["access_token"])


def submit(portal: Portal, headers: dict[str, str], **overrides: Any) -> Any:
    """POST a disclosure request."""
    body = {
        "relation": "party",
        "case_no": CASE_NO,
        "description": "请求公开 2026 年 3 月 4 日现场检查的审查意见和现场检查录像。",
        "delivery": "online",
    } | overrides
    return portal.client.post(f"{API}/disclosures", json=body, headers=headers)


def filed(portal: Portal, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    """A request filed through the API; its 201 body."""
    answer = submit(portal, headers, **overrides)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def as_officer(
    portal: Portal, act: Callable[..., Any], request_id: int, *, now: datetime | None = None, **kwargs: Any
) -> Any:
    """Run one disclosure service step as the disclosure officer, and commit."""
    wired = portal.wired
    with wired.sessions() as session:
        officer = session.scalar(select(User).where(User.username == OFFICER))
        assert officer is not None
        context = Context(now=now or datetime.now(UTC), source="test")
        result = act(session, subject=subject_of(officer), context=context, request_id=request_id, **kwargs)
        session.commit()
        return result


def decide(
    portal: Portal,
    request_id: int,
    *,
    decision: str = "released",
    record_ids: tuple[str, ...] = ("d1", "v1"),
    now: datetime | None = None,
    **extra: Any,
) -> schemas.RequestView:
    """The officer takes the request (if nobody has) and answers it, releasing `record_ids` into the
    release realm."""
    with portal.wired.sessions() as session:
        calendar = workdays.load_calendar(session)
        held = session.get(DisclosureRequest, request_id).assignee_id  # type: ignore[union-attr]
    if held is None:
        as_officer(portal, office_side.assign, request_id, now=now, officer=OFFICER)
    return as_officer(  # type: ignore[no-any-return]
        portal,
        replies.decide_request,
        request_id,
        now=now,
        calendar=calendar,
        archive=portal.wired.store,
        release=portal.wired.release,
        release_days=portal.wired.settings.release_days,
        decision=decision,
        reasons="经审查，所申请的审查意见和现场检查录像可以公开。",
        record_ids=record_ids,
        **extra,
    )
