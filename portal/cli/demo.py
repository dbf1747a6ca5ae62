"""The demo case `make run` deposits: a complete penalty case made on the spot.

Nothing here is real: the documents are one-page PDFs and the footage is ffmpeg's test
pattern, so a new installation has something to look at without any case files of its own.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

DEMO_CASE_NO = "深民防罚〔2026〕12号"


def pdf_bytes(title: str) -> bytes:
    """A small but well-formed one-page PDF."""
    body = f"BT /F1 12 Tf 72 720 Td ({title}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(body)).encode() + b" >>\nstream\n" + body + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer << /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def make_footage(target: Path, *, seconds: int = 2) -> None:
    """Body-camera stand-in: H.264 test pattern with a tone, via ffmpeg."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is not installed (Debian package ffmpeg)")
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc=size=320x240:rate=15:duration={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={seconds}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            str(target),
        ],
        check=True,
    )


def _text_record(rid: str, path: str, doc_type: str, stage: str, level: str = "none") -> dict[str, Any]:
    return {
        "id": rid,
        "path": path,
        "kind": "text",
        "doc_type": doc_type,
        "stage": stage,
        "title": f"{Path(path).stem}",
        "created_at": "2026-03-05T10:00:00+08:00",
        "classification": {"level": level},
    }


def case_document(case_no: str = DEMO_CASE_NO) -> dict[str, Any]:
    """A complete, compliant penalty case as its case.json describes it."""
    return {
        "case_no": case_no,
        "title": "某商场擅自改变人防工程用途案",
        "enforcement_type": "penalty",
        "initiation": {"mode": "ex_officio", "source": "日常巡查", "filed_at": "2026-03-02"},
        "parties": [
            {
                "name": "某商业管理有限公司",
                "kind": "organization",
                "id_number": "914403000000000000",
                "role": "party",
            }
        ],
        "officers": [{"name": "张三", "badge_no": "44030001"}, {"name": "李四", "badge_no": "44030002"}],
        "closed_at": "2026-06-30",
        "records": [
            _text_record("s1", "records/案件来源登记表.pdf", "case_source", "initiation"),
            _text_record("s2", "records/立案审批表.pdf", "filing_approval", "initiation"),
            _text_record(
                "i1", "records/询问笔录.pdf", "inquiry_transcript", "investigation", "personal_privacy"
            ),
            _text_record("i2", "records/告知书.pdf", "rights_notice", "investigation"),
            _text_record("d1", "records/审查意见.pdf", "review_record", "decision"),
            _text_record("d2", "records/处罚决定书.pdf", "decision", "decision"),
            _text_record("e1", "records/送达回证.pdf", "service_receipt", "service"),
            _text_record("c1", "records/结案报告.pdf", "closing_report", "archiving"),
            {
                "id": "v1",
                "path": "records/现场检查.mp4",
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
                    "continuous_required": False,
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


def write_sip(folder: Path, document: dict[str, Any], *, footage: Path | None = None) -> Path:
    """Write a deposit folder: case.json and a file for each record."""
    folder.mkdir(parents=True, exist_ok=True)
    for record in document["records"]:
        target = folder / record["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        if record["kind"] != "av":
            target.write_bytes(pdf_bytes(record["id"]))
        elif footage is not None:
            shutil.copyfile(footage, target)
        else:
            make_footage(target)
    (folder / "case.json").write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    return folder


DEMO_PASSWORD = "casevault-demo-2026"
# One account per role; the supervisor works in the legal department (法制), the archive
# manager may read state secrets up to 机密.
DEMO_USERS: list[dict[str, str]] = [
    {"username": "archivist", "role": "archivist", "name": "档案管理员 王芳"},
    {"username": "manager", "role": "archive_manager", "name": "档案负责人 陈军", "clearance": "secret"},
    {"username": "supervisor", "role": "supervisor", "name": "法制科 刘洋", "department": "legal"},
    {"username": "officer", "role": "disclosure_officer", "name": "信息公开经办人 周敏"},
    {"username": "auditor", "role": "security_auditor", "name": "安全审计员 吴静"},
    {"username": "secadmin", "role": "security_admin", "name": "安全保密管理员 郑强"},
    {"username": "sysadmin", "role": "sysadmin", "name": "系统管理员 孙磊"},
]
# A party to the demo case, registered on the public portal (the ID number is the GB 11643 example).
DEMO_APPLICANT: dict[str, str] = {
    "username": "zhangsan",
    "name": "张三",
    "id_type": "resident_id",
    "id_number": "11010519491231002X",
    "phone": "13800138000",
    "email": "zhangsan@example.cn",
    "address": "深圳市福田区示例路1号",
}
