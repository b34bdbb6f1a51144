"""The `quickwins` command line: demo, worker, projector and status.

Bad input ends with exit status 2 and one line on standard error.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any
from uuid import uuid4

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from domain.errors import DomainError

from .bootstrap import Stack, bootstrap
from .cli_programmes import BadValue
from .scenario import load_scenario
from .settings import Settings
from .stopping import stop_loop_on_signals, stop_on_signals, stopped
from .webhooks.sealing import SealingError

cli = typer.Typer(
    help="quickwins: crowdsourced strategy workshops you can audit.", add_completion=False
)
console = Console()
err = Console(stderr=True)


class BadInput(Exception):
    """A user's mistake: reported in one line, exit status 2."""


def settings_from_environment(**overrides: object) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as error:
        raise BadInput(_first_error("setting", error)) from None


def _first_error(what: str, error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or what
    return f"{what} {where}: {first['msg']}"


@cli.command()
def demo(
    scenario: Annotated[
        Path | None, typer.Option(help="a scenario file (YAML or JSON); default: the seed")
    ] = None,
    time_scale: Annotated[
        float, typer.Option(help="scenario seconds per real second (600: 30 min in 3 s)")
    ] = 600.0,
    code: Annotated[str | None, typer.Option(help="workshop code (default: a fresh one)")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the decision record as JSON")
    ] = False,
    programme: Annotated[
        bool, typer.Option("--programme", help="run a whole programme (--scenario: its file)")
    ] = False,
    day_seconds: Annotated[
        float, typer.Option(help="with --programme: real seconds per scenario day")
    ] = 0.3,
    out: Annotated[
        Path | None, typer.Option(help="with --programme: folder for the report files")
    ] = None,
) -> None:
    """Replay a whole workshop (or programme) through the real workflows and print the outcome."""
    from .demo import run_demo
    from .render import decision_record, render_board, render_decision

    if time_scale <= 0 or time_scale > 100_000:
        raise BadInput("--time-scale must be greater than 0 and at most 100000")
    if programme:
        _programme_demo(scenario, time_scale, day_seconds, out)
        return
    plan = _load(scenario)
    code = code or f"{plan.workshop.code}-{uuid4().hex[:6]}"
    with _stack(time_scale=time_scale) as stack:
        with _phase_progress(len(plan.agenda.phases)) as step:
            outcome = asyncio.run(run_demo(stack, plan, time_scale, code, step))
        record = decision_record(outcome)
        if as_json:
            console.print_json(json.dumps(record))
            return
        render_board(console, outcome.board)
        render_decision(console, record)


def _programme_demo(
    path: Path | None, agenda_scale: float, day_seconds: float, out: Path | None
) -> None:
    from .programme_demo import run_programme
    from .programme_scenario import load_programme
    from .render import render_programme

    if not 0.01 <= day_seconds <= 60:
        raise BadInput("--day-seconds must be between 0.01 and 60")
    try:
        plan = load_programme(path)
    except FileNotFoundError as error:
        raise BadInput(f"programme: no such file {error.filename}") from None
    except ValidationError as error:
        raise BadInput(_first_error("programme", error)) from None
    except (ValueError, yaml.YAMLError) as error:
        raise BadInput(f"programme: {_one_line(error)}") from None
    suffix = uuid4().hex[:6]
    with _stack() as stack:
        with _spinner() as step:
            outcome = asyncio.run(
                run_programme(stack, plan, suffix, day_seconds, agenda_scale, step)
            )
        folder = out or stack.settings.data_dir / f"programme-report-{suffix}"
        render_programme(console, stack, outcome, folder)


@contextmanager
def _spinner() -> Iterator[Callable[[str], None]]:
    with err.status("starting") as status:

        def step(text: str) -> None:
            status.update(text)
            err.print(f"[dim]{text}[/dim]")

        yield step


@contextmanager
def _phase_progress(phases: int) -> Iterator[Callable[[str], None]]:
    """A progress bar over the agenda: one step per phase, described as it opens."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("starting", total=phases + 1)

        def step(description: str) -> None:
            bar.update(task, description=description, advance=1)

        yield step
        bar.update(task, description="results declared", completed=phases + 1)


def _load(path: Path | None):  # type: ignore[no-untyped-def]
    try:
        return load_scenario(path)
    except FileNotFoundError:
        raise BadInput(f"scenario: no such file {path}") from None
    except ValidationError as error:
        raise BadInput(_first_error("scenario", error)) from None
    except (ValueError, yaml.YAMLError) as error:  # JSON or YAML syntax
        raise BadInput(f"scenario: not valid YAML or JSON: {_one_line(error)}") from None


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())[:200]


def _stack(temporal: bool = True, **overrides: object) -> Stack:
    stack = bootstrap(settings_from_environment(**overrides), temporal=temporal)
    for line in stack.started:
        err.print(f"[dim]started {line}[/dim]")
    return stack


@cli.command()
def worker() -> None:
    """Run a Temporal worker for agendas, campaigns and deliveries until interrupted."""
    from concurrent.futures import ThreadPoolExecutor

    from .worker_process import build_all_workers

    async def run(stack: Stack) -> None:
        stop = asyncio.Event()
        stop_loop_on_signals(asyncio.get_running_loop(), stop.set)
        # Our own pool, shut down and waited for on the way out: an activity thread
        # still inside a driver call while the interpreter finalizes can crash it.
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="activity") as pool:
            async with build_all_workers(stack, await stack.temporal_client(), pool):
                err.print(
                    f"worker on task queue {stack.settings.task_queue!r} "
                    f"at {stack.temporal_address}"
                )
                await stop.wait()

    with _stack() as stack:
        asyncio.run(run(stack))
        _stopped()


@cli.command()
def relay(
    poll: Annotated[
        float, typer.Option(help="seconds between catch-up polls", min=0.5, max=3600)
    ] = 30.0,
) -> None:
    """Signal delivery workflows about recorded initiative events until interrupted."""
    import threading

    from .delivery_relay import run_relay

    async def connect(stack: Stack) -> Any:
        return await stack.temporal_client()

    with _stack() as stack:
        client = asyncio.run(connect(stack))
        err.print(f"relaying initiative events to {stack.temporal_address}")
        stop = threading.Event()
        stop_on_signals(stop.set)
        run_relay(stack.database_url, client, stop, poll_seconds=poll)
        _stopped()


@cli.command()
def projector(
    poll: Annotated[
        float, typer.Option(help="seconds between catch-up polls", min=0.5, max=3600)
    ] = 30.0,
) -> None:
    """Keep the workshop board up to date with the event log until interrupted."""
    import threading

    from .projector import follow

    with _stack(temporal=False) as stack:
        stop = threading.Event()
        stop_on_signals(stop.set)
        err.print(f"projecting the board from {stack.database_url.split('@')[-1]}")
        follow(stack, poll, stop)
        _stopped()


@cli.command()
def servers() -> None:
    """Start the embedded PostgreSQL and Temporal dev server and keep them up.

    Writes their addresses to DATA_DIR/stack.env, for other processes (worker,
    projector) started with those variables; stops both when interrupted.
    """
    import threading

    with _stack() as stack:
        stack.settings.data_dir.mkdir(parents=True, exist_ok=True)
        # Create the event store's tables now: the processes started next would
        # otherwise race to create them on a fresh database.
        stack.app.max_position()
        env_file = stack.settings.data_dir / "stack.env"
        env_file.write_text(
            f"QUICKWINS_DATABASE_URL={stack.database_url}\n"
            f"QUICKWINS_TEMPORAL_ADDRESS={stack.temporal_address}\n"
        )
        console.print(f"database  {stack.database_url}")
        console.print(f"temporal  {stack.temporal_address}   UI {stack.temporal_ui or '-'}")
        console.print(f"addresses written to {env_file}")
        stop = threading.Event()
        stop_on_signals(stop.set)
        while not stop.wait(0.5):  # short waits: the signal handler runs in between
            pass
        _stopped()


@cli.command()
def status() -> None:
    """Show where the stack runs, how far the log goes, and each workshop's phase."""
    from .render import render_status

    with _stack(temporal=False) as stack:
        render_status(console, stack)


def _stopped() -> None:
    stopped()
    err.print("stopped")


def _register_subcommands() -> None:
    from .cli_api import register as register_api
    from .cli_audit import audit_cli
    from .cli_programmes import initiative_cli, programme_cli
    from .cli_webhooks import register as register_webhooks
    from .cli_workshops import participant_cli, workshop_cli

    register_api(cli)
    register_webhooks(cli)

    cli.add_typer(workshop_cli, name="workshop")
    cli.add_typer(participant_cli, name="participant")
    cli.add_typer(audit_cli, name="audit")
    cli.add_typer(programme_cli, name="programme")
    cli.add_typer(initiative_cli, name="initiative")


_register_subcommands()


def main(argv: list[str] | None = None) -> None:
    command = typer.main.get_command(cli)
    try:
        code = command.main(args=argv, prog_name="quickwins", standalone_mode=False)
        if isinstance(code, int) and code:  # a command's own exit status (typer.Exit)
            sys.exit(code)
    except typer.Abort:
        sys.exit(130)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.TyperException as error:  # usage errors: unknown option, bad value
        _fail(error.format_message())
    except DomainError as error:  # a broken rule: name the field at fault
        _fail(f"{error.field}: {error.message}" if error.field else error.message)
    except (BadInput, BadValue) as error:
        _fail(str(error))
    except SealingError as error:  # a bad QUICKWINS_SECRETS_KEY or key file
        _fail(str(error))
    except ValidationError as error:  # a command model rejected a value
        _fail(_first_error("input", error))


def _fail(message: str) -> None:
    print(f"quickwins: {message.splitlines()[0] if message else 'bad input'}", file=sys.stderr)
    sys.exit(2)
