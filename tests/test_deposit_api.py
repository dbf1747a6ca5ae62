"""`POST /api/v1/deposits`: a case folder as a ZIP (or uploaded with tus) sealed by the same path
as `casevault deposit` — the same answer, the same refusals word for word, nothing stored on a
refusal, hostile ZIPs refused, the size bounded, and a supplement only when asked for."""

from __future__ import annotations

import base64
import io
import json
import re
import stat
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from access.ledger import LedgerEntry
from archive.models import Bundle
from portal.cli.demo import case_document
from tests.support.portal import Portal
from tests.support.web import session_csrf, signed_in

pytestmark = pytest.mark.store("file")

ZIP = {"Content-Type": "application/zip"}
NEW_CASE = "深民防罚〔2026〕801号"


def zipped(folder: Path, *, top: str | None = None) -> bytes:
    """The folder as a ZIP, its files at the top (or under one folder `top`)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                archive.write(path, f"{top}/{name}" if top else name)
    return out.getvalue()


def hostile(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a duplicate name is what the test sends on purpose
        for info, data in entries:
            archive.writestr(info, data)
    return out.getvalue()


def bundles(portal: Portal) -> int:
    with portal.wired.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Bundle)))


def stored_keys(portal: Portal) -> list[str]:
    store = portal.wired.store
    return sorted(info.key for info in [*store.list(""), *store.list_pending("")])


def staged(portal: Portal) -> list[str]:
    """What is left in staging besides uploads (unpacked folders, received ZIPs)."""
    root = portal.wired.settings.resolved_staging_dir
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not p.is_relative_to(root / "uploads")
    )


def deposit(portal: Portal, body: bytes, *, query: str = "", role: str = "archivist") -> Any:
    return portal.client.post(
        f"/api/v1/deposits{query}", content=body, headers={**ZIP, **portal.as_role(role)}
    )


def test_a_zip_deposit_answers_what_the_cli_prints(
    portal: Portal, make_case: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    answer = deposit(portal, zipped(make_case(case_document(NEW_CASE))))
    assert answer.status_code == 201, answer.text
    sealed = answer.json()
    printed = json.loads(cli("deposit", make_case(case_document("深民防罚〔2026〕802号")), "--json").output)
    assert list(sealed) == list(printed)
    assert {k: type(v) for k, v in sealed.items()} == {k: type(v) for k, v in printed.items()}
    assert sealed["case_no"] == NEW_CASE and sealed["version"] == 1
    assert [sorted(f) for f in sealed["findings"]] == [sorted(f) for f in printed["findings"]]
    # the bundle is there to read, sealed by the caller, and the deposit is in the ledger as theirs
    detail = portal.client.get(f"/api/v1/bundles/{sealed['bundle_id']}", headers=portal.as_role("archivist"))
    assert detail.status_code == 200 and detail.json()["sealed_by"] == "archivist"
    with portal.wired.sessions() as session:
        entry = session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.bundle_id == sealed["bundle_id"], LedgerEntry.action == "bundle.deposit"
            )
        ).one()
    assert (entry.actor, entry.outcome) == ("archivist", "ok")
    assert staged(portal) == []


def test_a_zip_of_the_folder_itself_is_taken_too(portal: Portal, make_case: Callable[..., Path]) -> None:
    answer = deposit(portal, zipped(make_case(case_document(NEW_CASE)), top="案卷801"))
    assert answer.status_code == 201, answer.text


def test_a_refusal_names_the_path_in_the_cli_s_words_and_nothing_is_stored(
    portal: Portal, make_case: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    folder = make_case(case_document(NEW_CASE))
    (folder / "case.json").write_text(
        (folder / "case.json").read_text(encoding="utf-8").replace('"closed_at": "', '"closed_at": "x'),
        encoding="utf-8",
    )
    before, keys = bundles(portal), stored_keys(portal)
    answer = deposit(portal, zipped(folder))
    printed = cli("deposit", folder)
    assert printed.exit_code == 2
    assert answer.status_code == 422
    assert answer.json()["detail"] == printed.output.strip().removeprefix("casevault: ")
    assert answer.json()["detail"].startswith("case.json: closed_at: ")
    # a path named in case.json but missing: named the same way
    document = case_document(NEW_CASE)
    missing = make_case(document)
    (missing / document["records"][1]["path"]).unlink()
    answer = deposit(portal, zipped(missing))
    assert answer.status_code == 422
    assert answer.json()["detail"] == cli("deposit", missing).output.strip().removeprefix("casevault: ")
    assert (
        f"records[1].path: {document['records'][1]['path']!r} is named but missing" in answer.json()["detail"]
    )
    assert (bundles(portal), stored_keys(portal), staged(portal)) == (before, keys, [])


def _link(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


CASE_JSON = json.dumps(case_document(NEW_CASE), ensure_ascii=False).encode()
HOSTILE = {
    "traversal": (
        [("case.json", CASE_JSON), ("../evil.pdf", b"%PDF-1.4")],
        "../evil.pdf: the ZIP: must not contain",
    ),
    "absolute": (
        [("case.json", CASE_JSON), ("/etc/cron.d/x", b"x")],
        "/etc/cron.d/x: the ZIP: an absolute path",
    ),
    "drive": ([("case.json", CASE_JSON), ("C:/x.pdf", b"x")], "C:/x.pdf: the ZIP: an absolute path"),
    "symlink": (
        [("case.json", CASE_JSON), (_link("records/link.pdf"), b"/etc/passwd")],
        "records/link.pdf: symbolic",
    ),
    "duplicate": (
        [("case.json", CASE_JSON), ("case.json", CASE_JSON)],
        "case.json: the ZIP holds two entries",
    ),
    "backslash": ([("case.json", CASE_JSON), ("..\\evil.pdf", b"x")], "must use '/' separators only"),
    "not a zip": (None, "the ZIP: not a ZIP file"),
    "no case.json": ([("a/x.pdf", b"x"), ("b/y.pdf", b"y")], "case.json: missing at the top of the ZIP"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_zips_are_refused_naming_the_entry(portal: Portal, name: str) -> None:
    entries, said = HOSTILE[name]
    before, keys = bundles(portal), stored_keys(portal)
    body = b"PK\x03\x04 this is not a zip" if entries is None else hostile(entries)
    answer = deposit(portal, body)
    assert answer.status_code == 422, answer.text
    assert said in answer.json()["detail"]
    assert (bundles(portal), stored_keys(portal), staged(portal)) == (before, keys, [])
    assert not (portal.wired.settings.resolved_staging_dir.parent / "evil.pdf").exists()


def test_a_zip_bomb_and_a_body_beyond_the_maximum_are_413(portal: Portal) -> None:
    portal.wired.settings = portal.wired.settings.model_copy(update={"deposit_limit_bytes": 1 << 20})
    bomb = hostile([("case.json", CASE_JSON), ("records/zeros.pdf", b"\0" * (8 << 20))])
    assert len(bomb) < 1 << 20  # small to send, eight times the maximum unpacked
    answer = deposit(portal, bomb)
    assert answer.status_code == 413
    assert answer.json()["detail"] == (
        f"the ZIP: unpacks to {len(CASE_JSON) + (8 << 20)} bytes; a deposit may hold at most 1 MiB"
    )
    answer = deposit(portal, b"PK" + b"\0" * (2 << 20))
    assert answer.status_code == 413 and "at most 1 MiB" in answer.json()["detail"]
    assert staged(portal) == []


def test_an_already_sealed_case_is_409_unless_a_supplement_is_asked_for(
    portal: Portal, make_case: Callable[..., Path]
) -> None:
    body = zipped(make_case())  # the case the portal already holds, as version 1
    before, keys = bundles(portal), stored_keys(portal)
    answer = deposit(portal, body)
    assert answer.status_code == 409
    said = answer.json()["detail"]
    assert "already sealed as version 1" in said and portal.bundle_id in said and "version 2" in said
    assert (bundles(portal), stored_keys(portal)) == (before, keys)
    answer = deposit(portal, body, query="?supplement=true")
    assert answer.status_code == 201, answer.text
    assert answer.json()["version"] == 2


def test_the_cli_keeps_making_the_next_version_and_says_so(
    cli: Callable[..., Any], make_case: Callable[..., Path]
) -> None:
    first = cli("deposit", make_case())
    assert first.exit_code == 0 and "supplement" not in first.output
    second = cli("deposit", make_case())
    assert second.exit_code == 0
    assert (
        "supplement   made version 2 of 深民防罚〔2026〕12号; version 1 stays sealed as it was"
        in second.output
    )


def test_who_may_not_deposit_is_refused_before_the_body_and_ledgered(
    portal: Portal, make_case: Callable[..., Path]
) -> None:
    answer = deposit(portal, zipped(make_case(case_document(NEW_CASE))), role="supervisor")
    assert answer.status_code == 403 and answer.json()["detail"]["rule"]
    with portal.wired.sessions() as session:
        entry = session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq.desc()).limit(1)).one()
    assert (entry.actor, entry.action, entry.outcome) == ("supervisor", "bundle.deposit", "denied")
    assert staged(portal) == []


def test_other_bodies_are_refused_naming_what_is_wrong(portal: Portal) -> None:
    headers = portal.as_role("archivist")
    answer = portal.client.post(
        "/api/v1/deposits", content=b"x", headers={**headers, "Content-Type": "text/plain"}
    )
    assert answer.status_code == 415 and "application/zip" in answer.json()["detail"]
    answer = portal.client.post("/api/v1/deposits", json={}, headers=headers)
    assert answer.status_code == 422 and answer.json()["detail"].startswith("upload: ")
    answer = portal.client.post("/api/v1/deposits", json={"upload": "f" * 32}, headers=headers)
    assert answer.status_code == 404
    answer = portal.client.post("/api/v1/deposits", json={"uploads": "x"}, headers=headers)
    assert answer.status_code == 422 and answer.json()["detail"].startswith("uploads: ")


def _tus_upload(portal: Portal, data: bytes, *, path: str | None = None, role: str = "archivist") -> str:
    metadata = {"Upload-Metadata": "path " + base64.b64encode(path.encode()).decode()} if path else {}
    headers = {**portal.as_role(role), "Tus-Resumable": "1.0.0"}
    made = portal.client.post(
        "/api/v1/uploads", headers={**headers, "Upload-Length": str(len(data)), **metadata}
    )
    assert made.status_code == 201, made.text
    sent = portal.client.patch(
        made.headers["location"],
        content=data,
        headers={**headers, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )
    assert sent.status_code == 204, sent.text
    return str(made.json()["id"])


def test_a_zip_uploaded_with_tus_then_deposited_by_id(portal: Portal, make_case: Callable[..., Path]) -> None:
    upload = _tus_upload(portal, zipped(make_case(case_document(NEW_CASE))))
    answer = portal.client.post(
        "/api/v1/deposits", json={"upload": upload}, headers=portal.as_role("archivist")
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["case_no"] == NEW_CASE
    # the upload is gone once sealed
    again = portal.client.post(
        "/api/v1/deposits", json={"upload": upload}, headers=portal.as_role("archivist")
    )
    assert again.status_code == 404


@pytest.mark.parametrize("body", [{"upload": ""}, {"upload": "0" * 32}, {"uploads": []}, {"uploads": [""]}])
def test_an_empty_or_unknown_upload_id_is_refused_not_a_crash(portal: Portal, body: dict[str, Any]) -> None:
    answer = portal.client.post("/api/v1/deposits", json=body, headers=portal.as_role("archivist"))
    assert answer.status_code in (404, 422), answer.text
    assert "detail" in answer.json()


def test_a_folder_uploaded_file_by_file_then_deposited(
    portal: Portal, make_case: Callable[..., Path]
) -> None:
    folder = make_case()  # the case already sealed: first the 409, then the supplement
    ids = [
        _tus_upload(portal, p.read_bytes(), path=f"案卷/{p.relative_to(folder).as_posix()}")
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]
    headers = portal.as_role("archivist")
    answer = portal.client.post("/api/v1/deposits", json={"uploads": ids}, headers=headers)
    assert answer.status_code == 409 and "already sealed as version 1" in answer.json()["detail"]
    answer = portal.client.post(
        "/api/v1/deposits", json={"uploads": ids, "supplement": True}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["version"] == 2
    # another archivist's uploads are not theirs to deposit
    other = _tus_upload(portal, b"%PDF-1.4", path="x/case.json")
    answer = portal.client.post(
        "/api/v1/deposits", json={"uploads": [other]}, headers=portal.as_role("archive_manager")
    )
    assert answer.status_code == 404


def test_the_deposit_page_is_for_those_who_may_deposit(portal: Portal) -> None:
    signed_in(portal, "supervisor")
    refused = portal.client.get("/deposit")
    assert refused.status_code == 403 and "无法" in refused.text
    assert 'href="/deposit"' not in refused.text  # nor is it in their navigation
    portal.client.cookies.clear()
    signed_in(portal, "archivist")
    form = portal.client.get("/deposit")
    assert form.status_code == 200
    assert "归档案卷" in form.text and "webkitdirectory" in form.text and "/static/tus.min.js" in form.text
    assert 'href="/deposit"' in form.text
    english = portal.client.get("/deposit?lang=en")
    assert "Deposit a case" in english.text and "归档案卷" not in english.text
    # posted with nothing uploaded: said on the page, nothing stored
    empty = portal.client.post("/deposit", data={"csrf_token": session_csrf(portal)})
    assert empty.status_code == 422 and "upload: nothing was uploaded" in empty.text


def test_the_deposit_page_seals_what_was_uploaded_and_shows_the_findings(
    portal: Portal, make_case: Callable[..., Path]
) -> None:
    document = case_document(NEW_CASE)
    document["officers"] = []  # a finding of article 8
    folder = make_case(document)
    ids = [
        _tus_upload(portal, p.read_bytes(), path=f"c/{p.relative_to(folder).as_posix()}")
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]
    signed_in(portal, "archivist")
    sealed = portal.client.post("/deposit", data={"csrf_token": session_csrf(portal), "uploads": ids})
    assert sealed.status_code == 200, sealed.text
    assert f"案卷 {NEW_CASE} 已封存为第 1 版" in sealed.text
    found = re.search(r'id="bundle-link" href="/bundles/([0-9a-f]{32})"', sealed.text)
    assert found and portal.client.get(f"/bundles/{found.group(1)}").status_code == 200
    with portal.wired.sessions() as session:
        findings = session.get(Bundle, found.group(1)).findings  # type: ignore[union-attr]
    assert findings and all(f["message_zh"] in sealed.text for f in findings)
    assert "未列明执法人员姓名及执法证号" in sealed.text


def test_the_answers_are_the_ones_the_openapi_document_declares(
    portal: Portal, make_case: Callable[..., Path]
) -> None:
    doc = portal.client.get("/openapi.json").json()

    def problems(path: str, method: str, answer: Any) -> list[str]:
        declared = doc["paths"][path][method]["responses"][str(answer.status_code)]
        schema = declared["content"]["application/json"]["schema"] | {"components": doc["components"]}
        return [e.message for e in Draft202012Validator(schema).iter_errors(answer.json())]

    body = doc["paths"]["/api/v1/deposits"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/zip", "application/json"}
    sealed = deposit(portal, zipped(make_case(case_document(NEW_CASE))))
    assert sealed.status_code == 201 and problems("/api/v1/deposits", "post", sealed) == []
    again = deposit(portal, zipped(make_case(case_document(NEW_CASE))))
    assert again.status_code == 409 and problems("/api/v1/deposits", "post", again) == []
    made = portal.client.post(
        "/api/v1/uploads",
        headers={**portal.as_role("archivist"), "Tus-Resumable": "1.0.0", "Upload-Length": "1"},
    )
    assert made.status_code == 201 and problems("/api/v1/uploads", "post", made) == []
    assert {"head", "patch", "delete"} <= set(doc["paths"]["/api/v1/uploads/{upload_id}"])
