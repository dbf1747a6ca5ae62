"""Pictures of time, drawn on the server as inline SVG: a case's timeline and ledger activity.

No script and no `style` attributes (the CSP forbids inline styles): colours are SVG
presentation attributes, and every mark carries a `<title>` tooltip. The same data is also
offered as a table on the page, for screen readers and for people who prefer to read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from markupsafe import Markup, escape

from portal.web.i18n import CST, local_time

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
STRIP_H = 34

INK = "#1d2733"
MUTED = "#5b6675"
GRID = "#d5dae1"
LANE_FILLS = ("#f4f6f9", "#ffffff")
STAGE_SPAN = "#dde7f3"
TEXT_MARK = "#1f4e79"
AV_BAR = "#2a7f62"
INTERRUPT = "#c0392b"
WARN = "#e0a100"
ALLOWED = "#2f6f9f"
REFUSED = "#c0392b"
FONTS = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif"

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


# --- drawing helpers ------------------------------------------------------------------------


def _attrs(attrs: Mapping[str, object]) -> str:
    """SVG attributes from keyword names (`class_` → class, `stroke_width` → stroke-width)."""
    parts = []
    for name, value in attrs.items():
        if value is None:
            continue
        key = name.rstrip("_").replace("_", "-")
        parts.append(f' {key}="{escape(str(value))}"')
    return "".join(parts)


def el(tag: str, *children: str, **attrs: object) -> str:
    """One SVG element; children are already-safe markup, attribute values are escaped."""
    return f"<{tag}{_attrs(attrs)}>{''.join(children)}</{tag}>"


def text(content: str, **attrs: object) -> str:
    """A `<text>` element with escaped content."""
    return el("text", str(escape(content)), **attrs)


def tooltip(content: str) -> str:
    """A `<title>` child: the browser shows it on hover, screen readers read it."""
    return el("title", str(escape(content)))


def num(value: float) -> str:
    """A coordinate with one decimal: short markup, steady output."""
    return f"{value:.1f}"


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


def _warning(x: float, y: float, note: str) -> str:
    """A yellow warning triangle with an exclamation mark and the findings as its tooltip."""
    points = f"{num(x)},{num(y - 7)} {num(x + 7)},{num(y + 6)} {num(x - 7)},{num(y + 6)}"
    return el(
        "g",
        tooltip(note),
        el("polygon", points=points, fill=WARN, stroke=INK, stroke_width="0.8"),
        text("!", x=num(x), y=num(y + 4.5), text_anchor="middle", font_size="9", font_weight="700", fill=INK),
        class_="finding",
    )


def _interruption(x: float, y: float, note: str) -> str:
    """A red cross above a recording bar where it was interrupted."""
    left, right, high, low = num(x - 4), num(x + 4), num(y - 4), num(y + 4)
    d = f"M{left},{high} L{right},{low} M{right},{high} L{left},{low}"
    return el(
        "g",
        tooltip(note),
        el("path", d=d, stroke=INTERRUPT, stroke_width="2.2", stroke_linecap="round", fill="none"),
        class_="interruption",
    )


def _link(item: Item, body: str) -> str:
    """Wrap a mark in a link to its record page when the caller may open it."""
    return el("a", body, href=item.href) if item.href else body


# --- the case timeline ----------------------------------------------------------------------


def _label_w(item: Item) -> float:
    """Roughly how wide a record id label is drawn."""
    return 7.0 * len(item.record_id) + 8


def _extent(item: Item, scale: Scale) -> tuple[float, float]:
    """Left and right x a mark and its label occupy."""
    left = scale.x(item.at)
    sign = 18 if item.findings else 0
    if item.end is None:
        return left - 7, left + 9 + _label_w(item) + sign
    right = max(scale.x(item.end), left + MIN_BAR)
    return left, right + 4 + _label_w(item) + sign


def rows_of(items: Sequence[Item], scale: Scale) -> list[int]:
    """Greedy stacking: each item goes on the first row where it does not overlap the last mark."""
    ends: list[float] = []
    rows = []
    for item in items:
        left, right = _extent(item, scale)
        row = next((r for r, end in enumerate(ends) if end + 2 < left), len(ends))
        if row == len(ends):
            ends.append(right)
        else:
            ends[row] = right
        rows.append(row)
    return rows


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


def _av_mark(item: Item, scale: Scale, y: float, t: Translate) -> str:
    bars = [
        el("rect", x=num(a), y=num(y - 5), width=num(max(b - a, 1.0)), height="10", rx="2", fill=AV_BAR)
        for a, b in _segments(item, scale)
    ]
    marks = [_interruption(scale.x(g.at), y - 11, _gap_note(g, t)) for g in item.gaps]
    right = max(scale.x(item.end or item.at), scale.x(item.at) + MIN_BAR)
    label = text(item.record_id, x=num(right + 4), y=num(y + 4), font_size="11", fill=INK)
    warn = _warning(right + 8 + _label_w(item), y, "\n".join(item.findings)) if item.findings else ""
    body = el("g", tooltip(_item_note(item, t)), *bars, label, class_="av-bar", data_record=item.record_id)
    return _link(item, body) + "".join(marks) + warn


def _text_mark(item: Item, scale: Scale, y: float, t: Translate) -> str:
    x = scale.x(item.at)
    dot = el("circle", cx=num(x), cy=num(y), r="5.5", fill=TEXT_MARK, stroke="#ffffff", stroke_width="1.5")
    label = text(item.record_id, x=num(x + 9), y=num(y + 4), font_size="11", fill=INK)
    warn = _warning(x + 13 + _label_w(item), y, "\n".join(item.findings)) if item.findings else ""
    body = el("g", tooltip(_item_note(item, t)), dot, label, class_="text-mark", data_record=item.record_id)
    return _link(item, body) + warn


def _axis(scale: Scale, height: float) -> str:
    """Tick lines and labels across the bands."""
    moments, fmt = ticks(scale.start, scale.end)
    parts = []
    for moment in moments:
        x = num(scale.x(moment))
        parts.append(
            el("line", x1=x, x2=x, y1=str(AXIS_H - 6), y2=num(height), stroke=GRID, stroke_width="1")
        )
        label = moment.astimezone(CST).strftime(fmt)
        parts.append(text(label, x=x, y=str(AXIS_H - 12), text_anchor="middle", font_size="11", fill=MUTED))
    return el("g", *parts, class_="axis")


def _band(
    stage: str, index: int, top: float, height: float, timeline: Timeline, scale: Scale, t: Translate
) -> str:
    """A stage's background band, its name, its time extent and its case-level findings."""
    items = timeline.by_stage(stage)
    parts = [
        el(
            "rect",
            x="0",
            y=num(top),
            width=str(WIDTH),
            height=num(height),
            fill=LANE_FILLS[index % 2],
            class_="stage-band",
            data_stage=stage,
        ),
    ]
    if items:
        first = min(_extent(i, scale)[0] for i in items) - 4
        last = max(scale.x(i.end or i.at) for i in items) + 6
        parts.append(
            el(
                "rect",
                x=num(first),
                y=num(top + 3),
                width=num(max(last - first, MIN_BAR)),
                height=num(height - 6),
                rx="4",
                fill=STAGE_SPAN,
                class_="stage-span",
            )
        )
    parts.append(
        text(t(f"stage.{stage}"), x="10", y=num(top + 17), font_size="13", font_weight="600", fill=INK)
    )
    notes = timeline.stage_findings.get(stage, ())
    if notes:
        parts.append(_warning(18, top + 29, "\n".join(notes)))  # under the stage's name
    return el("g", *parts, class_="stage", data_stage=stage)


