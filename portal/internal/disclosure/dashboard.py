"""The disclosure deadline picture (答复期限看板), drawn on the server as inline SVG.

A time axis in days (today marked, non-working days shaded from the work calendar), one bar per
open request from the day its clock started to the day the reply is due, coloured by the working
days left; consultation time that does not count (art. 32) is hatched, a request waiting for a
correction (art. 30) is a dashed outline up to its correction deadline. Like `portal.web.charts`:
the geometry here as plain data, the drawing in the macro `charts/deadlines.html` (no script, no
`style` attributes, a `<title>` on every mark), and the same data offered as a table on the page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from access.disclosure.models import DisclosureStatus
from access.disclosure.schemas import RequestView
from access.workdays import WorkCalendar
from portal.web.charts import Span
from portal.web.labels import N_

WIDTH = 960
LABEL_W = 150
RIGHT_PAD = 16
AXIS_H = 44
ROW_H = 30
BAR_H = 14
LEGEND_H = 78
DAYS_BEFORE = 14  # overdue requests sit left of today
DAYS_AFTER = 42  # about six weeks ahead
MOST_BEFORE = 70  # a long-overdue request stretches the axis, but only this far
MOST_AFTER = 120  # an extended deadline stretches it, but only this far
ONE_DAY = timedelta(days=1)

Translate = Callable[..., str]


class Band(StrEnum):
    """How close a deadline is, in working days left."""

    ample = "ample"  # 10 or more
    soon = "soon"  # 5 to 9
    urgent = "urgent"  # 1 to 4
    overdue = "overdue"  # due today or past
    waiting = "waiting"  # clock stopped: waiting for the applicant's correction


def band(days_left: int | None) -> Band:
    """The colour band of a deadline; None (no running clock) is waiting."""
    if days_left is None:
        return Band.waiting
    if days_left <= 0:
        return Band.overdue
    if days_left < 5:
        return Band.urgent
    if days_left < 10:
        return Band.soon
    return Band.ample


@dataclass(frozen=True)
class Bar:
    """One open request as the picture and its table show it."""

    request_id: int
    tracking_code: str
    status: str
    received_on: date
    clock_from: date
    due_on: date | None
    days_left: int | None
    band: Band
    pause: tuple[date, date] | None  # consultation days not counted, first and last
    waiting_until: date | None  # the correction deadline while the clock is stopped
    estimated_years: tuple[int, ...]
    extension_days: int | None  # approved extension, working days

    @property
    def end(self) -> date:
        """The last day the bar reaches."""
        return self.due_on or self.waiting_until or self.clock_from


def _pause(view: RequestView) -> tuple[date, date] | None:
    """Consultation time as the deadline skips it: the day after it began to the day it ended (or will)."""
    if view.consultation_from is None:
        return None
    until = view.consultation_ended_on or view.consultation_until
    if until is None or until <= view.consultation_from:
        return None
    return view.consultation_from + ONE_DAY, until


def bars(views: Iterable[RequestView]) -> list[Bar]:
    """The open requests as bars, soonest deadline first, waiting ones last."""
    found = [
        Bar(
            request_id=v.id,
            tracking_code=v.tracking_code,
            status=v.status,
            received_on=v.received_on,
            clock_from=v.clock_from,
            due_on=v.due_on,
            days_left=v.working_days_left,
            band=band(v.working_days_left if v.due_on else None),
            pause=_pause(v),
            waiting_until=v.correct_by if v.status == DisclosureStatus.awaiting_correction else None,
            estimated_years=v.estimated_years,
            extension_days=v.extension_days if v.extension_status == "approved" else None,
        )
        for v in views
        if v.is_open
    ]
    return sorted(found, key=lambda b: (b.due_on is None, b.due_on or date.max, b.request_id))


def window(found: Sequence[Bar], today: date) -> tuple[date, date]:
    """First and last day on the axis: two weeks back and six ahead, stretched (within limits)
    so overdue and extended deadlines stay in view."""
    first, last = today - timedelta(days=DAYS_BEFORE), today + timedelta(days=DAYS_AFTER)
    ends = [b.end for b in found]
    if ends and min(ends) < first:
        first = max(min(ends) - timedelta(days=3), today - timedelta(days=MOST_BEFORE))
    if ends and max(ends) > last:
        last = min(max(ends) + timedelta(days=3), today + timedelta(days=MOST_AFTER))
    return first, last


@dataclass(frozen=True)
class DayScale:
    """Maps days to columns between the label column and the right edge."""

    first: date
    last: date

    @property
    def width(self) -> float:
        """How wide one day's column is."""
        return (WIDTH - LABEL_W - RIGHT_PAD) / ((self.last - self.first).days + 1)

    def x(self, day: date) -> float:
        """The left edge of a day's column, clamped to the plot."""
        day = min(max(day, self.first), self.last + ONE_DAY)
        return LABEL_W + (day - self.first).days * self.width

    def days(self) -> Iterable[date]:
        """Every day on the axis."""
        day = self.first
        while day <= self.last:
            yield day
            day += ONE_DAY


