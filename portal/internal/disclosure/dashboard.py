"""The disclosure deadline picture (答复期限看板), drawn on the server as inline SVG.

A time axis in days (today marked, non-working days shaded from the work calendar), one bar per
open request from the day its clock started to the day the reply is due, coloured by the working
days left; consultation time that does not count (art. 32) is hatched, a request waiting for a
correction (art. 30) is a dashed outline up to its correction deadline. Like `portal.web.charts`: no
script, no `style` attributes (the CSP forbids them), a `<title>` on every mark, and the same
data offered as a table on the page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from markupsafe import Markup, escape

from access.disclosure.models import DisclosureStatus
from access.disclosure.schemas import RequestView
from access.workdays import WorkCalendar
from portal.web.charts import FONTS, GRID, INK, MUTED, el, num, text, tooltip

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
OFF_DAY = "#eef0f3"
TODAY = "#1f3a5f"
PAUSE = "#7b8490"
WAITING = "#5b6675"
ONE_DAY = timedelta(days=1)

Translate = Callable[..., str]


class Band(StrEnum):
    """How close a deadline is, in working days left."""

    ample = "ample"  # 10 or more
    soon = "soon"  # 5 to 9
    urgent = "urgent"  # 1 to 4
    overdue = "overdue"  # due today or past
    waiting = "waiting"  # clock stopped: waiting for the applicant's correction


FILL = {
    Band.ample: "#2a7f62",
    Band.soon: "#e0a100",
    Band.urgent: "#e06c00",
    Band.overdue: "#b3261e",
    Band.waiting: "#ffffff",
}


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


def _ground(scale: DayScale, calendar: WorkCalendar, bottom: float, t: Translate) -> str:
    """Shaded non-working days, weekly tick labels, month names and the grid."""
    parts = []
    for day in scale.days():
        x = scale.x(day)
        if not calendar.is_workday(day):
            parts.append(
                el(
                    "rect",
                    x=num(x),
                    y=str(AXIS_H - 4),
                    width=num(scale.width),
                    height=num(bottom - AXIS_H + 4),
                    fill=OFF_DAY,
                    class_="day-off",
                )
            )
        if day.weekday() == 0 or day.day == 1:
            parts.append(
                el(
                    "line",
                    x1=num(x),
                    x2=num(x),
                    y1=str(AXIS_H - 8),
                    y2=num(bottom),
                    stroke=GRID,
                    stroke_width="1",
                )
            )
        if day.weekday() == 0:
            parts.append(
                text(day.strftime("%m-%d"), x=num(x + 2), y=str(AXIS_H - 12), font_size="11", fill=MUTED)
            )
        if day.day == 1 or day == scale.first:
            month = t("handling.dash.month", year=day.year, month=day.month)
            parts.append(text(month, x=num(x + 2), y="14", font_size="11", font_weight="600", fill=INK))
    return el("g", *parts, class_="axis")


def _today(scale: DayScale, today: date, bottom: float, t: Translate) -> str:
    """Today's line across the rows, named below them (the dates above stay readable)."""
    x = scale.x(today) + scale.width / 2
    label = t("handling.dash.today", day=today.strftime("%m-%d"))
    return el(
        "g",
        tooltip(label),
        el(
            "line",
            x1=num(x),
            x2=num(x),
            y1=str(AXIS_H - 8),
            y2=num(bottom + 4),
            stroke=TODAY,
            stroke_width="2",
        ),
        text(
            label,
            x=num(x),
            y=num(bottom + 16),
            text_anchor="middle",
            font_size="11",
            font_weight="700",
            fill=TODAY,
        ),
        class_="today",
        data_day=today.isoformat(),
    )


