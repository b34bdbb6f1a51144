"""`quickwins workshop ...`: what a facilitator looks up and links across events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID, uuid4

import typer
from rich.console import Console
from rich.table import Table

from domain import commands as c
from domain.meta import Meta
from domain.workshop import workshop_id
from projections.matching import MatchingProjection, MatchingView

from .cli_programmes import BadValue, _service, _uuid

workshop_cli = typer.Typer(help="Look up a workshop's ideas across events.", no_args_is_help=True)
console = Console()


def _workshop(ref: str) -> UUID:
    """A workshop by its id or its code."""
    try:
        return UUID(ref)
    except ValueError:
        return workshop_id(ref)


@workshop_cli.command("matches")
def matches(
    workshop: Annotated[str, typer.Argument(help="workshop code or id")],
    min_similarity: Annotated[float, typer.Option(min=0.05, max=1.0)] = 0.3,
) -> None:
    """Ideas that came up at earlier workshops of the programme ("this came up in Devon too")."""
    with _service() as (stack, _), stack.caught_up(MatchingProjection, MatchingView) as view:
        found = view.matches_for_workshop(_workshop(workshop), min_similarity=min_similarity)
    table = Table(title="Ideas that came up before")
    for column in ("idea", "earlier idea", "where", "similarity"):
        table.add_column(column)
    for entry in found:
        for match in entry.matches:
            where = f"{match.region}: {match.workshop_title} ({match.starts_at:%d %b %Y})"
            table.add_row(
                f"{entry.text}\n[dim]{entry.idea_id}[/dim]",
                f"{match.text}\n[dim]{match.idea_id}[/dim]",
                where,
                f"{match.similarity:.2f}",
            )
    if not table.row_count:
        raise BadValue(f"workshop: no ideas of {workshop!r} came up before")
    console.print(table)


@workshop_cli.command("link")
def link(
    idea: Annotated[str, typer.Argument(help="the idea in this workshop")],
    earlier: Annotated[str, typer.Argument(help="the same idea at an earlier workshop")],
    actor: Annotated[str, typer.Option("--as")] = "facilitator",
) -> None:
    """Record that an idea came up at an earlier workshop of the same programme."""
    cmd = c.LinkToEarlierIdea(idea_id=_uuid(idea, "idea"), earlier_id=_uuid(earlier, "earlier"))
    meta = Meta(
        actor=f"facilitator:{actor}",
        at=datetime.now(UTC),
        correlation_id=uuid4(),
        causation_id=uuid4(),
    )
    with _service() as (stack, _):
        stack.app.link_to_earlier(cmd, meta)
    console.print("linked")


participant_cli = typer.Typer(help="A participant's personal data.", no_args_is_help=True)


@participant_cli.command("erase")
def erase(
    participant: Annotated[str, typer.Argument(help="the participant's id")],
    actor: Annotated[str, typer.Option("--as")] = "data-protection-officer",
) -> None:
    """Erase a participant (right to erasure): their key is deleted, the trail stays intact."""
    cmd = c.EraseParticipant(participant_id=_uuid(participant, "participant"))
    meta = Meta(
        actor=f"admin:{actor}", at=datetime.now(UTC), correlation_id=uuid4(), causation_id=uuid4()
    )
    with _service() as (stack, _):
        stack.app.erase_participant(cmd, meta)
    console.print(f"participant {cmd.participant_id} erased")
