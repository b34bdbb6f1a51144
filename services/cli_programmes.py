"""`quickwins programme ...` and `quickwins initiative ...`: for programme managers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Annotated, TypeVar
from uuid import UUID, uuid4

import typer
from rich.console import Console
from rich.table import Table

from domain import programme_commands as pc
from domain.agenda import SEED_AGENDA
from domain.initiative import Rag, Stage
from domain.meta import Meta
from domain.programme import programme_id
from projections.pipeline import PipelineProjection, PipelineView

from .bootstrap import Stack, bootstrap
from .programmes import Programmes
from .report import gather, write_report

T = TypeVar("T")

programme_cli = typer.Typer(help="Plan programmes of regional workshops.", no_args_is_help=True)
initiative_cli = typer.Typer(help="Track initiatives from idea to delivery.", no_args_is_help=True)
console = Console()

Actor = Annotated[str, typer.Option("--as", help="who is acting, for the audit trail")]
DEFAULT_ACTOR = "programme-manager"


class BadValue(Exception):
    """Reported in one line with exit status 2 by the CLI's main."""


@contextmanager
def _service() -> Iterator[tuple[Stack, Programmes]]:
    from .cli import settings_from_environment

    with bootstrap(settings_from_environment(), temporal=False) as stack:
        yield stack, Programmes(stack.app)


def _meta(actor: str) -> Meta:
    # Acts typed at the CLI happen now; the domain itself never reads a clock.
    return Meta(
        actor=f"manager:{actor}", at=datetime.now(UTC), correlation_id=uuid4(), causation_id=uuid4()
    )


def _programme(ref: str) -> UUID:
    """A programme by its id or its name."""
    try:
        return UUID(ref)
    except ValueError:
        return programme_id(ref)


