"""The agenda workflow on a real Temporal dev server and a real PostgreSQL.

Each test runs its own worker on a task queue of its own, drives a workshop
through a short agenda (a planned minute plays in a real second), and checks
what the event store recorded, what the status query says, and that the
history replays deterministically.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from domain import commands as c
from domain.agenda import Agenda, Phase, PhaseKind
from domain.meta import Meta, derive_id
from domain.workshop import Workshop
from services.app import Workshops
from services.persistence import postgres_env
from workflows.agenda import (
    AgendaInput,
    AgendaStatus,
    WorkshopAgenda,
    agenda_workflow_id,
)
from workflows.worker import build_worker, connect, start_agenda

pytestmark = pytest.mark.workflow

T = TypeVar("T")
EPOCH = datetime(2010, 7, 2, 9, 0, tzinfo=UTC)  # the seed's workshop day
SCALE = 60.0  # a planned minute plays in a real second


# ----- helpers -----------------------------------------------------------------


@pytest.fixture
def app(fresh_database_url: str) -> Iterator[Workshops]:
    application = Workshops(env=postgres_env(fresh_database_url))
    try:
        yield application
    finally:
        application.close()


def facilitator() -> Meta:
    return Meta(
        actor="facilitator",
        at=datetime.now(UTC),
        correlation_id=uuid4(),
        causation_id=uuid4(),
    )


def schedule(app: Workshops, phases: list[Phase]) -> UUID:
    return app.schedule(
        c.ScheduleWorkshop(
            code=f"T-{uuid4().hex[:8]}",
            title="South West ICT strategy",
            region="South West",
            starts_at=EPOCH,
            agenda=Agenda(phases=tuple(phases)),
        ),
        facilitator(),
    )


def recorded(app: Workshops, workshop_id: UUID) -> list[Any]:
    """The workshop's events after its Scheduled event."""
    return list(app.repository.event_store.get(workshop_id))[1:]


def names(events: list[Any]) -> list[str]:
    return [
        f"{type(e).__name__}({e.index})" if hasattr(e, "index") else type(e).__name__
        for e in events
    ]


async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """The application is synchronous: keep it off the loop the worker runs on."""
    return await asyncio.to_thread(fn, *args)


@asynccontextmanager
async def running_worker(address: str, app: Workshops) -> AsyncIterator[tuple[Client, str]]:
    client = await connect(address)
    task_queue = f"agenda-test-{uuid4().hex[:12]}"
    async with build_worker(client, app, task_queue):
        yield client, task_queue


async def status_when(
    handle: WorkflowHandle[Any, Any],
    ready: Callable[[AgendaStatus], bool],
    timeout: float = 10.0,
) -> AgendaStatus:
    deadline = time.monotonic() + timeout
    while True:
        status = await handle.query(WorkshopAgenda.status)
        if ready(status):
            return status
        assert time.monotonic() < deadline, f"status never became ready: {status}"
        await asyncio.sleep(0.05)


async def rejected(update: Awaitable[Any], message: str) -> None:
    """The update failed, with its validator's (or handler's) message."""
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await update
    assert message in str(failure.value.cause)