def bar_note(bar: Bar, t: Translate) -> str:
    """A request's deadline in words: the tooltip and the table's summary."""
    lines = [
        f"{bar.tracking_code} · {t('handling.status.' + bar.status)}",
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


def _row(bar: Bar, index: int, scale: DayScale, t: Translate, href: Callable[[int], str] | None) -> str:
    """A request's label, bar, pause, and due-date note."""
    top = AXIS_H + index * ROW_H
    y = top + (ROW_H - BAR_H) / 2
    label = text(bar.tracking_code, x="8", y=num(top + ROW_H / 2 + 4), font_size="12", fill=INK)
    if href:
        label = el("a", label, href=href(bar.request_id))
    left = scale.x(bar.clock_from)
    right = scale.x(bar.end + ONE_DAY)
    width = max(right - left, 2.0)
    parts = [tooltip(bar_note(bar, t))]
    if bar.clock_from < scale.first:  # the bar began before the axis: point to where it came from
        edge = num(left - 1)
        tip = f"{num(left - 7)},{num(y + BAR_H / 2)} {edge},{num(y + 1)} {edge},{num(y + BAR_H - 1)}"
        parts.append(el("polygon", points=tip, fill=MUTED, class_="earlier"))
    waiting = bar.band is Band.waiting  # the clock stands still: a dashed outline
    if not waiting and bar.clock_from != bar.received_on:  # it stood still until the correction came
        parts.append(
            el(
                "line",
                x1=num(scale.x(bar.received_on)),
                x2=num(left),
                y1=num(y + BAR_H / 2),
                y2=num(y + BAR_H / 2),
                stroke=WAITING,
                stroke_width="1.5",
                stroke_dasharray="2 3",
                class_="stopped",
            )
        )
    outline = {"stroke": WAITING, "stroke_width": "1.5", "stroke_dasharray": "4 3"} if waiting else {}
    parts.append(
        el(
            "rect",
            x=num(left),
            y=num(y),
            width=num(width),
            height=str(BAR_H),
            rx="3",
            fill=FILL[bar.band],
            class_="bar",
            **outline,
        )
    )
    if not waiting and bar.pause:
        pause_left, pause_right = scale.x(bar.pause[0]), scale.x(bar.pause[1] + ONE_DAY)
        parts.append(
            el(
                "rect",
                x=num(pause_left),
                y=num(y),
                width=num(max(pause_right - pause_left, 1.0)),
                height=str(BAR_H),
                fill="url(#pause-hatch)",
                stroke=PAUSE,
                stroke_width="1",
                class_="pause",
            )
        )
    note = days_left_text(bar.days_left, t) if bar.due_on else t("handling.dash.waiting_short")
    when = (bar.due_on or bar.waiting_until or bar.clock_from).strftime("%m-%d")
    note = f"{when} · {note}" + (" ≈" if bar.estimated_years else "")
    room = WIDTH - RIGHT_PAD - (left + width)
    if room > _width(note, 11) + 8:
        parts.append(text(note, x=num(left + width + 5), y=num(y + BAR_H - 3), font_size="11", fill=INK))
    else:  # no room right of the bar: write it at the right edge, above the bar's end
        parts.append(
            text(note, x=num(WIDTH - RIGHT_PAD), y=num(top + 8), text_anchor="end", font_size="10", fill=INK)
        )
    return el(
        "g", label, el("g", *parts), class_=f"request band-{bar.band}", data_request=str(bar.request_id)
    )


def _legend(top: float, t: Translate) -> str:
    """Swatches for the colours, the hatching, the outline and today's line."""
    items: list[tuple[str, str]] = [
        (
            el("rect", width="14", height="10", rx="2", fill=FILL[b]),
            t(f"handling.band.{b}"),
        )
        for b in (Band.ample, Band.soon, Band.urgent, Band.overdue)
    ]
    items += [
        (
            el("rect", width="14", height="10", fill="url(#pause-hatch)", stroke=PAUSE, stroke_width="1"),
            t("handling.band.paused"),
        ),
        (
            el(
                "rect",
                width="14",
                height="10",
                rx="2",
                fill="#ffffff",
                stroke=WAITING,
                stroke_width="1.5",
                stroke_dasharray="4 3",
            ),
            t("handling.band.waiting"),
        ),
        (el("rect", width="14", height="10", fill=OFF_DAY, stroke=GRID), t("handling.band.off")),
        (
            el("line", x1="7", x2="7", y1="-2", y2="12", stroke=TODAY, stroke_width="2"),
            t("handling.band.today"),
        ),
    ]
    parts, x, y = [], 8.0, top + 14
    for swatch, words in items:
        width = 20 + _width(words, 11) + 18
        if x + width > WIDTH - RIGHT_PAD:
            x, y = 8.0, y + 20
        parts.append(
            el(
                "g",
                swatch,
                text(words, x="20", y="10", font_size="11", fill=INK),
                transform=f"translate({num(x)},{num(y)})",
            )
        )
        x += width
    return el("g", *parts, class_="legend")


_HATCH = el(
    "defs",
    el(
        "pattern",
        el("rect", width="6", height="6", fill="#e3e6ea"),
        el("line", x1="0", y1="0", x2="0", y2="6", stroke=PAUSE, stroke_width="2.5"),
        id="pause-hatch",
        patternUnits="userSpaceOnUse",
        width="6",
        height="6",
        patternTransform="rotate(45)",
    ),
)


def deadline_svg(
    views: Sequence[RequestView],
    calendar: WorkCalendar,
    today: date,
    t: Translate,
    *,
    href: Callable[[int], str] | None = None,
) -> Markup:
    """The picture: one bar per open request on a day axis around `today`, with a legend."""
    found = bars(views)
    if not found:
        return Markup(el("p", str(escape(t("handling.dash.empty"))), class_="empty"))
    scale = DayScale(*window(found, today))
    bottom = AXIS_H + ROW_H * len(found)
    rows = [_row(bar, index, scale, t, href) for index, bar in enumerate(found)]
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
    return Markup(
        el(
            "svg",
            el("title", str(escape(t("handling.dash.title"))), id="deadlines-title"),
            el("desc", str(escape(desc)), id="deadlines-desc"),
            _HATCH,
            _ground(scale, calendar, bottom, t),
            *rows,
            _today(scale, today, bottom, t),
            _legend(bottom + 22, t),
            xmlns="http://www.w3.org/2000/svg",
            viewBox=f"0 0 {WIDTH} {num(bottom + LEGEND_H)}",
            role="img",
            aria_labelledby="deadlines-title deadlines-desc",
            class_="deadlines",
            font_family=FONTS,
        )
    )
