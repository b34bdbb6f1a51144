"""The campaign workflow on a real Temporal dev server and a real PostgreSQL.

A programme with workshops a few scenario days apart: a scenario day passes
in 0.2 real seconds, and each workshop's agenda plays a 30-minute phase in
1.5 s. The test plays the room (a key area, two projects, the ballots) as the
phases open, and checks what the event store recorded, what the campaign's
status says, how its agenda children ran, and that the history replays.
The dev server fires timers to about a second, so each wait between
workshops costs about a second of real time, however few scenario days it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import Replayer

from domain import commands as c
from domain import programme_commands as pc
from domain.agenda import Agenda, Phase, PhaseKind
from domain.initiative import adopted_id
from domain.meta import Meta, derive_id
from domain.workshop import Workshop
from services.app import Workshops
from services.persistence import postgres_env
from services.programmes import Programmes
from workflows.agenda import AgendaInput, WorkshopAgenda, agenda_workflow_id
from workflows.campaign import (
    ACTOR,
    CampaignInput,
    CampaignStatus,
    CampaignWorkshop,
    ProgrammeCampaign,
    campaign_workflow_id,
    delivery_child_id,
)
from workflows.campaign_activities import progress_of
from workflows.campaign_worker import build_campaign_worker, start_campaign
from workflows.worker import connect

pytestmark = pytest.mark.workflow

T = TypeVar("T")
EPOCH = datetime(2010, 6, 28, 9, 0, tzinfo=UTC)  # the Monday before the seed's workshop
DAY = timedelta(days=1)
SCALE = DAY.total_seconds() / 0.2  # a scenario day in 0.2 real seconds
AGENDA_SCALE = 1200.0  # a 30-minute phase in 1.5 real seconds
PHASES = [
    Phase(kind=PhaseKind.GROUPING, minutes=30),
    Phase(kind=PhaseKind.DISCUSSION, minutes=30),
    Phase(kind=PhaseKind.VOTE, minutes=30),
    Phase(kind=PhaseKind.CLOSED, minutes=0),
]


# ----- helpers -----------------------------------------------------------------


@pytest.fixture
def app(fresh_database_url: str) -> Iterator[Workshops]:
    application = Workshops(env=postgres_env(fresh_database_url))
    try:
        yield application
    finally:
        application.close()


@pytest.fixture
def programmes(app: Workshops) -> Programmes:
    return Programmes(app)


def manager() -> Meta:
    return Meta(
        actor="programme-manager",
        at=EPOCH - DAY,
        correlation_id=uuid4(),
        causation_id=uuid4(),
    )


def launch(programmes: Programmes) -> UUID:
    return programmes.launch(
        pc.LaunchProgramme(
            name=f"ICT strategy {uuid4().hex[:8]}",
            sponsor="Regional ICT forum",
            regions=["South West", "North West"],
        ),
        manager(),
    )


def schedule(programmes: Programmes, programme_id: UUID, region: str, starts_at: datetime) -> UUID:
    return programmes.schedule_workshop(
        pc.ScheduleProgrammeWorkshop(
            programme_id=programme_id,
            code=f"C-{uuid4().hex[:8]}",
            title=f"{region} ICT strategy day",
            region=region,
            starts_at=starts_at,
            agenda=Agenda(phases=tuple(PHASES)),
        ),
        manager(),
    )


def planned(workshop_id: UUID, starts_at: datetime) -> CampaignWorkshop:
    return CampaignWorkshop(workshop_id=workshop_id, starts_at=starts_at, phases=PHASES)


def campaign(programme_id: UUID, workshops: list[CampaignWorkshop], **more: Any) -> CampaignInput:
    return CampaignInput(
        programme_id=programme_id,
        workshops=workshops,
        time_scale=SCALE,
        sim_epoch=EPOCH,
        brief_days_before=1,
        agenda_time_scale=AGENDA_SCALE,
        start_deliveries=more.pop("start_deliveries", False),
        **more,
    )


def stream(app: Workshops, aggregate_id: UUID) -> list[Any]:
    return list(app.repository.event_store.get(aggregate_id))


def named(events: Sequence[Any], name: str) -> list[Any]:
    return [e for e in events if type(e).__name__ == name]


def first_index(events: Sequence[Any], name: str) -> int:
    return next(i for i, e in enumerate(events) if type(e).__name__ == name)


class Room:
    """Plays one workshop's room: acts once in each phase, as soon as it is open."""

    def __init__(self, app: Workshops, workshop_id: UUID, area: str, titles: list[str]) -> None:
        self.app = app
        self.workshop_id = workshop_id
        self.area_name = area
        self.titles = titles  # the first wins: everyone approves it
        self.acted: set[PhaseKind] = set()
        self.area: UUID | None = None
        self.people: list[UUID] = []
        self.projects: list[UUID] = []

    def meta(self, actor: str) -> Meta:
        return Meta(actor=actor, at=EPOCH, correlation_id=uuid4(), causation_id=uuid4())

    def step(self) -> None:
        workshop = self.app.load(Workshop, self.workshop_id, "workshop_id")
        kind = workshop.current_kind
        if kind is None or kind in self.acted:
            return
        if kind == PhaseKind.GROUPING:
            self.area = self.app.define_key_area(
                c.DefineKeyArea(workshop_id=self.workshop_id, name=self.area_name),
                self.meta("facilitator"),
            )
        elif kind == PhaseKind.DISCUSSION:
            assert self.area is not None
            self.people = [
                self.app.join(
                    c.JoinWorkshop(workshop_id=self.workshop_id, key=f"p{n}", display_name=f"P{n}"),
                    self.meta("participant:self"),
                )
                for n in range(3)
            ]
            for person, title in zip(self.people, self.titles, strict=False):
                project = uuid4()
                self.app.propose_project(
                    c.ProposeProject(
                        workshop_id=self.workshop_id,
                        project_id=project,
                        key_area_id=self.area,
                        title=title,
                        proposer_ids=[person],
                    ),
                    self.meta(f"participant:{person}"),
                )
                self.projects.append(project)
        elif kind == PhaseKind.VOTE:
            winner, runner_up = self.projects
            for n, person in enumerate(self.people):
                choices = {str(winner): 1} | ({str(runner_up): 1} if n == 0 else {})
                self.app.cast_ballot(
                    c.CastBallot(
                        workshop_id=self.workshop_id, participant_id=person, choices=choices
                    ),
                    self.meta(f"participant:{person}"),
                )
        self.acted.add(kind)

    @property
    def winner(self) -> UUID:
        return self.projects[0]


