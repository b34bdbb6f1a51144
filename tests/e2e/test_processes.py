"""The long-running commands as real processes: projector, worker and the local stack.

Each test starts the real command in a session of its own, drives it through
the application or Temporal, then interrupts it as Ctrl-C would and checks
that it stops cleanly, leaving nothing running.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.agenda import Agenda, Phase, PhaseKind
from domain.workshop import Workshop
from projections.board import Board, board_view
from services.app import Workshops
from services.embedded import TemporalDevServer
from services.persistence import postgres_env
from tests.services.walk import START, Walk
from workflows.agenda import AgendaInput, AgendaStatus
from workflows.worker import start_agenda

from .processes import (
    CLI,
    Pid,
    Running,
    cli_env,
    command_line,
    descendants,
    started,
    still_alive,
    wait_until,
)

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
LOCAL_STACK = REPO / "deploy" / "local-stack.sh"
# A clean exit after Ctrl-C: 0 (the command caught it) or 130 (typer's Abort).
INTERRUPTED = (0, 130)


def _stopped_cleanly(process: Running, timeout: float = 10.0) -> None:
    status = process.exit_status(timeout)
    assert status in INTERRUPTED, process.tail()
    assert "stopped" in process.stderr, process.tail()
    assert "Traceback" not in process.stderr, process.tail()


# ----- quickwins projector ------------------------------------------------------


def test_projector_follows_the_log_until_interrupted(
    fresh_database_url: str, temporal_server: TemporalDevServer, tmp_path: Path
) -> None:
    app = Workshops(env=postgres_env(fresh_database_url))
    # Made before the projector starts, so the board's tables exist (created once).
    view = board_view(postgres_env(fresh_database_url))
    try:
        walk = Walk(app)
        walk.to(PhaseKind.BRAINSTORM)
        people = walk.join(3)
        for n, person in enumerate(people):
            walk.idea(person, f"Idea {n}")

        env = cli_env(
            QUICKWINS_DATABASE_URL=fresh_database_url,
            # The projector needs no Temporal, but without an address
            # `quickwins projector` starts a dev server of its own: use the session's.
            QUICKWINS_TEMPORAL_ADDRESS=temporal_server.address,
            QUICKWINS_DATA_DIR=str(tmp_path / "data"),
        )
        with started([*CLI, "projector", "--poll", "1"], env, tmp_path, "projector") as projector:

            def caught_up() -> Board | None:
                board = view.board(walk.id)
                if board is not None and board.position == app.max_position():
                    return board
                projector.still_running("the board caught up")
                return None

            def detail() -> str:
                return f"board: {view.board(walk.id)!r}\n{projector.tail()}"

            board = wait_until(caught_up, 30, "the board shows the log", detail)
            assert isinstance(board, Board)
            assert board.participants == 3
            assert sorted(idea.text for idea in board.ungrouped) == ["Idea 0", "Idea 1", "Idea 2"]
            assert board.phase is not None and board.phase.kind == PhaseKind.BRAINSTORM

            # Past a couple of polls (each one restarts the subscription), it still runs.
            time.sleep(2.5)
            projector.still_running("two polls had passed")
            assert "Traceback" not in projector.stderr, projector.tail()

            # While it runs: more people, more ideas, a phase change, a key area.
            people += walk.join(1)
            walk.idea(people[-1], "Idea 3")
            walk.to(PhaseKind.GROUPING)
            walk.area("Cloud")
            board = wait_until(caught_up, 15, "the board shows the new acts", detail)
            assert isinstance(board, Board)
            assert board.participants == 4
            assert len(board.ungrouped) == 4
            assert board.phase is not None and board.phase.kind == PhaseKind.GROUPING
            assert [area.name for area in board.key_areas] == ["Cloud"]

            projector.interrupt(signal.SIGINT)
            _stopped_cleanly(projector)
    finally:
        view.close()
        app.close()


@pytest.mark.parametrize("after", [0.0, 0.3, 0.8])
def test_projector_interrupted_while_it_starts_still_stops(
    fresh_database_url: str, temporal_server: TemporalDevServer, tmp_path: Path, after: float
) -> None:
    """Ctrl-C while the read models' runners are being built must not leave one
    half-built with its threads running (the process would never exit)."""
    env = cli_env(
        QUICKWINS_DATABASE_URL=fresh_database_url,
        QUICKWINS_TEMPORAL_ADDRESS=temporal_server.address,
        QUICKWINS_DATA_DIR=str(tmp_path / "data"),
    )
    with started([*CLI, "projector"], env, tmp_path, "projector") as projector:
        projector.wait_for("projecting the board", 30)
        time.sleep(after)
        projector.interrupt(signal.SIGINT)
        _stopped_cleanly(projector)


def test_projector_survives_a_dropped_connection(
    fresh_database_url: str, temporal_server: TemporalDevServer, tmp_path: Path
) -> None:
    app = Workshops(env=postgres_env(fresh_database_url))
    view = board_view(postgres_env(fresh_database_url))
    name = f"qw-e2e-projector-{uuid4().hex[:8]}"  # its connections' application_name
    try:
        walk = Walk(app)
        walk.to(PhaseKind.BRAINSTORM)
        walk.join(2)
        env = cli_env(
            QUICKWINS_DATABASE_URL=fresh_database_url,
            QUICKWINS_TEMPORAL_ADDRESS=temporal_server.address,
            QUICKWINS_DATA_DIR=str(tmp_path / "data"),
            PGAPPNAME=name,
        )
        with started([*CLI, "projector", "--poll", "1"], env, tmp_path, "projector") as projector:

            def caught_up() -> bool:
                board = view.board(walk.id)
                if board is not None and board.position == app.max_position():
                    return True
                projector.still_running("the board caught up")
                return False

            wait_until(caught_up, 30, "the board shows the log", projector.tail)
            # As when PostgreSQL restarts or the network drops: every connection goes.
            with psycopg.connect(fresh_database_url, autocommit=True) as conn:
                dropped = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = %s",
                    (name,),
                ).fetchall()
            assert dropped, "the projector had no connection to drop"
            walk.join(1)
            wait_until(caught_up, 15, "the board catches up after the drop", projector.tail)

            projector.interrupt(signal.SIGINT)
            _stopped_cleanly(projector)
    finally:
        view.close()
        app.close()


# ----- quickwins worker -----------------------------------------------------------

TINY_AGENDA = Agenda(
    phases=(
        Phase(kind=PhaseKind.BRAINSTORM, minutes=1),
        Phase(kind=PhaseKind.VOTE, minutes=1),
        Phase(kind=PhaseKind.CLOSED, minutes=0),
    )
)


async def _run_agenda(address: str, task_queue: str, input: AgendaInput) -> AgendaStatus:
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    handle = await start_agenda(client, input, task_queue)
    return await asyncio.wait_for(handle.result(), timeout=30)


def test_worker_runs_an_agenda_until_interrupted(
    fresh_database_url: str, temporal_server: TemporalDevServer, tmp_path: Path
) -> None:
    task_queue = f"e2e-{uuid4().hex[:12]}"
    env = cli_env(
        QUICKWINS_DATABASE_URL=fresh_database_url,
        QUICKWINS_TEMPORAL_ADDRESS=temporal_server.address,
        QUICKWINS_TASK_QUEUE=task_queue,
        QUICKWINS_DATA_DIR=str(tmp_path / "data"),
    )
    app = Workshops(env=postgres_env(fresh_database_url))
    try:
        with started([*CLI, "worker"], env, tmp_path, "worker") as worker:
            worker.wait_for(f"worker on task queue {task_queue!r}", 30)
            walk = Walk(app, agenda=TINY_AGENDA)
            epoch = START + timedelta(hours=1)
            agenda = AgendaInput(
                workshop_id=walk.id,
                phases=list(TINY_AGENDA.phases),
                time_scale=60,  # a planned minute lasts a second
                sim_epoch=epoch,
            )
            status = asyncio.run(_run_agenda(temporal_server.address, task_queue, agenda))

            assert status.finished and status.results_declared, status
            assert status.kind == PhaseKind.CLOSED and status.phase_index == 2
            workshop = app.load(Workshop, walk.id, "workshop_id")
            assert workshop.results is not None
            assert workshop.phase_index == 2 and workshop.current_kind == PhaseKind.CLOSED
            events = list(app.events.get(walk.id))
            acts = [(type(e).__name__, getattr(e, "index", None)) for e in events[1:]]
            assert acts == [
                ("PhaseOpened", 0),
                ("PhaseClosed", 0),
                ("PhaseOpened", 1),
                ("PhaseClosed", 1),
                ("ResultsDeclared", None),
                ("PhaseOpened", 2),
            ]
            assert {e.meta.actor for e in events[1:]} == {"agenda-timer"}
            # Recorded at scenario time: each timed phase lasted its planned minute.
            opened, closed = events[1].meta.at, events[2].meta.at
            # (the workflow's first task comes a few real milliseconds after its start)
            assert epoch <= opened < epoch + timedelta(minutes=1)
            assert timedelta(minutes=1) <= closed - opened < timedelta(minutes=10)

            worker.interrupt(signal.SIGINT)
            _stopped_cleanly(worker)
    finally:
        app.close()


# ----- deploy/local-stack.sh --------------------------------------------------------


def _pid_in(file: Path) -> Pid:
    return Pid.of(int(file.read_text().split()[0]))


def _env_file(file: Path) -> dict[str, str]:
    lines = file.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


# What the script starts, each saying this on standard error once it is up.
STACK_COMMANDS = {
    "servers": "started Temporal dev server",
    "worker": "worker on task queue",
    "projector": "projecting the board",
    "relay": "relaying initiative events",
}
# How the stack comes down: the signal or event, what the script exits with,
# and how many of its commands say "stopped" (all but a killed worker).
ENDINGS = {
    "ctrl-c": (signal.SIGINT, 130, len(STACK_COMMANDS)),
    "sigterm": (signal.SIGTERM, 143, len(STACK_COMMANDS)),
    "worker-dies": (signal.SIGKILL, 128 + signal.SIGKILL, len(STACK_COMMANDS) - 1),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_local_stack_starts_everything_and_stops_it_all(tmp_path: Path, ending: str) -> None:
    sig, exit_status, clean_stops = ENDINGS[ending]
    data = tmp_path / "stack"
    quickwins = Path(sys.executable).parent / "quickwins"
    env = cli_env(QUICKWINS_DATA_DIR=str(data), QW=str(quickwins))
    leftovers: set[Pid] = set()
    try:
        embedded = data / "embedded"
        server_logs = [embedded / "postgres.log", embedded / "temporal.log"]
        with started(
            ["bash", str(LOCAL_STACK)], env, tmp_path, "stack", more_logs=server_logs
        ) as stack:
            stack.wait_for("local stack up", 60, stream="stdout")
            for ready in STACK_COMMANDS.values():  # interrupted half-started, one would
                stack.wait_for(ready, 30)  # print a traceback from its imports
            postgres = _pid_in(embedded / "postgres" / "postmaster.pid")
            temporal = _pid_in(embedded / "temporal.pid")
            children = descendants(stack.pid)  # its commands, and their children
            leftovers = {postgres, temporal, *children}
            assert postgres.alive() and temporal.alive()
            commands = {p: command_line(p.pid) for p in children}
            for name in STACK_COMMANDS:
                assert [p for p, argv in commands.items() if argv[-1:] == [name]], commands

            settings = _env_file(data / "stack.env")
            with psycopg.connect(settings["QUICKWINS_DATABASE_URL"], connect_timeout=5) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
            port = int((embedded / "temporal.pid").read_text().split()[1])
            assert settings["QUICKWINS_TEMPORAL_ADDRESS"] == f"127.0.0.1:{port}"

            if ending == "worker-dies":
                (worker,) = [p for p, argv in commands.items() if argv[-1:] == ["worker"]]
                worker.stop(sig)
            else:
                stack.interrupt(sig)  # the whole process group, as a terminal does
            signalled = time.monotonic()
            assert stack.exit_status(40) == exit_status, stack.tail()
            # Well before the script's 20 s, after which it would SIGTERM a command.
            assert time.monotonic() - signalled < 15, f"slow to stop\n{stack.tail()}"
            left = still_alive(leftovers, 20)
            assert not left, f"still running: {sorted(p.pid for p in left)}\n{stack.tail()}"
            # They stopped on their own (the servers command stops both servers).
            assert stack.stderr.count("stopped\n") == clean_stops, stack.tail()
            # Only the way down: on the way up, the projector and the relay both
            # create the event store's tables (CREATE OR REPLACE FUNCTION) at the
            # same moment, and the relay may log the clash before it retries.
            way_down = stack.stderr.partition("stopping the local stack")[2]
            assert "Traceback" not in way_down, stack.tail()
    finally:
        # Whatever the script left behind (it runs its servers in sessions of their own).
        for process in leftovers:
            process.stop(signal.SIGINT, grace=10)
