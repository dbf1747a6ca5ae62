"""Compliance findings against the whole-process-recording rules (archive.compliance)."""

from __future__ import annotations

from typing import Any

import pytest

from archive.compliance import Finding, check_case
from archive.sip import CaseFile


def _text(record_id: str, doc_type: str, stage: str) -> dict[str, Any]:
    """A text record of the given doc_type and stage."""
    return {
        "id": record_id,
        "path": f"records/{record_id}.pdf",
        "kind": "text",
        "doc_type": doc_type,
        "stage": stage,
        "title": f"{doc_type} {record_id}",
        "created_at": "2026-03-02T09:00:00+08:00",
        "classification": {"level": "none"},
    }


def _complete() -> dict[str, Any]:
    """A penalty case, initiated ex officio, that meets every checked article."""
    return {
        "case_no": "深民防罚〔2026〕12号",
        "title": "某商场擅自改变人防工程用途案",
        "enforcement_type": "penalty",
        "initiation": {"mode": "ex_officio", "source": "日常巡查", "filed_at": "2026-03-02"},
        "parties": [{"name": "某商业管理有限公司", "kind": "organization"}],
        "officers": [{"name": "张三", "badge_no": "44030001"}],
        "closed_at": "2026-06-30",
        "records": [
            _text("src", "case_source", "initiation"),
            _text("fil", "filing_approval", "initiation"),
            _text("inq", "inquiry_transcript", "investigation"),
            _text("rts", "rights_notice", "investigation"),
            _text("rev", "review_record", "decision"),
            _text("dec", "decision", "decision"),
            _text("svc", "service_receipt", "service"),
            _text("cls", "closing_report", "archiving"),
            {
                "id": "v1",
                "path": "records/v1.mp4",
                "kind": "av",
                "doc_type": "av_footage",
                "stage": "investigation",
                "title": "现场检查录像",
                "created_at": "2026-03-04T09:00:00+08:00",
                "classification": {"level": "none"},
                "av": {
                    "device_id": "DSJ-0012",
                    "recorded_by": ["44030001"],
                    "activity": "on_site_inspection",
                    "started_at": "2026-03-04T09:00:00+08:00",
                    "ended_at": "2026-03-04T09:40:00+08:00",
                    "stored_at": "2026-03-04T17:10:00+08:00",
                    "location": "某商场地下二层",
                    "continuous_required": True,
                    "voice_statement": True,
                    "interruptions": [],
                    "remote_duty": False,
                    "returned_at": None,
                },
                "evidence": {
                    "collector": "张三",
                    "collected_at": "2026-03-04T09:00:00+08:00",
                    "place": "某商场地下二层",
                },
            },
        ],
    }


def _application() -> dict[str, Any]:
    """The complete case, initiated on application instead."""
    data = _complete()
    data["enforcement_type"] = "license"
    data["initiation"] = {
        "mode": "application",
        "applied_at": "2026-03-01",
        "accepted_at": "2026-03-03",
    }
    data["records"] = [
        _text("app", "application", "initiation"),
        _text("acc", "acceptance_notice", "initiation"),
        *[r for r in data["records"] if r["stage"] != "initiation"],
    ]
    return data


def _without(data: dict[str, Any], *ids: str) -> dict[str, Any]:
    """The case with the named records removed."""
    data["records"] = [r for r in data["records"] if r["id"] not in ids]
    return data


def _av(data: dict[str, Any]) -> dict[str, Any]:
    """The AV facts of record v1, for mutation."""
    av: dict[str, Any] = next(r for r in data["records"] if r["id"] == "v1")["av"]
    return av


def _check(data: dict[str, Any]) -> list[tuple[int, str | None]]:
    """(article, record_id) of every finding for the case."""
    return [(f.article, f.record_id) for f in check_case(CaseFile.model_validate(data))]


def test_complete_case_has_no_findings() -> None:
    assert _check(_complete()) == []
    assert _check(_application()) == []


@pytest.mark.parametrize("missing", ["src", "fil"])
def test_art7_ex_officio_needs_case_source_and_filing(missing: str) -> None:
    assert _check(_without(_complete(), missing)) == [(7, None)]


def test_art7_ex_officio_record_must_be_in_initiation_stage() -> None:
    data = _complete()
    data["records"][0]["stage"] = "investigation"
    assert _check(data) == [(7, None)]


@pytest.mark.parametrize("missing", ["app", "acc"])
def test_art7_application_needs_application_and_acceptance(missing: str) -> None:
    assert _check(_without(_application(), missing)) == [(7, None)]


def test_art7_application_corrected_needs_correction_notice() -> None:
    data = _application()
    data["initiation"]["corrected_at"] = "2026-03-02"
    [finding] = check_case(CaseFile.model_validate(data))
    assert (finding.article, finding.record_id) == (7, None)
    assert "correction_notice" in finding.message
    data["records"].append(_text("cor", "correction_notice", "initiation"))
    assert _check(data) == []


def test_art8_no_officers() -> None:
    data = _complete()
    data["officers"] = []
    [finding] = check_case(CaseFile.model_validate(data))
    assert (finding.article, finding.record_id) == (8, None)
    assert "officers" in finding.message


def test_art8_no_record_of_officer_id_presentation() -> None:
    data = _without(_complete(), "inq")
    _av(data)["voice_statement"] = False
    assert _check(data) == [(8, None), (14, "v1")]