async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """The application is synchronous: keep it off the loop the worker runs on."""
    return await asyncio.to_thread(fn, *args)


@asynccontextmanager
async def playing(rooms: list[Room]) -> AsyncIterator[None]:
    """Play the rooms in the background while the block runs."""

    async def play() -> None:
        while True:
            for room in rooms:
                await off_loop(room.step)
            await asyncio.sleep(0.05)

    task = asyncio.create_task(play())
    try:
        yield
    finally:
        if task.done():
            task.result()  # a room that failed to act fails the test, with its error
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@asynccontextmanager
async def running_worker(
    address: str, app: Workshops, programmes: Programmes
) -> AsyncIterator[tuple[Client, str]]:
    client = await connect(address)
    task_queue = f"campaign-test-{uuid4().hex[:12]}"
    async with build_campaign_worker(client, app, programmes, task_queue):
        yield client, task_queue


async def status_when(
    handle: WorkflowHandle[Any, Any], ready: Callable[[CampaignStatus], bool], timeout: float = 15
) -> CampaignStatus:
    deadline = time.monotonic() + timeout
    while True:
        status: CampaignStatus = await handle.query(ProgrammeCampaign.status)
        if ready(status):
            return status
        assert time.monotonic() < deadline, f"status never became ready: {status}"
        await asyncio.sleep(0.05)