def _marks(stage: str, top: float, timeline: Timeline, scale: Scale, t: Translate) -> str:
    """A stage's records, stacked in rows where they would overlap."""
    items = timeline.by_stage(stage)
    parts = []
    for item, row in zip(items, rows_of(items, scale), strict=True):
        y = top + LANE_PAD + ROW_H * row + ROW_H / 2
        parts.append(_av_mark(item, scale, y, t) if item.end else _text_mark(item, scale, y, t))
    return "".join(parts)


def _lane_heights(timeline: Timeline, scale: Scale) -> list[float]:
    """Each stage band's height: enough rows for its stacked records, at least one."""
    heights: list[float] = []
    for stage in STAGES:
        rows = rows_of(timeline.by_stage(stage), scale)
        heights.append(LANE_PAD * 2 + ROW_H * max(1, max(rows, default=0) + 1))
    return heights


def _strip(item: Item, top: float, t: Translate) -> str:
    """One recording on its own scale, start to end, so short interruptions show clearly."""
    assert item.end is not None
    scale = Scale(item.at, item.end, left=LABEL_W, right=WIDTH - RIGHT_PAD - 70)
    y = top + STRIP_H / 2
    parts = [text(f"{item.record_id} {item.title}"[:10], x="10", y=num(y + 4), font_size="11", fill=INK)]
    for a, b in _segments(item, scale):
        parts.append(
            el(
                "rect",
                x=num(a),
                y=num(y - 6),
                width=num(max(b - a, 1.0)),
                height="12",
                rx="2",
                fill=AV_BAR,
            )
        )
    for gap in item.gaps:
        parts.append(_interruption(scale.x(gap.at), y - 12, _gap_note(gap, t)))
    span = f"{local_time(item.at)[11:]}–{local_time(item.end)[11:]}"
    parts.append(text(span, x=num(scale.right + 6), y=num(y + 4), font_size="11", fill=MUTED))
    return el("g", tooltip(_item_note(item, t)), *parts, class_="av-strip", data_record=item.record_id)


def _strips(timeline: Timeline, top: float, t: Translate) -> tuple[list[str], float]:
    """The recording-period strips below the bands, and the y where they end."""
    if not timeline.av_items:
        return [], top
    top += 18
    parts = [
        text(t("timeline.av_detail"), x="10", y=num(top + 4), font_size="12", font_weight="600", fill=MUTED)
    ]
    top += 8
    for item in timeline.av_items:
        parts.append(_strip(item, top, t))
        top += STRIP_H
    return parts, top


