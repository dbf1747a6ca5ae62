"""Deposit folders for the benchmarks: N lossless H.264 MP4 clips of a given size, a few PDFs.

Each clip is random 640x360 frames from /dev/urandom, piped as rawvideo into ffmpeg and
encoded with libx264 `-qp 0 -preset ultrafast` (lossless, so noise does not compress and
the file grows by about the frame size); `-fs` stops ffmpeg once the file reaches the
target size. Clips and folders are cached under bench/out/ (git-ignored) by size, so only
the first run pays for encoding.

    python -m bench.make_footage [--size-mib 256] [--files 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from portal.cli.demo import pdf_bytes

OUT = Path(__file__).resolve().parent / "out"
FRAME = ("640x360", "25")  # size, rate
CASE_NO = "深民防罚〔2026〕99号"


def _ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found is None:
        sys.exit("ffmpeg is required (Debian package ffmpeg)")
    return found


def clip(size_mib: int, index: int) -> Path:
    """The cached clip number `index` of about `size_mib` MiB, encoded on first use."""
    target = OUT / "footage" / f"{size_mib}MiB" / f"clip-{index}.mp4"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.stem}-{uuid.uuid4().hex[:8]}.partial.mp4")
    size, rate = FRAME
    command = [
        _ffmpeg(), "-v", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", size, "-r", rate, "-i", "-",
        "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p",
        "-fs", str(size_mib << 20), "-f", "mp4", str(partial),
    ]  # fmt: skip
    print(f"encoding {target.relative_to(OUT.parent.parent)} ({size_mib} MiB) …", file=sys.stderr)
    try:
        with open("/dev/urandom", "rb") as noise:
            subprocess.run(command, stdin=noise, check=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _text(rid: str, path: str, doc_type: str, stage: str, level: str = "none") -> dict[str, Any]:
    return {
        "id": rid, "path": path, "kind": "text", "doc_type": doc_type, "stage": stage,
        "title": f"{doc_type} {rid}", "created_at": "2026-03-05T10:00:00+08:00",
        "classification": {"level": level},
    }  # fmt: skip


def _av(index: int) -> dict[str, Any]:
    return {
        "id": f"v{index}", "path": f"records/现场检查-{index}.mp4", "kind": "av",
        "doc_type": "av_footage", "stage": "investigation", "title": f"现场检查录像 {index}",
        "created_at": "2026-03-04T09:00:00+08:00", "classification": {"level": "none"},
        "av": {
            "device_id": "DSJ-0012", "recorded_by": ["44030001"],
            "activity": "on_site_inspection", "started_at": "2026-03-04T09:00:00+08:00",
            "ended_at": "2026-03-04T09:40:00+08:00", "stored_at": "2026-03-04T17:10:00+08:00",
            "location": "某商场地下二层", "continuous_required": False,
            "voice_statement": True, "interruptions": [], "remote_duty": False,
            "returned_at": None,
        },
        "evidence": {"collector": "张三", "collected_at": "2026-03-04T09:00:00+08:00",
                     "place": "某商场地下二层"},
    }  # fmt: skip


def case_document(files: int, documents: int = 8) -> dict[str, Any]:
    """A complete, compliant penalty case with `documents` PDF records (eight or more) and
    `files` clips."""
    extra = [
        _text(f"o{i}", f"records/其他材料-{i}.pdf", "other", "investigation") for i in range(documents - 8)
    ]
    return {
        "case_no": CASE_NO,
        "title": "某商场擅自改变人防工程用途案",
        "enforcement_type": "penalty",
        "initiation": {"mode": "ex_officio", "source": "日常巡查", "filed_at": "2026-03-02"},
        "parties": [{"name": "某商业管理有限公司", "kind": "organization",
                     "id_number": "914403000000000000", "role": "party"}],
        "officers": [{"name": "张三", "badge_no": "44030001"}, {"name": "李四", "badge_no": "44030002"}],
        "closed_at": "2026-06-30",
        "records": [
            _text("s1", "records/案件来源登记表.pdf", "case_source", "initiation"),
            _text("s2", "records/立案审批表.pdf", "filing_approval", "initiation"),
            _text("i1", "records/询问笔录.pdf", "inquiry_transcript", "investigation", "personal_privacy"),
            _text("i2", "records/告知书.pdf", "rights_notice", "investigation"),
            _text("d1", "records/审查意见.pdf", "review_record", "decision"),
            _text("d2", "records/处罚决定书.pdf", "decision", "decision"),
            _text("e1", "records/送达回证.pdf", "service_receipt", "service"),
            _text("c1", "records/结案报告.pdf", "closing_report", "archiving"),
            *extra,
            *(_av(i) for i in range(1, files + 1)),
        ],
    }  # fmt: skip


def deposit_folder(size_mib: int = 256, files: int = 2, documents: int = 8) -> Path:
    """The cached deposit folder: case.json, `documents` one-page PDFs and `files` clips of
    `size_mib` MiB."""
    folder = OUT / "cases" / (f"{files}x{size_mib}MiB" + (f"-{documents}pdf" if documents != 8 else ""))
    if folder.exists():
        return folder
    clips = [clip(size_mib, i) for i in range(1, files + 1)]
    staging = folder.with_name(f".{folder.name}-{uuid.uuid4().hex[:8]}")
    document = case_document(files, documents)
    try:
        for record in document["records"]:
            target = staging / record["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            if record["kind"] == "av":
                source = clips[int(record["id"][1:]) - 1]
                try:
                    os.link(source, target)  # same bytes, no second copy on disk
                except OSError:
                    shutil.copyfile(source, target)
            else:
                target.write_bytes(pdf_bytes(record["id"]))
        (staging / "case.json").write_text(
            json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def payload_bytes(folder: Path) -> int:
    """Bytes of every file in a deposit folder."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=256, help="size of each clip (default 256)")
    parser.add_argument("--files", type=int, default=2, help="number of clips (default 2)")
    args = parser.parse_args(argv)
    folder = deposit_folder(args.size_mib, args.files)
    print(f"{folder}  ({payload_bytes(folder) / (1 << 20):.1f} MiB)")


if __name__ == "__main__":
    main()