async def replay(client: Client, workflow_id: str, run_id: str) -> None:
    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    replayer = Replayer(
        workflows=[ProgrammeCampaign, WorkshopAgenda], data_converter=pydantic_data_converter
    )
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None


async def history_events(client: Client, workflow_id: str, run_id: str) -> list[Any]:
    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    return list(history.events)


def count(events: list[Any], kind: int) -> int:
    return sum(1 for event in events if event.event_type == kind)


# ----- tests -------------------------------------------------------------------


def test_input_is_checked() -> None:
    programme, workshop = uuid4(), uuid4()
    one = planned(workshop, EPOCH)
    with pytest.raises(ValueError, match="twice"):
        CampaignInput(programme_id=programme, workshops=[one, one])
    with pytest.raises(ValueError):
        CampaignInput(programme_id=programme, workshops=[])
    with pytest.raises(ValueError, match="agenda_time_scale"):
        CampaignInput(programme_id=programme, workshops=[one], time_scale=5_000_000)
    fast = CampaignInput(
        programme_id=programme, workshops=[one], time_scale=5_000_000, agenda_time_scale=600
    )
    assert fast.agenda_scale == 600
    with pytest.raises(ValueError, match="not an agenda"):
        CampaignWorkshop(
            workshop_id=workshop,
            starts_at=EPOCH,
            phases=[Phase(kind=PhaseKind.CLOSED, minutes=0), *PHASES],
        )
    naive = CampaignInput(
        programme_id=programme,
        workshops=[planned(workshop, datetime(2010, 7, 2, 9))],
        sim_epoch=datetime(2010, 7, 1),
    )
    assert naive.sim_epoch == datetime(2010, 7, 1, tzinfo=UTC)
    assert naive.workshops[0].starts_at == datetime(2010, 7, 2, 9, tzinfo=UTC)
    assert campaign_workflow_id(UUID(int=7)) == f"campaign-{UUID(int=7)}"
    assert delivery_child_id(UUID(int=7)) == f"delivery-{UUID(int=7)}"


def test_progress_says_where_to_take_over(app: Workshops, programmes: Programmes) -> None:
    programme_id = launch(programmes)
    workshop_id = schedule(programmes, programme_id, "South West", EPOCH)
    room = Room(app, workshop_id, "Cloud", ["First", "Second"])

    def progress() -> tuple[int, bool, int, bool]:
        p = progress_of(app.load(Workshop, workshop_id, "workshop_id"))
        return p.phase_index, p.phase_open, p.resume_index, p.done

    def act(command: Any) -> None:
        meta = room.meta("facilitator")
        if isinstance(command, c.OpenPhase):
            app.open_phase(command, meta)
        elif isinstance(command, c.ClosePhase):
            app.close_phase(command, meta)
        else:
            app.declare_results(command, meta)

    assert progress() == (-1, False, 0, False)
    act(c.OpenPhase(workshop_id=workshop_id, index=0))
    assert progress() == (0, True, 0, False)  # the open phase, re-timed
    room.step()
    act(c.ClosePhase(workshop_id=workshop_id, index=0))
    assert progress() == (0, False, 1, False)  # the next one
    act(c.OpenPhase(workshop_id=workshop_id, index=1))
    room.step()
    act(c.ClosePhase(workshop_id=workshop_id, index=1))
    act(c.OpenPhase(workshop_id=workshop_id, index=2))
    room.step()
    act(c.ClosePhase(workshop_id=workshop_id, index=2))
    assert progress() == (2, False, 2, False)  # the vote closed: its results are due
    act(c.DeclareResults(workshop_id=workshop_id))
    assert progress() == (2, False, 3, False)
    act(c.OpenPhase(workshop_id=workshop_id, index=3))
    assert progress() == (3, True, 3, True)  # closed: over


