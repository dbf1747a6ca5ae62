"""Pictures of time, drawn on the server as inline SVG: a case's timeline and ledger activity.

The arithmetic is here (scales, positions, stacking, day counts), as plain data; the drawing is
in the Jinja macros of `templates/charts/` (autoescaped, no script, no `style` attributes — the
CSP forbids inline styles — and a `<title>` tooltip on every mark). The same data is also
offered as a table on the page, for screen readers and for people who prefer to read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from portal.web.i18n import CST, local_time
from portal.web.labels import LABELS

STAGES = ("initiation", "investigation", "decision", "service", "archiving")
# Case-level findings are drawn on the stage their article is about.
ARTICLE_STAGE = {7: "initiation", 8: "investigation", 9: "decision", 10: "service", 11: "archiving"}

WIDTH = 960
LABEL_W = 132
RIGHT_PAD = 28
AXIS_H = 34
ROW_H = 26
LANE_PAD = 6
MIN_BAR = 8
MIN_GAP = 3
SAME_X = 12  # dots closer than this would cover each other: such records are spread (`spread`)
SPREAD_GAP = 6
STRIP_H = 34

Translate = Callable[..., str]


# --- the data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    """An interruption of a recording; `resumed_at` is None when it never resumed."""

    at: datetime
    resumed_at: datetime | None
    reason: str | None


@dataclass(frozen=True)
class Item:
    """One record on the timeline: a point (text) or a span (audio-video)."""

    record_id: str
    title: str
    kind: str
    stage: str
    at: datetime
    end: datetime | None = None
    gaps: tuple[Gap, ...] = ()
    findings: tuple[str, ...] = ()
    href: str | None = None


@dataclass(frozen=True)
class Timeline:
    """A case's records by stage, with case-level findings attached to their stage."""

    case_no: str
    items: tuple[Item, ...]
    stage_findings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def span(self) -> tuple[datetime, datetime]:
        """First and last moment drawn, padded so marks never touch the edges."""
        moments = [m for i in self.items for m in (i.at, i.end) if m is not None]
        moments += [m for i in self.items for g in i.gaps for m in (g.at, g.resumed_at) if m is not None]
        first, last = min(moments), max(moments)
        pad = max((last - first) * 0.05, timedelta(minutes=30))
        return first - pad, last + pad

    def by_stage(self, stage: str) -> list[Item]:
        """The items of one stage, in time order."""
        return sorted((i for i in self.items if i.stage == stage), key=lambda i: (i.at, i.record_id))

    @property
    def av_items(self) -> list[Item]:
        """The audio-video records that have a recorded period."""
        return [i for i in sorted(self.items, key=lambda i: i.at) if i.end is not None]


def _moment(value: Any) -> datetime | None:
    """An ISO timestamp (or datetime) as a datetime; None for nothing."""
    if value is None or value == "":
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _finding_text(finding: Mapping[str, Any], article: Translate) -> str:
    """A finding as one line: its article, then its message."""
    return f"{article(n=finding.get('article'))} {finding.get('message', '')}".strip()


def _gaps(av: Mapping[str, Any]) -> tuple[Gap, ...]:
    """The interruptions of an `av` block that name when they began."""
    found = []
    for gap in av.get("interruptions") or []:
        at = _moment(gap.get("at"))
        if at is not None:
            found.append(Gap(at, _moment(gap.get("resumed_at")), gap.get("reason")))
    return tuple(found)


def _item(record: Mapping[str, Any], findings: tuple[str, ...], href: str | None) -> Item:
    """One API record dict as a timeline item."""
    av = record.get("av") or {}
    created = _moment(record["created_at"])
    assert created is not None
    start = _moment(av.get("started_at")) if av else None
    return Item(
        record_id=record["record_id"],
        title=record.get("title", ""),
        kind=record.get("kind", "text"),
        stage=record.get("stage", "archiving"),
        at=start or created,
        end=_moment(av.get("ended_at")) if start else None,
        gaps=_gaps(av) if av else (),
        findings=findings,
        href=href,
    )


