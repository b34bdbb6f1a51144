"""The programme report: Markdown for people, CSV for spreadsheets, SVG for the charts."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from pathlib import Path

from domain.initiative import Stage
from projections.pipeline import PipelineView
from projections.pipeline_models import (
    InitiativeRow,
    PipelineSummary,
    ProgrammeRow,
    TrailEntry,
)

FUNNEL = (Stage.PROPOSED, Stage.APPROVED, Stage.IN_DELIVERY, Stage.DELIVERED, Stage.EVALUATED)
BAR_COLOURS = ("#1f5f8b", "#2f7fb5", "#3f9fd8", "#2e8b57", "#3cb371")


@dataclass(frozen=True)
class ProgrammeReport:
    programme: ProgrammeRow
    summary: PipelineSummary
    initiatives: list[InitiativeRow]
    trails: dict[str, list[TrailEntry]]


def gather(view: PipelineView, programme_id: object, now: datetime) -> ProgrammeReport | None:
    programme = view.programme(programme_id)  # type: ignore[arg-type]
    summary = view.summary(programme_id, now)  # type: ignore[arg-type]
    if programme is None or summary is None:
        return None
    rows = view.initiatives(programme.id)
    trails = {str(row.id): view.trail(row.id) for row in rows}
    return ProgrammeReport(programme, summary, rows, trails)


def write_report(report: ProgrammeReport, folder: Path) -> list[Path]:
    """Write report.md, initiatives.csv, pipeline.svg and benefits.svg; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "report.md": markdown(report),
        "initiatives.csv": initiatives_csv(report),
        "pipeline.svg": funnel_svg(report.summary),
        "benefits.svg": benefits_svg(report),
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return [folder / name for name in files]


# ----- Markdown ---------------------------------------------------------------------


def markdown(report: ProgrammeReport) -> str:
    p, s = report.programme, report.summary
    lines = [
        f"# {p.name}",
        "",
        f"Sponsor: {p.sponsor}. Regions: {', '.join(p.regions)}. "
        f"Report at {s.at:%d %B %Y %H:%M} (log position {s.position}).",
        "",
        "![Pipeline](pipeline.svg) ![Benefits](benefits.svg)",
        "",
        "## Workshops",
        "",
        "| date | region | workshop | ideas | winners |",
        "| --- | --- | --- | ---: | --- |",
    ]
    adopted = {row.origin.project_id: row.title for row in report.initiatives}
    for w in sorted(p.workshops, key=lambda w: w.starts_at):
        winners = "; ".join(adopted.get(pid, str(pid)[:8]) for pid in w.winners) or "-"
        lines.append(f"| {w.starts_at:%d %b %Y} | {w.region} | {w.title} | {w.ideas} | {winners} |")
    lines += _pipeline_section(s) + _attention_section(s) + _benefit_section(s)
    lines += _lead_time_section(s)
    for row in report.initiatives:
        lines += _initiative_section(row, report.trails.get(str(row.id), []))
    return "\n".join(lines) + "\n"


def _pipeline_section(s: PipelineSummary) -> list[str]:
    lines = ["", "## Pipeline", "", "| stage | initiatives |", "| --- | ---: |"]
    lines += [f"| {_words(stage)} | {count} |" for stage, count in s.by_stage.items()]
    lines += ["", "| region | initiatives |", "| --- | ---: |"]
    lines += [f"| {region} | {count} |" for region, count in s.by_region.items()]
    return lines


def _attention_section(s: PipelineSummary) -> list[str]:
    lines = ["", "## Needs attention", ""]
    for o in s.overdue:
        flag = "flagged" if o.flagged else "not yet flagged"
        lines.append(
            f"- Overdue: {o.title} ({o.initiative_title}), due {o.due:%d %b %Y}, "
            f"{_days(o.overdue_by)} late, owner {o.owner or 'none'} ({flag})"
        )
    for st in s.stale:
        last = f"{st.last_report_at:%d %b %Y}" if st.last_report_at else "never"
        lines.append(
            f"- Stale: {st.title}, last progress report {last}, owner {st.owner or 'none'}"
        )
    if len(lines) == 3:
        lines.append("Nothing is overdue or stale.")
    return lines


def _benefit_section(s: PipelineSummary) -> list[str]:
    lines = ["", "## Is it better? Benefits per outcome measure", ""]
    lines += ["| measure | total | unit | records |", "| --- | ---: | --- | ---: |"]
    lines += [f"| {b.name} | {b.total:,.2f} | {b.unit} | {b.records} |" for b in s.benefits]
    return lines


def _lead_time_section(s: PipelineSummary) -> list[str]:
    if not s.lead_times:
        return []
    lines = ["", "## Lead time from first idea to delivery", ""]
    lines += [f"- {t.title}: {_days(t.lead_time)}" for t in s.lead_times]
    if s.median_lead_time is not None:
        lines.append(f"- Median: {_days(s.median_lead_time)}")
    return lines


