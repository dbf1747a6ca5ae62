"""The public portal (公众门户): applicants register, sign in, file disclosure requests (依申请公开),
follow them and see released material — through the JSON API and the pages — from an app that
holds the release realm only, never the archive realm."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import shutil
from collections import deque
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.routing import Mount

from access import applicants, id_numbers, workdays
from access.disclosure import applicant_side, office_side, schemas, sweeps
from access.disclosure.models import DisclosureRequest, ReleasedItem
from access.ledger import LedgerEntry
from access.models import Applicant, User
from access.policy import Context
from archive.errors import StoreUnavailable
from archive.models import BundleFile
from archive.store import read_bytes
from portal.settings import WITHHELD
from portal.web import i18n
from portal.web.auth import subject_of
from portal.wiring import PublicWired, Wired, id_number_private_key
from tests.support.portal import PASSWORD, Portal
from tests.support.public import (
    API,
    APPLICANT_PASSWORD,
    CASE_NO,
    ID_A,
    OFFICER,
    applicant,
    as_officer,
    bearer,
    decide,
    filed,
    public_token,
    register,
    registration,
    resident_id,
    submit,
)

pytestmark = pytest.mark.store("file")  # and the S3 API where a test says so


CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


ID_B = resident_id("44030419900307123")


def public_wired(app: Any) -> PublicWired:
    """The wiring of the public app mounted at /public inside `app`."""
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/public")
    return mount.app.state.wired  # type: ignore[no-any-return]


def set_clock(portal: Portal, moment: datetime) -> None:
    """Move both apps' clocks (the public wiring holds its own reference to the clock)."""
    portal.wired.clock = lambda: moment
    public_wired(portal.client.app).clock = lambda: moment


def today_cst() -> date:
    """Today in the office's time zone."""
    return datetime.now(UTC).astimezone(i18n.CST).date()


def ask_correction(portal: Portal, request_id: int, *, now: datetime | None = None) -> None:
    """The officer takes the request and sends its one correction notice."""
    as_officer(portal, office_side.assign, request_id, now=now, officer=OFFICER)
    with portal.wired.sessions() as session:
        calendar = workdays.load_calendar(session)
    as_officer(
        portal,
        office_side.ask_correction,
        request_id,
        now=now,
        calendar=calendar,
        what="请写明所需录像的拍摄日期和地点。",
        within_days=10,
    )


def ledger(portal: Portal, **where: Any) -> list[LedgerEntry]:
    """Ledger entries matching the columns given."""
    with portal.wired.sessions() as session:
        query = select(LedgerEntry).order_by(LedgerEntry.seq)
        for name, value in where.items():
            query = query.where(getattr(LedgerEntry, name) == value)
        return list(session.scalars(query))


def problems(answer: Any) -> dict[str, str]:
    """A 422/409 body's problems as {field: message}."""
    return {p["field"]: p["message"] for p in answer.json()["detail"]}


# --- registration -----------------------------------------------------------------------------


def test_registration_masks_the_id_number_and_seals_it(portal: Portal) -> None:
    answer = register(portal)
    assert answer.status_code == 201, answer.text
    assert answer.json() == {
        "username": "zhangsan",
        "name": "张三",
        "id_type": "resident_id",
        "id_number_masked": "110************02X",
    }
    assert ID_A not in answer.text
    with portal.wired.sessions() as session:
        row = session.scalar(select(Applicant).join(User).where(User.username == "zhangsan"))
        assert row is not None
        assert ID_A not in row.id_number_sealed and "19491231" not in row.id_number_sealed
        assert row.id_number_masked == "110************02X"
        key = id_number_private_key(portal.wired.settings)
        assert id_numbers.unseal(row.id_number_sealed, key=key, username="zhangsan") == ID_A
        with pytest.raises(ValueError):  # bound to its applicant: useless copied to another row
            id_numbers.unseal(row.id_number_sealed, key=key, username="lisi")
    entry = ledger(portal, action="applicant.register")[-1]
    assert entry.actor == "zhangsan" and entry.detail == {"id_type": "resident_id"}
    assert all(ID_A not in str(e.detail) for e in ledger(portal))


def test_registration_refusals_name_the_field_and_store_nothing(portal: Portal) -> None:
    with portal.wired.sessions() as session:
        users_before = len(session.scalars(select(User)).all())
    cases = [
        ({"id_number": "110105194912310021"}, 422, "id_number", "check digit"),
        ({"id_number": "12345"}, 422, "id_number", "17 digits"),
        ({"email": "not-an-email"}, 422, "email", "email"),
        ({"password": "short"}, 422, "password", "at least 12"),
        ({"phone": "call me"}, 422, "phone", "digits"),
        ({"name": "   "}, 422, "name", "required"),
        ({"id_type": "driving_licence"}, 422, "id_type", ""),
        ({"username": "No Spaces!"}, 422, "username", "must be"),
        ({"nickname": "extra"}, 422, "nickname", "Extra inputs"),
    ]
    for overrides, status, field, words in cases:
        answer = register(portal, **overrides)
        assert answer.status_code == status, (overrides, answer.text)
        found = problems(answer)
        assert field in found, (overrides, found)
        assert words in found[field], (overrides, found)
    with portal.wired.sessions() as session:
        assert len(session.scalars(select(User)).all()) == users_before
        assert session.scalars(select(Applicant)).all() == []
    assert register(portal).status_code == 201
    taken = register(portal, id_number=ID_B)
    assert taken.status_code == 409 and "taken" in problems(taken)["username"]
    staff_name = register(portal, username="archivist", id_number=ID_B)
    assert staff_name.status_code == 409 and "username" in problems(staff_name)


# --- the two doors ----------------------------------------------------------------------------


def test_tokens_at_the_public_door_are_for_applicants_only(portal: Portal) -> None:
    headers = applicant(portal)
    assert portal.client.get(f"{API}/disclosures", headers=headers).status_code == 200
    for username in ("archivist", "archive-manager", "disclosure-officer", "security-auditor"):
        refused = portal.client.post(f"{API}/token", data={"username": username, "password": PASSWORD})
        assert refused.status_code == 401, username
        assert "access_token" not in refused.text
    assert public_token(portal, "zhangsan", "wrong password, long enough").status_code == 401
    # ...and applicants cannot sign in at the internal door.
    internal = portal.client.post(
        "/api/v1/token", data={"username": "zhangsan", "password": APPLICANT_PASSWORD}
    )
    assert internal.status_code == 401