def build(
    case_no: str,
    records: Iterable[Mapping[str, Any]],
    findings: Iterable[Mapping[str, Any]],
    *,
    href: Callable[[str], str | None],
    article: Translate,
) -> Timeline:
    """A timeline from the API's record and finding dicts (findings of unseen records are left out)."""
    findings = list(findings)
    per_record: dict[str, list[str]] = {}
    per_stage: dict[str, list[str]] = {}
    for finding in findings:
        text = _finding_text(finding, article)
        if finding.get("record_id"):
            per_record.setdefault(str(finding["record_id"]), []).append(text)
        else:
            stage = ARTICLE_STAGE.get(int(finding.get("article") or 0), "archiving")
            per_stage.setdefault(stage, []).append(text)
    items = tuple(_item(r, tuple(per_record.get(r["record_id"], ())), href(r["record_id"])) for r in records)
    return Timeline(case_no, items, {k: tuple(v) for k, v in per_stage.items()})


# --- geometry -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """Maps moments to x positions between the label column and the right edge."""

    start: datetime
    end: datetime
    left: float = LABEL_W
    right: float = WIDTH - RIGHT_PAD

    def x(self, moment: datetime) -> float:
        """The x position of a moment."""
        total = (self.end - self.start).total_seconds() or 1.0
        share = (moment - self.start).total_seconds() / total
        return self.left + share * (self.right - self.left)


_STEPS = [
    timedelta(minutes=m)
    for m in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080, 20160, 43200, 131040, 525600)
]


def ticks(start: datetime, end: datetime, *, most: int = 8) -> tuple[list[datetime], str]:
    """Evenly spaced, round moments (in China Standard Time) and the strftime format to label them."""
    span = end - start
    step = next((s for s in _STEPS if span / s <= most), _STEPS[-1])
    local = start.astimezone(CST)
    base = local.replace(hour=0, minute=0, second=0, microsecond=0)
    first = base + step * math.ceil((local - base) / step)
    moments = []
    moment = first
    while moment <= end:
        moments.append(moment)
        moment += step
    if step >= timedelta(days=1):
        return moments, "%Y-%m-%d" if span > timedelta(days=300) else "%m-%d"
    return moments, "%m-%d %H:%M" if span > timedelta(hours=20) else "%H:%M"


def _label_w(item: Item) -> float:
    """Roughly how wide a record id label is drawn."""
    return 7.0 * len(item.record_id) + 8


def _extent(item: Item, scale: Scale, x: float | None = None) -> tuple[float, float]:
    """Left and right x a mark and its label occupy, its dot (or bar start) at `x` (by default
    where its moment is)."""
    left = scale.x(item.at) if x is None else x
    sign = 18 if item.findings else 0
    if item.end is None:
        return left - 7, left + 9 + _label_w(item) + sign
    right = max(scale.x(item.end), left + MIN_BAR)
    return left, right + 4 + _label_w(item) + sign


def spread(items: Sequence[Item], scale: Scale) -> list[float]:
    """Where each item's dot or bar starts: at its moment, except that text records whose dots
    would fall on one another (the same time, or nearly) are set side by side from the first one's
    moment, moved left as far as needed to stay inside the plot; each tooltip keeps its own time.
    `items` in time order, as `Timeline.by_stage` gives them."""
    xs = [scale.x(item.at) for item in items]
    groups: list[list[int]] = []
    for index, item in enumerate(items):
        first = groups[-1][0] if groups else None
        if (
            first is not None
            and item.end is None
            and items[first].end is None
            and xs[index] - xs[first] < SAME_X
        ):
            groups[-1].append(index)
        else:
            groups.append([index])
    for group in (g for g in groups if len(g) > 1):
        for run in _runs(group, items, scale):
            placed, cursor = [], xs[run[0]]
            for index in run:
                placed.append(cursor)
                left, right = _extent(items[index], scale, cursor)
                cursor = right + SPREAD_GAP + (cursor - left)
            _, last_right = _extent(items[run[-1]], scale, placed[-1])
            shift = min(max(last_right - WIDTH, 0.0), max(placed[0] - scale.left, 0.0))
            for index, x in zip(run, placed, strict=True):
                xs[index] = x - shift
    return xs


def _runs(group: list[int], items: Sequence[Item], scale: Scale) -> list[list[int]]:
    """A group of records at one spot cut into runs that each fit across the plot side by side
    (the runs then stack in rows)."""
    room = WIDTH - scale.left
    runs: list[list[int]] = [[]]
    used = 0.0
    for index in group:
        left, right = _extent(items[index], scale, 0.0)
        width = right - left + SPREAD_GAP
        if runs[-1] and used + width > room:
            runs.append([])
            used = 0.0
        runs[-1].append(index)
        used += width
    return runs