def test_a_plan_the_programme_does_not_have_fails_at_once(
    temporal_server: Any, app: Workshops, programmes: Programmes
) -> None:
    programme_id = launch(programmes)
    other_programme = launch(programmes)
    starts_at = EPOCH + 30 * DAY
    workshop = schedule(programmes, programme_id, "South West", starts_at)
    foreign = schedule(programmes, other_programme, "South West", starts_at)

    async def failure(plan: CampaignInput) -> BaseException | None:
        async with running_worker(temporal_server.address, app, programmes) as (client, queue):
            handle = await start_campaign(client, plan, queue)
            with pytest.raises(WorkflowFailureError) as failed:
                await handle.result()
            return failed.value.cause

    async def scenario() -> tuple[BaseException | None, BaseException | None]:
        moved = await failure(campaign(programme_id, [planned(workshop, starts_at + DAY)]))
        other = await failure(campaign(programme_id, [planned(foreign, starts_at)]))
        return moved, other

    position = app.max_position()
    began = time.monotonic()
    moved, other = asyncio.run(scenario())
    assert time.monotonic() - began < 10  # not a month of scenario time later
    # The workflow's own check: the plan says another day than the programme.
    assert isinstance(moved, ApplicationError) and moved.type == "plan-mismatch"
    assert "scheduled for" in moved.message
    # The activity's: the workshop belongs to another programme.
    assert isinstance(other, ActivityError) and isinstance(other.cause, ApplicationError)
    assert other.cause.type == "unknown-id" and other.cause.non_retryable
    assert app.max_position() == position  # nothing drafted