def test_the_public_door_never_checks_or_locks_a_staff_password(portal: Portal) -> None:
    before = len(ledger(portal, action="auth.login", actor="archivist"))
    for _attempt in range(portal.wired.settings.lockout_attempts + 1):
        answer = portal.client.post(
            f"{API}/token", data={"username": "archivist", "password": "a guess, wrong"}
        )
        assert answer.status_code == 401
    client = _client(portal)
    form = client.get("/public/login")
    page = client.post(
        "/public/login", data={"username": "archivist", "password": PASSWORD, "csrf_token": _csrf(form)}
    )
    assert page.status_code == 401
    attempts = ledger(portal, action="auth.login", actor="archivist")[before:]
    assert len(attempts) == portal.wired.settings.lockout_attempts + 2
    assert all(
        e.outcome == "failed"
        and e.detail["reason"] == "not an account of this door"
        and e.detail["door"] == "casevault-public"
        for e in attempts
    )
    with portal.wired.sessions() as session:
        staff = session.scalar(select(User).where(User.username == "archivist"))
        assert staff is not None and staff.failed_logins == 0 and staff.locked_until is None
    # The staff member still signs in at their own door.
    assert (
        portal.client.post("/api/v1/token", data={"username": "archivist", "password": PASSWORD}).status_code
        == 200
    )


def test_the_internal_door_never_checks_or_locks_an_applicant_password(portal: Portal) -> None:
    applicant(portal)
    for _attempt in range(portal.wired.settings.lockout_attempts + 1):
        answer = portal.client.post(
            "/api/v1/token", data={"username": "zhangsan", "password": "wrong guess!"}
        )
        assert answer.status_code == 401
    right = portal.client.post("/api/v1/token", data={"username": "zhangsan", "password": APPLICANT_PASSWORD})
    assert right.status_code == 401
    # Not locked: the applicant still signs in at the public door.
    assert public_token(portal, "zhangsan").status_code == 200


def test_an_applicant_token_opens_no_internal_endpoint(portal: Portal) -> None:
    headers = applicant(portal)
    bundle = portal.bundle_id
    gets = [
        "/api/v1/cases",
        f"/api/v1/bundles/{bundle}",
        f"/api/v1/bundles/{bundle}/records/v1/content",
        f"/api/v1/bundles/{bundle}/records/v1/copy",
        "/api/v1/ledger",
        "/api/v1/ledger/verify",
        "/api/v1/retrievals",
        "/api/v1/retrievals/mine",
        "/api/v1/notifications",
    ]
    for path in gets:
        assert portal.client.get(path, headers=headers).status_code == 401, path
    body = {"case_no": CASE_NO, "record_ids": ["v1"], "purpose": "p", "legal_basis": "b", "days": 1}
    assert portal.client.post("/api/v1/retrievals", json=body, headers=headers).status_code == 401


def test_a_staff_token_opens_no_public_endpoint(portal: Portal) -> None:
    owner = applicant(portal)
    request_id = filed(portal, owner)["id"]
    for role in ("archivist", "disclosure_officer", "security_auditor"):
        staff = portal.as_role(role)
        assert portal.client.get(f"{API}/disclosures", headers=staff).status_code == 401
        assert portal.client.get(f"{API}/disclosures/{request_id}", headers=staff).status_code == 401
        assert submit(portal, staff).status_code == 401
    assert portal.client.get(f"{API}/disclosures").status_code == 401
    assert submit(portal, {}).status_code == 401


# --- requests ---------------------------------------------------------------------------------


def test_a_request_is_due_20_working_days_after_receipt(portal: Portal) -> None:
    headers = applicant(portal)
    body = filed(portal, headers)
    assert set(body) >= {"id", "tracking_code", "received_on", "due_on"}
    assert re.fullmatch(r"GK\d{4}-[2-9A-HJ-NP-Z]{8}", body["tracking_code"])
    received = date.fromisoformat(body["received_on"])
    assert received == today_cst()
    with portal.wired.sessions() as session:
        calendar = workdays.load_calendar(session)
    expected = workdays.add_working_days(calendar, received, 20)
    assert date.fromisoformat(body["due_on"]) == expected.due_on
    assert body["due_estimated"] is expected.estimated
    counted = workdays.working_days_between(calendar, received, expected.due_on)
    assert counted == 20 and calendar.is_workday(expected.due_on)
    listed = portal.client.get(f"{API}/disclosures", headers=headers).json()["requests"]
    assert [r["tracking_code"] for r in listed] == [body["tracking_code"]]
    entry = ledger(portal, action="disclosure.submit")[-1]
    assert entry.actor == "zhangsan" and entry.outcome == "allowed"
    assert entry.detail["tracking_code"] == body["tracking_code"]


def test_a_deadline_counted_into_a_year_without_a_holiday_table_is_an_estimate(portal: Portal) -> None:
    unknown = max(workdays.official_years()) + 1
    set_clock(portal, datetime(unknown - 1, 12, 21, 2, 0, tzinfo=UTC))
    headers = applicant(portal)  # tokens are issued on the moved clock
    body = filed(portal, headers)
    assert body["due_estimated"] is True and body["estimated_years"] == [unknown]
    assert date.fromisoformat(body["due_on"]).year == unknown
    client = _signed_in_client(portal, "zhangsan")
    page = client.get(f"/public/disclosures/{body['id']}")
    assert 'id="estimated-warning"' in page.text
    assert f"{unknown} 年的法定节假日安排尚未录入" in page.text and "周一至周五" in page.text
    english = client.get(f"/public/disclosures/{body['id']}?lang=en")
    assert f"holiday schedule for {unknown} is not yet entered" in english.text


def test_request_refusals_name_the_field(portal: Portal) -> None:
    headers = applicant(portal)
    cases = [
        ({"relation": "neighbour"}, "relation"),
        ({"delivery": "fax"}, "delivery"),
        ({"description": "   "}, "description"),
        ({"case_no": "x" * 200}, "case_no"),
        ({"secret": True}, "secret"),
    ]
    for overrides, field in cases:
        answer = submit(portal, headers, **overrides)
        assert answer.status_code == 422, (overrides, answer.text)
        assert field in problems(answer), (overrides, answer.json())
    with portal.wired.sessions() as session:
        assert session.scalars(select(DisclosureRequest)).all() == []


def test_an_account_without_an_applicant_record_is_refused_naming_it(portal: Portal) -> None:
    found = public_token(portal, "applicant", PASSWORD)  # conftest's bare applicant account
    assert found.status_code == 200
    answer = submit(portal, bearer(found.json()["access_token"]))
    assert answer.status_code == 422 and "user" in problems(answer)