def _width(words: str, size: float) -> float:
    """Roughly how wide text is drawn: CJK characters are square, Latin ones about half as wide."""
    return sum(size if ord(c) >= 0x2E80 else size * 0.58 for c in words)


# --- the picture, as the macro `charts/deadlines.html` draws it -------------------------------


@dataclass(frozen=True)
class AxisDay:
    """A day's column on the axis: shaded when not a working day, ruled and named where it starts
    a week or a month."""

    x: float
    off: bool
    rule: bool  # Mondays and the first of a month
    tick: str | None  # the date, on Mondays
    month: str | None  # the month's name, on its first day and on the axis's first


@dataclass(frozen=True)
class RequestRow:
    """One request's row: its label, its bar and pause, and the note on its deadline."""

    request_id: int
    band: Band
    tracking_code: str
    href: str | None
    note: str  # the tooltip
    top: float
    y: float  # the bar's top edge
    x: float
    width: float
    earlier: bool  # the bar began left of the axis
    stopped_from: float | None  # where the clock stood still until the correction came
    pause: Span | None
    caption: str
    caption_at_edge: bool  # no room right of the bar: at the right edge, above the bar's end


@dataclass(frozen=True)
class LegendEntry:
    """A swatch (named by what it stands for) and its words, at (x, y)."""

    swatch: str
    words: str
    x: float
    y: float


@dataclass(frozen=True)
class DeadlineDrawing:
    """Everything the deadline macro draws; `empty` is said instead when no request is open."""

    empty: str | None
    title: str
    desc: str = ""
    days: tuple[AxisDay, ...] = ()
    day_width: float = 0.0
    rows: tuple[RequestRow, ...] = ()
    bottom: float = 0.0
    today: str = ""
    today_x: float = 0.0
    today_label: str = ""
    legend: tuple[LegendEntry, ...] = ()
    width: int = WIDTH
    axis_h: int = AXIS_H
    row_h: int = ROW_H
    bar_h: int = BAR_H
    legend_h: int = LEGEND_H
    right_pad: int = RIGHT_PAD


def _axis(scale: DayScale, calendar: WorkCalendar, t: Translate) -> tuple[AxisDay, ...]:
    """Every day's column, shading, rules and names."""
    return tuple(
        AxisDay(
            x=scale.x(day),
            off=not calendar.is_workday(day),
            rule=day.weekday() == 0 or day.day == 1,
            tick=day.strftime("%m-%d") if day.weekday() == 0 else None,
            month=t("handling.dash.month", year=day.year, month=day.month)
            if day.day == 1 or day == scale.first
            else None,
        )
        for day in scale.days()
    )


def bar_note(bar: Bar, t: Translate) -> str:
    """A request's deadline in words: the tooltip and the table's summary."""
    # The key is built apart from the call (its values are declared in portal/web/labels.py): a
    # literal prefix inside the call would be extracted as a message of its own.
    status_key = f"handling.status.{bar.status}"
    status = t(status_key)
    lines = [
        f"{bar.tracking_code} · {status}",
        t("handling.dash.received", day=bar.received_on.isoformat()),
    ]
    if bar.clock_from != bar.received_on:
        lines.append(t("handling.dash.restarted", day=bar.clock_from.isoformat()))
    if bar.pause:
        lines.append(t("handling.dash.paused", first=bar.pause[0].isoformat(), last=bar.pause[1].isoformat()))
    if bar.extension_days:
        lines.append(t("handling.dash.extended", days=bar.extension_days))
    if bar.waiting_until:
        lines.append(t("handling.dash.waiting", day=bar.waiting_until.isoformat()))
    if bar.due_on:
        lines.append(t("handling.dash.due", day=bar.due_on.isoformat()))
        lines.append(days_left_text(bar.days_left, t))
    if bar.estimated_years:
        lines.append(t("handling.estimated_short", years="、".join(map(str, bar.estimated_years))))
    return "\n".join(lines)


