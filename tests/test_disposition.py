"""Legal holds, appraisal, two-manager approval and destruction with a tombstone and a signed
certificate — on both databases and both stores."""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.orm import selectinload

from access import applicants, workdays
from access.disclosure import applicant_side
from access.ledger import LedgerEntry
from access.policy import Context
from archive.errors import ObjectMissing, RetentionLocked
from archive.models import Bundle
from archive.s3store import S3Store
from archive.seal import Keyring
from archive.store import FileStore, ObjectStore, put_bytes, read_bytes
from portal.app import create_public_only
from portal.cli.demo import case_document
from portal.internal.archive import operations
from portal.internal.retention import service as dispositions
from portal.settings import Settings
from portal.web.auth import subject_of
from portal.wiring import Wired, wire_public
from retention import holds
from retention.disposition import Tombstone, verify_certificate
from tests.support.disposition import OLD_CASE, WITNESSES
from tests.support.portal import PASSWORD, Portal
from tests.support.public import applicant, filed
from tests.support.roles import Roles, connecting_as
from tests.support.web import login_token, session_csrf


def _store(store_url: str) -> ObjectStore:
    if store_url.startswith("file://"):
        return FileStore(Path(store_url.removeprefix("file://")))
    store = S3Store(store_url, part_size=5 << 20)
    store.ensure_bucket()
    return store


def _versions(store: ObjectStore, key: str) -> list[Any]:
    """Every version of a key the store still holds (S3: delete markers too)."""
    if isinstance(store, S3Store):
        return [
            v
            for v in store.client.list_objects(store.location.bucket, prefix=key, include_version=True)
            if v.object_name == key
        ]
    assert isinstance(store, FileStore)
    return [key] if store.object_path(key).exists() else []


# --- the stores ----------------------------------------------------------------------------------


