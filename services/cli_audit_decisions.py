"""`quickwins audit state|decision|record`: an auditor's questions, answered from the log.

`register(app)` adds the commands to a Typer app (mounted as `quickwins audit`).
Bad input raises `BadValue`: the CLI's main reports it in one line, exit 2.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console

from domain.errors import DomainError

from .app import Workshops
from .bootstrap import bootstrap
from .cli_programmes import BadValue
from .decision import (
    RENDERERS,
    aggregate_at,
    decision_record,
    state_at,
    verify_decision,
    workshop_log,
)
from .render import render_board

console = Console()
err = Console(stderr=True)

WorkshopRef = Annotated[str, typer.Option("--workshop", help="workshop code or id")]


class Format(StrEnum):
    json = "json"
    md = "md"
    html = "html"


@contextmanager
def _app() -> Iterator[Workshops]:
    from .cli import settings_from_environment

    with bootstrap(settings_from_environment(), temporal=False) as stack:
        yield stack.app


def _known(app: Workshops, ref: str) -> tuple[UUID, datetime]:
    """The workshop's id and its start (whose offset reads a time given without one)."""
    try:
        found, events = workshop_log(app, ref)
    except DomainError:
        raise BadValue(f"--workshop: no workshop {ref!r}") from None
    return found, events[0][1].starts_at


def parse_at(value: str, starts_at: datetime) -> datetime:
    """An ISO date-time; without an offset it is the workshop's local time (its start's offset).

    A bare date means the end of that day.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadValue(f"--at: {value!r} is not an ISO time such as 2010-07-02T11:30") from None
    if len(value.strip()) <= 10:
        parsed = datetime.combine(parsed.date(), time.max)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=starts_at.tzinfo)


def register(app: typer.Typer) -> None:
    """Add `state`, `decision` and `record` to `app`."""
    app.command("state")(state)
    app.command("decision")(decision)
    app.command("record")(record)
    app.command("aggregate")(aggregate)


def state(
    workshop: WorkshopRef,
    at: Annotated[
        str | None,
        typer.Option(help="ISO time, e.g. 2010-07-02T11:30 (no offset: the workshop's local time)"),
    ] = None,
    position: Annotated[int | None, typer.Option(help="a log position")] = None,
) -> None:
    """The workshop board as the room saw it at a past time or log position (from the log)."""
    if at is not None and position is not None:
        raise BadValue("--at and --position: give one or the other, not both")
    if position is not None and position < 0:
        raise BadValue("--position: must be 0 or more")
    with _app() as app:
        found, starts_at = _known(app, workshop)
        when = parse_at(at, starts_at) if at is not None else None
        board = state_at(app, found, position=position, at=when)
    cut = ""
    if when is not None:
        cut = f"at {when.isoformat()}"
    elif position is not None:
        cut = f"at log position {position}"
    if board is None:
        raise BadValue(
            f"--{'at' if when else 'position'}: the workshop was not scheduled yet {cut}"
        )
    if cut:
        console.print(f"[bold]As it was {cut}[/bold] (folded from the log)")
    render_board(console, board)
    if when is not None:
        left = board.time_left(when)
        if left is not None and board.phase is not None:
            console.print(f"{board.phase.kind.value}: {_minutes(left)} left on the clock")
    if board.results:
        winners = {str(w) for w in board.results.get("winners", [])}
        titles = [p.title for p in board.projects if str(p.id) in winners]
        console.print(f"results declared: winner {', '.join(titles) or 'none'}")


def aggregate(
    aggregate_id: Annotated[str, typer.Argument(help="any aggregate's id (idea, ballot, ...)")],
    at: Annotated[str | None, typer.Option(help="ISO time with offset (default UTC)")] = None,
    position: Annotated[int | None, typer.Option(help="a log position")] = None,
) -> None:
    """One aggregate's state as it was at a past time or log position, as JSON."""
    if at is not None and position is not None:
        raise BadValue("--at and --position: give one or the other, not both")
    if position is not None and position < 0:
        raise BadValue("--position: must be 0 or more")
    try:
        wanted = UUID(aggregate_id)
    except ValueError:
        raise BadValue(f"aggregate: {aggregate_id!r} is not an id") from None
    when = parse_at(at, datetime(2000, 1, 1, tzinfo=UTC)) if at is not None else None
    with _app() as app:
        found = aggregate_at(app, wanted, position=position, at=when)
    if found is None:
        raise BadValue(f"aggregate: no aggregate {wanted} at that point of the log")
    state = {"type": type(found).__name__, "id": str(found.id), "version": found.version}
    state.update({k: v for k, v in vars(found).items() if not k.startswith("_")})
    print(json.dumps(_plain(state), indent=2, sort_keys=True))


def _plain(value: object) -> object:
    """JSON for the values aggregates hold (ids as dictionary keys included)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=str)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")  # type: ignore[attr-defined]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if hasattr(value, "__dict__"):
        return _plain(vars(value))
    return str(value)


def _minutes(left: timedelta) -> str:
    return f"{left.total_seconds() / 60:.0f} min"


def decision(workshop: WorkshopRef) -> None:
    """Recompute the declared result from the raw ballots: exit 0 if verified, 1 if not."""
    with _app() as app:
        found, _ = _known(app, workshop)
        check = verify_decision(app, found)
    console.print(
        f"workshop {check.code}: vote closed at log position {check.close_position}, "
        f"results declared at {check.declared_position or '-'}"
    )
    console.print(
        f"method {check.recomputed.method}   ballots counted {check.recomputed.ballots_counted}"
        f"   digest {check.recomputed.digest}"
    )
    for late in check.ignored_after_close:
        console.print(
            f"not counted: ballot {late.ballot_id} {late.event} at log position "
            f"{late.position} ({late.at.isoformat()}), after the close"
        )
    if check.verified:
        console.print("[bold green]verified[/bold green]")
        return
    console.print("[bold red]the declared result differs from the recount:[/bold red]")
    for line in check.differences:
        console.print(f"  {line}", markup=False)
    # Not typer.Exit: the CLI's main runs click with standalone_mode=False, which
    # returns an Exit's code instead of exiting with it.
    sys.exit(1)


def record(
    workshop: WorkshopRef,
    format: Annotated[Format, typer.Option("--format", help="json, md or html")] = Format.json,  # noqa: A002
    out: Annotated[Path | None, typer.Option(help="write to this file (default: print)")] = None,
) -> None:
    """Export the decision record: the agenda as it ran, who was eligible, the tally."""
    from .audit import attach_checkpoint
    from .cli import settings_from_environment

    with bootstrap(settings_from_environment(), temporal=False) as stack:
        found, _ = _known(stack.app, workshop)
        signed = attach_checkpoint(stack, decision_record(stack.app, found))
        text = RENDERERS[format.value](signed)
    if out is None:
        print(text, end="")
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as error:
        raise BadValue(f"--out: cannot write {out}: {error.strerror}") from None
    err.print(f"decision record written to {out}")