def test_another_applicants_request_is_not_found_and_the_attempt_ledgered(portal: Portal) -> None:
    owner = applicant(portal, "zhangsan", ID_A)
    other = applicant(portal, "lisi", ID_B)
    request_id = filed(portal, owner)["id"]
    view = decide(portal, request_id)
    item_id = view.items[0].id
    attempts = [
        portal.client.get(f"{API}/disclosures/{request_id}", headers=other),
        portal.client.get(f"{API}/disclosures/{request_id}/items/{item_id}", headers=other),
        portal.client.post(
            f"{API}/disclosures/{request_id}/correction", json={"correction": "x"}, headers=other
        ),
    ]
    assert [a.status_code for a in attempts] == [404, 404, 404]
    assert all("张三" not in a.text and "tracking" not in a.text for a in attempts)
    unknown = portal.client.get(f"{API}/disclosures/{request_id + 1000}", headers=other)
    assert unknown.status_code == 404  # the same answer as for someone else's
    denied = ledger(portal, actor="lisi", outcome="denied")
    assert {e.action for e in denied} >= {"disclosure.read", "disclosure.correct"}
    assert all(e.detail["rule"] == "own-requests-only" and e.detail["request"] == request_id for e in denied)
    assert portal.client.get(f"{API}/disclosures", headers=other).json()["requests"] == []
    assert portal.client.get(f"{API}/disclosures/{request_id}", headers=owner).status_code == 200
    (read,) = ledger(portal, actor="zhangsan", action="disclosure.read", outcome="allowed")
    assert read.detail["request"] == request_id  # the owner's read is on the record too


def test_a_correction_restarts_the_clock(portal: Portal) -> None:
    headers = applicant(portal)
    request_id = filed(portal, headers)["id"]
    early = portal.client.post(
        f"{API}/disclosures/{request_id}/correction", json={"correction": "补充"}, headers=headers
    )
    assert early.status_code == 409  # no notice yet
    asked_at = datetime.now(UTC)
    ask_correction(portal, request_id, now=asked_at)
    waiting = portal.client.get(f"{API}/disclosures/{request_id}", headers=headers).json()
    assert waiting["status"] == "awaiting_correction" and waiting["due_on"] is None
    assert waiting["correction"]["asked"] == "请写明所需录像的拍摄日期和地点。"
    assert any(m["kind"] == "correction_notice" and m["from_office"] for m in waiting["messages"])
    later = asked_at + timedelta(days=3)
    set_clock(portal, later)
    headers = bearer(public_token(portal, "zhangsan").json()["access_token"])
    empty = portal.client.post(
        f"{API}/disclosures/{request_id}/correction", json={"correction": "  "}, headers=headers
    )
    assert empty.status_code == 422 and "correction" in problems(empty)
    sent = portal.client.post(
        f"{API}/disclosures/{request_id}/correction",
        json={"correction": "录像拍摄于 2026 年 3 月 4 日，某商场地下二层。"},
        headers=headers,
    )
    assert sent.status_code == 200, sent.text
    body = sent.json()
    restarted = later.astimezone(i18n.CST).date()
    assert body["status"] == "received" and body["clock_from"] == restarted.isoformat()
    with portal.wired.sessions() as session:
        calendar = workdays.load_calendar(session)
    assert body["due_on"] == workdays.add_working_days(calendar, restarted, 20).due_on.isoformat()
    again = portal.client.post(
        f"{API}/disclosures/{request_id}/correction", json={"correction": "再次补正"}, headers=headers
    )
    assert again.status_code == 409
    assert ledger(portal, action="disclosure.correct", outcome="allowed")[-1].actor == "zhangsan"


# --- released material ------------------------------------------------------------------------


def _released(portal: Portal) -> tuple[dict[str, str], int, dict[str, Any]]:
    """An applicant's request, answered with d1 (PDF) and v1 (MP4) released; its JSON."""
    headers = applicant(portal)
    request_id = filed(portal, headers)["id"]
    decide(portal, request_id)
    body = portal.client.get(f"{API}/disclosures/{request_id}", headers=headers).json()
    return headers, request_id, body


def _archived(portal: Portal, record_path: str) -> BundleFile:
    with portal.wired.sessions() as session:
        found = session.scalar(
            select(BundleFile).where(
                BundleFile.bundle_id == portal.bundle_id, BundleFile.path.endswith(record_path)
            )
        )
        assert found is not None
        return found