def test_campaign_runs_the_programme_on_schedule(
    temporal_server: Any, app: Workshops, programmes: Programmes
) -> None:
    programme_id = launch(programmes)
    first_at = EPOCH + 2 * DAY + timedelta(minutes=30)  # Wednesday 09:30
    second_at = first_at + 3 * DAY  # Saturday 09:30
    first = schedule(programmes, programme_id, "South West", first_at)
    second = schedule(programmes, programme_id, "North West", second_at)
    # Listed out of order: the campaign runs them in start order.
    plan = campaign(programme_id, [planned(second, second_at), planned(first, first_at)])
    rooms = [
        Room(app, first, "Leadership", ["A regional workshop for chief executives", "A forum"]),
        Room(app, second, "Skills", ["An ICT apprenticeship scheme", "A skills audit"]),
    ]
    campaign_id = campaign_workflow_id(programme_id)

    async def scenario() -> dict[str, Any]:
        async with running_worker(temporal_server.address, app, programmes) as (client, queue):
            begun = time.monotonic()
            handle = await start_campaign(client, plan, queue)
            joined = await start_campaign(client, plan, queue)  # joins the same run
            assert joined.result_run_id == handle.result_run_id
            early = await handle.query(ProgrammeCampaign.status)
            assert early.next_workshop_id == first and not early.finished
            assert [w.workshop_id for w in early.workshops] == [first, second]
            async with playing(rooms):
                between = await status_when(handle, lambda s: s.next_workshop_id == second)
                final = await handle.result()
            took = time.monotonic() - begun
            run_id = handle.result_run_id
            assert run_id is not None
            described = await client.get_workflow_handle(campaign_id, run_id=run_id).describe()
            agendas = [
                await client.get_workflow_handle(agenda_workflow_id(w)).describe()
                for w in (first, second)
            ]
            events = await history_events(client, campaign_id, run_id)
            await replay(client, campaign_id, run_id)

            # Run again with the same id once it is over: nothing is recorded twice.
            position = await off_loop(app.max_position)
            again = await start_campaign(client, plan, queue)
            assert again.result_run_id != run_id
            rerun = await again.result()
            assert await off_loop(app.max_position) == position
            assert again.result_run_id is not None
            rerun_events = await history_events(client, campaign_id, again.result_run_id)
            await replay(client, campaign_id, again.result_run_id)
            return {
                "took": took,
                "between": between,
                "final": final,
                "rerun": rerun,
                "campaign": described,
                "agendas": agendas,
                "events": events,
                "rerun_events": rerun_events,
            }

    seen = asyncio.run(scenario())
    final: CampaignStatus = seen["final"]
    rerun: CampaignStatus = seen["rerun"]
    winners = [adopted_id(room.winner) for room in rooms]

    # Two days, a workshop, three days, a workshop: 9 s of agendas, and four
    # waits of a fraction of a second each (the dev server fires timers to
    # about a second, so each costs about a second of real time).
    assert 6.0 <= seen["took"] < 30.0, seen["took"]

    # The status: what ran, when (scenario time), and what it adopted.
    assert final.finished and final.next_workshop_id is None
    assert [w.workshop_id for w in final.workshops] == [first, second]
    for run, starts_at, initiative in zip(
        final.workshops, (first_at, second_at), winners, strict=True
    ):
        assert run.state == "done" and run.agenda_run == "started" and run.results_declared
        assert run.briefed_at == starts_at - DAY  # exactly: a timer's latency is no scenario time
        assert run.agenda_started_at == starts_at
        assert run.finished_at is not None
        assert starts_at + timedelta(minutes=90) <= run.finished_at < starts_at + timedelta(hours=3)
        assert run.initiatives == [initiative]
    assert final.initiatives == winners and final.deliveries == []
    between: CampaignStatus = seen["between"]
    assert between.workshops[0].state == "done" and between.workshops[1].state != "done"
    assert between.next_at in (second_at - DAY, second_at)

    # Each agenda ran as a child of the campaign, in order, not before it was due.
    campaign_run = seen["campaign"]
    one, two = seen["agendas"]
    for agenda in (one, two):
        assert agenda.parent_id == campaign_id and agenda.parent_run_id == campaign_run.run_id
        assert agenda.status == WorkflowExecutionStatus.COMPLETED
    due = campaign_run.start_time + (first_at - EPOCH) / SCALE
    assert one.start_time >= due - timedelta(milliseconds=20)
    assert one.close_time is not None and one.close_time <= two.start_time
    # After the first workshop (90 scenario minutes and a little), the second
    # is nearly three scenario days away: over half a real second.
    assert two.start_time - one.close_time >= timedelta(seconds=0.5)
    started = EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED
    assert count(seen["events"], started) == 2

    # The event store: a briefing drafted before each workshop opened, by the campaign.
    correlation = derive_id("campaign", campaign_workflow_id(programme_id))
    drafts = []
    for workshop_id, starts_at in ((first, first_at), (second, second_at)):
        events = stream(app, workshop_id)
        [draft] = named(events, "BriefingDrafted")  # once, although the campaign ran twice
        assert first_index(events, "BriefingDrafted") < first_index(events, "PhaseOpened")
        assert draft.meta.actor == ACTOR and draft.meta.correlation_id == correlation
        assert draft.meta.at == starts_at - DAY
        opened = named(events, "PhaseOpened")
        assert len(opened) == len(PHASES)
        assert starts_at <= opened[0].meta.at < starts_at + timedelta(minutes=5)
        assert all(e.meta.at >= starts_at for e in events[1:] if e.meta.actor == "agenda-timer")
        assert len(named(events, "ResultsDeclared")) == 1
        drafts.append(draft.text)
    assert "This is the programme's first workshop." in drafts[0]
    assert "A regional workshop for chief executives" not in drafts[0]
    # The second draft knows what the first workshop found and carried forward.
    assert "South West ICT strategy day" in drafts[1]
    assert "key areas: Leadership" in drafts[1]
    assert "winning projects: A regional workshop for chief executives" in drafts[1]
    assert "Initiatives carried forward so far:" in drafts[1]
    assert "- A regional workshop for chief executives: proposed" in drafts[1]
    assert "An ICT apprenticeship scheme" not in drafts[1]

    # The winners became initiatives of the programme, once each, after their workshop.
    programme = programmes.programme(programme_id)
    assert programme.initiatives == winners
    for initiative_id, run in zip(winners, final.workshops, strict=True):
        [adopted] = named(stream(app, initiative_id), "Adopted")
        assert adopted.meta.actor == ACTOR and adopted.meta.correlation_id == correlation
        assert adopted.meta.at == run.finished_at
        assert programmes.initiative(initiative_id).title in {r.titles[0] for r in rooms}
    registered = named(stream(app, programme_id), "InitiativeRegistered")
    assert [e.initiative_id for e in registered] == winners

    # The second run found both workshops over: no agenda ran again, nothing new.
    assert rerun.finished and rerun.initiatives == winners
    assert [w.agenda_run for w in rerun.workshops] == ["found-over", "found-over"]
    assert count(seen["rerun_events"], started) == 0


