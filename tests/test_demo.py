"""The demo `make run` sets up is consistent: its footage lasts as long as its metadata says, its
records are dated along the case's course, and the demo applicant has a request in progress."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from access.disclosure.models import DisclosureRequest
from portal.cli.demo import (
    DEMO_APPLICANT,
    DEMO_CASE_NO,
    DEMO_CLIP_SECONDS,
    case_document,
    recorded_seconds,
    write_sip,
)
from portal.settings import Settings
from portal.wiring import wire

STAGES = ("initiation", "investigation", "decision", "service", "archiving")


def _seconds(clip: Path) -> float:
    ffprobe = shutil.which("ffprobe")
    assert ffprobe is not None, "ffprobe comes with ffmpeg"
    out = subprocess.run(
        [ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "json", str(clip)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(json.loads(out)["format"]["duration"])


def _footage(document: dict[str, Any]) -> dict[str, Any]:
    (record,) = [r for r in document["records"] if r["kind"] == "av"]
    return record


def test_the_suite_clip_is_as_long_as_the_case_says(footage: Path) -> None:
    assert _seconds(footage) == pytest.approx(recorded_seconds(_footage(case_document())), abs=0.25)


def test_footage_made_for_a_case_is_as_long_as_its_metadata_says(tmp_path: Path) -> None:
    document = case_document(clip_seconds=3)
    record = _footage(document)
    assert recorded_seconds(record) == 3
    write_sip(tmp_path / "sip", document)
    assert _seconds(tmp_path / "sip" / record["path"]) == pytest.approx(3, abs=0.25)
    assert DEMO_CLIP_SECONDS >= 30, "the demo shows a recording worth watching"
    av = _footage(case_document(clip_seconds=DEMO_CLIP_SECONDS))["av"]
    assert av["started_at"] < av["ended_at"] <= av["stored_at"]


def test_records_are_dated_along_the_course_of_the_case() -> None:
    document = case_document()
    filed = datetime.fromisoformat(document["initiation"]["filed_at"] + "T00:00:00+08:00")
    closed = datetime.fromisoformat(document["closed_at"] + "T23:59:59+08:00")
    made = {r["id"]: datetime.fromisoformat(r["created_at"]) for r in document["records"]}
    assert all(filed <= moment <= closed for moment in made.values())
    by_stage = [[made[r["id"]] for r in document["records"] if r["stage"] == stage] for stage in STAGES]
    for earlier, later in itertools.pairwise(by_stage):
        assert max(earlier) <= min(later)
    texts = [r["created_at"] for r in document["records"] if r["kind"] == "text"]
    assert len(set(texts)) == len(texts), "no two documents made at one moment"


@pytest.mark.store("file")
@pytest.mark.only_on("sqlite", why="what the demo sets up does not depend on the database")
def test_demo_sets_up_a_request_in_progress_once(cli, settings: Settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("portal.cli.demo.DEMO_CLIP_SECONDS", 2)  # the demo's own length is checked above
    assert cli("migrate").exit_code == 0
    first = cli("demo")
    assert first.exit_code == 0, first.output
    assert "demo disclosure request GK" in first.output
    again = cli("demo")
    assert again.exit_code == 0 and "demo disclosure request" not in again.output
    folder = settings.data_dir / "demo-sip"
    document = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    record = _footage(document)
    assert _seconds(folder / record["path"]) == pytest.approx(recorded_seconds(record), abs=0.25)
    wired = wire(settings)
    try:
        with wired.sessions() as session:
            (request,) = session.scalars(select(DisclosureRequest)).all()
            assert request.applicant.user.username == DEMO_APPLICANT["username"]
            assert request.case_no == DEMO_CASE_NO
            assert request.status == "received" and request.assignee is not None
            assert request.assignee.username == "officer"
            assert [m.kind for m in request.messages] == ["message"]
    finally:
        wired.engine.dispose()
