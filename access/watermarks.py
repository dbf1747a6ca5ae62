"""Watermarked download copies (水印副本): each names its viewer and carries a fingerprint.

A copy is made from the stored original, read to a temporary file and checked against its
recorded SHA-256; the original is never touched. Footage gets the viewer, department, grant,
time and a short fingerprint burned in (ffmpeg drawtext with the Noto CJK font) and the whole
fingerprint in its `comment` tag (`casevault:<fp>`). PDFs get a semi-transparent diagonal
stamp with the same facts on every page, the whole fingerprint in a footer line, and
`/CasevaultFingerprint` in the document info. The ledger entry of the download records the
fingerprint and the copy's SHA-256, so `trace_copy` can tell whose copy a leaked file is.

Preparing a copy reports progress (from ffmpeg's `-progress` output) to a callback;
`access.copy_jobs` runs it as a job in its own thread.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import secrets
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import Text, select, type_coerce
from sqlalchemy.orm import Session

from access.ledger import LedgerEntry
from access.models import User, department_name
from access.policy import Action, Context, Decision, Resource, Subject, collection, entry_of, record, require
from access.retrieval import CHINA
from archive.errors import ArchiveError, Refused
from archive.models import BundleFile, CaseRecord
from archive.store import ObjectStore

FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")  # fonts-noto-cjk
PDF_FONT = "STSong-Light"  # reportlab's built-in CID font: it cannot read Noto's CFF outlines
FINGERPRINT = re.compile(r"^[0-9a-f]{32}$")
COMMENT_PREFIX = "casevault:"
PDF_KEY = "/CasevaultFingerprint"
X264_PRESET = "veryfast"
MP4_AUDIO = frozenset({"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"})  # copied as is
ROLES = {"archivist": "档案管理员", "archive_manager": "档案负责人", "disclosure_officer": "信息公开经办人"}

Progress = Callable[[float], None]
# The ledger actions whose entries may carry a marked copy's fingerprint: downloads and views.
MARKED_ACTIONS = (Action.record_download.value, Action.record_view.value)


def new_fingerprint() -> str:
    """A random 128-bit copy id, in hex."""
    return secrets.token_hex(16)


@dataclass(frozen=True)
class Stamp:
    """What a copy says about itself: who it was made for, under which grant, when, which copy."""

    viewer: str
    name: str
    department: str  # a department or role, in words
    grant_id: int | None
    at: datetime
    fingerprint: str

    @classmethod
    def of(
        cls, subject: Subject, *, name: str, grant_id: int | None, at: datetime, fingerprint: str
    ) -> Stamp:
        """The stamp for a subject's copy."""
        where = department_name(subject.department) or ROLES.get(subject.role.value, subject.role.value)
        return cls(subject.username, name, where, grant_id, at, fingerprint)

    @property
    def short(self) -> str:
        """The fingerprint's first 16 hex digits, for burned-in text."""
        return self.fingerprint[:16]

    def lines(self) -> list[str]:
        """The visible text: viewer and department; grant, time and short fingerprint."""
        who = self.viewer if self.name in ("", self.viewer) else f"{self.viewer}（{self.name}）"
        grant = f"授权 #{self.grant_id}" if self.grant_id else "按职权调阅"
        when = self.at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M CST")
        return [f"casevault 调取副本 {who} {self.department}", f"{grant} · {when} · 指纹 {self.short}"]


@dataclass(frozen=True)
class Source:
    """The stored original of a record, as plain values (safe to hand to a thread)."""

    key: str
    version_id: str | None
    sha256: str
    size: int
    file_name: str
    kind: str

    @classmethod
    def of(cls, record: CaseRecord, stored: BundleFile) -> Source:
        """The source of a record's copy."""
        return cls(
            stored.key,
            stored.version_id,
            stored.sha256,
            stored.size,
            PurePosixPath(stored.path).name,
            record.kind,
        )


@dataclass(frozen=True)
class Copy:
    """A finished watermarked copy in a temporary folder."""

    path: Path
    file_name: str
    media_type: str
    sha256: str
    size: int
    fingerprint: str


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_original(
    store: ObjectStore, source: Source, target: Path, progress: Progress | None = None
) -> None:
    """Read the original from the store to a file; refuse it if it no longer matches its digest."""
    digest, done = hashlib.sha256(), 0
    with target.open("wb") as out:
        for chunk in store.read(source.key, version_id=source.version_id):
            digest.update(chunk)
            out.write(chunk)
            done += len(chunk)
            if progress and source.size:
                progress(done / source.size)
    if digest.hexdigest() != source.sha256:
        raise ArchiveError(f"{source.file_name}: the stored original does not match its digest; no copy made")


