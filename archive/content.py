"""Content checks at deposit: a file must be what its name and record say it is."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from archive.errors import DepositRefused
from archive.sip import SipFile

# Leading bytes of the document formats case files arrive in; other suffixes are not checked.
MAGIC: dict[str, tuple[bytes, ...]] = {
    ".pdf": (b"%PDF-",),
    ".ofd": (b"PK\x03\x04",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".tif": (b"II*\x00", b"MM\x00*"),
    ".tiff": (b"II*\x00", b"MM\x00*"),
}


def _check_document(item: SipFile) -> None:
    suffix = item.source.suffix.lower()
    expected = MAGIC.get(suffix)
    if expected is None:
        return
    try:
        with item.source.open("rb") as handle:
            head = handle.read(1024)
    except OSError as exc:
        raise DepositRefused(f"{item.path}: cannot be read ({exc.strerror})") from exc
    # PDF allows a little junk before the header; the others must start with theirs.
    ok = any(m in head for m in expected) if suffix == ".pdf" else head.startswith(expected)
    if not ok:
        raise DepositRefused(f"{item.path}: content is not a {suffix[1:].upper()} file")


def _check_av(item: SipFile, ffprobe: str) -> None:
    result = subprocess.run(
        [ffprobe, "-v", "error", "-show_entries", "stream=codec_type", "-of", "json", str(item.source)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    streams = []
    if result.returncode == 0:
        streams = json.loads(result.stdout or b"{}").get("streams", [])
    if not any(s.get("codec_type") in {"video", "audio"} for s in streams):
        raise DepositRefused(
            f"{item.path}: record {item.record.id} is kind 'av' but ffprobe "
            "finds no audio or video stream in it"
        )


_PROBES = 8  # ffprobe runs at once: each mostly waits on its child process


@dataclass(frozen=True)
class FootageCheck:
    """ffprobe runs under way, one per clip."""

    runs: list[Future[None]]

    def result(self) -> None:
        """Wait for every run; refuse the first clip (in the case's order) that has no stream."""
        for run in self.runs:
            run.result()


@contextmanager
def check_contents(files: list[SipFile]) -> Iterator[FootageCheck]:
    """Refuse the first document whose bytes do not match its suffix now, and start ffprobe on
    every clip, to be waited for (`FootageCheck.result`) while the files are being stored."""
    ffprobe = shutil.which("ffprobe")
    footage = [item for item in files if item.record.kind == "av"]
    if footage and ffprobe is None:
        raise DepositRefused(f"{footage[0].path}: cannot check footage: ffprobe (ffmpeg) is not installed")
    for item in files:
        if item.record.kind != "av":
            _check_document(item)
    with ThreadPoolExecutor(max_workers=max(1, min(_PROBES, len(footage)))) as pool:
        yield FootageCheck([pool.submit(_check_av, item, str(ffprobe)) for item in footage])