def layout(items: Sequence[Item], scale: Scale) -> list[tuple[float, int]]:
    """Each item's x (`spread`) and row: greedy stacking, each item on the first row where it does
    not overlap the last mark."""
    ends: list[float] = []
    placed = []
    for item, x in zip(items, spread(items, scale), strict=True):
        left, right = _extent(item, scale, x)
        row = next((r for r, end in enumerate(ends) if end + 2 < left), len(ends))
        if row == len(ends):
            ends.append(right)
        else:
            ends[row] = right
        placed.append((x, row))
    return placed


def rows_of(items: Sequence[Item], scale: Scale) -> list[int]:
    """The row of each item (`layout`)."""
    return [row for _, row in layout(items, scale)]


def _segments(item: Item, scale: Scale) -> list[tuple[float, float]]:
    """The recorded parts of a bar: its span minus each interruption (a gap of at least MIN_GAP)."""
    assert item.end is not None
    left = scale.x(item.at)
    right = max(scale.x(item.end), left + MIN_BAR)
    parts: list[tuple[float, float]] = []
    cursor = left
    for gap in sorted(item.gaps, key=lambda g: g.at):
        gap_left = min(max(scale.x(gap.at), left), right)
        gap_right = right if gap.resumed_at is None else min(scale.x(gap.resumed_at), right)
        gap_right = max(gap_right, gap_left + MIN_GAP)
        if gap_left > cursor:
            parts.append((cursor, gap_left))
        cursor = max(cursor, gap_right)
    if cursor < right:
        parts.append((cursor, right))
    return parts


def _lane_heights(timeline: Timeline, scale: Scale) -> list[float]:
    """Each stage band's height: enough rows for its stacked records, at least one."""
    heights: list[float] = []
    for stage in STAGES:
        rows = rows_of(timeline.by_stage(stage), scale)
        heights.append(LANE_PAD * 2 + ROW_H * max(1, max(rows, default=0) + 1))
    return heights


# --- words for tooltips ---------------------------------------------------------------------


def _gap_note(gap: Gap, t: Translate) -> str:
    """An interruption in words, for tooltips."""
    return t(
        "timeline.interruption",
        start=local_time(gap.at),
        end=local_time(gap.resumed_at) if gap.resumed_at else t("timeline.not_resumed"),
        reason=gap.reason or t("timeline.no_reason"),
    )


def _item_note(item: Item, t: Translate) -> str:
    """A record's tooltip: id, title, time, interruptions and findings."""
    when = local_time(item.at) + (f" – {local_time(item.end)}" if item.end else "")
    lines = [f"{item.record_id} {item.title}", when]
    lines += [_gap_note(g, t) for g in item.gaps]
    lines += list(item.findings)
    return "\n".join(lines)


# --- the case timeline, as the macro `charts/timeline.html` draws it -------------------------


@dataclass(frozen=True)
class Sign:
    """A warning triangle (findings) or an interruption cross, centred on (x, y), with its tooltip."""

    x: float
    y: float
    note: str


@dataclass(frozen=True)
class Span:
    """A horizontal stretch: a recorded part of a bar, or a stage's time extent."""

    x: float
    width: float


@dataclass(frozen=True)
class RecordMark:
    """A record: a dot at (x, y), or a bar of recorded spans for audio-video, and its id label."""

    record_id: str
    note: str
    href: str | None
    x: float
    y: float
    bar: bool  # audio-video with a recorded period
    spans: tuple[Span, ...]
    label_x: float
    crosses: tuple[Sign, ...]
    warning: Sign | None


@dataclass(frozen=True)
class StageBand:
    """One stage's band: its background, name, extent, case-level findings and records."""

    stage: str
    name: str
    top: float
    height: float
    odd: bool  # bands alternate their shade
    extent: Span | None
    warning: Sign | None
    marks: tuple[RecordMark, ...]


@dataclass(frozen=True)
class Tick:
    """A moment on the axis: its x and its label."""

    x: float
    label: str


@dataclass(frozen=True)
class Strip:
    """One recording on its own scale below the bands, so short interruptions show clearly."""

    record_id: str
    caption: str
    note: str
    y: float
    spans: tuple[Span, ...]
    crosses: tuple[Sign, ...]
    period: str
    period_x: float


@dataclass(frozen=True)
class TimelineDrawing:
    """Everything the timeline macro draws; `empty` is said instead when there is nothing to draw."""

    empty: str | None
    title: str
    desc: str
    height: float
    bands: tuple[StageBand, ...] = ()
    ticks: tuple[Tick, ...] = ()
    axis_bottom: float = 0.0
    strips_heading: str = ""
    strips_top: float = 0.0
    strips: tuple[Strip, ...] = ()
    width: int = WIDTH
    axis_h: int = AXIS_H