def days_left_text(days_left: int | None, t: Translate) -> str:
    """Working days left, today, or overdue, in words."""
    if days_left is None:
        return t("handling.left.none")
    if days_left < 0:
        return t("handling.left.overdue", n=-days_left)
    if days_left == 0:
        return t("handling.left.today")
    return t("handling.left.n", n=days_left)


def _row(
    bar: Bar, index: int, scale: DayScale, t: Translate, href: Callable[[int], str] | None
) -> RequestRow:
    """Where a request's label, bar, pause and deadline note go."""
    top = AXIS_H + index * ROW_H
    left = scale.x(bar.clock_from)
    width = max(scale.x(bar.end + ONE_DAY) - left, 2.0)
    waiting = bar.band is Band.waiting  # the clock stands still: a dashed outline
    pause = None
    if not waiting and bar.pause:
        pause_left, pause_right = scale.x(bar.pause[0]), scale.x(bar.pause[1] + ONE_DAY)
        pause = Span(pause_left, max(pause_right - pause_left, 1.0))
    note = days_left_text(bar.days_left, t) if bar.due_on else t("handling.dash.waiting_short")
    when = (bar.due_on or bar.waiting_until or bar.clock_from).strftime("%m-%d")
    caption = f"{when} · {note}" + (" ≈" if bar.estimated_years else "")
    return RequestRow(
        request_id=bar.request_id,
        band=bar.band,
        tracking_code=bar.tracking_code,
        href=href(bar.request_id) if href else None,
        note=bar_note(bar, t),
        top=top,
        y=top + (ROW_H - BAR_H) / 2,
        x=left,
        width=width,
        earlier=bar.clock_from < scale.first,
        # the clock stood still until the correction came
        stopped_from=scale.x(bar.received_on) if not waiting and bar.clock_from != bar.received_on else None,
        pause=pause,
        caption=caption,
        caption_at_edge=WIDTH - RIGHT_PAD - (left + width) <= _width(caption, 11) + 8,
    )


# The legend's swatches: the four colours, then the hatching, the outline, a day off, today's line.
LEGEND = (
    ("ample", N_("handling.band.ample")),
    ("soon", N_("handling.band.soon")),
    ("urgent", N_("handling.band.urgent")),
    ("overdue", N_("handling.band.overdue")),
    ("paused", N_("handling.band.paused")),
    ("waiting", N_("handling.band.waiting")),
    ("off", N_("handling.band.off")),
    ("today", N_("handling.band.today")),
)


def _legend(top: float, t: Translate) -> tuple[LegendEntry, ...]:
    """The swatches for the colours, the hatching, the outline and today's line, in lines that fit."""
    found, x, y = [], 8.0, top + 14
    for swatch, key in LEGEND:
        words = t(key)
        width = 20 + _width(words, 11) + 18
        if x + width > WIDTH - RIGHT_PAD:
            x, y = 8.0, y + 20
        found.append(LegendEntry(swatch, words, x, y))
        x += width
    return tuple(found)


def deadline_drawing(
    views: Sequence[RequestView],
    calendar: WorkCalendar,
    today: date,
    t: Translate,
    *,
    href: Callable[[int], str] | None = None,
) -> DeadlineDrawing:
    """The picture: one bar per open request on a day axis around `today`, with a legend."""
    found = bars(views)
    title = t("handling.dash.title")
    if not found:
        return DeadlineDrawing(empty=t("handling.dash.empty"), title=title)
    scale = DayScale(*window(found, today))
    bottom = AXIS_H + ROW_H * len(found)
    counts = {b: sum(1 for bar in found if bar.band is b) for b in Band}
    desc = t(
        "handling.dash.desc",
        open=len(found),
        overdue=counts[Band.overdue],
        urgent=counts[Band.urgent],
        soon=counts[Band.soon],
        ample=counts[Band.ample],
        waiting=counts[Band.waiting],
        first=scale.first.isoformat(),
        last=scale.last.isoformat(),
        today=today.isoformat(),
    )
    return DeadlineDrawing(
        empty=None,
        title=title,
        desc=desc,
        days=_axis(scale, calendar, t),
        day_width=scale.width,
        rows=tuple(_row(bar, index, scale, t, href) for index, bar in enumerate(found)),
        bottom=bottom,
        today=today.isoformat(),
        today_x=scale.x(today) + scale.width / 2,
        today_label=t("handling.dash.today", day=today.strftime("%m-%d")),
        legend=_legend(bottom + 22, t),
    )
