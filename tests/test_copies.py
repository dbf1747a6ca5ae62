"""Watermarked download copies: only under a download grant, fingerprinted, traceable, ledgered."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from access import copy_jobs
from access import watermarks as copies
from access.copy_jobs import Busy
from access.ledger import LedgerEntry
from access.models import RetrievalGrant, User
from access.watermarks import Copy, Source, Stamp
from archive import jobs
from archive.errors import Refused
from archive.models import BundleFile
from portal.worker import Worker
from tests.support.portal import Portal
from tests.support.retrieval import approved, content, entries, rendition_ready

pytestmark = [
    pytest.mark.store("file"),
]


def base(portal: Portal, record_id: str) -> str:
    """The record's URL prefix."""
    return f"/api/v1/bundles/{portal.bundle_id}/records/{record_id}"


def start(portal: Portal, record_id: str, role: str = "supervisor") -> Any:
    """POST a copy job."""
    return portal.client.post(f"{base(portal, record_id)}/copies", headers=portal.as_role(role))


def wait_ready(portal: Portal, job_id: str, role: str = "supervisor") -> tuple[dict[str, Any], list[float]]:
    """Poll a job until it is no longer being prepared; its last status and the progress seen."""
    seen: list[float] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = portal.client.get(f"/api/v1/copies/{job_id}", headers=portal.as_role(role)).json()
        seen.append(status["progress"])
        if status["status"] not in ("queued", "preparing"):
            return status, seen
        time.sleep(0.05)
    raise AssertionError("the copy was not ready within 120 s")