def _spans(parts: Iterable[tuple[float, float]]) -> tuple[Span, ...]:
    """Recorded parts as spans at least one unit wide."""
    return tuple(Span(a, max(b - a, 1.0)) for a, b in parts)


def _record_mark(item: Item, scale: Scale, x: float, y: float, t: Translate) -> RecordMark:
    """Where a record's dot or bar (at `x`, from `spread`), its label and its signs go."""
    bar = item.end is not None
    # The id label starts right of the dot, or right of the bar's end (a bar is at least MIN_BAR).
    label_x = max(scale.x(item.end), x + MIN_BAR) + 4 if item.end is not None else x + 9
    return RecordMark(
        record_id=item.record_id,
        note=_item_note(item, t),
        href=item.href,
        x=x,
        y=y,
        bar=bar,
        spans=_spans(_segments(item, scale)) if bar else (),
        label_x=label_x,
        crosses=tuple(Sign(scale.x(g.at), y - 11, _gap_note(g, t)) for g in item.gaps) if bar else (),
        warning=Sign(label_x + 4 + _label_w(item), y, "\n".join(item.findings)) if item.findings else None,
    )


def _stage_band(
    stage: str, index: int, top: float, height: float, timeline: Timeline, scale: Scale, t: Translate
) -> StageBand:
    """A stage's band, its time extent, its case-level findings and its records stacked in rows."""
    items = timeline.by_stage(stage)
    placed = layout(items, scale)
    extent = None
    if items:
        first = min(_extent(i, scale, x)[0] for i, (x, _) in zip(items, placed, strict=True)) - 4
        last = max(scale.x(i.end) if i.end else x for i, (x, _) in zip(items, placed, strict=True)) + 6
        extent = Span(first, max(last - first, MIN_BAR))
    notes = timeline.stage_findings.get(stage, ())
    marks = tuple(
        _record_mark(item, scale, x, top + LANE_PAD + ROW_H * row + ROW_H / 2, t)
        for item, (x, row) in zip(items, placed, strict=True)
    )
    return StageBand(
        stage=stage,
        name=t(LABELS["stage"][stage]),
        top=top,
        height=height,
        odd=bool(index % 2),
        extent=extent,
        warning=Sign(18, top + 29, "\n".join(notes)) if notes else None,  # under the stage's name
        marks=marks,
    )


def _strip(item: Item, top: float, t: Translate) -> Strip:
    """One recording from start to end across the plot."""
    assert item.end is not None
    scale = Scale(item.at, item.end, left=LABEL_W, right=WIDTH - RIGHT_PAD - 70)
    y = top + STRIP_H / 2
    return Strip(
        record_id=item.record_id,
        caption=f"{item.record_id} {item.title}"[:10],
        note=_item_note(item, t),
        y=y,
        spans=_spans(_segments(item, scale)),
        crosses=tuple(Sign(scale.x(g.at), y - 12, _gap_note(g, t)) for g in item.gaps),
        period=f"{local_time(item.at)[11:]}–{local_time(item.end)[11:]}",
        period_x=scale.right + 6,
    )


def timeline_drawing(timeline: Timeline, t: Translate) -> TimelineDrawing:
    """The case timeline: five stage bands on a time axis, records as dots and bars, findings as signs."""
    title = t("timeline.title", case_no=timeline.case_no)
    if not timeline.items:
        return TimelineDrawing(empty=t("timeline.empty"), title=title, desc="", height=0.0)
    scale = Scale(*timeline.span)
    bands, top = [], float(AXIS_H)
    for index, (stage, height) in enumerate(zip(STAGES, _lane_heights(timeline, scale), strict=True)):
        bands.append(_stage_band(stage, index, top, height, timeline, scale, t))
        top += height
    moments, fmt = ticks(scale.start, scale.end)
    axis = tuple(Tick(scale.x(m), m.astimezone(CST).strftime(fmt)) for m in moments)
    strips, bottom, strips_top = [], top, top + 18
    if timeline.av_items:
        bottom = strips_top + 8
        for item in timeline.av_items:
            strips.append(_strip(item, bottom, t))
            bottom += STRIP_H
    gaps = sum(len(i.gaps) for i in timeline.items)
    findings = sum(len(i.findings) for i in timeline.items) + sum(
        len(v) for v in timeline.stage_findings.values()
    )
    desc = t(
        "timeline.desc", records=len(timeline.items), av=len(timeline.av_items), gaps=gaps, findings=findings
    )
    return TimelineDrawing(
        empty=None,
        title=title,
        desc=desc,
        height=bottom + 8,
        bands=tuple(bands),
        ticks=axis,
        axis_bottom=top,
        strips_heading=t("timeline.av_detail"),
        strips_top=strips_top,
        strips=tuple(strips),
    )


