"""No active content from the archive: HTML, SVG and script records never run on either origin."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archive.compliance import active_kind
from portal.cli.demo import case_document
from portal.internal.archive import operations
from tests.support.portal import Portal
from tests.support.public import API, applicant, decide, filed
from tests.support.retrieval import approved, entries

pytestmark = pytest.mark.store("file")


SCRIPT = b"fetch('/api/v1/retrievals/1/decision', {method: 'POST', body: '{\"approve\": true}'})"
ACTIVE = {  # record id: (file name, bytes, what the finding calls it)
    "x1": ("evidence.html", b'<!doctype html><html><script src="../j1/content"></script></html>', "HTML"),
    "x2": ("evidence.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "SVG"),
    "x3": ("evidence.js", SCRIPT, "script"),
    # A harmless name does not hide markup: the first bytes are sniffed too.
    "x4": ("evidence.txt", b'notes\n<body onload="alert(1)"><iframe src=/ledger></iframe>', "HTML"),
}
SAFE = "d1"  # a PDF of the demo case


def _record(record_id: str, name: str) -> dict[str, Any]:
    return {
        "id": record_id,
        "path": f"records/{name}",
        "kind": "text",
        "doc_type": "evidence_collection",
        "stage": "investigation",
        "title": f"证据 {name}",
        "created_at": "2026-03-05T10:00:00+08:00",
        "classification": {"level": "none"},
    }


@pytest.fixture
def bundle_id(portal: Portal, make_case: Callable[..., Path]) -> str:
    """A second version of the demo case with the four active files added."""
    document = case_document()
    document["records"] += [_record(rid, name) for rid, (name, _, _) in ACTIVE.items()]
    folder = make_case(document)
    for name, data, _ in ACTIVE.values():
        (folder / "records" / name).write_bytes(data)
    return str(operations.deposit(portal.wired, folder=folder, actor="test")["bundle_id"])


def _assert_opaque(response: Any, data: bytes) -> None:
    assert response.status_code == 200, response.text
    assert response.content == data
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_deposit_warns_of_each_active_file(portal: Portal, bundle_id: str) -> None:
    body = portal.client.get(f"/api/v1/bundles/{bundle_id}", headers=portal.as_role("archivist")).json()
    found = {f["record_id"]: f for f in body["findings"] if f["article"] == 15}
    assert set(found) == set(ACTIVE)  # the PDFs and the footage raise nothing
    for record_id, (name, _, kind) in ACTIVE.items():
        assert found[record_id]["severity"] == "warning"
        assert name in found[record_id]["message"] and kind in found[record_id]["message"]
        assert "只提供下载" in found[record_id]["message_zh"]


@pytest.mark.parametrize("download", [False, True])
def test_the_internal_app_serves_active_records_only_as_sandboxed_attachments(
    portal: Portal, bundle_id: str, download: bool
) -> None:
    for record_id, (_, data, _) in ACTIVE.items():
        response = portal.client.get(
            f"/api/v1/bundles/{bundle_id}/records/{record_id}/content",
            params={"download": 1} if download else {},
            headers=portal.as_role("archivist"),
        )
        _assert_opaque(response, data)


def test_a_pdf_is_still_shown_inline(portal: Portal, bundle_id: str) -> None:
    shown = portal.client.get(
        f"/api/v1/bundles/{bundle_id}/records/{SAFE}/content", headers=portal.as_role("archivist")
    )
    assert shown.status_code == 200 and shown.headers["content-type"] == "application/pdf"
    assert shown.headers["content-disposition"].startswith("inline;")
    assert shown.headers["x-content-type-options"] == "nosniff"


def test_the_public_app_serves_released_active_files_only_as_sandboxed_attachments(
    portal: Portal, bundle_id: str
) -> None:
    headers = applicant(portal)
    request_id = filed(portal, headers)["id"]
    decide(portal, request_id, record_ids=(SAFE, *ACTIVE))
    body = portal.client.get(f"{API}/disclosures/{request_id}", headers=headers).json()
    by_name = {name: data for name, data, _ in ACTIVE.values()}
    served = 0
    for item in body["items"]:
        response = portal.client.get(item["url"], headers=headers)
        if item["filename"] in by_name:
            _assert_opaque(response, by_name[item["filename"]])
            served += 1
        else:
            assert response.headers["content-type"] == "application/pdf"
            assert response.headers["content-disposition"].startswith("inline;")
    assert served == len(ACTIVE)


def test_a_supervisor_is_refused_what_cannot_be_watermarked(portal: Portal, bundle_id: str) -> None:
    approved(portal, record_ids=["x4", "d1"])
    headers = portal.as_role("supervisor")
    refused = portal.client.get(f"/api/v1/bundles/{bundle_id}/records/x4/content", headers=headers)
    assert refused.status_code == 403 and refused.json()["detail"]["rule"] == "watermarked-view"
    assert "evidence.txt" in refused.json()["detail"]["reason"]
    assert (
        portal.client.get(f"/api/v1/bundles/{bundle_id}/records/d1/content", headers=headers).status_code
        == 200
    )
    [entry] = [e for e in entries(portal, "record.view") if e.record_id == "x4"]
    assert entry.actor == "supervisor" and entry.outcome == "unmarkable"


@pytest.mark.parametrize(
    ("name", "head", "kind"),
    [
        ("a.PDF", b"%PDF-1.7 <script>", None),  # a PDF's streams may hold anything: its type decides
        ("photo.png", b"\x89PNG\r\n\x1a\n<svg>", None),
        ("note.txt", b"plain words about <b>bold</b> claims", None),
        ("note.txt", b"\xef\xbb\xbf  <SVG xmlns='x'>", "SVG"),
        ("page.HTM", b"", "HTML"),
        ("tool.mjs", b"export {}", "script"),
        ("feed.xml", json.dumps({}).encode(), "XML"),
    ],
)
def test_active_content_is_known_by_name_or_by_its_first_bytes(
    name: str, head: bytes, kind: str | None
) -> None:
    assert active_kind(name, head) == kind
