"""The demo case `make run` deposits: a complete penalty case made on the spot, and the demo
applicant's disclosure request about it, in progress.

Nothing here is real: the documents are one-page PDFs and the footage is ffmpeg's test
pattern, so a new installation has something to look at without any case files of its own. The
footage is as long as its metadata says the recording was (`recorded_seconds`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from access import workdays
from access.disclosure import applicant_side, office_side
from access.disclosure.models import DisclosureRequest
from access.models import Applicant, User
from access.policy import Context
from portal.web.auth import subject_of
from portal.wiring import Wired

DEMO_CASE_NO = "深民防罚〔2026〕12号"
# How long the recording of the case document lasts: the test suite's clip (two seconds, made
# once per session), and the one `casevault demo` makes — a minute of the inspection.
CLIP_SECONDS = 2
DEMO_CLIP_SECONDS = 60
FOOTAGE_START = datetime.fromisoformat("2026-03-04T09:00:00+08:00")


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


def _text_record(
    rid: str, path: str, doc_type: str, stage: str, made: str, level: str = "none"
) -> dict[str, Any]:
    return {
        "id": rid,
        "path": path,
        "kind": "text",
        "doc_type": doc_type,
        "stage": stage,
        "title": f"{Path(path).stem}",
        "created_at": f"{made}:00+08:00",
        "classification": {"level": level},
    }


def recorded_seconds(record: dict[str, Any]) -> int:
    """How long an audio-video record's metadata says it was recording (interruptions included)."""
    av = record["av"]
    ended = datetime.fromisoformat(av["ended_at"]) - datetime.fromisoformat(av["started_at"])
    return max(1, round(ended.total_seconds()))


def case_document(case_no: str = DEMO_CASE_NO, *, clip_seconds: int = CLIP_SECONDS) -> dict[str, Any]:
    """A complete, compliant penalty case as its case.json describes it, each record made when the
    case's course says; the inspection was recorded for `clip_seconds`."""
    ended = FOOTAGE_START + timedelta(seconds=clip_seconds)
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
            _text_record("s1", "records/案件来源登记表.pdf", "case_source", "initiation", "2026-03-02T09:30"),
            _text_record("s2", "records/立案审批表.pdf", "filing_approval", "initiation", "2026-03-02T15:00"),
            _text_record(
                "i1",
                "records/询问笔录.pdf",
                "inquiry_transcript",
                "investigation",
                "2026-03-04T10:30",
                "personal_privacy",
            ),
            _text_record("i2", "records/告知书.pdf", "rights_notice", "investigation", "2026-03-16T10:00"),
            _text_record("d1", "records/审查意见.pdf", "review_record", "decision", "2026-03-25T15:00"),
            _text_record("d2", "records/处罚决定书.pdf", "decision", "decision", "2026-03-30T10:00"),
            _text_record("e1", "records/送达回证.pdf", "service_receipt", "service", "2026-04-01T10:00"),
            _text_record("c1", "records/结案报告.pdf", "closing_report", "archiving", "2026-06-30T16:00"),
            {
                "id": "v1",
                "path": "records/现场检查.mp4",
                "kind": "av",
                "doc_type": "av_footage",
                "stage": "investigation",
                "title": "现场检查录像",
                "created_at": FOOTAGE_START.isoformat(),
                "classification": {"level": "none"},
                "av": {
                    "device_id": "DSJ-0012",
                    "recorded_by": ["44030001"],
                    "activity": "on_site_inspection",
                    "started_at": FOOTAGE_START.isoformat(),
                    "ended_at": ended.isoformat(),
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
                    "collected_at": FOOTAGE_START.isoformat(),
                    "place": "某商场地下二层",
                },
            },
        ],
    }


def write_sip(folder: Path, document: dict[str, Any], *, footage: Path | None = None) -> Path:
    """Write a deposit folder: case.json and a file for each record; footage is `footage` copied,
    or else made as long as the record says it was recording."""
    folder.mkdir(parents=True, exist_ok=True)
    for record in document["records"]:
        target = folder / record["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        if record["kind"] != "av":
            target.write_bytes(pdf_bytes(record["id"]))
        elif footage is not None:
            shutil.copyfile(footage, target)
        else:
            make_footage(target, seconds=recorded_seconds(record))
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

# The demo applicant's request about the demo case: filed, taken by the demo officer, and answered
# with a first message, so both portals show a request in progress.
DEMO_REQUEST = {
    "relation": "party",
    "description": "申请公开本案现场检查录像及处罚决定书。",
    "delivery": "online",
}
DEMO_MESSAGE = "您的申请已收到，正在办理，我们将在法定期限内答复。"


def file_demo_request(wired: Wired) -> str | None:
    """File the demo applicant's request and have the demo officer take it, once; its tracking
    code, or None when the applicant already has a request."""
    with wired.sessions() as session:
        applicant = session.scalar(select(User).where(User.username == DEMO_APPLICANT["username"]))
        officer = session.scalar(select(User).where(User.username == "officer"))
        assert applicant is not None and officer is not None, "the demo accounts come first"
        mine = select(DisclosureRequest.id).join(Applicant).where(Applicant.user_id == applicant.id)
        if session.scalar(mine.limit(1)) is not None:
            return None
        context = Context(now=wired.clock(), source="cli")
        calendar = workdays.load_calendar(session)
        filed = applicant_side.submit_request(
            session,
            subject=subject_of(applicant),
            context=context,
            calendar=calendar,
            case_no=DEMO_CASE_NO,
            **DEMO_REQUEST,
        )
        handler = subject_of(officer)
        office_side.assign(session, subject=handler, context=context, request_id=filed.id, officer="officer")
        office_side.send_message(
            session, subject=handler, context=context, request_id=filed.id, body=DEMO_MESSAGE
        )
        session.commit()
        return filed.tracking_code