# --- ledger activity ------------------------------------------------------------------------


@dataclass(frozen=True)
class DayCount:
    """How many ledger entries one day had, allowed (or ok) and refused (denied or failed)."""

    day: date
    allowed: int = 0
    refused: int = 0


def count_days(rows: Iterable[tuple[datetime, str]], *, last_day: date, days: int = 30) -> list[DayCount]:
    """Count (moment, outcome) rows per China-time day for the `days` days up to `last_day`."""
    first = last_day - timedelta(days=days - 1)
    allowed = dict.fromkeys((first + timedelta(days=n) for n in range(days)), 0)
    refused = dict(allowed)
    for moment, outcome in rows:
        day = moment.astimezone(CST).date()
        if day not in allowed:
            continue
        if outcome in ("allowed", "ok"):
            allowed[day] += 1
        elif outcome in ("denied", "failed"):
            refused[day] += 1
    return [DayCount(day, allowed[day], refused[day]) for day in allowed]


def _nice_ceiling(value: int) -> int:
    """A round upper bound for the bar chart's scale."""
    if value <= 5:
        return 5
    magnitude = 10 ** int(math.log10(value))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= value)


ACTIVITY_H = 190
ACTIVITY_TOP = 26
ACTIVITY_BOTTOM = 26
ACTIVITY_LEFT = 44
ACTIVITY_RIGHT = WIDTH - 12


@dataclass(frozen=True)
class GridLine:
    """A horizontal grid line at y, labelled with the count it stands for."""

    y: float
    value: int


@dataclass(frozen=True)
class DayBar:
    """One day's stacked bar: allowed below, refused on top, and its date label when shown."""

    day: str
    note: str
    x: float
    width: float
    allowed_y: float
    allowed_h: float
    refused_y: float
    refused_h: float
    label: str | None  # every fifth day and the last


@dataclass(frozen=True)
class ActivityDrawing:
    """Everything the ledger activity macro draws."""

    title: str
    desc: str
    grid: tuple[GridLine, ...]
    days: tuple[DayBar, ...]
    allowed: str
    refused: str
    width: int = WIDTH
    height: int = ACTIVITY_H
    top: int = ACTIVITY_TOP
    left: int = ACTIVITY_LEFT
    right: int = ACTIVITY_RIGHT
    plot_h: int = ACTIVITY_H - ACTIVITY_TOP - ACTIVITY_BOTTOM


def activity_drawing(days: Sequence[DayCount], t: Translate) -> ActivityDrawing:
    """Entries per day as stacked bars: allowed below, refused on top, each day with its tooltip."""
    peak = _nice_ceiling(max((d.allowed + d.refused for d in days), default=0))
    plot_h = ACTIVITY_H - ACTIVITY_TOP - ACTIVITY_BOTTOM
    base = ACTIVITY_H - ACTIVITY_BOTTOM
    slot = (ACTIVITY_RIGHT - ACTIVITY_LEFT) / max(len(days), 1)
    grid = tuple(GridLine(base - plot_h * value / peak, value) for value in (0, peak // 2, peak))
    bars = []
    for index, day in enumerate(days):
        h_allowed = plot_h * day.allowed / peak
        h_refused = plot_h * day.refused / peak
        label = day.day.strftime("%m-%d")
        bars.append(
            DayBar(
                day=day.day.isoformat(),
                note=t("ledger.day", day=label, allowed=day.allowed, refused=day.refused),
                x=ACTIVITY_LEFT + slot * index + 2,
                width=slot - 4,
                allowed_y=base - h_allowed,
                allowed_h=h_allowed,
                refused_y=base - h_allowed - h_refused,
                refused_h=h_refused,
                label=label if index % 5 == 0 or index == len(days) - 1 else None,
            )
        )
    allowed = sum(d.allowed for d in days)
    refused = sum(d.refused for d in days)
    return ActivityDrawing(
        title=t("ledger.activity"),
        desc=t("ledger.activity_desc", allowed=allowed, refused=refused),
        grid=grid,
        days=tuple(bars),
        allowed=t("ledger.allowed"),
        refused=t("ledger.refused"),
    )