def test_art8_av_voice_statement_records_officer_ids() -> None:
    assert _check(_without(_complete(), "inq")) == []


@pytest.mark.parametrize("kind", ["penalty", "coercion", "levy", "requisition"])
def test_art8_adverse_action_needs_rights_notice(kind: str) -> None:
    data = _without(_complete(), "rts")
    data["enforcement_type"] = kind
    [finding] = check_case(CaseFile.model_validate(data))
    assert (finding.article, finding.record_id) == (8, None)
    assert "rights_notice" in finding.message


def test_art8_licence_needs_no_rights_notice() -> None:
    data = _without(_complete(), "rts")
    data["enforcement_type"] = "license"
    assert _check(data) == []


@pytest.mark.parametrize("missing", ["dec", "rev"])
def test_art9_decision_and_review(missing: str) -> None:
    assert _check(_without(_complete(), missing)) == [(9, None)]


def test_art10_service_receipt() -> None:
    assert _check(_without(_complete(), "svc")) == [(10, None)]


def test_art11_closing_report() -> None:
    assert _check(_without(_complete(), "cls")) == [(11, None)]


@pytest.mark.parametrize("reason", [None, "", "  "])
def test_art14_interruption_without_reason(reason: str | None) -> None:
    data = _complete()
    _av(data)["continuous_required"] = False
    _av(data)["interruptions"] = [{"at": "2026-03-04T09:20:00+08:00", "reason": reason}]
    [finding] = check_case(CaseFile.model_validate(data))
    assert (finding.article, finding.record_id) == (14, "v1")
    assert "no reason" in finding.message


def test_art14_gap_in_continuous_recording_one_finding_per_gap() -> None:
    data = _complete()
    _av(data)["interruptions"] = [
        {
            "at": "2026-03-04T09:20:00+08:00",
            "resumed_at": "2026-03-04T09:22:00+08:00",
            "reason": "电量不足",
        },
        {
            "at": "2026-03-04T09:30:00+08:00",
            "resumed_at": "2026-03-04T09:31:00+08:00",
            "reason": "设备故障",
        },
    ]
    findings = check_case(CaseFile.model_validate(data))
    assert [(f.article, f.record_id) for f in findings] == [(14, "v1"), (14, "v1")]
    assert all("continuous" in f.message for f in findings)


def test_art14_no_voice_statement() -> None:
    data = _complete()
    data["records"].append(_text("chk", "inspection_record", "investigation"))
    _av(data)["voice_statement"] = False
    [finding] = check_case(CaseFile.model_validate(data))
    assert (finding.article, finding.record_id) == (14, "v1")
    assert "voice statement" in finding.message


@pytest.mark.parametrize(
    ("stored_at", "expected"),
    [
        ("2026-03-05T09:40:00+08:00", []),  # exactly 24 h after it ended
        ("2026-03-05T09:40:01+08:00", [(16, "v1")]),
        ("2026-03-05T01:40:01Z", [(16, "v1")]),  # same instant in UTC
    ],
)
def test_art16_stored_within_24h_of_end(stored_at: str, expected: list[object]) -> None:
    data = _complete()
    _av(data)["stored_at"] = stored_at
    assert _check(data) == expected


@pytest.mark.parametrize(
    ("stored_at", "expected"),
    [
        ("2026-03-08T18:00:00+08:00", []),  # exactly 24 h after return
        ("2026-03-08T18:00:01+08:00", [(16, "v1")]),
    ],
)
def test_art16_remote_duty_counts_from_return(stored_at: str, expected: list[object]) -> None:
    data = _complete()
    _av(data).update(remote_duty=True, returned_at="2026-03-07T18:00:00+08:00", stored_at=stored_at)
    assert _check(data) == expected


def test_art16_remote_duty_without_return_time() -> None:
    data = _complete()
    _av(data).update(remote_duty=True, returned_at=None)
    [finding] = check_case(CaseFile.model_validate(data))
    assert (finding.article, finding.record_id) == (16, "v1")
    assert "returned_at" in finding.message


def test_art17_evidence_note_names_missing_fields() -> None:
    data = _complete()
    data["records"][-1]["evidence"] = {"collector": "张三", "place": " "}
    [finding] = check_case(CaseFile.model_validate(data))
    assert (finding.article, finding.record_id) == (17, "v1")
    assert "collected_at" in finding.message
    assert "place" in finding.message
    assert "collector" not in finding.message
    assert "v1" in finding.message
    assert "现场检查录像" in finding.message


def test_findings_sorted_and_serialised() -> None:
    data = _without(_complete(), "cls", "src")
    _av(data)["voice_statement"] = False
    findings = check_case(CaseFile.model_validate(data))
    assert [(f.article, f.record_id) for f in findings] == [(7, None), (11, None), (14, "v1")]
    assert findings[0].as_json() == {
        "article": 7,
        "record_id": None,
        "severity": "warning",
        "message": findings[0].message,
        "message_zh": findings[0].message_zh,
        "gap": "missing_stage",
        "officers": [o.as_json() for o in findings[0].officers],
    }
    assert "立案环节" in findings[0].message_zh
    assert all(isinstance(f, Finding) and f.severity == "warning" for f in findings)