def test_a_restarted_campaign_joins_the_agenda_running_already(
    temporal_server: Any, app: Workshops, programmes: Programmes
) -> None:
    programme_id = launch(programmes)
    starts_at = EPOCH + DAY
    workshop = schedule(programmes, programme_id, "South West", starts_at)
    plan = campaign(programme_id, [planned(workshop, starts_at)])
    room = Room(app, workshop, "Cloud", ["A shared cloud contract", "A data centre review"])
    campaign_id = campaign_workflow_id(programme_id)

    async def scenario() -> tuple[CampaignStatus, Any, list[Any], str]:
        async with running_worker(temporal_server.address, app, programmes) as (client, queue):
            handle = await start_campaign(client, plan, queue)
            first_run = handle.result_run_id
            assert first_run is not None
            agenda = client.get_workflow_handle(agenda_workflow_id(workshop))
            async with playing([room]):
                await status_when(handle, lambda s: s.workshops[0].agenda_run == "started")
                # Stop the campaign mid-workshop: the room's clock runs on.
                await handle.terminate(reason="the plan changed")
                assert (await agenda.describe()).status == WorkflowExecutionStatus.RUNNING
                again = await start_campaign(client, plan, queue)
                final = await again.result()
            described = await agenda.describe()
            assert again.result_run_id is not None
            events = await history_events(client, campaign_id, again.result_run_id)
            await replay(client, campaign_id, first_run)
            await replay(client, campaign_id, again.result_run_id)
            return final, described, events, first_run

    final, agenda, events, first_run = asyncio.run(scenario())

    [run] = final.workshops
    assert run.agenda_run == "joined" and run.state == "done" and run.results_declared
    assert final.initiatives == run.initiatives == [adopted_id(room.winner)]
    # The agenda ran once, as the first run's child; the second run waited for it.
    assert agenda.status == WorkflowExecutionStatus.COMPLETED
    assert agenda.parent_id == campaign_id and agenda.parent_run_id == first_run
    failed = EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED
    started = EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED
    assert count(events, failed) >= 1 and count(events, started) == 0
    # Nothing twice: one draft, one opening of each phase, one initiative.
    events_recorded = stream(app, workshop)
    assert len(named(events_recorded, "BriefingDrafted")) == 1
    assert [e.index for e in named(events_recorded, "PhaseOpened")] == [0, 1, 2, 3]
    assert programmes.programme(programme_id).initiatives == [adopted_id(room.winner)]


