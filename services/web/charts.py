"""Charts the report does not draw: milestones over time, as accessible SVG.

The pipeline funnel and the benefits chart come from services.report; this
module adds only what it lacks. Every bar carries a text label saying what it
counts, so no meaning rests on colour alone; `<title>` and `<desc>` give
screen readers the chart's name and its figures in words.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from projections.pipeline_models import InitiativeRow

from .i18n import t

INK = "#1a1a1a"
# Dark enough for 4.5:1 against white, and each bar also says what it counts.
COLOURS = {"due": "#1f5f8b", "done": "#1d6b34", "late": "#a1182a"}
WIDTH, LABEL_W, BAR_W, BAR_H, TOP = 480, 90, 300, 16, 44


@dataclass(frozen=True)
class MonthCount:
    month: tuple[int, int]  # (year, month)
    due: int
    done: int
    late: int

    @property
    def label(self) -> str:
        return datetime(self.month[0], self.month[1], 1).strftime("%b %Y")


def month_counts(rows: Iterable[InitiativeRow], now: datetime) -> list[MonthCount]:
    """Per month from the first to the last: milestones due, completed, and overdue at `now`."""
    milestones = [m for row in rows for m in row.milestones]
    due = _tally(m.due for m in milestones)
    done = _tally(m.completed_at for m in milestones if m.completed_at)
    late = _tally(m.due for m in milestones if m.overdue_at(now))
    months = sorted(set(due) | set(done))
    if not months:
        return []
    return [
        MonthCount(month, due.get(month, 0), done.get(month, 0), late.get(month, 0))
        for month in _every_month(months[0], months[-1])
    ]


def _tally(times: Iterable[datetime]) -> dict[tuple[int, int], int]:
    found: dict[tuple[int, int], int] = {}
    for at in times:
        key = (at.year, at.month)
        found[key] = found.get(key, 0) + 1
    return found


def _every_month(first: tuple[int, int], last: tuple[int, int]) -> list[tuple[int, int]]:
    """Every month from first to last, so a quiet month shows as a gap, not as nothing."""
    months, (year, month) = [], first
    while (year, month) <= last:
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def milestones_svg(rows: Sequence[InitiativeRow], now: datetime) -> str:
    """Milestones over time: one group of labelled bars per month (due, done, overdue)."""
    counts = month_counts(rows, now)
    title = t("manager.chart.ms_title")
    group_h = 3 * BAR_H + 14
    height = TOP + max(1, len(counts)) * group_h + 12
    words = " ".join(
        t("manager.chart.month", month=c.label, due=c.due, done=c.done, late=c.late) for c in counts
    )
    desc = f"{t('manager.chart.ms_desc')} {words or t('manager.chart.ms_none')}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(desc)}</desc>",
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        _text(16, 26, title, size=16, bold=True),
    ]
    if not counts:
        parts.append(_text(16, TOP + 20, t("manager.chart.ms_none")))
    peak = max((max(c.due, c.done, c.late) for c in counts), default=1) or 1
    for i, count in enumerate(counts):
        parts += _month_group(TOP + i * group_h, count, peak)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _month_group(y: int, count: MonthCount, peak: int) -> list[str]:
    parts = [_text(16, y + BAR_H + 12, count.label)]
    bars = (("due", count.due), ("done", count.done), ("late", count.late))
    for k, (kind, value) in enumerate(bars):
        top = y + k * BAR_H
        length = 0 if value <= 0 else max(3, round(BAR_W * value / peak))
        parts.append(
            f'<rect x="{LABEL_W}" y="{top + 2}" width="{length}" height="{BAR_H - 4}" '
            f'fill="{COLOURS[kind]}"/>'
        )
        parts.append(
            _text(
                LABEL_W + length + 6,
                top + BAR_H - 3,
                t(f"manager.chart.{kind}", count=value),
                size=12,
            )
        )
    return parts


def _text(x: int, y: int, text: str, size: int = 13, bold: bool = False) -> str:
    weight = ' font-weight="bold"' if bold else ""
    return (
        f'<text x="{x}" y="{y}" font-family="sans-serif" font-size="{size}"{weight} '
        f'fill="{INK}">{escape(text)}</text>'
    )