# --- PDF -------------------------------------------------------------------------------------

_pdf_font_lock = threading.Lock()
_pdf_font_ready = False


def _pdf_font() -> str:
    global _pdf_font_ready
    with _pdf_font_lock:
        if not _pdf_font_ready:
            from reportlab.pdfbase import pdfmetrics
            from reportlab.pdfbase.cidfonts import UnicodeCIDFont

            pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
            _pdf_font_ready = True
    return PDF_FONT


def _overlay(width: float, height: float, stamp: Stamp) -> Any:
    """A one-page PDF of the page's size: the diagonal stamp and the footer line."""
    from pypdf import PdfReader
    from reportlab.pdfgen import canvas

    font, buffer = _pdf_font(), io.BytesIO()
    sheet = canvas.Canvas(buffer, pagesize=(width, height))
    size = max(9.0, min(width, height) / 30)
    sheet.saveState()
    sheet.setFillColorRGB(0.7, 0.1, 0.1, alpha=0.22)
    sheet.translate(width / 2, height / 2)
    sheet.rotate(math.degrees(math.atan2(height, width)))
    for row, line in enumerate(stamp.lines()):
        sheet.setFont(font, size)
        sheet.drawCentredString(0, (0.6 - row * 1.6) * size, line)
    sheet.restoreState()
    sheet.setFillColorRGB(0.3, 0.3, 0.3, alpha=0.7)
    sheet.setFont(font, 6.5)
    sheet.drawString(14, 10, f"{stamp.lines()[0]} · 指纹 fingerprint {stamp.fingerprint}")
    sheet.showPage()
    sheet.save()
    return PdfReader(io.BytesIO(buffer.getvalue())).pages[0]


def watermark_pdf(*, source: Path, target: Path, stamp: Stamp) -> None:
    """Stamp every page and put the fingerprint in the document info."""
    from pypdf import PdfReader, PdfWriter, Transformation
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(source)
        if reader.is_encrypted and not reader.decrypt(""):
            raise Refused("record: the PDF is encrypted; it cannot be stamped")
        writer = PdfWriter(clone_from=reader)
    except PdfReadError as exc:
        raise Refused(f"record: not a readable PDF ({exc})") from exc
    overlays: dict[tuple[float, float], Any] = {}
    for page in writer.pages:
        box = page.mediabox
        dims = (float(box.width), float(box.height))
        if dims not in overlays:
            overlays[dims] = _overlay(*dims, stamp)
        page.merge_transformed_page(
            overlays[dims], Transformation().translate(float(box.left), float(box.bottom))
        )
    writer.add_metadata({PDF_KEY: stamp.fingerprint})
    with target.open("wb") as out:
        writer.write(out)


# --- footage ---------------------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ArchiveError(f"{name} is not installed (Debian package ffmpeg); no copy made")
    return found


