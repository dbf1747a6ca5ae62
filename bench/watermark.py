"""Watermarked copy benchmark: the project's copy of a 720p clip beside a plain transcode.

    .venv/bin/python -m bench.watermark [--seconds 20] [--runs 3]

Project side: `access.watermarks.watermark_video` — ffprobe of the clip, two drawtext marks
(Noto Sans CJK, Chinese and Latin text), the fingerprint tag, `-progress` parsed for the
progress bar. Baseline, same run: the same ffmpeg command (`access.watermarks.video_command`
with no filters and no tag — libx264 preset veryfast, yuv420p, audio copied, +faststart),
so the ratio is the price of the watermark and nothing else.

The clip (`testsrc2` 1280x720 at 25 fps with a sine tone, libx264 preset veryfast, AAC) is
made once and cached under `bench/out/watermark/`. Both sides run back to back, alternating
which goes first; the table gives medians of the runs, the ratio of the medians, the ratio of
the best runs, and the CPU seconds (ffmpeg's, as children of this process) of both sides.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from access import watermarks as copies

OUT = Path(__file__).resolve().parent / "out" / "watermark"
Timing = tuple[float, float]  # wall-clock seconds, CPU seconds


def make_clip(seconds: int) -> Path:
    """A 1280x720 H.264 + AAC clip of that length (cached)."""
    clip = OUT / f"testsrc2-720p-{seconds}s.mp4"
    if clip.exists():
        return clip
    OUT.mkdir(parents=True, exist_ok=True)
    partial = clip.with_suffix(".part.mp4")
    video = f"testsrc2=size=1280x720:rate=25:duration={seconds}"
    audio = f"sine=frequency=440:duration={seconds}"
    encode = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"]
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            video,
            "-f",
            "lavfi",
            "-i",
            audio,
            *encode,
            str(partial),
        ],
        check=True,
    )
    partial.rename(clip)
    return clip


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    return children.ru_utime + children.ru_stime + own.ru_utime + own.ru_stime


def _timed(action: Callable[[], object]) -> Timing:
    cpu, start = _cpu(), time.perf_counter()
    action()
    return time.perf_counter() - start, _cpu() - cpu


def _busy(seconds: float = 1.0) -> float:
    """Share of all cores busy over `seconds` (from /proc/stat), while this process sleeps."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields[:8]), fields[3] + fields[4]

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def project(clip: Path, work: Path) -> Timing:
    """The product's watermarked copy of the clip."""
    stamp = copies.Stamp(
        "supervisor", "法制科 刘洋", "法制", 12, datetime.now(copies.CHINA), copies.new_fingerprint()
    )
    target = work / "copy.mp4"
    seen: list[float] = []
    timing = _timed(
        lambda: copies.watermark_video(source=clip, target=target, stamp=stamp, progress=seen.append)
    )
    if copies.read_fingerprint(target) != stamp.fingerprint or not seen or seen[-1] != 1.0:
        raise SystemExit("the watermarked copy lacks its fingerprint or its progress did not reach 1.0")
    target.unlink()
    return timing


def baseline(clip: Path, work: Path) -> Timing:
    """The same ffmpeg command without the marks and the tag: a plain transcode."""
    target = work / "plain.mp4"
    command = copies.video_command(source=clip, target=target, filters=None)
    timing = _timed(lambda: copies.run_ffmpeg(command, duration=None))
    target.unlink()
    return timing


def render(project_runs: list[Timing], baseline_runs: list[Timing]) -> str:
    """The result table."""
    p_wall, b_wall = (statistics.median(t for t, _ in runs) for runs in (project_runs, baseline_runs))
    p_cpu, b_cpu = (statistics.median(c for _, c in runs) for runs in (project_runs, baseline_runs))
    p_best, b_best = min(t for t, _ in project_runs), min(t for t, _ in baseline_runs)
    lines = [
        "| what | median wall | best | median CPU s |",
        "|---|---|---|---|",
        f"| watermarked copy (`copies.watermark_video`) | {p_wall:.2f} s | {p_best:.2f} s | {p_cpu:.2f} |",
        f"| plain transcode, same command without marks | {b_wall:.2f} s | {b_best:.2f} s | {b_cpu:.2f} |",
        f"| ratio copy / plain | {p_wall / b_wall:.2f} × | {p_best / b_best:.2f} × | {p_cpu / b_cpu:.2f} × |",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> None:
    """Make the clip, then time both sides `runs` times, alternating which goes first."""
    if shutil.which("ffmpeg") is None:
        raise SystemExit("ffmpeg is not installed (Debian package ffmpeg)")
    clip = make_clip(args.seconds)
    version = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    before = _busy()
    project_runs: list[Timing] = []
    baseline_runs: list[Timing] = []
    with tempfile.TemporaryDirectory(prefix="cv-watermark-") as folder:
        work = Path(folder)
        baseline(clip, work)  # warm-up: page cache, ffmpeg's libraries
        for number in range(args.runs):
            first, second = (project, baseline) if number % 2 == 0 else (baseline, project)
            results = {first: first(clip, work), second: second(clip, work)}
            project_runs.append(results[project])
            baseline_runs.append(results[baseline])
            print(
                f"run {number + 1}: copy {results[project][0]:.2f} s, plain {results[baseline][0]:.2f} s",
                file=sys.stderr,
                flush=True,
            )
    after = _busy()
    print(
        f"{args.seconds} s 1280x720 25 fps clip ({clip.stat().st_size / 2**20:.1f} MiB), {args.runs} runs, "
        f"{os.cpu_count()} cores, {version}; other load {before:.0%} before, {after:.0%} after"
    )
    print(render(project_runs, baseline_runs))


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="casevault watermarked-copy benchmark")
    parser.add_argument("--seconds", type=int, default=20, help="clip length (default 20)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs; medians are reported (default 3)")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