def ffprobe_comment(path: Path) -> str | None:
    """The MP4's format comment tag as ffprobe reads it."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format_tags=comment", "-of", "json", str(path)],
        capture_output=True,
        check=True,
    )
    return json.loads(out.stdout)["format"].get("tags", {}).get("comment")


def frame(path: Path) -> bytes:
    """One decoded frame (1 s in), as raw RGB bytes."""
    return subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-ss",
            "1",
            "-i",
            str(path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout


def stored_sha(portal: Portal, record_path_end: str) -> str:
    """The recorded SHA-256 of a stored original."""
    with portal.wired.sessions() as session:
        files = session.scalars(select(BundleFile).where(BundleFile.bundle_id == portal.bundle_id)).all()
        return next(f.sha256 for f in files if f.path.endswith(record_path_end))


# --- who may have a copy ---------------------------------------------------------------------


def test_view_only_grant_gives_no_copy(portal: Portal) -> None:
    approved(portal, actions=["view"])
    job = start(portal, "v1")
    assert job.status_code == 403 and job.json()["detail"]["rule"] == "grant"
    direct = portal.client.get(f"{base(portal, 'd1')}/copy", headers=portal.as_role("supervisor"))
    assert direct.status_code == 403
    denied = [e for e in entries(portal, "record.download") if e.outcome == "denied"]
    assert len(denied) == 2


@pytest.mark.parametrize("role", ["disclosure_officer", "security_auditor", "sysadmin"])
def test_roles_without_download_get_no_copy(portal: Portal, role: str) -> None:
    assert start(portal, "d1", role=role).status_code == 403


# --- footage ---------------------------------------------------------------------------------


def test_footage_copy_is_watermarked_fingerprinted_and_ledgered(portal: Portal, tmp_path: Path) -> None:
    approved(portal, actions=["view", "download"])
    started = start(portal, "v1")
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    assert len(job_id) >= 32 and started.headers["location"] == f"/api/v1/copies/{job_id}"
    assert (
        portal.client.get(f"/api/v1/copies/{job_id}", headers=portal.as_role("archivist")).status_code == 404
    )

    status, seen = wait_ready(portal, job_id)
    assert status["status"] == "ready", status
    assert status["progress"] == 1.0 and all(0.0 <= p <= 1.0 for p in seen) and seen == sorted(seen)
    assert status["download_url"] == f"/api/v1/copies/{job_id}/file"

    response = portal.client.get(status["download_url"], headers=portal.as_role("supervisor"))
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(response.content)
    fingerprint = response.headers["x-casevault-fingerprint"]
    assert len(fingerprint) == 32 and int(fingerprint, 16) >= 0
    assert ffprobe_comment(copy) == f"casevault:{fingerprint}"

    original = portal.client.get(f"{base(portal, 'v1')}/content", headers=portal.as_role("archivist")).content
    assert hashlib.sha256(original).hexdigest() == stored_sha(portal, ".mp4")  # never altered
    source = tmp_path / "original.mp4"
    source.write_bytes(original)
    assert frame(copy) != frame(source)  # the mark is burned into the picture

    again = portal.client.get(status["download_url"], headers=portal.as_role("supervisor"))
    assert again.status_code == 410

    steps = [e for e in entries(portal, "record.download") if e.actor == "supervisor"]
    assert [e.outcome for e in steps] == ["preparing", "delivered"]
    delivered = steps[-1].detail
    assert delivered["fingerprint"] == fingerprint and steps[0].detail["fingerprint"] == fingerprint
    assert delivered["copy_sha256"] == hashlib.sha256(response.content).hexdigest()
    assert delivered["grant"] and delivered["department"] == "legal"


def test_revoked_between_preparing_and_fetching_gives_nothing(portal: Portal) -> None:
    request_id = approved(portal, actions=["view", "download"])
    job_id = start(portal, "d1").json()["job_id"]
    status, _ = wait_ready(portal, job_id)
    assert status["status"] == "ready"
    revoked = portal.client.post(
        f"/api/v1/retrievals/{request_id}/revoke",
        json={"reason": "撤回"},
        headers=portal.as_role("archive_manager"),
    )
    assert revoked.status_code == 200
    fetched = portal.client.get(status["download_url"], headers=portal.as_role("supervisor"))
    assert fetched.status_code == 403 and fetched.json()["detail"]["rule"] == "grant"


# --- PDFs ------------------------------------------------------------------------------------


def test_pdf_copy_is_stamped_on_every_page(portal: Portal) -> None:
    approved(portal, actions=["view", "download"])
    response = portal.client.get(f"{base(portal, 'd1')}/copy", headers=portal.as_role("supervisor"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert "attachment" in response.headers["content-disposition"]
    reader = PdfReader(io.BytesIO(response.content))
    fingerprint = response.headers["x-casevault-fingerprint"]
    assert reader.metadata is not None and reader.metadata["/CasevaultFingerprint"] == fingerprint
    for page in reader.pages:
        text = page.extract_text()
        assert "supervisor" in text and "法制" in text and fingerprint in text
    viewed = portal.client.get(f"{base(portal, 'd1')}/content", headers=portal.as_role("supervisor")).content
    assert hashlib.sha256(viewed).hexdigest() != stored_sha(portal, "审查意见.pdf")  # never the original
    entry = [e for e in entries(portal, "record.download") if e.outcome == "delivered"][-1]
    assert entry.detail["copy_sha256"] == hashlib.sha256(response.content).hexdigest()


def test_every_page_of_a_long_pdf_carries_the_stamp(tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    source = tmp_path / "long.pdf"
    sheet = canvas.Canvas(str(source), pagesize=(595, 842))
    for number in range(5):
        if number == 3:
            sheet.setPageSize((842, 595))  # one landscape page
        sheet.drawString(72, 500, f"page {number + 1}")
        sheet.showPage()
    sheet.save()
    stamp = Stamp("li.si", "李四", "监察", 42, datetime.now(copies.CHINA), copies.new_fingerprint())
    target = tmp_path / "copy.pdf"
    copies.watermark_pdf(source=source, target=target, stamp=stamp)
    reader = PdfReader(target)
    assert len(reader.pages) == 5
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert (
            f"page {number}" in text and "li.si" in text and "授权 #42" in text and stamp.fingerprint in text
        )
    assert copies.read_fingerprint(target) == stamp.fingerprint


def test_archive_staff_copy_by_role_without_a_grant(portal: Portal) -> None:
    response = portal.client.get(f"{base(portal, 'd2')}/copy", headers=portal.as_role("archivist"))
    assert response.status_code == 200
    assert "按职权调阅" in PdfReader(io.BytesIO(response.content)).pages[0].extract_text()


# --- tracing a leaked copy -------------------------------------------------------------------


def test_trace_names_the_grant_and_the_person(portal: Portal, cli: Any, tmp_path: Path) -> None:
    approved(portal, actions=["view", "download"])
    with portal.wired.sessions() as session:
        grant_id = session.scalar(select(RetrievalGrant.id))
    job_id = start(portal, "v1").json()["job_id"]
    status, _ = wait_ready(portal, job_id)
    video = tmp_path / "leaked.mp4"
    video.write_bytes(portal.client.get(status["download_url"], headers=portal.as_role("supervisor")).content)
    pdf = tmp_path / "leaked.pdf"
    pdf.write_bytes(
        portal.client.get(f"{base(portal, 'd1')}/copy", headers=portal.as_role("supervisor")).content
    )

    for path, record_id in ((video, "v1"), (pdf, "d1")):
        result = cli("trace", path)
        assert result.exit_code == 0, result.output
        assert f"grant        {grant_id}" in result.output
        assert "supervisor" in result.output and "department   法制" in result.output
        assert f"record {record_id}" in result.output and "matched by fingerprint" in result.output

    as_json = json.loads(cli("trace", pdf, "--json").output)
    assert as_json["found"] and as_json["grant_id"] == grant_id and as_json["username"] == "supervisor"

    stranger = tmp_path / "other.pdf"
    stranger.write_bytes(b"%PDF-1.4\n%%EOF\n")
    missing = cli("trace", stranger)
    assert missing.exit_code == 1 and "no casevault fingerprint found" in missing.output

    traces = entries(portal, "copy.trace")
    assert [e.outcome for e in traces] == ["found", "found", "found", "not-found"]
    assert traces[0].detail["traced_grant"] == grant_id and traces[0].actor.startswith("cli:")


def test_a_copy_without_its_fingerprint_is_found_by_its_sha256(portal: Portal) -> None:
    approved(portal, actions=["view", "download"])
    body = portal.client.get(f"{base(portal, 'd1')}/copy", headers=portal.as_role("supervisor")).content
    with portal.wired.sessions() as session:
        found = copies.find_copy(session, fingerprint=None, sha256=hashlib.sha256(body).hexdigest())
        assert found is not None and found[0] == "sha256" and found[1].actor == "supervisor"
        assert copies.find_copy(session, fingerprint="0" * 32, sha256="1" * 64) is None
        assert session.scalar(select(LedgerEntry.seq).where(LedgerEntry.action == "copy.trace")) is None


# --- the job queue ---------------------------------------------------------------------------


def _queue(portal: Portal, owner: str, *, now: datetime | None = None) -> str:
    """Queue a copy of the demo PDF for a user (no worker takes it); its id."""
    wired = portal.wired
    with wired.sessions() as session:
        user = session.scalar(select(User).where(User.username == owner))
        assert user is not None
        stored = session.scalars(select(BundleFile).where(BundleFile.bundle_id == portal.bundle_id)).first()
        assert stored is not None
        source = Source(stored.key, stored.version_id, stored.sha256, stored.size, "x.pdf", "text")
        stamp = Stamp(owner, owner, "法制", None, wired.clock(), copies.new_fingerprint())
        job_id = copy_jobs.start(
            session,
            owner_id=user.id,
            bundle_id=portal.bundle_id,
            record_id="d1",
            source=source,
            stamp=stamp,
            now=now or wired.clock(),
        )
        session.commit()
    assert job_id is not None
    return job_id


def _seen_by(portal: Portal, job_id: str, owner: str, *, later: timedelta = timedelta()) -> Any:
    wired = portal.wired
    with wired.sessions() as session:
        user_id = session.scalar(select(User.id).where(User.username == owner))
        assert user_id is not None
        root = wired.settings.resolved_copies_dir
        return copy_jobs.get(session, job_id, owner_id=user_id, now=wired.clock() + later, root=root)


def test_jobs_are_private_and_expire_after_an_hour(portal: Portal) -> None:
    job_id = _queue(portal, "supervisor")
    assert len(job_id) >= 32
    mine = _seen_by(portal, job_id, "supervisor")
    assert mine is not None and mine.status == "queued" and mine.progress == 0.0
    assert _seen_by(portal, job_id, "archivist") is None
    assert _seen_by(portal, "guess", "supervisor") is None
    assert _seen_by(portal, job_id, "supervisor", later=timedelta(minutes=59)) is not None
    assert _seen_by(portal, job_id, "supervisor", later=timedelta(hours=1)) is None


def test_a_user_may_prepare_only_two_copies_at_once(portal: Portal) -> None:
    first = [_queue(portal, "supervisor") for _ in range(2)]
    with pytest.raises(Busy, match="copies"):
        _queue(portal, "supervisor")
    _queue(portal, "archivist")  # another user's copies count apart
    # over the API the third is 429, and nothing of it is queued or ledgered
    approved(portal, actions=["view", "download"])
    refused = start(portal, "d1")
    assert refused.status_code == 429 and refused.headers["retry-after"] == "30"
    with portal.wired.sessions() as session:
        depth = jobs.queue_depth(session)
    assert depth == {"copy": {"queued": 3}}
    assert [e.outcome for e in entries(portal, "record.download") if e.actor == "supervisor"] == []
    # an hour on, the stale ones count no more
    assert _queue(portal, "supervisor", now=portal.wired.clock() + timedelta(hours=1)) not in first


def test_a_failed_copy_says_why_and_is_not_tried_again(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_: Any) -> Copy:
        raise Refused("record: the PDF is encrypted; it cannot be stamped")

    monkeypatch.setattr(copies, "make_copy", broken)
    job_id = _queue(portal, "supervisor")
    assert Worker(portal.wired).run_one()
    job = _seen_by(portal, job_id, "supervisor")
    assert job is not None and job.status == "failed" and "encrypted" in (job.error or "")
    assert not Worker(portal.wired).run_one()  # nothing left to run
    assert list(portal.wired.settings.resolved_copies_dir.glob("job-*")) == []


# --- what a viewer receives ------------------------------------------------------------------


def sha(body: bytes) -> str:
    """SHA-256 of a body, in hex."""
    return hashlib.sha256(body).hexdigest()


def test_a_supervisor_views_pdfs_stamped_for_each_view_never_the_original(portal: Portal) -> None:
    approved(portal)  # view only
    with portal.wired.sessions() as session:
        grant_id = session.scalar(select(RetrievalGrant.id))
    sealed = stored_sha(portal, "审查意见.pdf")
    first, second = content(portal, "d1"), content(portal, "d1")
    ranged = content(portal, "d1", headers={"Range": "bytes=0-99"})
    for response in (first, second, ranged):
        assert response.status_code == 200, response.text  # a stamped view has no stable body: no 206
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["accept-ranges"] == "none" and "content-range" not in response.headers
        assert sha(response.content) != sealed
        fingerprint = response.headers["x-casevault-fingerprint"]
        for page in PdfReader(io.BytesIO(response.content)).pages:
            text = page.extract_text()
            assert "supervisor" in text and f"授权 #{grant_id}" in text and fingerprint in text
    assert len({r.headers["x-casevault-fingerprint"] for r in (first, second, ranged)}) == 3
    views = [e for e in entries(portal, "record.view") if e.actor == "supervisor"]
    assert [(e.outcome, e.detail["grant"]) for e in views] == [("allowed", grant_id)] * 3
    assert [e.detail["copy_sha256"] for e in views] == [sha(r.content) for r in (first, second, ranged)]
    with portal.wired.sessions() as session:  # a leaked view is traced like a leaked copy
        found = copies.find_copy(session, fingerprint=None, sha256=sha(second.content))
        assert found is not None and found[1].seq == views[1].seq


def test_a_supervisor_watches_footage_only_from_a_watermarked_rendition(
    portal: Portal, tmp_path: Path
) -> None:
    approved(portal)
    sealed = stored_sha(portal, ".mp4")
    preparing = content(portal, "v1")
    assert preparing.status_code == 202 and preparing.json()["status"] in ("queued", "preparing")
    url = f"{base(portal, 'v1')}/content"
    status = rendition_ready(portal, preparing)
    assert status["view_url"] == url and status["download_url"] is None  # watched, never downloaded
    file = portal.client.get(f"/api/v1/copies/{status['job_id']}/file", headers=portal.as_role("supervisor"))
    assert file.status_code == 409

    whole = content(portal, "v1")
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    assert sha(whole.content) != sealed
    seek = content(portal, "v1", headers={"Range": "bytes=1000-1999"})
    assert seek.status_code == 206 and seek.content == whole.content[1000:2000]
    assert seek.headers["content-range"] == f"bytes 1000-1999/{len(whole.content)}"
    tail = content(portal, "v1", headers={"Range": "bytes=-500"})
    assert tail.status_code == 206 and tail.content == whole.content[-500:]
    past = content(portal, "v1", headers={"Range": f"bytes={len(whole.content)}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(whole.content)}"
    assert content(portal, "v1").content == whole.content  # one rendition per grant: seeking is stable

    watched, source = tmp_path / "watched.mp4", tmp_path / "original.mp4"
    watched.write_bytes(whole.content)
    source.write_bytes(content(portal, "v1", role="archivist").content)
    assert sha(source.read_bytes()) == sealed
    fingerprint = whole.headers["x-casevault-fingerprint"]
    assert ffprobe_comment(watched) == f"casevault:{fingerprint}"
    assert frame(watched) != frame(source)  # the mark is burned into the picture

    views = [e for e in entries(portal, "record.view") if e.actor == "supervisor"]
    assert [e.outcome for e in views] == ["preparing", *["allowed"] * 3, "unsatisfiable", "allowed"]
    assert {e.detail["fingerprint"] for e in views} == {fingerprint}
    assert [e.detail.get("range") for e in views[1:]] == [
        None,
        "1000-1999",
        f"{len(whole.content) - 500}-{len(whole.content) - 1}",
        f"bytes={len(whole.content)}-",
        None,
    ]
    assert all(e.detail["copy_sha256"] == sha(whole.content) for e in views[1:])


def test_archive_staff_cleared_for_it_still_receive_the_original(portal: Portal) -> None:
    pdf = content(portal, "d1", role="archivist")
    assert pdf.status_code == 200 and sha(pdf.content) == stored_sha(portal, "审查意见.pdf")
    assert "x-casevault-fingerprint" not in pdf.headers
    seek = content(portal, "v1", role="archive_manager", headers={"Range": "bytes=10-19"})
    assert seek.status_code == 206 and len(seek.content) == 10
    whole = content(portal, "v1", role="archive_manager")
    assert sha(whole.content) == stored_sha(portal, ".mp4") and seek.content == whole.content[10:20]
    views = entries(portal, "record.view")
    assert [(e.actor, e.detail.get("original"), e.detail.get("range")) for e in views] == [
        ("archivist", True, None),
        ("archive-manager", True, "10-19"),
        ("archive-manager", True, None),
    ]


def test_a_disclosure_officer_is_not_cleared_for_the_original_and_sees_it_stamped(portal: Portal) -> None:
    viewed = content(portal, "d1", role="disclosure_officer")
    assert viewed.status_code == 200 and sha(viewed.content) != stored_sha(portal, "审查意见.pdf")
    assert "按职权调阅" in PdfReader(io.BytesIO(viewed.content)).pages[0].extract_text()


def test_a_rendition_that_fails_says_why_once_then_is_tried_again(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    approved(portal)

    def broken(**_: Any) -> Copy:
        raise Refused("record: no video stream to carry a visible watermark")

    monkeypatch.setattr(copies, "make_copy", broken)
    preparing = content(portal, "v1")
    assert preparing.status_code == 202
    url = preparing.json()["status_url"]
    deadline = time.monotonic() + 30
    while portal.client.get(url, headers=portal.as_role("supervisor")).json()["status"] != "failed":
        assert time.monotonic() < deadline, "the job did not fail"
        time.sleep(0.02)
    failed = content(portal, "v1")
    assert failed.status_code == 500 and "no video stream" in failed.json()["detail"]
    assert content(portal, "v1").status_code == 202  # a new job
    views = [e for e in entries(portal, "record.view") if e.actor == "supervisor"]
    assert [e.outcome for e in views] == ["preparing", "failed", "preparing"]
    assert views[0].detail["job"] != views[2].detail["job"]


def test_a_refused_range_tells_nothing_of_the_size(portal: Portal) -> None:
    refused = content(portal, "v1", headers={"Range": "bytes=999999999-"})  # no grant yet
    assert refused.status_code == 403 and "content-range" not in refused.headers
    assert [e.outcome for e in entries(portal, "record.view")] == ["denied"]