async def replay(client: Client, handle: WorkflowHandle[Any, Any]) -> None:
    history = await handle.fetch_history()
    replayer = Replayer(workflows=[WorkshopAgenda], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None


async def accepted_updates(handle: WorkflowHandle[Any, Any]) -> int:
    history = await handle.fetch_history()
    accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    return sum(1 for event in history.events if event.event_type == accepted)


# ----- tests -------------------------------------------------------------------


def test_input_is_checked() -> None:
    phases = [Phase(kind=PhaseKind.BRAINSTORM, minutes=1)]
    with pytest.raises(ValueError, match="start_index"):
        AgendaInput(workshop_id=uuid4(), phases=phases, time_scale=1, start_index=1)
    with pytest.raises(ValueError):
        AgendaInput(workshop_id=uuid4(), phases=phases, time_scale=0)
    with pytest.raises(ValueError):
        AgendaInput(workshop_id=uuid4(), phases=[], time_scale=1)
    naive = AgendaInput(
        workshop_id=uuid4(), phases=phases, time_scale=1, sim_epoch=datetime(2010, 7, 2, 9)
    )
    assert naive.sim_epoch == EPOCH
    assert agenda_workflow_id(UUID(int=7)) == f"agenda-{UUID(int=7)}"


def test_timers_run_the_agenda_in_scenario_time(temporal_server: Any, app: Workshops) -> None:
    phases = [
        Phase(kind=PhaseKind.BRAINSTORM, minutes=1),
        Phase(kind=PhaseKind.GROUPING, minutes=1),
        Phase(kind=PhaseKind.VOTE, minutes=1),
    ]
    workshop = schedule(app, phases)
    agenda = AgendaInput(workshop_id=workshop, phases=phases, time_scale=SCALE, sim_epoch=EPOCH)

    async def scenario() -> tuple[AgendaStatus, float]:
        async with running_worker(temporal_server.address, app) as (client, queue):
            begun = time.monotonic()
            first = await start_agenda(client, agenda, queue)
            second = await start_agenda(client, agenda, queue)  # joins the same run
            assert second.result_run_id == first.result_run_id
            final = await first.result()
            took = time.monotonic() - begun
            # After completion a start still makes no new run.
            third = await start_agenda(client, agenda, queue)
            assert (await third.describe()).run_id == first.result_run_id
            assert (await first.query(WorkshopAgenda.status)).finished  # replays on query
            await replay(client, first)
            return final, took

    final, took = asyncio.run(scenario())

    assert final.finished and final.results_declared
    assert final.phase_index == 2 and final.kind == PhaseKind.VOTE and not final.open
    assert final.seconds_left is None
    assert 3.0 <= took < 15.0

    events = recorded(app, workshop)
    assert names(events) == [
        "PhaseOpened(0)",
        "PhaseClosed(0)",
        "PhaseOpened(1)",
        "PhaseClosed(1)",
        "PhaseOpened(2)",
        "PhaseClosed(2)",
        "ResultsDeclared",
    ]
    times = [e.meta.at for e in events]
    # Acts carry the scenario time: a morning in July 2010, in order.
    assert times == sorted(times)
    assert EPOCH <= times[0] < EPOCH + timedelta(minutes=10)
    for opened, closed in ((0, 1), (2, 3), (4, 5)):
        planned = (times[closed] - times[opened]).total_seconds()
        assert 60 <= planned < 90, planned  # a planned minute, plus a little latency
    assert times[-1] < EPOCH + timedelta(minutes=15)
    # Who, and why: the timer, all in one causal chain; each act its own cause.
    correlation = derive_id("agenda", agenda_workflow_id(workshop))
    assert {e.meta.actor for e in events} == {"agenda-timer"}
    assert {e.meta.correlation_id for e in events} == {correlation}
    assert len({e.meta.causation_id for e in events}) == len(events)
    state = app.load(Workshop, workshop, "workshop_id")
    assert state.results is not None and state.vote_closed_version is not None


def test_facilitator_steers_with_updates(temporal_server: Any, app: Workshops) -> None:
    # Ten planned minutes a phase, a hundred real seconds: the timers never fire
    # here, every phase is advanced by hand. A real second is six planned ones.
    scale = 6.0
    phases = [
        Phase(kind=PhaseKind.GROUPING, minutes=10),
        Phase(kind=PhaseKind.DISCUSSION, minutes=10),
        Phase(kind=PhaseKind.VOTE, minutes=10),
        Phase(kind=PhaseKind.CLOSED, minutes=0),
    ]
    workshop = schedule(app, phases)
    agenda = AgendaInput(
        workshop_id=workshop, phases=phases, time_scale=scale, actor="facilitator-1"
    )
    extension = str(uuid4())
    project = uuid4()

    async def scenario() -> WorkflowHandle[Any, Any]:
        async with running_worker(temporal_server.address, app) as (client, queue):
            handle = await start_agenda(client, agenda, queue)
            status = await status_when(handle, lambda s: s.open)
            assert (status.phase_index, status.kind, status.paused) == (
                0,
                PhaseKind.GROUPING,
                False,
            )
            assert status.seconds_left is not None and 570 < status.seconds_left <= 600
            # No sim_epoch: scenario time starts with the workflow and runs `scale` times faster.
            assert status.ends_at is not None and status.deadline is not None
            assert status.ends_at - status.sim_now == (status.deadline - status.as_of) * scale
            area = await off_loop(
                app.define_key_area,
                c.DefineKeyArea(workshop_id=workshop, name="Cloud"),
                facilitator(),
            )

            # Bad requests are turned away before anything is written.
            before = app.max_position()
            await rejected(handle.execute_update(WorkshopAgenda.extend, 0.0), "more than 0")
            await rejected(handle.execute_update(WorkshopAgenda.extend, -5.0), "more than 0")
            await rejected(handle.execute_update(WorkshopAgenda.extend, 241.0), "at most 240")
            await rejected(handle.execute_update(WorkshopAgenda.resume), "not paused")
            assert app.max_position() == before

            # Extend: five planned minutes more; a retry of the same update is a no-op.
            status = await handle.execute_update(WorkshopAgenda.extend, 5.0, id=extension)
            assert status.seconds_left is not None and 860 < status.seconds_left <= 900
            after_extend = app.max_position()
            assert after_extend > before
            again = await handle.execute_update(WorkshopAgenda.extend, 5.0, id=extension)
            assert again == status
            assert app.max_position() == after_extend

            # Pause stops the clock; a second pause is turned away.
            status = await handle.execute_update(WorkshopAgenda.pause)
            assert status.paused and status.deadline is None
            left = status.seconds_left
            assert left is not None and 850 < left <= 900
            position = app.max_position()
            await rejected(handle.execute_update(WorkshopAgenda.pause), "paused already")
            assert app.max_position() == position
            await asyncio.sleep(0.3)
            queried = await handle.query(WorkshopAgenda.status)
            assert queried.paused and queried.seconds_left == left
            assert queried.seconds_left_at(datetime.now(UTC)) == left

            # Resume restarts it with the time it had left.
            status = await handle.execute_update(WorkshopAgenda.resume)
            assert not status.paused and status.seconds_left == pytest.approx(left, abs=scale)
            assert status.deadline is not None
            live = status.seconds_left_at(datetime.now(UTC) + timedelta(seconds=1))
            assert live is not None and live == pytest.approx(left - scale, abs=scale)

            # Advance: grouping closes now, discussion opens.
            status = await handle.execute_update(WorkshopAgenda.advance)
            assert (status.phase_index, status.kind, status.open) == (1, PhaseKind.DISCUSSION, True)
            person = await off_loop(
                app.join,
                c.JoinWorkshop(workshop_id=workshop, key="p1", display_name="Sam"),
                facilitator(),
            )
            await off_loop(
                app.propose_project,
                c.ProposeProject(
                    workshop_id=workshop,
                    project_id=project,
                    key_area_id=area,
                    title="A regional workshop for chief executives",
                    proposer_ids=[person],
                ),
                facilitator(),
            )

            status = await handle.execute_update(WorkshopAgenda.advance)
            assert (status.phase_index, status.kind, status.open) == (2, PhaseKind.VOTE, True)
            await off_loop(
                app.cast_ballot,
                c.CastBallot(
                    workshop_id=workshop, participant_id=person, choices={str(project): 1}
                ),
                facilitator(),
            )
            # A paused vote can still be closed by hand.
            await handle.execute_update(WorkshopAgenda.pause)
            status = await handle.execute_update(WorkshopAgenda.advance)
            assert status.finished and status.results_declared
            assert (status.phase_index, status.kind) == (3, PhaseKind.CLOSED)
            assert status.winners == [project]
            final = await handle.result()
            assert final.finished
            # extend (once: the retry was deduplicated), pause, resume, advance x2,
            # pause, advance; the five rejected updates left no trace.
            assert await accepted_updates(handle) == 7
            await replay(client, handle)
            return handle

    handle = asyncio.run(scenario())

    events = recorded(app, workshop)
    assert names(events) == [
        "PhaseOpened(0)",
        "KeyAreaDefined",
        "PhaseExtended",
        "PhasePaused",
        "PhaseResumed",
        "PhaseClosed(0)",
        "PhaseOpened(1)",
        "PhaseClosed(1)",
        "PhaseOpened(2)",
        "PhasePaused",
        "PhaseClosed(2)",
        "ResultsDeclared",
        "PhaseOpened(3)",
    ]
    extended = events[2]
    assert extended.extension_id == extension and extended.minutes == 5
    assert extended.meta.causation_id == UUID(extension)  # the update caused it
    agenda_acts = [e for e in events if type(e).__name__ != "KeyAreaDefined"]
    assert {e.meta.actor for e in agenda_acts} == {"facilitator-1"}
    correlation = derive_id("agenda", agenda_workflow_id(workshop))
    assert {e.meta.correlation_id for e in agenda_acts} == {correlation}
    # Without a sim_epoch, scenario time starts at the workflow's start and runs
    # `scale` times faster: acts are recorded from about now, in order.
    started = agenda_acts[0].meta.at
    assert abs(started - datetime.now(UTC)) < timedelta(minutes=2)
    times = [e.meta.at for e in agenda_acts]
    assert times == sorted(times)
    state = app.load(Workshop, workshop, "workshop_id")
    assert state.results is not None and state.results["winners"] == [str(project)]
    assert handle.id == agenda_workflow_id(workshop)


def test_pause_stops_the_clock_and_extend_moves_it(temporal_server: Any, app: Workshops) -> None:
    phases = [Phase(kind=PhaseKind.BRAINSTORM, minutes=2), Phase(kind=PhaseKind.CLOSED, minutes=0)]
    workshop = schedule(app, phases)
    agenda = AgendaInput(workshop_id=workshop, phases=phases, time_scale=SCALE, sim_epoch=EPOCH)

    async def scenario() -> tuple[float, float, AgendaStatus]:
        async with running_worker(temporal_server.address, app) as (client, queue):
            handle = await start_agenda(client, agenda, queue)
            await status_when(handle, lambda s: s.open)
            paused = await handle.execute_update(WorkshopAgenda.pause)
            left = paused.seconds_left
            assert paused.paused and left is not None and 90 < left <= 120
            await asyncio.sleep(2.5)  # longer than the whole phase
            status = await handle.query(WorkshopAgenda.status)
            assert status.open and status.paused and status.seconds_left == left
            assert [type(e).__name__ for e in recorded(app, workshop)][-1] == "PhasePaused"

            resumed_at = time.monotonic()
            status = await handle.execute_update(WorkshopAgenda.resume)
            assert status.seconds_left == pytest.approx(left, abs=0.2 * SCALE)
            status = await handle.execute_update(WorkshopAgenda.extend, 1.0)
            assert status.seconds_left is not None
            assert status.seconds_left == pytest.approx(left + 60, abs=0.2 * SCALE)
            final = await handle.result()
            ran = time.monotonic() - resumed_at
            await replay(client, handle)
            return left, ran, final

    left, ran, final = asyncio.run(scenario())

    # After the resume, the phase ran for what it had left plus the extension.
    assert (left + 60) / SCALE - 0.2 <= ran < (left + 60) / SCALE + 3.0
    assert final.finished and final.kind == PhaseKind.CLOSED and not final.results_declared
    events = recorded(app, workshop)
    assert names(events) == [
        "PhaseOpened(0)",
        "PhasePaused",
        "PhaseResumed",
        "PhaseExtended",
        "PhaseClosed(0)",
        "PhaseOpened(1)",
    ]
    opened, paused, resumed, extended, closed, _ = events
    # The log and the clock agree, in scenario time: planned + paused + extended.
    pause = (resumed.meta.at - paused.meta.at).total_seconds()
    assert pause >= 2.5 * SCALE
    expected = opened.minutes * 60 + pause + extended.minutes * 60
    lasted = (closed.meta.at - opened.meta.at).total_seconds()
    assert expected <= lasted < expected + 30, (expected, lasted)