def timeline_svg(timeline: Timeline, t: Translate) -> Markup:
    """The case timeline: five stage bands on a time axis, records as dots and bars, findings as signs."""
    if not timeline.items:
        return Markup(el("p", str(escape(t("timeline.empty"))), class_="empty"))
    scale = Scale(*timeline.span)
    bands, marks, top = [], [], float(AXIS_H)
    for index, (stage, height) in enumerate(zip(STAGES, _lane_heights(timeline, scale), strict=True)):
        bands.append(_band(stage, index, top, height, timeline, scale, t))
        marks.append(_marks(stage, top, timeline, scale, t))
        top += height
    axis = _axis(scale, top)
    strips, bottom = _strips(timeline, top, t)
    gaps = sum(len(i.gaps) for i in timeline.items)
    findings = sum(len(i.findings) for i in timeline.items) + sum(
        len(v) for v in timeline.stage_findings.values()
    )
    title = t("timeline.title", case_no=timeline.case_no)
    desc = t(
        "timeline.desc", records=len(timeline.items), av=len(timeline.av_items), gaps=gaps, findings=findings
    )
    return Markup(
        el(
            "svg",
            el("title", str(escape(title)), id="timeline-title"),
            el("desc", str(escape(desc)), id="timeline-desc"),
            *bands,
            axis,
            *marks,
            *strips,
            xmlns="http://www.w3.org/2000/svg",
            viewBox=f"0 0 {WIDTH} {num(bottom + 8)}",
            role="img",
            aria_labelledby="timeline-title timeline-desc",
            class_="timeline",
            font_family=FONTS,
        )
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


def activity_svg(days: Sequence[DayCount], t: Translate) -> Markup:
    """Entries per day as stacked bars: allowed below, refused on top, each day with its tooltip."""
    height, top, bottom, left, right = 190, 26, 26, 44, WIDTH - 12
    peak = _nice_ceiling(max((d.allowed + d.refused for d in days), default=0))
    plot_h = height - top - bottom
    slot = (right - left) / max(len(days), 1)
    parts = []
    for value in (0, peak // 2, peak):
        y = num(height - bottom - plot_h * value / peak)
        parts.append(el("line", x1=str(left), x2=str(right), y1=y, y2=y, stroke=GRID, stroke_width="1"))
        parts.append(
            text(
                str(value),
                x=str(left - 6),
                y=y,
                text_anchor="end",
                font_size="10",
                fill=MUTED,
                dominant_baseline="middle",
            )
        )
    for index, day in enumerate(days):
        x = left + slot * index + 2
        h_allowed = plot_h * day.allowed / peak
        h_refused = plot_h * day.refused / peak
        base = height - bottom
        label = day.day.strftime("%m-%d")
        bar = [
            tooltip(t("ledger.day", day=label, allowed=day.allowed, refused=day.refused)),
            el(
                "rect",
                x=num(x),
                y=num(top),
                width=num(slot - 4),
                height=num(plot_h),
                fill="#ffffff",
                fill_opacity="0",
            ),
            el(
                "rect",
                x=num(x),
                y=num(base - h_allowed),
                width=num(slot - 4),
                height=num(h_allowed),
                fill=ALLOWED,
                class_="allowed",
            ),
            el(
                "rect",
                x=num(x),
                y=num(base - h_allowed - h_refused),
                width=num(slot - 4),
                height=num(h_refused),
                fill=REFUSED,
                class_="refused",
            ),
        ]
        parts.append(el("g", *bar, class_="day", data_day=day.day.isoformat()))
        if index % 5 == 0 or index == len(days) - 1:
            parts.append(
                text(
                    label,
                    x=num(x + (slot - 4) / 2),
                    y=str(height - 8),
                    text_anchor="middle",
                    font_size="10",
                    fill=MUTED,
                )
            )
    legend = [
        el("rect", x=str(right - 190), y="6", width="10", height="10", fill=ALLOWED),
        text(t("ledger.allowed"), x=str(right - 175), y="15", font_size="11", fill=INK),
        el("rect", x=str(right - 90), y="6", width="10", height="10", fill=REFUSED),
        text(t("ledger.refused"), x=str(right - 75), y="15", font_size="11", fill=INK),
    ]
    allowed = sum(d.allowed for d in days)
    refused = sum(d.refused for d in days)
    return Markup(
        el(
            "svg",
            el("title", str(escape(t("ledger.activity"))), id="activity-title"),
            el(
                "desc",
                str(escape(t("ledger.activity_desc", allowed=allowed, refused=refused))),
                id="activity-desc",
            ),
            *parts,
            *legend,
            xmlns="http://www.w3.org/2000/svg",
            viewBox=f"0 0 {WIDTH} {height}",
            role="img",
            aria_labelledby="activity-title activity-desc",
            class_="activity",
            font_family=FONTS,
        )
    )