def test_the_owner_sees_the_reply_and_the_released_items_inside_the_period(portal: Portal) -> None:
    headers, request_id, body = _released(portal)
    assert body["status"] == "decided" and body["release_open"] is True
    assert body["reply"]["decision"] == "released" and body["reply"]["basis"] is None
    assert body["reply"]["decided_on"] == today_cst().isoformat() and body["reply"]["reasons"]
    assert body["release_until"] and body["working_days_left"] is None
    items = {i["filename"]: i for i in body["items"]}
    assert set(items) == {"审查意见.pdf", "现场检查.mp4"}
    pdf = items["审查意见.pdf"]
    assert pdf["url"] == f"{API}/disclosures/{request_id}/items/{pdf['id']}" and pdf["redacted"] is False
    shown = portal.client.get(pdf["url"], headers=headers)
    assert shown.status_code == 200
    assert shown.headers["content-type"] == "application/pdf"
    assert shown.headers["content-disposition"].startswith("inline;")
    assert "filename*=UTF-8''%E5%AE%A1%E6%9F%A5%E6%84%8F%E8%A7%81.pdf" in shown.headers["content-disposition"]
    assert shown.headers["cache-control"] == "private, no-store"
    with portal.wired.sessions() as session:
        key = session.get(ReleasedItem, pdf["id"]).key  # type: ignore[union-attr]
    assert shown.content == read_bytes(portal.wired.release, key)
    assert (
        hashlib.sha256(shown.content).hexdigest()
        == pdf["sha256"]
        == _archived(portal, "records/审查意见.pdf").sha256
    )
    saved = portal.client.get(pdf["url"], params={"download": "true"}, headers=headers)
    assert saved.status_code == 200 and saved.headers["content-disposition"].startswith("attachment;")
    video = items["现场检查.mp4"]
    ranged = portal.client.get(video["url"], headers={**headers, "Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.content) == 100
    assert ranged.headers["content-type"] == "video/mp4"
    assert ranged.headers["content-range"] == f"bytes 0-99/{video['size']}"
    views = ledger(portal, action="disclosure.release.view", outcome="allowed")
    assert len(views) == 3 and {e.actor for e in views} == {"zhangsan"}
    assert [e.detail["download"] for e in views] == [False, True, False]
    assert views[0].detail["item"] == pdf["id"] and views[0].detail["sha256"] == pdf["sha256"]


def test_released_files_that_could_carry_script_are_only_ever_attachments(portal: Portal) -> None:
    headers = applicant(portal)
    request_id = filed(portal, headers)["id"]
    uploads = {
        "删节.html": b"<script>fetch('/public/api/v1/disclosures')</script>",
        "删节.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    }
    decide(
        portal,
        request_id,
        decision="partly_released",
        basis="art15_commercial_privacy",
        record_ids=(),
        redactions=[
            schemas.Redaction(record_id=rid, filename=name, stream=io.BytesIO(data))
            for rid, (name, data) in zip(("d1", "i1"), uploads.items(), strict=True)
        ],
    )
    body = portal.client.get(f"{API}/disclosures/{request_id}", headers=headers).json()
    for item in body["items"]:
        served = portal.client.get(item["url"], headers=headers)
        assert served.status_code == 200 and served.content == uploads[item["filename"]]
        assert served.headers["content-type"] == "application/octet-stream"
        assert served.headers["content-disposition"].startswith("attachment;")
        assert served.headers["content-security-policy"] == "sandbox; default-src 'none'"


def test_released_items_are_refused_after_the_release_period(portal: Portal) -> None:
    headers, request_id, body = _released(portal)
    until = datetime.fromisoformat(body["release_until"])
    set_clock(portal, until + timedelta(seconds=1))
    headers = bearer(public_token(portal, "zhangsan").json()["access_token"])
    item = body["items"][0]
    late = portal.client.get(item["url"], headers=headers)
    assert late.status_code == 403
    assert late.json()["detail"]["rule"] == "release-period"
    assert (
        portal.client.get(f"{API}/disclosures/{request_id}", headers=headers).json()["release_open"] is False
    )
    refused = ledger(portal, action="disclosure.release.view", outcome="denied")
    assert refused and refused[-1].detail["rule"] == "release-period"
    set_clock(portal, until - timedelta(seconds=1))
    headers = bearer(public_token(portal, "zhangsan").json()["access_token"])
    assert portal.client.get(item["url"], headers=headers).status_code == 200


def test_released_items_are_served_without_the_archive_realm(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers, _request_id, body = _released(portal)
    expected = {
        i["id"]: read_bytes(portal.wired.release, _release_key(portal, i["id"])) for i in body["items"]
    }
    # The archive realm goes away entirely: its objects are gone and any read fails.
    archive_root = Path(portal.wired.settings.store_url.removeprefix("file://"))
    shutil.rmtree(archive_root, ignore_errors=True)
    assert not archive_root.exists()

    def gone(*_args: Any, **_kwargs: Any) -> Iterator[bytes]:
        raise StoreUnavailable("archive realm unreachable")

    monkeypatch.setattr(portal.wired.store, "read", gone)
    for item in body["items"]:
        served = portal.client.get(item["url"], headers=headers)
        assert served.status_code == 200 and served.content == expected[item["id"]]


def _release_key(portal: Portal, item_id: int) -> str:
    with portal.wired.sessions() as session:
        return session.get(ReleasedItem, item_id).key  # type: ignore[union-attr]


@pytest.mark.store("s3")
def test_release_realm_on_s3_is_its_own_bucket_and_serves_alone(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, release = portal.wired.store, portal.wired.release
    assert archive.url != release.url and "release" not in archive.url
    headers, _request_id, body = _released(portal)
    with portal.wired.sessions() as session:
        code = session.get(DisclosureRequest, body["id"]).tracking_code  # type: ignore[union-attr]
    stored = {info.key: info for info in release.list(f"releases/{code}/")}
    assert len(stored) == 2
    assert list(archive.list(f"releases/{code}/")) == []  # nothing released was written to the archive
    for item in body["items"]:
        key = _release_key(portal, item["id"])
        assert key in stored
        assert hashlib.sha256(read_bytes(release, key)).hexdigest() == item["sha256"]

    def unreachable(*_args: Any, **_kwargs: Any) -> Iterator[bytes]:
        raise StoreUnavailable("archive bucket unreachable")

    monkeypatch.setattr(archive, "read", unreachable)
    for item in body["items"]:
        served = portal.client.get(item["url"], headers=headers)
        assert served.status_code == 200
        assert hashlib.sha256(served.content).hexdigest() == item["sha256"]


# --- the public app holds no archive realm ----------------------------------------------------

ARCHIVE_SECRET = "archive-secret-5be1d7c0"
ARCHIVE_URL = f"s3://ARCHIVEKEY3F9C:{ARCHIVE_SECRET}@127.0.0.1:9/archive-realm?secure=false"


def _strings(root: object) -> Iterator[str]:
    """Every string reachable from `root` through containers, dataclasses, settings and objects of
    the project and the web framework (bounded: each object once)."""
    seen: set[int] = set()
    queue: deque[tuple[object, int]] = deque([(root, 0)])
    modules = ("portal", "access", "archive", "starlette", "fastapi", "sqlalchemy", "pydantic", "minio")
    while queue:
        obj, depth = queue.popleft()
        if id(obj) in seen or depth > 12:
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            yield obj
        elif isinstance(obj, bytes):
            yield obj.decode("latin-1")
        elif isinstance(obj, dict):
            queue.extend((v, depth + 1) for pair in obj.items() for v in pair)
        elif isinstance(obj, list | tuple | set | frozenset):
            queue.extend((v, depth + 1) for v in obj)
        elif isinstance(obj, type):
            continue
        elif type(obj).__module__.split(".")[0] in modules:
            if dataclasses.is_dataclass(obj):  # fields, also when slotted
                queue.extend((getattr(obj, f.name), depth + 1) for f in dataclasses.fields(obj))
            if hasattr(obj, "__dict__"):  # and anything else set on the object
                queue.extend((v, depth + 1) for v in vars(obj).values())
            if hasattr(obj, "model_dump"):
                queue.append((obj.model_dump(), depth + 1))


def test_the_public_app_cannot_construct_an_archive_realm_client(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archive import s3store, store
    from portal import wiring as context
    from portal.app import create_public_only

    opened: list[str] = []
    real_s3_init, real_open, real_file_init = (
        s3store.S3Store.__init__,
        context.open_store,
        store.FileStore.__init__,
    )

    def s3_init(self: Any, url: str, **kwargs: Any) -> None:
        opened.append(url)
        real_s3_init(self, url, **kwargs)

    def open_store(url: str, **kwargs: Any) -> Any:
        opened.append(url)
        return real_open(url, **kwargs)

    def file_init(self: Any, root: Path) -> None:
        opened.append(f"file://{root}")
        real_file_init(self, root)

    monkeypatch.setattr(s3store.S3Store, "__init__", s3_init)
    monkeypatch.setattr(context, "open_store", open_store)
    monkeypatch.setattr(store.FileStore, "__init__", file_init)
    settings = portal.wired.settings.model_copy(update={"store": ARCHIVE_URL})
    wired = context.wire_public(settings)
    app = create_public_only(wired)
    with TestClient(app, base_url="https://testserver") as client:
        assert client.post(f"{API}/register", json=registration()).status_code == 201
        token = client.post(f"{API}/token", data={"username": "zhangsan", "password": APPLICANT_PASSWORD})
        headers = bearer(token.json()["access_token"])
        body = {"relation": "party", "case_no": CASE_NO, "description": "现场检查录像", "delivery": "online"}
        request_id = client.post(f"{API}/disclosures", json=body, headers=headers).json()["id"]
        decide(portal, request_id)  # the office, on the internal side
        detail = client.get(f"{API}/disclosures/{request_id}", headers=headers).json()
        for item in detail["items"]:
            served = client.get(item["url"], headers=headers)
            assert served.status_code == 200
            assert hashlib.sha256(served.content).hexdigest() == item["sha256"]
        assert client.get("/public/").status_code == 200
    release_url = settings.release_store_url
    assert opened and all(url == release_url or url.startswith(release_url) for url in opened), opened
    assert not any(ARCHIVE_SECRET in url or "archive-realm" in url for url in opened)
    assert isinstance(wired, PublicWired) and not isinstance(wired, Wired)
    assert not hasattr(wired, "store") and not hasattr(wired, "keyring")
    assert wired.settings.store == WITHHELD and wired.settings.token_secret is None
    assert settings.database_url in set(_strings(app))  # the walk does reach the settings
    for holder in (wired, app.state, public_wired(app), app):
        leaked = [s for s in _strings(holder) if ARCHIVE_SECRET in s or "ARCHIVEKEY3F9C" in s]
        assert leaked == [], leaked
    # The combined app hands its public half the same reduced wiring.
    assert public_wired(portal.client.app).settings.store == WITHHELD
    assert not hasattr(public_wired(portal.client.app), "store")


def test_odd_input_is_named_never_a_server_error(portal: Portal) -> None:
    headers = applicant(portal)
    request_id = filed(portal, headers)["id"]
    huge = 10**25
    for path in (f"{API}/disclosures/{huge}", f"{API}/disclosures/{request_id}/items/{huge}"):
        assert portal.client.get(path, headers=headers).status_code == 422
    with_nul = register(portal, username="wangwu", id_number=ID_B, name="王\x00五")
    assert with_nul.status_code == 422 and "name" in problems(with_nul)
    described = submit(portal, headers, description="录像\x00")
    assert described.status_code == 422 and "description" in problems(described)
    reserved = register(portal, username="system", id_number=ID_B)
    assert reserved.status_code == 422 and "username" in problems(reserved)
    decide(portal, request_id)
    item = portal.client.get(f"{API}/disclosures/{request_id}", headers=headers).json()["items"][0]
    long_range = portal.client.get(item["url"], headers={**headers, "Range": "bytes=" + "9" * 5000 + "-"})
    assert long_range.status_code == 200 and len(long_range.content) == item["size"]


def test_id_numbers_typed_full_width_are_read_as_ascii_and_masked_well(portal: Portal) -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in ID_A)
    answer = register(portal, id_number=full_width)
    assert answer.status_code == 201 and answer.json()["id_number_masked"] == "110************02X"
    arabic = "".join(chr(0x0660 + int(c)) if c.isdigit() else c for c in ID_B)
    refused = register(portal, username="lisi", id_number=arabic)
    assert refused.status_code == 422 and "id_number" in problems(refused)
    passport = register(portal, username="wangwu", id_type="passport", id_number="E12345678")
    assert passport.json()["id_number_masked"] == "E*******8"


def test_a_public_host_never_holds_the_key_that_opens_id_numbers(tmp_path: Path, portal: Portal) -> None:
    from portal import wiring as context

    alone = portal.wired.settings.model_copy(update={"data_dir": tmp_path / "public-host"})
    with pytest.raises(ValueError, match="CASEVAULT_ID_NUMBER_PUBLIC_KEY"):
        context.wire_public(alone)
    assert not (alone.data_dir / "keys" / "id-number-key").exists()
    published = id_numbers.public_key_text(portal.wired.id_number_key)
    wired = context.wire_public(alone.model_copy(update={"id_number_public_key": published}))
    try:
        assert not (alone.data_dir / "keys" / "id-number-key").exists()
        with wired.sessions() as session:
            found = applicants.register_applicant(
                session,
                **registration(),
                id_number_key=wired.id_number_key,
                now=datetime.now(UTC),
            )
            sealed, username = found.id_number_sealed, found.user.username
            session.rollback()
        opened = id_numbers.unseal(
            sealed, key=context.id_number_private_key(portal.wired.settings), username=username
        )
        assert opened == registration()["id_number"]
    finally:
        wired.engine.dispose()


# --- outages ----------------------------------------------------------------------------------


def test_a_database_outage_is_503_for_the_api_and_the_pages(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    headers = applicant(portal)
    client = _signed_in_client(portal, "zhangsan")

    def down(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(portal.wired.sessions.kw["bind"], "connect", down)
    for answer in (
        portal.client.get(f"{API}/disclosures", headers=headers),
        submit(portal, headers),
        register(portal, username="wangwu", id_number=ID_B),
        client.get("/public/disclosures"),
    ):
        assert answer.status_code == 503 and answer.headers["retry-after"] == "30"
        assert "Traceback" not in answer.text
    assert "稍后再试" in client.get("/public/disclosures").text


def test_a_release_store_outage_is_503(portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    headers, _request_id, body = _released(portal)

    def down(*_args: Any, **_kwargs: Any) -> Iterator[bytes]:
        raise StoreUnavailable("release store unreachable while reading")
        yield b""  # a generator, like the stores' read

    monkeypatch.setattr(public_wired(portal.client.app).release, "read", down)
    answer = portal.client.get(body["items"][0]["url"], headers=headers)
    assert answer.status_code == 503 and answer.headers["retry-after"] == "30"


# --- pages ------------------------------------------------------------------------------------


def _client(portal: Portal) -> TestClient:
    """A browser of its own on the same app (its own cookies)."""
    return TestClient(portal.client.app, base_url="https://testserver")


def _csrf(page: Any) -> str:
    found = CSRF_FIELD.search(page.text)
    assert found, page.text
    return found.group(1)


def _signed_in_client(portal: Portal, username: str, password: str = APPLICANT_PASSWORD) -> TestClient:
    """A browser signed in at the public sign-in page."""
    client = _client(portal)
    form = client.get("/public/login")
    answer = client.post(
        "/public/login",
        data={"username": username, "password": password, "csrf_token": _csrf(form), "next": ""},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return client


def _register_by_page(client: TestClient, **overrides: str) -> Any:
    form = client.get("/public/register")
    data = {
        "csrf_token": _csrf(form),
        "name": "张三",
        "id_type": "resident_id",
        "id_number": ID_A,
        "phone": "13800138000",
        "email": "zhangsan@example.cn",
        "address": "",
        "username": "zhangsan",
        "password": APPLICANT_PASSWORD,
        "password_confirm": APPLICANT_PASSWORD,
    } | overrides
    return client.post("/public/register", data=data, follow_redirects=False)


def _labelled(html: str) -> None:
    """Every visible form control has an id and a <label for> that names it."""
    controls = re.findall(r"<(input|select|textarea)\b([^>]*)>", html)
    assert controls
    labels = set(re.findall(r'<label for="([^"]+)"', html))
    for tag, attrs in controls:
        if 'type="hidden"' in attrs:
            continue
        found = re.search(r'\bid="([^"]+)"', attrs)
        assert found, f"<{tag}{attrs}> has no id"
        assert found.group(1) in labels, f"<{tag} id={found.group(1)}> has no label"


def _no_raw_keys(html: str) -> None:
    assert re.findall(r"\bpublic\.[a-z_]+\.[a-z_.-]+", html) == []


def test_pages_render_in_chinese_and_english_with_labels(portal: Portal) -> None:
    client = _client(portal)
    anonymous = {
        "/public/register": ("注册申请人账号", "Register as an applicant"),
        "/public/login": ("申请人登录", "Applicant sign-in"),
    }
    for path, (zh, en) in anonymous.items():
        chinese = client.get(path)
        assert chinese.status_code == 200 and zh in chinese.text and 'lang="zh-CN"' in chinese.text
        _labelled(chinese.text)
        _no_raw_keys(chinese.text)
        english = client.get(f"{path}?lang=en")
        assert english.status_code == 200 and en in english.text and '<html lang="en">' in english.text
        _labelled(english.text)
        client.get(f"{path}?lang=zh")
    register_page = client.get("/public/register").text
    for name, complete in {
        "name": "name",
        "phone": "tel",
        "email": "email",
        "address": "street-address",
        "username": "username",
        "password": "new-password",
        "password_confirm": "new-password",
    }.items():
        assert re.search(rf'id="{name}"[^>]*autocomplete="{complete}"', register_page), name
    assert '<select id="id_type"' in register_page and "居民身份证" in register_page
    assert _register_by_page(client).status_code == 303
    headers = bearer(public_token(portal, "zhangsan").json()["access_token"])
    request_id = filed(portal, headers)["id"]
    signed = {
        "/public/disclosures/new": ("提交政府信息公开申请", "File an information-disclosure request"),
        "/public/disclosures": ("我的申请", "My requests"),
        f"/public/disclosures/{request_id}": ("已受理，办理中", "Received, being handled"),
    }
    for path, (zh, en) in signed.items():
        chinese = client.get(path)
        assert chinese.status_code == 200 and zh in chinese.text, path
        _labelled(chinese.text)
        _no_raw_keys(chinese.text)
        english = client.get(f"{path}?lang=en")
        assert english.status_code == 200 and en in english.text, path
        _no_raw_keys(english.text)
        client.get(f"{path}?lang=zh")
    new_form = client.get("/public/disclosures/new").text
    assert 'type="radio" id="relation-party"' in new_form and 'for="relation-interested_party"' in new_form
    assert 'id="delivery-online"' in new_form and 'id="delivery-paper"' in new_form
    for page in (register_page, new_form):
        assert "style=" not in page and re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []


def test_registration_page_shows_each_refusal_next_to_its_field(portal: Portal) -> None:
    client = _client(portal)
    bad = _register_by_page(client, id_number="110105194912310021")
    assert bad.status_code == 422
    assert re.search(r'id="id_number-error"[^>]*>身份证号码的校验位不正确', bad.text)
    assert re.search(r'id="id_number"[^>]*aria-describedby="id_number-hint id_number-error"', bad.text)
    assert re.search(r'id="id_number"[^>]*aria-invalid="true"', bad.text)
    assert 'value="110105194912310021"' in bad.text and APPLICANT_PASSWORD not in bad.text
    mismatch = _register_by_page(client, password_confirm="something else entirely")
    assert mismatch.status_code == 422 and 'id="password_confirm-error"' in mismatch.text
    short = _register_by_page(client, password="short", password_confirm="short")
    assert short.status_code == 422 and re.search(r'id="password-error"[^>]*>密码至少 12 个字符', short.text)
    client.get("/public/register?lang=en")
    english = _register_by_page(client, email="nope")
    assert english.status_code == 422 and re.search(
        r'id="email-error"[^>]*>Not an email address', english.text
    )
    client.get("/public/register?lang=zh")
    assert _register_by_page(client).status_code == 303
    other = _client(portal)
    taken = _register_by_page(other, id_number=ID_B)
    assert taken.status_code == 409 and re.search(r'id="username-error"[^>]*>该用户名已被使用', taken.text)
    with portal.wired.sessions() as session:
        assert len(session.scalars(select(Applicant)).all()) == 1


def test_forms_refuse_a_missing_csrf_token(portal: Portal) -> None:
    client = _client(portal)
    form = client.get("/public/register")
    no_pair = client.post("/public/register", data={"username": "x", "csrf_token": "forged" * 8})
    assert no_pair.status_code == 403 and 'id="form-error"' in no_pair.text
    assert client.cookies.get("csrf_public_login") == _csrf(form)
    login = client.post("/public/login", data={"username": "zhangsan", "password": APPLICANT_PASSWORD})
    assert login.status_code == 403
    assert _register_by_page(client).status_code == 303
    headers = bearer(public_token(portal, "zhangsan").json()["access_token"])
    request_id = filed(portal, headers)["id"]
    ask_correction(portal, request_id)
    body = {"relation": "party", "description": "录像", "delivery": "online"}
    for path, data in (
        ("/public/disclosures/new", body),
        (f"/public/disclosures/{request_id}/correction", {"correction": "补正"}),
        ("/public/logout", {}),
    ):
        for token in (None, "wrong-token"):
            sent = data | ({"csrf_token": token} if token else {})
            answer = client.post(path, data=sent, follow_redirects=False)
            assert answer.status_code == 403, (path, token)
            assert "csrf" in answer.text
    with portal.wired.sessions() as session:
        assert len(session.scalars(select(DisclosureRequest)).all()) == 1
        assert session.get(DisclosureRequest, request_id).status == "awaiting_correction"  # type: ignore[union-attr]
    assert client.get("/public/disclosures").status_code == 200  # still signed in


def test_sign_in_and_out_at_the_public_door(portal: Portal) -> None:
    register(portal)
    client = _client(portal)
    form = client.get("/public/login")
    cookie = next(c for c in form.headers.get_list("set-cookie") if c.startswith("csrf_public_login="))
    assert (
        "path=/public" in cookie.lower()
        and "samesite=strict" in cookie.lower()
        and "httponly" in cookie.lower()
    )
    staff = client.post(
        "/public/login",
        data={"username": "archivist", "password": PASSWORD, "csrf_token": _csrf(form)},
        follow_redirects=False,
    )
    assert staff.status_code == 401 and 'id="login-error"' in staff.text
    answer = client.post(
        "/public/login",
        data={
            "username": "zhangsan",
            "password": APPLICANT_PASSWORD,
            "csrf_token": _csrf(form),
            "next": "//evil",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/public/disclosures"
    session_cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith("casevault_public=")
    )
    assert "path=/public" in session_cookie.lower() and "httponly" in session_cookie.lower()
    assert "secure" in session_cookie.lower()
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")  # not staff
    mine = client.get("/public/disclosures")
    assert mine.status_code == 200 and "已登录：张三" in mine.text
    out = client.post("/public/logout", data={"csrf_token": _csrf(mine)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/public/login"
    again = client.get("/public/disclosures/1", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"] == "/public/login?next=%2Fpublic%2Fdisclosures%2F1"


def test_a_request_from_form_to_reply_through_the_pages(portal: Portal) -> None:
    client = _client(portal)
    assert _register_by_page(client).headers["location"] == "/public/disclosures/new?registered=1"
    form = client.get("/public/disclosures/new?registered=1")
    assert "注册成功" in form.text
    empty = client.post(
        "/public/disclosures/new",
        data={"csrf_token": _csrf(form), "case_no": CASE_NO, "description": " "},
        follow_redirects=False,
    )
    assert empty.status_code == 422
    for name in ("relation", "description", "delivery"):
        assert f'id="{name}-error"' in empty.text, name
    assert re.search(r'id="description"[^>]*aria-invalid="true"', empty.text)
    assert f'value="{CASE_NO}"' in empty.text
    sent = client.post(
        "/public/disclosures/new",
        data={
            "csrf_token": _csrf(form),
            "relation": "interested_party",
            "case_no": CASE_NO,
            "description": "请求公开现场检查录像。",
            "delivery": "online",
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303
    found = re.fullmatch(r"/public/disclosures/(\d+)", sent.headers["location"])
    assert found
    request_id = int(found.group(1))
    track = client.get(sent.headers["location"])
    with portal.wired.sessions() as session:
        row = session.get(DisclosureRequest, request_id)
        assert row is not None and row.relation == "interested_party"
        calendar = workdays.load_calendar(session)
    assert row.tracking_code in track.text and "已受理，办理中" in track.text
    assert f'id="received-on">{row.received_on.isoformat()}<' in track.text
    assert f'id="due-on">{row.due_on.isoformat()}' in track.text  # type: ignore[union-attr]
    left = workdays.working_days_left(calendar, today=today_cst(), due_on=row.due_on)  # type: ignore[arg-type]
    assert f"还剩 {left} 个工作日" in track.text
    assert "110************02X" in track.text and ID_A not in track.text
    assert row.tracking_code in client.get("/public/disclosures").text
    # The correction notice, answered on the page.
    ask_correction(portal, request_id)
    track = client.get(f"/public/disclosures/{request_id}")
    assert "待补正" in track.text and "请写明所需录像的拍摄日期和地点。" in track.text
    assert '<label for="correction">' in track.text and "暂停计算" in track.text
    blank = client.post(
        f"/public/disclosures/{request_id}/correction",
        data={"csrf_token": _csrf(track), "correction": ""},
        follow_redirects=False,
    )
    assert blank.status_code == 422 and re.search(r'id="correction-error"[^>]*>此项必填', blank.text)
    assert re.search(r'id="correction"[^>]*aria-describedby="correction-hint correction-error"', blank.text)
    answered = client.post(
        f"/public/disclosures/{request_id}/correction",
        data={"csrf_token": _csrf(track), "correction": "录像拍摄于 2026 年 3 月 4 日。"},
        follow_redirects=False,
    )
    assert answered.status_code == 303
    track = client.get(answered.headers["location"])
    assert "补正已提交" in track.text and "已受理，办理中" in track.text and "提交补正" in track.text
    # The reply, the released items, and the letter.
    decide(
        portal, request_id, decision="partly_released", record_ids=("v1",), basis="art15_commercial_privacy"
    )
    track = client.get(f"/public/disclosures/{request_id}")
    assert "已答复" in track.text and 'id="decision">部分公开<' in track.text
    assert "第十五条" in track.text and 'id="release-until"' in track.text
    item_id = re.search(rf"/public/disclosures/{request_id}/items/(\d+)\"", track.text).group(1)  # type: ignore[union-attr]
    viewer = client.get(f"/public/disclosures/{request_id}/items/{item_id}")
    content = f"/public/disclosures/{request_id}/items/{item_id}/file"
    assert viewer.status_code == 200 and f'<video controls preload="metadata" src="{content}"' in viewer.text
    played = client.get(content)
    assert played.status_code == 200 and played.headers["content-type"] == "video/mp4"
    downloaded = client.get(f"{content}?download=1")
    assert downloaded.headers["content-disposition"].startswith("attachment;")
    assert downloaded.content == played.content
    letter = client.get(f"/public/disclosures/{request_id}/letter")
    assert letter.status_code == 200 and "政府信息公开申请答复告知书" in letter.text
    assert "第十五条" in letter.text and "第三十七条" in letter.text
    assert "60日内" in letter.text and "申请行政复议" in letter.text
    assert "6个月内依法向人民法院提起行政诉讼" in letter.text
    english = client.get(f"/public/disclosures/{request_id}/letter?lang=en")
    assert (
        "administrative reconsideration" in english.text
        and "within 60 days" in english.text
        and "within 6 months" in english.text
    )
    _no_raw_keys(english.text)
    views = ledger(portal, action="disclosure.release.view", actor="zhangsan")
    assert [e.detail["download"] for e in views] == [False, True]


def test_pages_after_the_release_period(portal: Portal) -> None:
    _headers, request_id, body = _released(portal)
    set_clock(portal, datetime.fromisoformat(body["release_until"]) + timedelta(hours=1))
    client = _signed_in_client(portal, "zhangsan")
    track = client.get(f"/public/disclosures/{request_id}")
    assert 'id="release-ended"' in track.text and "/items/" not in track.text
    item_id = body["items"][0]["id"]
    viewer = client.get(f"/public/disclosures/{request_id}/items/{item_id}")
    assert viewer.status_code == 403 and "提供期限已经结束" in viewer.text and "release-period" in viewer.text
    fetched = client.get(f"/public/disclosures/{request_id}/items/{item_id}/file")
    assert fetched.status_code == 403
    refused = ledger(portal, action="disclosure.release.view", outcome="denied")
    assert len(refused) == 2 and all(e.detail["rule"] == "release-period" for e in refused)


def test_pages_of_another_applicants_request_are_not_found(portal: Portal) -> None:
    owner = applicant(portal, "zhangsan", ID_A)
    applicant(portal, "lisi", ID_B)
    request_id = filed(portal, owner)["id"]
    decide(portal, request_id)
    client = _signed_in_client(portal, "lisi")
    for path in (
        f"/public/disclosures/{request_id}",
        f"/public/disclosures/{request_id}/letter",
        f"/public/disclosures/{request_id}/items/1",
        f"/public/disclosures/{request_id}/items/1/file",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "张三" not in answer.text and "未找到" in answer.text


def test_consultation_and_withdrawal_are_shown_in_words_without_the_third_party(portal: Portal) -> None:
    headers = applicant(portal)
    past, now = datetime.now(UTC) - timedelta(days=40), datetime.now(UTC)
    with portal.wired.sessions() as session:  # filed 40 days ago (tokens cannot be minted in the past)
        calendar = workdays.load_calendar(session)
        owner = session.scalar(select(User).where(User.username == "zhangsan"))
        assert owner is not None
        lapsed = applicant_side.submit_request(
            session,
            subject=subject_of(owner),
            context=Context(now=past),
            calendar=calendar,
            relation="party",
            case_no=CASE_NO,
            description="现场检查录像",
            delivery="online",
        ).id
        session.commit()
    ask_correction(portal, lapsed, now=past + timedelta(hours=1))
    with portal.wired.sessions() as session:
        sweeps.expire_corrections(session, now=now, calendar=calendar)
        session.commit()
    current = filed(portal, headers)["id"]
    as_officer(portal, office_side.assign, current, now=now, officer=OFFICER)
    third_party = "某商业管理有限公司（第三方）"
    as_officer(portal, office_side.start_consultation, current, now=now, calendar=calendar, party=third_party)
    body = portal.client.get(f"{API}/disclosures/{current}", headers=headers)
    assert body.json()["status"] == "in_consultation" and body.json()["consultation"]["until"]
    assert third_party not in body.text
    client = _signed_in_client(portal, "zhangsan")
    page = client.get(f"/public/disclosures/{current}")
    assert "征求第三方意见中" in page.text and "不计入答复期限" in page.text
    assert third_party not in page.text
    gone = client.get(f"/public/disclosures/{lapsed}")
    assert "视为放弃申请" in gone.text and 'id="correction"' not in gone.text
    assert "Deemed withdrawn" in client.get(f"/public/disclosures/{lapsed}?lang=en").text
    assert portal.client.get(f"{API}/disclosures/{lapsed}", headers=headers).json()["status"] == "withdrawn"


def test_the_api_wants_the_csrf_header_when_called_with_the_session_cookie(portal: Portal) -> None:
    register(portal)
    client = _signed_in_client(portal, "zhangsan")
    body = {"relation": "party", "description": "现场检查录像", "delivery": "paper"}
    refused = client.post(f"{API}/disclosures", json=body)
    assert refused.status_code == 403 and refused.json()["detail"]["rule"] == "csrf"
    token = _csrf(client.get("/public/disclosures"))
    sent = client.post(f"{API}/disclosures", json=body, headers={"X-CSRF-Token": token})
    assert sent.status_code == 201
    assert client.get(f"{API}/disclosures").json()["requests"][0]["id"] == sent.json()["id"]


def test_the_public_api_is_described_in_openapi(portal: Portal) -> None:
    document = portal.client.get("/public/openapi.json")
    assert document.status_code == 200
    paths = document.json()["paths"]
    assert set(paths) == {
        "/api/v1/register",
        "/api/v1/token",
        "/api/v1/disclosures",
        "/api/v1/disclosures/{request_id}",
        "/api/v1/disclosures/{request_id}/correction",
        "/api/v1/disclosures/{request_id}/withdrawal",
        "/api/v1/disclosures/{request_id}/items/{item_id}",
        "/api/v1/recorded-activities",
        "/api/v1/disclosure-statistics",
        "/api/v1/ledger/checkpoints",
        "/api/v1/ledger/consistency",
        "/api/v1/ledger/key",
    }
    schemas = document.json()["components"]["schemas"]
    assert schemas["RegisterBody"]["additionalProperties"] is False


def test_an_applicant_withdraws_a_request_not_yet_answered(portal: Portal) -> None:
    headers = applicant(portal)
    other = applicant(portal, "lisi", ID_B)
    first, second = filed(portal, headers)["id"], filed(portal, headers)["id"]
    foreign = portal.client.post(f"{API}/disclosures/{first}/withdrawal", json={}, headers=other)
    assert foreign.status_code == 404
    gone = portal.client.post(
        f"{API}/disclosures/{first}/withdrawal", json={"reason": "已通过其他途径取得"}, headers=headers
    )
    assert gone.status_code == 200 and gone.json()["status"] == "withdrawn" and gone.json()["due_on"] is None
    assert gone.json()["messages"][-1]["kind"] == "withdrawn_by_applicant"
    again = portal.client.post(f"{API}/disclosures/{first}/withdrawal", json={}, headers=headers)
    assert again.status_code == 409
    (entry,) = ledger(portal, action="disclosure.withdraw", outcome="allowed")
    assert entry.actor == "zhangsan" and entry.detail["request"] == first
    with portal.wired.sessions() as session:
        officer = session.scalar(select(User).where(User.username == OFFICER))
        assert officer is not None
        queue = office_side.queue(
            session,
            subject=subject_of(officer),
            context=Context(now=datetime.now(UTC)),
            calendar=workdays.load_calendar(session),
        )
    assert [v.id for v in queue] == [second]
    # The page's button, with the session's CSRF token (and refused without it).
    client = _signed_in_client(portal, "zhangsan")
    page = client.get(f"/public/disclosures/{second}")
    assert 'id="withdraw"' in page.text
    assert client.post(f"/public/disclosures/{second}/withdrawal", data={}).status_code == 403
    done = client.post(
        f"/public/disclosures/{second}/withdrawal", data={"csrf_token": _csrf(page)}, follow_redirects=False
    )
    assert done.status_code == 303
    shown = client.get(f"/public/disclosures/{second}")
    assert "已撤回" in shown.text and 'id="withdraw"' not in shown.text
    decide(portal, filed(portal, headers)["id"], decision="not_exist", record_ids=())
    answered = portal.client.get(f"{API}/disclosures", headers=headers).json()["requests"][0]
    late = portal.client.post(f"{API}/disclosures/{answered['id']}/withdrawal", json={}, headers=headers)
    assert late.status_code == 409


def test_input_the_database_cannot_hold_is_422_never_a_stack_trace(portal: Portal) -> None:
    auditor = portal.as_role("security_auditor")
    nul_login = portal.client.post("/api/v1/token", data={"username": "archi\x00vist", "password": "x"})
    assert nul_login.status_code == 401
    assert portal.client.get("/api/v1/ledger", params={"before": 10**30}, headers=auditor).status_code == 422
    assert portal.client.get(f"/api/v1/ledger/entries/{10**30}/proof", headers=auditor).status_code == 422
    for params in ({"actor": "a\x00b"}, {"since": "0001-01-01T00:00:00+08:00"}):
        answer = portal.client.get("/api/v1/ledger", params=params, headers=auditor)
        assert answer.status_code in (200, 422), answer.text  # SQLite stores a NUL; PostgreSQL cannot
    far = portal.client.get(
        "/api/v1/retrievals", params={"to": "9999-12-31"}, headers=portal.as_role("archivist")
    )
    assert far.status_code in (200, 422), far.text