def _uuid(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise BadValue(f"{what}: {value!r} is not an id") from None


def _when(value: str, what: str) -> datetime:
    """An ISO date or date-time; a bare date means 09:00 UTC that day."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadValue(f"{what}: {value!r} is not an ISO date such as 2010-07-02") from None
    if len(value) <= 10:
        parsed = datetime.combine(parsed.date(), time(9, 0))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _run(act: Callable[[Programmes], T]) -> T:
    with _service() as (_, service):
        return act(service)


# ----- programmes -----------------------------------------------------------------


@programme_cli.command("create")
def create(
    name: Annotated[str, typer.Option(help="the programme's name (unique)")],
    sponsor: Annotated[str, typer.Option(help="who sponsors it")],
    region: Annotated[list[str], typer.Option(help="a region (repeat for each)")],
    actor: Actor = DEFAULT_ACTOR,
) -> None:
    """Launch a programme with the seed's criteria and outcome measures."""
    cmd = pc.LaunchProgramme(name=name, sponsor=sponsor, regions=region)
    new_id = _run(lambda s: s.launch(cmd, _meta(actor)))
    console.print(f"programme {new_id} launched: {name}")


@programme_cli.command("schedule")
def schedule_workshop(
    programme: Annotated[str, typer.Option(help="programme name or id")],
    code: Annotated[str, typer.Option(help="workshop code, e.g. DEV-2010")],
    title: Annotated[str, typer.Option()],
    region: Annotated[str, typer.Option()],
    starts_at: Annotated[str, typer.Option(help="ISO date or date-time")],
    venue: Annotated[str, typer.Option()] = "",
    actor: Actor = DEFAULT_ACTOR,
) -> None:
    """Schedule a workshop (the seed's agenda) into a programme."""
    cmd = pc.ScheduleProgrammeWorkshop(
        programme_id=_programme(programme),
        code=code,
        title=title,
        region=region,
        venue=venue,
        starts_at=_when(starts_at, "--starts-at"),
        agenda=SEED_AGENDA,
    )
    workshop = _run(lambda s: s.schedule_workshop(cmd, _meta(actor)))
    console.print(f"workshop {workshop} ({code}) scheduled in {region}")


@programme_cli.command("erase-owner")
def erase_owner(
    programme: Annotated[str, typer.Argument(help="programme name or id")],
    owner: Annotated[str, typer.Argument(help="the owner's text as assigned, or their id")],
    actor: Annotated[str, typer.Option("--as")] = "data-protection-officer",
) -> None:
    """Erase an initiative owner (right to erasure): their key goes, the trail stays intact."""
    cmd = _erase_owner_command(_programme(programme), owner)
    meta = Meta(
        actor=f"admin:{actor}", at=datetime.now(UTC), correlation_id=uuid4(), causation_id=uuid4()
    )
    _run(lambda s: s.erase_owner(cmd, meta))
    # The text typed is not echoed back: it may be the very name being erased.
    console.print(f"owner erased from programme {cmd.programme_id}")


def _erase_owner_command(programme_id: UUID, owner: str) -> pc.EraseOwner:
    if not owner.strip():
        raise BadValue("owner: name the owner by the text assigned or by their id")
    try:
        return pc.EraseOwner(programme_id=programme_id, owner_id=UUID(owner))
    except ValueError:
        return pc.EraseOwner(programme_id=programme_id, owner=owner)


# ----- initiatives ------------------------------------------------------------------


def _act(run: Callable[[Programmes, Meta], object], actor: str, done: str) -> None:
    _run(lambda s: run(s, _meta(actor)))
    console.print(done)


@initiative_cli.command("add")
def add(
    programme: Annotated[str, typer.Option(help="programme name or id")],
    title: Annotated[str, typer.Option()],
    region: Annotated[str, typer.Option()],
    reason: Annotated[str, typer.Option(help="why it is added by hand")],
    summary: Annotated[str, typer.Option()] = "",
    actor: Actor = DEFAULT_ACTOR,
) -> None:
    """Add an initiative that did not come from a workshop vote."""
    cmd = pc.AddInitiative(
        programme_id=_programme(programme),
        initiative_id=uuid4(),
        title=title,
        summary=summary,
        region=region,
        reason=reason,
    )
    _act(lambda s, m: s.add_initiative(cmd, m), actor, f"initiative {cmd.initiative_id} added")


@initiative_cli.command("owner")
def owner(initiative: str, name: str, actor: Actor = DEFAULT_ACTOR) -> None:
    """Assign (or change) the initiative's owner."""
    cmd = pc.AssignOwner(initiative_id=_uuid(initiative, "initiative"), owner=name)
    _act(lambda s, m: s.assign_owner(cmd, m), actor, f"owner: {name}")


@initiative_cli.command("move")
def move(
    initiative: str,
    stage: Stage,
    reason: Annotated[str, typer.Option(help="required for paused and dropped")] = "",
    actor: Actor = DEFAULT_ACTOR,
) -> None:
    """Move the initiative to another stage."""
    cmd = pc.MoveInitiative(
        initiative_id=_uuid(initiative, "initiative"), stage=stage, reason=reason
    )
    _act(lambda s, m: s.move(cmd, m), actor, f"stage: {stage.value}")


@initiative_cli.command("milestone")
def milestone(
    initiative: str,
    title: Annotated[str, typer.Option()],
    due: Annotated[str, typer.Option(help="ISO date or date-time")],
    actor: Actor = DEFAULT_ACTOR,
) -> None:
    """Plan a milestone."""
    cmd = pc.PlanMilestone(
        initiative_id=_uuid(initiative, "initiative"),
        milestone_id=uuid4(),
        title=title,
        due=_when(due, "--due"),
    )
    _act(lambda s, m: s.plan_milestone(cmd, m), actor, f"milestone {cmd.milestone_id} planned")


@initiative_cli.command("complete")
def complete(initiative: str, milestone_id: str, actor: Actor = DEFAULT_ACTOR) -> None:
    """Complete a milestone."""
    cmd = pc.CompleteMilestone(
        initiative_id=_uuid(initiative, "initiative"), milestone_id=_uuid(milestone_id, "milestone")
    )
    _act(lambda s, m: s.complete_milestone(cmd, m), actor, "milestone completed")


@initiative_cli.command("progress")
def progress(
    initiative: str,
    percent: Annotated[int, typer.Option(min=0, max=100)],
    status: Annotated[Rag, typer.Option(help="red, amber or green")],
    note: Annotated[str, typer.Option()] = "",
    actor: Actor = DEFAULT_ACTOR,
) -> None:
    """Report progress."""
    cmd = pc.ReportProgress(
        initiative_id=_uuid(initiative, "initiative"), percent=percent, status=status, note=note
    )
    _act(lambda s, m: s.report_progress(cmd, m), actor, f"progress {percent}% {status.value}")


@initiative_cli.command("benefit")
def benefit(
    initiative: str,
    measure: Annotated[str, typer.Option(help="an outcome measure's key, e.g. money_saved")],
    amount: Annotated[float, typer.Option()],
    evidence: Annotated[str, typer.Option()],
    actor: Actor = DEFAULT_ACTOR,
) -> None:
    """Record a benefit against one of the programme's outcome measures."""
    cmd = pc.RecordBenefit(
        initiative_id=_uuid(initiative, "initiative"),
        measure=measure,
        amount=amount,
        evidence=evidence,
    )
    _act(lambda s, m: s.record_benefit(cmd, m), actor, f"benefit recorded: {amount:g} {measure}")


# ----- reading: lists, trails and the report ------------------------------------------------


@contextmanager
def _pipeline() -> Iterator[PipelineView]:
    with _service() as (stack, _), stack.caught_up(PipelineProjection, PipelineView) as view:
        yield view


@initiative_cli.command("list")
def list_initiatives(
    programme: Annotated[str, typer.Option(help="programme name or id")],
    stage: Annotated[Stage | None, typer.Option()] = None,
    region: Annotated[str | None, typer.Option()] = None,
) -> None:
    """List a programme's initiatives, optionally by stage or region."""
    with _pipeline() as view:
        rows = view.initiatives(_programme(programme), stage=stage, region=region)
    table = Table(title="Initiatives")
    for column in ("id", "title", "stage", "regions", "owner", "progress", "milestones"):
        table.add_column(column)
    for row in rows:
        done = sum(1 for m in row.milestones if m.completed_at)
        progress = f"{row.progress.percent}% {row.progress.status}" if row.progress else "-"
        stale = " stale" if row.stale else ""
        table.add_row(
            str(row.id),
            row.title,
            row.stage.value + stale,
            ", ".join(row.regions),
            row.owner or "-",
            progress,
            f"{done}/{len(row.milestones)}",
        )
    console.print(table)


@initiative_cli.command("show")
def show(initiative: str) -> None:
    """One initiative's whole trail, from the first idea to the latest benefit."""
    initiative_id = _uuid(initiative, "initiative")
    with _pipeline() as view:
        row = view.initiative(initiative_id)
        trail = view.trail(initiative_id)
    if row is None:
        raise BadValue(f"initiative: no initiative {initiative_id}")
    console.rule(f"[bold]{row.title}[/bold]  ({row.stage.value})")
    owner = f"{row.owner} (id {row.owner_id})" if row.owner_id else "-"
    console.print(f"owner {owner}   regions {', '.join(row.regions)}")
    for m in row.milestones:
        state = f"done {m.completed_at:%d %b %Y}" if m.completed_at else f"due {m.due:%d %b %Y}"
        console.print(f"  milestone {m.id}  {m.title}: {state}")
    for entry in trail:
        console.print(f"{entry.at:%Y-%m-%d %H:%M}  {entry.text}  [dim]({entry.actor})[/dim]")


@programme_cli.command("report")
def report(
    programme: Annotated[str, typer.Option(help="programme name or id")],
    out: Annotated[Path, typer.Option(help="folder for report.md, initiatives.csv, *.svg")] = Path(
        "programme-report"
    ),
    at: Annotated[str | None, typer.Option(help="report as at this ISO date (default now)")] = None,
) -> None:
    """Write the programme report: Markdown, CSV, and SVG charts of pipeline and benefits."""
    now = _when(at, "--at") if at else datetime.now(UTC)
    with _pipeline() as view:
        gathered = gather(view, _programme(programme), now)
    if gathered is None:
        raise BadValue(f"programme: no programme {programme!r}")
    for path in write_report(gathered, out):
        console.print(f"wrote {path}")
