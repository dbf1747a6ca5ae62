"""The case timeline spreads records that share a time: each gets a place of its own, side by side,
inside the plot, and keeps its own time in its tooltip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portal.cli.demo import case_document
from portal.web import charts


def _t(key: str, **fields: object) -> str:
    return key


def _marks(drawing: charts.TimelineDrawing) -> list[charts.RecordMark]:
    return [m for band in drawing.bands for m in band.marks]


def _overlap(a: charts.RecordMark, b: charts.RecordMark) -> bool:
    """Whether two dots (with their id labels) cover each other."""
    if abs(a.y - b.y) >= charts.ROW_H:
        return False
    left, right = sorted((a, b), key=lambda m: m.x)
    return right.x - 7 < left.label_x + 7 * len(left.record_id) + 8


def test_records_that_share_a_time_get_places_of_their_own() -> None:
    at = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    records = [
        {
            "record_id": f"r{n}",
            "title": f"记录{n}",
            "kind": "text",
            "stage": "decision",
            "created_at": at.isoformat(),
        }
        for n in range(4)
    ]
    records.append(
        {
            "record_id": "early",
            "title": "早",
            "kind": "text",
            "stage": "decision",
            "created_at": (at - timedelta(days=3)).isoformat(),
        }
    )
    picture = charts.build("C1", records, [], href=lambda _: None, article=lambda n: "")
    marks = [m for m in _marks(charts.timeline_drawing(picture, _t)) if m.record_id != "early"]
    assert len({(m.x, m.y) for m in marks}) == 4
    assert len({m.x for m in marks}) == 4, "side by side, not stacked in one column"
    assert not any(_overlap(a, b) for a in marks for b in marks if a is not b)
    assert all(m.x >= charts.LABEL_W and m.label_x + 7 * len(m.record_id) + 8 <= charts.WIDTH for m in marks)
    assert all("2026-03-05 10:00" in m.note for m in marks), "each keeps its own time"


def test_the_demo_case_is_drawn_without_two_marks_on_one_spot() -> None:
    records = [{**r, "record_id": r["id"]} for r in case_document()["records"]]
    picture = charts.build("C1", records, [], href=lambda _: None, article=lambda n: "")
    marks = _marks(charts.timeline_drawing(picture, _t))
    assert len(marks) == len(records)
    assert not any(_overlap(a, b) for a in marks for b in marks if a is not b and not (a.bar or b.bar))
    assert len({round(m.x) for m in marks if not m.bar}) > 3, "the case's course spread over time"


def test_a_crowd_too_wide_for_one_row_still_never_covers_itself() -> None:
    at = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    items = [charts.Item(f"record-{n:02d}", "t", "text", "decision", at) for n in range(40)]
    scale = charts.Scale(at - timedelta(hours=1), at + timedelta(hours=1))
    placed = charts.layout(items, scale)
    spots = {(round(x), row) for x, row in placed}
    assert len(spots) == len(items)
    assert max(row for _, row in placed) >= 1, "what does not fit across goes to the next row"
    assert all(
        scale.left <= x and charts._extent(i, scale, x)[1] <= charts.WIDTH
        for i, (x, _) in zip(items, placed, strict=True)
    )