def test_destroy_refuses_while_locked_or_held_and_then_removes_every_version(store_url: str) -> None:
    store = _store(store_url)
    key = "bundles/b1/data/a.pdf"
    version = put_bytes(store, key, b"sealed", tags={})
    store.apply_retention(key, version_id=version, until=datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(RetentionLocked):
        store.destroy(key)
    assert read_bytes(store, key) == b"sealed"

    other = "bundles/b2/data/a.pdf"
    version = put_bytes(store, other, b"due", tags={})
    store.apply_retention(other, version_id=version, until=datetime(2001, 1, 1, tzinfo=UTC))
    store.set_legal_hold(other, version_id=version, on=True)
    assert store.legal_hold(other, version_id=version) is True
    with pytest.raises(RetentionLocked, match="legal hold"):
        store.destroy(other)
    assert read_bytes(store, other) == b"due"  # nor by the reconciler's path
    if isinstance(store, FileStore):
        (info,) = [i for i in store.list("bundles/b2/")]
        with pytest.raises(RetentionLocked, match="legal hold"):
            store.discard(info)
    store.set_legal_hold(other, version_id=version, on=False)
    assert store.destroy(other) == 1
    assert _versions(store, other) == []
    assert store.destroy(other) == 0  # a second run finds nothing and is no failure
    assert read_bytes(store, key) == b"sealed"


def test_s3_destroy_takes_every_version_and_delete_marker(s3_url: str) -> None:
    store = _store(s3_url)
    assert isinstance(store, S3Store)
    key = "bundles/b3/data/a.pdf"
    first = put_bytes(store, key, b"one", tags={})
    store.client.remove_object(store.location.bucket, key)  # a delete marker hides it
    # A second version under the same key, as a server without If-None-Match would let in.
    second = store.client.put_object(store.location.bucket, key, io.BytesIO(b"two"), 3).version_id
    for version in (first, second):
        store.apply_retention(key, version_id=version, until=datetime(2001, 1, 1, tzinfo=UTC))
    store.set_legal_hold(key, version_id=first, on=True)
    with pytest.raises(RetentionLocked):
        store.destroy(key)
    assert len(_versions(store, key)) == 3  # nothing went: the check comes before any removal
    store.set_legal_hold(key, version_id=first, on=False)
    assert store.destroy(key) == 3
    assert _versions(store, key) == []


# --- the workflow --------------------------------------------------------------------------------


def _bundles(portal: Portal, case_no: str) -> list[Bundle]:
    with portal.wired.sessions() as session:
        query = select(Bundle).where(Bundle.case.has(case_no=case_no)).order_by(Bundle.version)
        return list(session.scalars(query.options(selectinload(Bundle.files))))


def _as(portal: Portal, username: str) -> dict[str, str]:
    if username not in portal.tokens:
        response = portal.client.post("/api/v1/token", data={"username": username, "password": PASSWORD})
        portal.tokens[username] = response.json()["access_token"]
    return {"Authorization": f"Bearer {portal.tokens[username]}"}


def _propose(portal: Portal, case_no: str, **extra: Any) -> Any:
    body = {"case_nos": [case_no], "action": "destroy", "opinion": "保管期满，无继续保存价值", **extra}
    return portal.client.post("/api/v1/dispositions", json=body, headers=portal.as_role("archivist"))


def _approve(portal: Portal, list_id: int, manager: str, *, approve: bool = True, reason: str = "") -> Any:
    body = {"approve": approve, "reason": reason, "witnesses": WITNESSES if approve else []}
    return portal.client.post(
        f"/api/v1/dispositions/{list_id}/approvals", json=body, headers=_as(portal, manager)
    )


def _run(cli: Callable[..., Any], *args: str) -> dict[str, Any]:
    result = cli("retention", "run", "--json", *args)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def _keys(portal: Portal, case_no: str) -> list[tuple[str, str | None]]:
    return [(f.key, f.version_id) for b in _bundles(portal, case_no) for f in b.files]


def test_two_managers_approve_and_the_case_is_destroyed_with_tombstone_and_certificate(
    portal: Portal, due: str, cli: Callable[..., Any]
) -> None:
    listed = _run(cli, "--dry-run")
    assert {d["case_no"] for d in listed["due"]} == {due}
    assert len(listed["due"]) == 2 and listed["destroyed"] == []
    keys = _keys(portal, due)
    bundle_ids = [b.id for b in _bundles(portal, due)]

    created = _propose(portal, due)
    assert created.status_code == 201, created.text
    list_id = created.json()["id"]
    # The proposer is no manager; a manager cannot decide twice; one approval is not enough.
    assert _approve(portal, list_id, "archivist").status_code == 403
    assert _approve(portal, list_id, "archive-manager").json()["status"] == "proposed"
    again = _approve(portal, list_id, "archive-manager")
    assert again.status_code == 409 and "already decided" in again.text
    assert _run(cli, "--dry-run")["destroyed"] == []
    assert all(_versions(portal.wired.store, key) for key, _v in keys)  # nothing went yet
    assert _approve(portal, list_id, "archive-manager-2").json()["status"] == "approved"
    assert all(_versions(portal.wired.store, key) for key, _v in keys)  # a dry run carries out nothing

    ran = _run(cli)
    (done,) = ran["destroyed"]
    assert done["case_nos"] == [due] and done["certificate_no"].startswith("XH")
    assert ran["due"] == [] or all(d["case_no"] != due for d in _run(cli, "--dry-run")["due"])
    for key, _version in keys:
        assert _versions(portal.wired.store, key) == [], key
    for bundle_id in bundle_ids:
        assert list(portal.wired.store.list(f"bundles/{bundle_id}/")) == []

    # The tombstone and the certificate stay, and the certificate verifies against the JWKS.
    with portal.wired.sessions() as session:
        stones = list(session.scalars(select(Tombstone).where(Tombstone.case_no == due)))
    assert sorted(t.bundle_id for t in stones) == sorted(bundle_ids)
    assert {t.version for t in stones} == {1, 2}
    cert = portal.client.get(
        f"/api/v1/dispositions/{list_id}/certificate", headers=portal.as_role("security_auditor")
    )
    assert cert.status_code == 200, cert.text
    claims = verify_certificate(
        cert.json()["jws"], jwks=Keyring(portal.wired.settings.data_dir / "keys").jwks()
    )
    assert claims["certificate_no"] == done["certificate_no"]
    assert claims["witnesses"] == sorted(WITNESSES)
    assert [a["manager"] for a in claims["approvals"]] == ["archive-manager", "archive-manager-2"]
    (item,) = claims["items"]
    assert {b["seal_digest"] for b in item["bundles"]} == {t.seal_digest for t in stones}
    # Each names the schedule rule it was kept under (here the default term: no rule names it).
    assert all(b["rule"].startswith("default ") and "kept until" in b["rule"] for b in item["bundles"])
    assert {t.rule for t in stones} == {b["rule"] for b in item["bundles"]}
    forged = cert.json()["jws"].rsplit(".", 2)
    forged[1] = forged[1][:-4] + ("AAAA" if forged[1][-4:] != "AAAA" else "BBBB")
    with pytest.raises(ValueError):
        verify_certificate(".".join(forged), jwks=portal.wired.keyring.jwks())

    # verify says destroyed under the certificate and exits 0; --all reports it apart.
    one = cli("verify", bundle_ids[0])
    assert one.exit_code == 0, one.output
    assert f"under certificate {done['certificate_no']}" in one.output and "destroyed on" in one.output
    everything = cli("verify", "--all", "--json")
    assert everything.exit_code == 0, everything.output
    report = json.loads(everything.output)
    assert sorted(d["bundle_id"] for d in report["destroyed"]) == sorted(bundle_ids)
    assert [b["bundle_id"] for b in report["bundles"]] == [portal.bundle_id]

    found = portal.client.get("/api/v1/cases", headers=portal.as_role("archivist")).json()
    assert [(c["case_no"], c["certificate_no"]) for c in found["destroyed"]] == [
        (due, done["certificate_no"])
    ]
    assert due not in [c["case_no"] for c in found["cases"]]

    # Every step is in the ledger, and the chain is intact.
    with portal.wired.sessions() as session:
        actions = set(session.scalars(select(LedgerEntry.action)))
    assert {
        "disposition.propose",
        "disposition.approve",
        "disposition.execute",
        "disposition.read",
    } <= actions
    assert cli("ledger", "verify").exit_code == 0
    with portal.wired.sessions() as session, pytest.raises(DBAPIError, match="kept forever"):
        session.execute(Tombstone.__table__.delete())
        session.commit()


def test_a_hold_blocks_proposal_approval_and_destruction_and_sets_the_object_hold(
    portal: Portal, due: str, cli: Callable[..., Any]
) -> None:
    keys = _keys(portal, due)
    list_id = _propose(portal, due).json()["id"]
    placed = portal.client.post(
        "/api/v1/holds",
        json={"case_no": due, "mandate": "行政诉讼", "reason": "原告起诉，法院调卷"},
        headers=portal.as_role("archive_manager"),
    )
    assert placed.status_code == 201, placed.text
    hold_id = placed.json()["id"]
    assert all(portal.wired.store.legal_hold(k, version_id=v) for k, v in keys)
    if isinstance(portal.wired.store, S3Store):  # as the S3 API itself reports it
        store = portal.wired.store
        assert all(
            store.client.is_object_legal_hold_enabled(store.location.bucket, k, version_id=v) for k, v in keys
        )

    refused = _propose(portal, due)
    assert refused.status_code == 409 and due in refused.text and f"legal hold {hold_id}" in refused.text
    blocked = _approve(portal, list_id, "archive-manager")
    assert blocked.status_code == 409 and "legal hold" in blocked.text
    listed = _run(cli, "--dry-run")
    assert {tuple(d["held_by"]) for d in listed["due"]} == {(hold_id,)}

    # Lifted, the list goes on; held again after approval, the run destroys nothing.
    lifted = portal.client.post(
        f"/api/v1/holds/{hold_id}/lift", json={"reason": "诉讼终结"}, headers=portal.as_role("archivist")
    )
    assert lifted.status_code == 200 and lifted.json()["active"] is False
    assert not any(portal.wired.store.legal_hold(k, version_id=v) for k, v in keys)
    assert _approve(portal, list_id, "archive-manager").status_code == 200
    assert _approve(portal, list_id, "archive-manager-2").json()["status"] == "approved"
    placed = cli("holds", "place", "--case", due, "--mandate", "信访", "--reason", "信访人再次来访")
    assert placed.exit_code == 0, placed.output
    assert _run(cli)["destroyed"] == []
    assert all(_versions(portal.wired.store, k) for k, _v in keys)
    assert all(read_bytes(portal.wired.store, k, version_id=v) for k, v in keys[:1])
    listing = json.loads(cli("holds", "list", "--json").output)["holds"]
    assert [h["active"] for h in listing] == [True, False]
    assert portal.client.get("/api/v1/holds", headers=portal.as_role("supervisor")).status_code == 403


def test_a_case_not_yet_due_is_refused_naming_it(portal: Portal) -> None:
    with portal.wired.sessions() as session:
        case_no = session.get(Bundle, portal.bundle_id).case.case_no  # type: ignore[union-attr]
    refused = _propose(portal, case_no)
    assert refused.status_code == 409
    assert case_no in refused.json()["detail"] and "retained until" in refused.json()["detail"]


def test_one_refusal_ends_the_list_and_witnesses_are_required(portal: Portal, due: str) -> None:
    list_id = _propose(portal, due).json()["id"]
    no_witness = portal.client.post(
        f"/api/v1/dispositions/{list_id}/approvals",
        json={"approve": True, "reason": "", "witnesses": ["王五", "王五"]},
        headers=_as(portal, "archive-manager"),
    )
    assert no_witness.status_code == 422 and "witnesses" in no_witness.text
    refused = _approve(portal, list_id, "archive-manager", approve=False, reason="涉及未结信访")
    assert refused.json()["status"] == "refused"
    late = _approve(portal, list_id, "archive-manager-2")
    assert late.status_code == 409 and "refused" in late.text
    assert _propose(portal, due).status_code == 201  # a refused list no longer holds the case


def test_an_approved_extension_lengthens_every_lock_at_once(portal: Portal, due: str) -> None:
    list_id = _propose(portal, due, action="extend", years=10).json()["id"]
    _approve(portal, list_id, "archive-manager")
    assert _approve(portal, list_id, "archive-manager-2").json()["status"] == "executed"
    for bundle in _bundles(portal, due):
        assert bundle.retain_until > datetime.now(UTC)
        for stored in bundle.files:
            until = portal.wired.store.retained_until(stored.key, version_id=stored.version_id)
            assert until is not None and until >= bundle.retain_until - timedelta(seconds=1)


def _resident_id(first17: str) -> str:
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    return first17 + "10X98765432"[total % 11]


def test_an_open_disclosure_request_holds_its_case_until_it_closes(
    portal: Portal, due: str, cli: Callable[..., Any]
) -> None:
    wired = portal.wired
    with wired.sessions() as session:
        applicant = applicants.register_applicant(
            session,
            username="zhangsan",
            password=PASSWORD,
            name="张三",
            id_type="resident_id",
            id_number=_resident_id("11010119900307851"),
            phone="13800138000",
            email="zhangsan@example.cn",
            address="深圳市福田区示例路1号",
            id_number_key=wired.id_number_key,
            now=wired.clock(),
        )
        owner = subject_of(applicant.user)
        view = applicant_side.submit_request(
            session,
            subject=owner,
            context=Context(now=wired.clock()),
            calendar=workdays.load_calendar(session),
            relation="party",
            case_no=due,
            description="请公开本案处罚决定书",
            delivery="online",
        )
        session.commit()
    (hold,) = portal.client.get("/api/v1/holds", headers=portal.as_role("archivist")).json()["holds"]
    assert (hold["case_no"], hold["mandate"], hold["active"]) == (due, "disclosure_request", True)
    refused = _propose(portal, due)
    assert refused.status_code == 409 and f"legal hold {hold['id']}" in refused.text
    by_hand = portal.client.post(
        f"/api/v1/holds/{hold['id']}/lift", json={"reason": "r"}, headers=portal.as_role("archivist")
    )
    assert by_hand.status_code == 409  # it goes with the request, not by hand
    dispositions.housekeeping(wired)  # the serve loop sets the flags the public side could not reach
    keys = _keys(portal, due)
    assert all(wired.store.legal_hold(k, version_id=v) for k, v in keys)

    with wired.sessions() as session:
        applicant_side.withdraw_request(
            session,
            subject=owner,
            context=Context(now=wired.clock()),
            calendar=workdays.load_calendar(session),
            request_id=view.id,
        )
        session.commit()
    _run(cli)
    assert not any(wired.store.legal_hold(k, version_id=v) for k, v in keys)
    assert _propose(portal, due).status_code == 201


def _sign_in(portal: Portal, username: str) -> None:
    portal.client.cookies.clear()
    answer = portal.client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": login_token(portal), "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def _post(portal: Portal, path: str, data: dict[str, Any]) -> Any:
    return portal.client.post(path, data={"csrf_token": session_csrf(portal)} | data, follow_redirects=False)


@pytest.mark.store("file")
def test_the_pages_carry_a_list_from_appraisal_to_its_printed_certificate(
    portal: Portal, due: str, cli: Callable[..., Any]
) -> None:
    _sign_in(portal, "archivist")
    overview = portal.client.get("/retention")
    assert overview.status_code == 200 and due in overview.text and "保管期满的案卷" in overview.text
    forged = portal.client.post(
        "/retention/dispositions", data={"case_nos": due, "opinion": "o"}, follow_redirects=False
    )
    assert forged.status_code == 403  # no CSRF token, no list
    sent = _post(
        portal, "/retention/dispositions", {"case_nos": due, "action": "destroy", "opinion": "期满销毁"}
    )
    assert sent.status_code == 303, sent.text

    for manager in ("archive-manager", "archive-manager-2"):
        _sign_in(portal, manager)
        queue = portal.client.get("/retention")
        assert "待我审批的清单" in queue.text
        list_id = int(re.search(r'action="/retention/dispositions/(\d+)/approvals"', queue.text).group(1))  # type: ignore[union-attr]
        decided = _post(
            portal,
            f"/retention/dispositions/{list_id}/approvals",
            {"decision": "approve", "witness_1": WITNESSES[0], "witness_2": WITNESSES[1]},
        )
        assert decided.status_code == 303, decided.text
        assert "待我审批的清单" not in portal.client.get("/retention").text  # decided once only
    (done,) = _run(cli)["destroyed"]

    catalogue = portal.client.get("/?lang=zh")
    assert "已销毁的案卷" in catalogue.text and f"依销毁清册 {done['certificate_no']} 销毁" in catalogue.text
    listed = portal.client.get("/retention/certificates")
    assert done["certificate_no"] in listed.text
    printed = portal.client.get(f"/retention/certificates/{list_id}")
    assert printed.status_code == 200
    assert (
        "销毁清册" in printed.text and done["certificate_no"] in printed.text and WITNESSES[0] in printed.text
    )
    english = portal.client.get(f"/retention/certificates/{list_id}?lang=en")
    assert "Destruction certificate" in english.text and "Witnesses" in english.text


@pytest.mark.store("file")
def test_the_holds_page_places_lists_and_lifts(portal: Portal, due: str) -> None:
    _sign_in(portal, "archive-manager")
    placed = _post(
        portal, "/retention/holds", {"case_no": due, "mandate": "petition", "reason": "信访人来访"}
    )
    assert placed.status_code == 303, placed.text
    page = portal.client.get("/retention/holds")
    assert "冻结中" in page.text and "信访人来访" in page.text
    hold_id = int(re.search(r'action="/retention/holds/(\d+)/lift"', page.text).group(1))  # type: ignore[union-attr]
    assert "legal hold" in portal.client.get("/retention/holds?lang=en").text
    lifted = _post(portal, f"/retention/holds/{hold_id}/lift", {"reason": "已办结"})
    assert lifted.status_code == 303
    assert "已解除" in portal.client.get("/retention/holds?lang=zh").text


def test_the_serve_loop_carries_out_approved_destructions_once_a_day(portal: Portal, due: str) -> None:
    list_id = _propose(portal, due).json()["id"]
    _approve(portal, list_id, "archive-manager")
    _approve(portal, list_id, "archive-manager-2")
    keys = _keys(portal, due)
    dispositions.housekeeping(portal.wired)
    dispositions.housekeeping(portal.wired)  # the same day: no second run
    assert all(_versions(portal.wired.store, k) == [] for k, _v in keys)
    with portal.wired.sessions() as session:
        system = session.scalars(select(LedgerEntry).where(LedgerEntry.actor == "system")).all()
    runs = [e for e in system if e.action == "disposition.execute"]
    assert [(e.outcome, e.detail["certificate_no"][:2]) for e in runs] == [("destroyed", "XH")]
    assert len([e for e in system if e.action == "disposition.read"]) == 1


def test_the_filestore_refuses_destroying_an_object_whose_lock_it_cannot_read(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    key = "bundles/b4/data/a.pdf"
    put_bytes(store, key, b"sealed", tags={})
    store.apply_retention(key, version_id=None, until=datetime(2001, 1, 1, tzinfo=UTC))
    (tmp_path / "meta" / f"{key}.json").unlink()  # the sidecar lost: nobody can say the lock passed
    with pytest.raises(ObjectMissing):
        store.destroy(key)
    assert read_bytes(store, key) == b"sealed"
    leftover = tmp_path / "objects" / "bundles" / "b4" / ".incoming-x"
    leftover.write_bytes(b"half")
    assert store.destroy("bundles/b4/.incoming-x") == 1 and not leftover.exists()


@pytest.mark.store("file")
def test_two_runners_at_once_carry_a_list_out_once(portal: Portal, due: str) -> None:
    list_id = _propose(portal, due).json()["id"]
    _approve(portal, list_id, "archive-manager")
    _approve(portal, list_id, "archive-manager-2")
    start = threading.Barrier(2)
    results: list[dict[str, Any]] = []

    def runner() -> None:
        start.wait()
        with portal.wired.sessions() as session:
            context = Context(now=portal.wired.clock(), source="test")
            results.append(
                dispositions.run(
                    portal.wired, session, subject=dispositions.SYSTEM, context=context, dry_run=False
                )
            )

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(r["destroyed"]) for r in results) == [0, 1]
    with portal.wired.sessions() as session:
        assert len(session.scalars(select(Tombstone).where(Tombstone.case_no == due)).all()) == 2


@pytest.mark.store("file")
def test_the_holds_commands_name_what_is_wrong(portal: Portal, due: str, cli: Callable[..., Any]) -> None:
    wrong = cli("holds", "place", "--case", due, "--mandate", "好奇", "--reason", "r")
    assert wrong.exit_code == 2 and "mandate" in wrong.output and "行政复议" in wrong.output
    unknown = cli("holds", "place", "--case", "深民防罚〔1900〕1号", "--mandate", "信访", "--reason", "r")
    assert unknown.exit_code == 2 and "no archived case" in unknown.output
    by_hand = cli("holds", "place", "--case", due, "--mandate", "disclosure_request", "--reason", "r")
    assert by_hand.exit_code == 2  # only a disclosure request places that one
    placed = cli("holds", "place", "--case", due, "--mandate", "纪检监察", "--reason", "线索核查")
    assert placed.exit_code == 0, placed.output
    (hold,) = json.loads(cli("holds", "list", "--json").output)["holds"]
    assert cli("holds", "lift", str(hold["id"]), "--reason", "").exit_code == 2  # a reason is required
    assert cli("holds", "lift", str(hold["id"]), "--reason", "核查结束").exit_code == 0
    again = cli("holds", "lift", str(hold["id"]), "--reason", "again")
    assert again.exit_code == 2 and "was lifted" in again.output
    assert cli("holds", "lift", "999", "--reason", "r").exit_code == 2


@pytest.mark.only_on("postgresql", why="the roles the applications connect as are PostgreSQL's")
@pytest.mark.store("file")
def test_the_public_role_places_the_hold_of_a_request_and_reads_no_case_title(
    wired: Wired, settings: Settings, make_case: Callable[..., Path], request: pytest.FixtureRequest
) -> None:
    document = case_document(OLD_CASE)
    document["closed_at"] = "1990-06-30"
    operations.deposit(wired, folder=make_case(document), actor="test")
    granted: Roles = request.getfixturevalue("roles")  # scripts/db_roles.sql, as deployed
    public = request.getfixturevalue("role_engine")(granted.public)
    with pytest.raises(ProgrammingError, match="permission denied"), public.begin() as conn:
        conn.execute(text("SELECT title FROM cases"))
    public_wired = wire_public(connecting_as(settings, granted.public, owner=granted.owner))
    try:
        client = TestClient(create_public_only(public_wired), base_url="https://testserver")
        headers = applicant(SimpleNamespace(client=client))  # type: ignore[arg-type]
        filed(SimpleNamespace(client=client), headers, case_no=OLD_CASE)  # type: ignore[arg-type]
        client.close()
    finally:
        public_wired.engine.dispose()
    with wired.sessions() as session:
        (hold,) = holds.list_holds(session)
        assert (hold.case.case_no, hold.mandate, hold.active) == (OLD_CASE, "disclosure_request", True)