def probe(path: Path) -> dict[str, Any]:
    """ffprobe's JSON for a file's format (duration, tags) and streams."""
    result = subprocess.run(
        [
            _tool("ffprobe"),
            "-v",
            "error",
            "-show_entries",
            "format=duration:format_tags=comment:stream=codec_type,codec_name",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        return {}
    return json.loads(result.stdout or b"{}")  # type: ignore[no-any-return]


def _filter_value(value: str) -> str:
    """A path quoted for an ffmpeg filter option."""
    return "'" + value.replace("\\", "\\\\").replace("'", "'\\''").replace(":", "\\:") + "'"


def drawtext_filter(*, font: Path, big: Path, lines: Path) -> str:
    """Two burned-in marks: viewer and short fingerprint across the middle, all facts at the foot."""
    common = f"fontfile={_filter_value(str(font))}:fix_bounds=1"
    return ",".join(
        [
            f"drawtext={common}:textfile={_filter_value(str(big))}:fontsize=h/14:fontcolor=white@0.28"
            ":borderw=1:bordercolor=black@0.2:x=(w-tw)/2:y=(h-th)/2",
            f"drawtext={common}:textfile={_filter_value(str(lines))}:fontsize=h/28:fontcolor=white@0.85"
            ":line_spacing=4:box=1:boxcolor=black@0.45:boxborderw=6:x=12:y=h-th-14",
        ]
    )


def video_command(
    *,
    source: Path,
    target: Path,
    filters: str | None,
    audio: str = "copy",
    metadata: dict[str, str] | None = None,
    preset: str = X264_PRESET,
) -> list[str]:
    """The ffmpeg command for a copy (`filters` None: a plain transcode, the benchmark's baseline)."""
    command = [_tool("ffmpeg"), "-nostdin", "-hide_banner", "-v", "error", "-y", "-i", str(source)]
    command += ["-map", "0:v:0", "-map", "0:a?", "-map_metadata", "0"]
    if filters:
        command += ["-vf", filters]
    command += ["-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p", "-c:a", audio]
    for name, value in (metadata or {}).items():
        command += ["-metadata", f"{name}={value}"]
    return [*command, "-movflags", "+faststart", "-progress", "pipe:1", "-nostats", "-f", "mp4", str(target)]


def run_ffmpeg(command: list[str], *, duration: float | None, progress: Progress | None = None) -> None:
    """Run ffmpeg, reporting `-progress` out_time against the duration; raise naming its error."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        errors: list[str] = []
        reader = threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
        reader.start()
        for line in proc.stdout:
            key, _, value = line.strip().partition("=")
            if key == "out_time_us" and value.isdigit() and duration and progress:
                progress(min(1.0, int(value) / 1e6 / duration))
            elif key == "progress" and value == "end" and progress:
                progress(1.0)
        proc.wait()
        reader.join(timeout=5)
    if proc.returncode != 0:
        raise ArchiveError(f"ffmpeg failed ({proc.returncode}): {''.join(errors).strip()[-500:]}")


def watermark_video(
    *, source: Path, target: Path, stamp: Stamp, font: Path = FONT, progress: Progress | None = None
) -> None:
    """Burn the stamp into the footage (H.264, audio kept) and tag the fingerprint."""
    facts = probe(source)
    streams = facts.get("streams", [])
    if not any(s.get("codec_type") == "video" for s in streams):
        raise Refused("record: no video stream to carry a visible watermark")
    audio = next((s.get("codec_name") for s in streams if s.get("codec_type") == "audio"), None)
    duration = float(facts.get("format", {}).get("duration") or 0) or None
    big, lines = target.parent / "mark-big.txt", target.parent / "mark-lines.txt"
    big.write_text(f"{stamp.viewer} {stamp.short}", encoding="utf-8")
    lines.write_text("\n".join(stamp.lines()), encoding="utf-8")
    command = video_command(
        source=source,
        target=target,
        filters=drawtext_filter(font=font, big=big, lines=lines),
        audio="copy" if audio in MP4_AUDIO or audio is None else "aac",
        metadata={"comment": f"{COMMENT_PREFIX}{stamp.fingerprint}"},
    )
    run_ffmpeg(command, duration=duration, progress=progress)


def make_copy(
    *, store: ObjectStore, source: Source, stamp: Stamp, workdir: Path, progress: Progress | None = None
) -> Copy:
    """Fetch the original to `workdir` and make its watermarked copy there."""
    original = workdir / ("original" + PurePosixPath(source.file_name).suffix.lower())
    stem = PurePosixPath(source.file_name).stem
    fetch_share = 0.1 if source.kind == "av" else 0.5

    def fetched(share: float) -> None:
        if progress:
            progress(share * fetch_share)

    def made(share: float) -> None:
        if progress:
            progress(fetch_share + share * (1 - fetch_share))

    fetch_original(store, source, original, fetched)
    if source.kind == "av":
        name, media = f"{stem}-副本-{stamp.fingerprint[:8]}.mp4", "video/mp4"
        target = workdir / "copy.mp4"
        watermark_video(source=original, target=target, stamp=stamp, progress=made)
    elif original.suffix == ".pdf":
        name, media = f"{stem}-副本-{stamp.fingerprint[:8]}.pdf", "application/pdf"
        target = workdir / "copy.pdf"
        watermark_pdf(source=original, target=target, stamp=stamp)
    else:
        raise Refused(f"record: no watermarked copy can be made of {source.file_name}")
    original.unlink()
    made(1.0)
    return Copy(target, name, media, sha256_file(target), target.stat().st_size, stamp.fingerprint)


# --- the policy ------------------------------------------------------------------------------


def ledger_copy(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    resource: Resource,
    decision: Decision,
    outcome: str,
    fingerprint: str,
    copy: Copy | None = None,
    job: str | None = None,
    action: Action = Action.record_download,
    extra: dict[str, Any] | None = None,
) -> None:
    """Ledger a copy step (`preparing`, `delivered`; a marked view is `record.view`) with its
    fingerprint, and its SHA-256 once made."""
    detail: dict[str, Any] = {"fingerprint": fingerprint, "watermarked": True, **(extra or {})}
    if subject.department:
        detail["department"] = subject.department
    if copy is not None:
        detail |= {"copy_sha256": copy.sha256, "copy_bytes": copy.size}
    if job is not None:
        detail["job"] = job[:8]  # enough to tell jobs apart in the ledger, not to fetch one
    record(
        session,
        subject=subject,
        action=action,
        resource=resource,
        context=context,
        decision=decision,
        outcome=outcome,
        detail=detail,
    )


# --- tracing a leaked copy -------------------------------------------------------------------


def read_fingerprint(path: Path) -> str | None:
    """The casevault fingerprint a file carries in its metadata (PDF info, MP4 comment), if any."""
    with path.open("rb") as handle:
        head = handle.read(1024)
    if b"%PDF-" in head:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        try:
            metadata = PdfReader(path).metadata
            value = metadata.get(PDF_KEY) if metadata is not None else None
        except (PdfReadError, OSError, ValueError):
            return None
        found = str(value or "").strip().lower()
    else:
        comment = str(probe(path).get("format", {}).get("tags", {}).get("comment") or "")
        found = (
            comment.removeprefix(COMMENT_PREFIX).strip().lower() if comment.startswith(COMMENT_PREFIX) else ""
        )
    return found if FINGERPRINT.match(found) else None


@dataclass(frozen=True)
class Trace:
    """Where a copy came from: the delivery's ledger entry and the person it names."""

    matched_by: str  # "fingerprint" or "sha256"
    fingerprint: str | None
    sha256: str
    seq: int
    at: datetime
    username: str
    name: str | None
    department: str | None
    grant_id: int | None
    case_no: str | None
    bundle_id: str | None
    record_id: str | None

    def as_json(self) -> dict[str, Any]:
        """The trace as JSON (times in ISO 8601)."""
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


def _copy_entries(session: Session, pattern: str) -> Iterable[LedgerEntry]:
    query = (
        select(LedgerEntry)
        .where(LedgerEntry.action.in_(MARKED_ACTIONS))
        .where(type_coerce(LedgerEntry.detail, Text).like(f"%{pattern}%"))  # the stored JSON text
        .order_by(LedgerEntry.seq.desc())
    )
    return session.scalars(query)


def find_copy(session: Session, *, fingerprint: str | None, sha256: str) -> tuple[str, LedgerEntry] | None:
    """The ledger entry that delivered a copy (or a marked view): by fingerprint first, else by the
    file's SHA-256."""
    if fingerprint and FINGERPRINT.match(fingerprint):
        entries = list(_copy_entries(session, f'"fingerprint":"{fingerprint}"'))
        delivered = [e for e in entries if "copy_sha256" in e.detail] or entries
        if delivered:
            return "fingerprint", delivered[0]
    if re.fullmatch(r"[0-9a-f]{64}", sha256):
        entries = list(_copy_entries(session, f'"copy_sha256":"{sha256}"'))
        if entries:
            return "sha256", entries[0]
    return None


def trace_copy(session: Session, *, subject: Subject, context: Context, path: Path) -> Trace | None:
    """Whose copy a file is (追溯), from its fingerprint or its SHA-256; the trace is ledgered."""
    resource = collection("ledger")
    decision = require(session, subject=subject, action=Action.copy_trace, resource=resource, context=context)
    fingerprint, digest = read_fingerprint(path), sha256_file(path)
    found = find_copy(session, fingerprint=fingerprint, sha256=digest)
    detail: dict[str, Any] = {"file": path.name, "sha256": digest, "fingerprint": fingerprint}
    if found is None:
        record(
            session,
            subject=subject,
            action=Action.copy_trace,
            resource=resource,
            context=context,
            decision=decision,
            outcome="not-found",
            detail=detail,
        )
        return None
    matched_by, entry = found
    user = session.scalar(select(User).where(User.username == entry.actor))
    grant = entry.detail.get("grant")
    trace = Trace(
        matched_by=matched_by,
        fingerprint=entry.detail.get("fingerprint"),
        sha256=digest,
        seq=entry.seq,
        at=entry.at,
        username=entry.actor,
        name=user.display_name if user else None,
        department=entry.detail.get("department") or (user.department if user else None),
        grant_id=grant if isinstance(grant, int) else None,
        case_no=entry.case_no,
        bundle_id=entry.bundle_id,
        record_id=entry.record_id,
    )
    record(
        session,
        subject=subject,
        action=Action.copy_trace,
        resource=entry_of(entry),
        context=context,
        decision=decision,
        outcome="found",
        detail=detail
        | {
            "matched_by": matched_by,
            "entry": entry.seq,
            "copy_of": entry.actor,
            "traced_grant": trace.grant_id,
        },
    )
    return trace