def test_a_restarted_campaign_takes_over_a_stopped_agenda(
    temporal_server: Any, app: Workshops, programmes: Programmes
) -> None:
    programme_id = launch(programmes)
    starts_at = EPOCH + DAY
    workshop = schedule(programmes, programme_id, "North West", starts_at)
    plan = campaign(programme_id, [planned(workshop, starts_at)])
    room = Room(app, workshop, "Data", ["Open data by default", "A data sharing charter"])
    campaign_id = campaign_workflow_id(programme_id)

    def in_discussion() -> bool:
        return PhaseKind.DISCUSSION in room.acted

    async def scenario() -> tuple[CampaignStatus, Any, Any, str]:
        async with running_worker(temporal_server.address, app, programmes) as (client, queue):
            handle = await start_campaign(client, plan, queue)
            agenda = client.get_workflow_handle(agenda_workflow_id(workshop))
            async with playing([room]):
                deadline = time.monotonic() + 15
                while not in_discussion():
                    assert time.monotonic() < deadline, "the discussion never opened"
                    await asyncio.sleep(0.05)
                # Both stop mid-workshop, the discussion open: nothing keeps its time.
                await handle.terminate(reason="the plan changed")
                await agenda.terminate(reason="the worker's host went away")
                again = await start_campaign(client, plan, queue)
                final = await again.result()
            described = await agenda.describe()
            history = await agenda.fetch_history()
            assert again.result_run_id is not None
            await replay(client, campaign_id, again.result_run_id)
            return final, described, history, again.result_run_id

    final, agenda, history, second_run = asyncio.run(scenario())

    [run] = final.workshops
    assert run.agenda_run == "started" and run.results_declared
    assert final.initiatives == [adopted_id(room.winner)]
    # A new agenda run, the second campaign run's child, from the open discussion.
    assert agenda.parent_run_id == second_run
    assert agenda.status == WorkflowExecutionStatus.COMPLETED
    started = history.events[0].workflow_execution_started_event_attributes
    [given] = pydantic_data_converter.payload_converter.from_payloads(
        started.input.payloads, [AgendaInput]
    )
    assert given.start_index == 1 and given.sim_epoch > starts_at
    events = stream(app, workshop)
    assert [e.index for e in named(events, "PhaseOpened")] == [0, 1, 2, 3]
    assert [e.index for e in named(events, "PhaseClosed")] == [0, 1, 2]
    assert len(named(events, "BriefingDrafted")) == 1
    assert programmes.programme(programme_id).initiatives == [adopted_id(room.winner)]


def test_winners_go_on_to_delivery(
    temporal_server: Any, app: Workshops, programmes: Programmes
) -> None:
    delivery = pytest.importorskip("workflows.delivery")
    delivery_worker = pytest.importorskip("workflows.delivery_worker")
    programme_id = launch(programmes)
    starts_at = EPOCH + DAY
    workshop = schedule(programmes, programme_id, "North West", starts_at)
    room = Room(app, workshop, "Skills", ["An ICT apprenticeship scheme", "A skills audit"])
    delivery_queue = f"delivery-test-{uuid4().hex[:12]}"
    plan = campaign(
        programme_id,
        [planned(workshop, starts_at)],
        start_deliveries=True,
        delivery_task_queue=delivery_queue,
    )
    campaign_id = campaign_workflow_id(programme_id)

    class Quiet:
        def send(self, notice: Any) -> None:
            pass

    async def scenario() -> tuple[CampaignStatus, Any, Any]:
        async with running_worker(temporal_server.address, app, programmes) as (client, queue):
            worker = delivery_worker.build_delivery_worker(
                client, programmes, Quiet(), delivery_queue
            )
            async with worker:
                handle = await start_campaign(client, plan, queue)
                async with playing([room]):
                    final = await handle.result()
                initiative_id = adopted_id(room.winner)
                child = client.get_workflow_handle(delivery.delivery_workflow_id(initiative_id))
                described = await child.describe()
                history = await child.fetch_history()
                try:
                    # Its first task ran: it took the input the campaign gave it.
                    deadline = time.monotonic() + 10
                    while not any(
                        e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
                        for e in history.events
                    ):
                        assert time.monotonic() < deadline, "the delivery never ran"
                        await asyncio.sleep(0.1)
                        history = await child.fetch_history()
                finally:
                    await child.terminate(reason="the test is over")
            return final, described, history

    final, described, history = asyncio.run(scenario())

    initiative_id = adopted_id(room.winner)
    assert final.initiatives == [initiative_id]
    assert final.deliveries == [delivery.delivery_workflow_id(initiative_id)]
    # Abandoned by the campaign: it outlived it; started on the delivery queue.
    assert described.parent_id == campaign_id
    assert described.status == WorkflowExecutionStatus.RUNNING
    assert described.task_queue == delivery_queue
    started = history.events[0].workflow_execution_started_event_attributes
    [payload] = pydantic_data_converter.payload_converter.from_payloads(
        started.input.payloads, [delivery.DeliveryInput]
    )
    assert payload.initiative_id == initiative_id
    assert payload.time_scale == SCALE
    assert payload.sim_epoch == final.workshops[0].finished_at
    failed = EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    assert count(list(history.events), failed) == 0
