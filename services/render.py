"""How the CLI shows a board, a decision record and the stack's status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from domain.agenda import PhaseKind
from domain.tally import Result
from projections.board import Board

from .bootstrap import Stack


def decision_record(outcome: Any) -> dict[str, Any]:
    """The facts of the decision, enough to recompute and check it from the log."""
    result: Result = outcome.result
    by_id = {t.project_id: t for t in result.totals}
    ranking = [
        {
            "rank": entry.rank,
            "tied": entry.tied,
            "projects": [
                {
                    "project_id": str(pid),
                    "title": by_id[pid].title,
                    "total": by_id[pid].total,
                    "supporters": by_id[pid].supporters,
                    "share": by_id[pid].share,
                }
                for pid in entry.project_ids
            ],
        }
        for entry in result.ranking
    ]
    return {
        "workshop": {"id": str(outcome.workshop_id), "code": outcome.code},
        "method": result.method,
        "eligible_voters": outcome.participants,
        "ballots_counted": result.ballots_counted,
        "ballots_after_close_ignored": result.ballots_ignored,
        "counted_up_to_position": result.counted_up_to,
        "ballots_digest": result.digest,
        "ranking": ranking,
        "winners": [by_id[pid].title for pid in result.winners],
    }


def render_board(console: Console, board: Board) -> None:
    where = _phase_label(board)
    console.rule(f"[bold]{board.title}[/bold] - {board.region}, {board.venue}")
    console.print(
        f"code {board.code}   phase: {where}   participants {board.participants}   "
        f"signed up {board.signed_up}   ballots {board.ballots_cast}   "
        f"log position {board.position}"
    )
    areas = Table(title="Key areas", show_lines=False)
    areas.add_column("key area")
    areas.add_column("ideas", justify="right")
    areas.add_column("signed up", justify="right")
    for area in board.key_areas:
        capacity = f"/{area.capacity}" if area.capacity else ""
        areas.add_row(area.name, str(len(area.ideas)), f"{area.signed_up}{capacity}")
    if board.ungrouped:
        areas.add_row("[italic]ungrouped[/italic]", str(len(board.ungrouped)), "-")
    console.print(areas)
    projects = Table(title="Projects, in pitch order")
    projects.add_column("#", justify="right")
    projects.add_column("project")
    projects.add_column("proposers", justify="right")
    projects.add_column("builds on ideas", justify="right")
    for project in board.projects:
        order = str(project.pitch_order) if project.pitch_order else "-"
        projects.add_row(order, project.title, str(project.proposers), str(len(project.idea_ids)))
    console.print(projects)


def _phase_label(board: Board) -> str:
    phase = board.phase
    if phase is None:
        return "not started"
    if phase.kind == PhaseKind.CLOSED:
        return "workshop closed"
    return f"{phase.kind.value} ({'open' if phase.open else 'closed'})"


def render_decision(console: Console, record: dict[str, Any]) -> None:
    console.rule("[bold]Decision record[/bold]")
    console.print(
        f"method {record['method']}   eligible {record['eligible_voters']}   "
        f"ballots counted {record['ballots_counted']}   "
        f"ignored after close {record['ballots_after_close_ignored']}"
    )
    console.print(f"tally stopped at log position {record['counted_up_to_position']}")
    console.print(f"digest of ballots counted {record['ballots_digest']}")
    table = Table(title="Ranking")
    for column in ("rank", "project", "total", "supporters", "share"):
        table.add_column(column, justify="left" if column == "project" else "right")
    for entry in record["ranking"]:
        for project in entry["projects"]:
            rank = f"{entry['rank']}{'=' if entry['tied'] else ''}"
            share = f"{project['share']:.0%}"
            table.add_row(
                rank, project["title"], f"{project['total']:g}", str(project["supporters"]), share
            )
    console.print(table)
    console.print(f"[bold green]winner:[/bold green] {', '.join(record['winners']) or 'none'}")


def render_status(console: Console, stack: Stack) -> None:
    console.print(f"database   {stack.database_url.split('@')[-1]}")
    console.print(
        f"temporal   {stack.temporal_address or 'embedded dev server (started by demo and worker)'}"
    )
    console.print(f"log        {stack.app.max_position()} events")
    with stack.board_runner() as runner:
        if stack.app.max_position():  # waiting for position 0 would never end
            runner.wait(stack.app.max_position(), timeout=30)
        table = Table(title="Workshops")
        for column in ("code", "title", "phase", "participants", "ideas", "results"):
            table.add_column(column)
        for workshop_id in runner.view.workshop_ids():
            board = runner.view.board(workshop_id)
            if board is None:
                continue
            ideas = sum(len(a.ideas) for a in board.key_areas) + len(board.ungrouped)
            phase = board.phase.kind.value if board.phase else "-"
            declared = "declared" if board.results else "-"
            table.add_row(
                board.code, board.title, phase, str(board.participants), str(ideas), declared
            )
        console.print(table)


def render_programme(console: Console, stack: Stack, outcome: Any, folder: Path) -> None:
    """Workshop winners, notices sent, then the programme report (also written to files)."""
    from collections import Counter

    from rich.markdown import Markdown

    from projections.pipeline import PipelineProjection, PipelineView

    from .report import gather, write_report

    console.rule(f"[bold]{outcome.name}[/bold]")
    for title, result in outcome.workshops:
        titles = {t.project_id: t for t in result.totals}
        winners = ", ".join(f"{titles[w].title} ({titles[w].share:.0%})" for w in result.winners)
        console.print(f"{title}: [bold]{winners}[/bold]")
    kinds = Counter(notice.kind for notice in outcome.notices)
    console.print("notices sent: " + (", ".join(f"{k} {n}" for k, n in kinds.items()) or "none"))
    with stack.caught_up(PipelineProjection, PipelineView) as view:
        report = gather(view, outcome.programme_id, outcome.ends_at)
    assert report is not None
    paths = write_report(report, folder)
    console.print(Markdown(paths[0].read_text(encoding="utf-8")))
    console.print(f"report written to {folder}")