def _initiative_section(row: InitiativeRow, trail: list[TrailEntry]) -> list[str]:
    progress = f"{row.progress.percent}% {row.progress.status}" if row.progress else "no report yet"
    lines = [
        "",
        f"## Initiative: {row.title}",
        "",
        f"Stage {_words(row.stage)}; owner {row.owner or 'none'}; "
        f"regions {', '.join(row.regions)}; progress {progress}{'; STALE' if _stale(row) else ''}.",
        "",
        "Trail:",
        "",
    ]
    lines += [f"1. {e.at:%d %b %Y} - {e.text} ({e.actor})" for e in trail]
    return lines


def _stale(row: InitiativeRow) -> bool:
    """A stale flag matters only while the initiative is still being delivered."""
    return row.stale and row.stage in (Stage.PROPOSED, Stage.APPROVED, Stage.IN_DELIVERY)


def _words(stage: Stage | str) -> str:
    return str(stage).replace("_", " ")


def _days(delta: timedelta) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:.0f} days" if days >= 1 else f"{delta.total_seconds() / 3600:.0f} hours"


# ----- CSV ------------------------------------------------------------------------------


def initiatives_csv(report: ProgrammeReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    measures = [b.measure for b in report.summary.benefits]
    writer.writerow(
        [
            "id",
            "title",
            "stage",
            "regions",
            "owner",
            "adopted",
            "delivered",
            "progress_percent",
            "status",
            "stale",
            "milestones",
            "milestones_done",
            *measures,
        ]
    )
    for row in report.initiatives:
        totals = {m: sum(b.amount for b in row.benefits if b.measure == m) for m in measures}
        writer.writerow(
            [
                row.id,
                row.title,
                row.stage.value,
                "; ".join(row.regions),
                row.owner or "",
                row.adopted_at.date(),
                row.delivered_at.date() if row.delivered_at else "",
                row.progress.percent if row.progress else "",
                row.progress.status if row.progress else "",
                row.stale,
                len(row.milestones),
                sum(1 for m in row.milestones if m.completed_at),
                *(f"{totals[m]:g}" for m in measures),
            ]
        )
    return out.getvalue()


# ----- SVG charts -----------------------------------------------------------------------


def funnel_svg(s: PipelineSummary) -> str:
    """Initiatives per stage, as a funnel of horizontal bars."""
    rows = [(_words(stage), float(s.by_stage.get(stage, 0)), "") for stage in FUNNEL]
    return _bars_svg("Pipeline: initiatives by stage", rows)


def benefits_svg(report: ProgrammeReport) -> str:
    """Each outcome measure's total, split by the initiatives that delivered it.

    Units differ between measures, so each bar is its own measure's total; the
    segments show which initiatives it came from.
    """
    s = report.summary
    titles = [row.title for row in report.initiatives if row.benefits]
    width, label_w, bar_w, row_h, top = 700, 190, 330, 34, 44
    legend_top = top + row_h * len(s.benefits) + 10
    height = legend_top + 20 * len(titles) + 12
    parts = _svg_head("Benefits recorded per outcome measure, by initiative", width, height)
    for i, total in enumerate(s.benefits):
        y = top + i * row_h
        parts.append(_label(16, y + 21, total.name))
        x = float(label_w)
        for k, row in enumerate(r for r in report.initiatives if r.benefits):
            part = sum(b.amount for b in row.benefits if b.measure == total.measure)
            if part > 0 and total.total > 0:
                length = bar_w * part / total.total
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 6}" width="{length:.1f}" height="22" '
                    f'fill="{BAR_COLOURS[k % len(BAR_COLOURS)]}"><title>{escape(row.title)}: '
                    f"{part:,.0f} {escape(total.unit)}</title></rect>"
                )
                x += length
        parts.append(_label(int(x) + 8, y + 21, f"{total.total:,.0f} {total.unit}"))
    for k, title in enumerate(titles):
        y = legend_top + 20 * k
        colour = BAR_COLOURS[k % len(BAR_COLOURS)]
        parts.append(f'<rect x="16" y="{y}" width="12" height="12" fill="{colour}"/>')
        parts.append(_label(34, y + 11, title, size=12))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _svg_head(title: str, width: int, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        f'<text x="16" y="26" font-family="sans-serif" font-size="16" font-weight="bold" '
        f'fill="#1a1a1a">{escape(title)}</text>',
    ]


def _label(x: int, y: int, text: str, size: int = 13) -> str:
    return (
        f'<text x="{x}" y="{y}" font-family="sans-serif" font-size="{size}" '
        f'fill="#1a1a1a">{escape(text)}</text>'
    )


def _bars_svg(title: str, rows: list[tuple[str, float, str]]) -> str:
    width, label_w, bar_w, row_h, top = 640, 190, 330, 34, 44
    height = top + row_h * len(rows) + 16
    peak = max((value for _, value, _ in rows), default=0) or 1
    parts = _svg_head(title, width, height)
    for i, (label, value, unit) in enumerate(rows):
        y = top + i * row_h
        length = 0 if value <= 0 else max(2, round(bar_w * value / peak))
        colour = BAR_COLOURS[i % len(BAR_COLOURS)]
        parts += [
            _label(16, y + 21, label),
            f'<rect x="{label_w}" y="{y + 6}" width="{length}" height="22" fill="{colour}"/>',
            _label(label_w + length + 8, y + 21, f"{value:,.0f} {unit}".rstrip()),
        ]
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
