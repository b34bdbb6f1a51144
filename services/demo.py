"""`quickwins demo`: replay a scenario through the real workflow, as the room would.

The agenda workflow opens and closes the phases on its timers; this driver
plays the facilitator and the participants, acting in each phase as it opens.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from temporalio.client import Client, WorkflowHandle

from domain import commands as c
from domain.agenda import PhaseKind
from domain.meta import Meta, derive_id
from domain.tally import Result
from domain.workshop import Workshop
from projections.board import Board
from workflows.agenda import AgendaInput, AgendaStatus, WorkshopAgenda
from workflows.worker import build_worker, start_agenda

from .app import Workshops
from .bootstrap import Stack
from .clock import ScenarioClock
from .scenario import Scenario

POLL_SECONDS = 0.02

Progress = Callable[[str], None]


@dataclass
class DemoOutcome:
    workshop_id: UUID
    code: str
    board: Board
    result: Result
    participants: int
    acts: int


@dataclass
class Room:
    """What the driver remembers of the day: ids by name and title."""

    scenario: Scenario
    app: Workshops
    workshop_id: UUID
    clock: ScenarioClock
    run_id: UUID = field(default_factory=uuid4)
    people: dict[str, UUID] = field(default_factory=dict)
    areas: dict[str, UUID] = field(default_factory=dict)
    ideas: list[UUID] = field(default_factory=list)
    projects: dict[str, UUID] = field(default_factory=dict)
    acts: int = 0

    def meta(self, actor: str) -> Meta:
        self.acts += 1
        return Meta(
            actor=actor, at=self.clock.now(), correlation_id=self.run_id, causation_id=uuid4()
        )

    def facilitator(self) -> Meta:
        return self.meta(f"facilitator:{self.scenario.workshop.facilitator}")

    def participant(self, name: str) -> Meta:
        return self.meta(f"participant:{self.people[name]}")


async def run_demo(
    stack: Stack, scenario: Scenario, time_scale: float, code: str, progress: Progress
) -> DemoOutcome:
    app = stack.app
    client = await stack.temporal_client()
    task_queue = f"{stack.settings.task_queue}-demo-{uuid4().hex[:8]}"
    workshop_id = _schedule(app, scenario, code)
    progress(f"scheduled workshop {code} ({scenario.workshop.title})")
    runner = stack.board_runner()
    try:
        async with build_worker(client, app, task_queue):
            outcome = await _run_day(
                app, client, scenario, workshop_id, time_scale, task_queue, progress
            )
        runner.wait(app.max_position(), timeout=30)
        board = runner.view.board(workshop_id)
    finally:
        runner.stop()
    assert board is not None
    return DemoOutcome(workshop_id, code, board, *outcome)


def _schedule(app: Workshops, scenario: Scenario, code: str) -> UUID:
    details = scenario.workshop
    meta = Meta(
        actor=f"facilitator:{details.facilitator}",
        at=details.starts_at,
        correlation_id=uuid4(),
        causation_id=uuid4(),
    )
    command = c.ScheduleWorkshop(
        code=code,
        title=details.title,
        region=details.region,
        venue=details.venue,
        starts_at=details.starts_at,
        agenda=scenario.agenda,
        voting=scenario.voting,
    )
    return app.schedule(command, meta)


async def _run_day(
    app: Workshops,
    client: Client,
    scenario: Scenario,
    workshop_id: UUID,
    time_scale: float,
    task_queue: str,
    progress: Progress,
) -> tuple[Result, int, int]:
    agenda_input = AgendaInput(
        workshop_id=workshop_id,
        phases=list(scenario.agenda.phases),
        time_scale=time_scale,
        sim_epoch=scenario.workshop.starts_at,
    )
    handle = await start_agenda(client, agenda_input, task_queue)
    room = await play_room(app, handle, scenario, workshop_id, time_scale, progress)
    await handle.result()
    return declared(app, workshop_id), len(room.people), room.acts


async def play_room(
    app: Workshops,
    handle: WorkflowHandle[Any, Any],
    scenario: Scenario,
    workshop_id: UUID,
    time_scale: float,
    progress: Progress,
    briefing: Callable[[Room], None] | None = None,
) -> Room:
    """Act as the room in each phase of a running agenda, as each phase opens."""
    room = Room(scenario, app, workshop_id, ScenarioClock(scenario.workshop.starts_at, time_scale))
    acts = {**PHASE_ACTS, **({PhaseKind.BRIEFING: briefing} if briefing else {})}
    for index, phase in enumerate(scenario.agenda.phases):
        status = await _wait_for_phase(handle, index)
        room.clock = ScenarioClock(status.sim_time_at(datetime.now(UTC)), time_scale)
        progress(f"{scenario.workshop.code}: {phase.kind.value}")
        if not room.people:
            await asyncio.to_thread(_join_everyone, room)
        # The room's acts are blocking calls: keep them off the worker's event loop.
        await asyncio.to_thread(acts[phase.kind], room)
    return room


def declared(app: Workshops, workshop_id: UUID) -> Result:
    workshop = app.load(Workshop, workshop_id, "workshop_id")
    if workshop.results is None:
        raise RuntimeError("the agenda finished without declaring results")
    return Result.model_validate(workshop.results)


async def _wait_for_phase(handle: WorkflowHandle[Any, Any], index: int) -> AgendaStatus:
    while True:
        status = await handle.query(WorkshopAgenda.status)
        if status.phase_index >= index and (status.open or status.finished):
            return status
        await asyncio.sleep(POLL_SECONDS)


# ----- what the room does in each phase ----------------------------------


def _briefing(room: Room) -> None:
    room.app.publish_briefing(
        c.PublishBriefing(workshop_id=room.workshop_id, text=room.scenario.briefing),
        room.facilitator(),
    )


def _join_everyone(room: Room) -> None:
    """People arrive as the day opens, whatever its first phase is."""
    for person in room.scenario.participants:
        key = str(derive_id("demo-join", room.workshop_id, person.name))
        join = c.JoinWorkshop(
            workshop_id=room.workshop_id,
            key=key,
            display_name=person.name,
            organisation=person.organisation,
        )
        room.people[person.name] = room.app.join(join, room.meta("participant:self"))


def _brainstorm(room: Room) -> None:
    for spec in room.scenario.ideas:
        idea_id = uuid4()
        author = room.people[spec.author]
        submit = c.SubmitIdea(
            workshop_id=room.workshop_id, idea_id=idea_id, author_id=author, text=spec.text
        )
        room.app.submit_idea(submit, room.participant(spec.author))
        room.ideas.append(idea_id)


def _grouping(room: Room) -> None:
    for area in room.scenario.key_areas:
        define = c.DefineKeyArea(workshop_id=room.workshop_id, name=area.name)
        room.areas[area.name] = room.app.define_key_area(define, room.facilitator())
        if area.capacity is not None:
            capacity = c.SetGroupCapacity(
                workshop_id=room.workshop_id,
                key_area_id=room.areas[area.name],
                capacity=area.capacity,
            )
            room.app.set_group_capacity(capacity, room.facilitator())
    for idea_id, spec in zip(room.ideas, room.scenario.ideas, strict=True):
        group = c.GroupIdea(idea_id=idea_id, key_area_id=room.areas[spec.area])
        room.app.group_idea(group, room.facilitator())


def _signup(room: Room) -> None:
    for person in room.scenario.participants:
        sign_up = c.SignUpToGroup(
            workshop_id=room.workshop_id,
            participant_id=room.people[person.name],
            key_area_id=room.areas[person.group],
        )
        room.app.sign_up(sign_up, room.participant(person.name))


def _discussion(room: Room) -> None:
    members: dict[str, list[str]] = {}
    for person in room.scenario.participants:
        members.setdefault(person.group, []).append(person.name)
    for spec in room.scenario.projects:
        project_id = uuid4()
        proposers = members.get(spec.area) or [room.scenario.participants[0].name]
        propose = c.ProposeProject(
            workshop_id=room.workshop_id,
            project_id=project_id,
            key_area_id=room.areas[spec.area],
            title=spec.title,
            summary=spec.summary,
            idea_ids=[room.ideas[n - 1] for n in spec.ideas],
            proposer_ids=[room.people[name] for name in proposers],
        )
        room.app.propose_project(propose, room.participant(proposers[0]))
        room.projects[spec.title] = project_id


def _pitches(room: Room) -> None:
    slot = room.clock.real_seconds(room.scenario.voting.pitch_minutes)
    for project_id in room.projects.values():
        start = c.StartPitch(workshop_id=room.workshop_id, project_id=project_id)
        room.app.start_pitch(start, room.facilitator())
        time.sleep(slot)  # the pitch clock runs in scenario time
        end = c.EndPitch(workshop_id=room.workshop_id, project_id=project_id)
        room.app.end_pitch(end, room.facilitator())


def _vote(room: Room) -> None:
    for ballot in room.scenario.all_ballots():
        choices = {str(room.projects[title]): mark for title, mark in ballot.choices.items()}
        cast = c.CastBallot(
            workshop_id=room.workshop_id,
            participant_id=room.people[ballot.voter],
            choices=choices,
        )
        room.app.cast_ballot(cast, room.participant(ballot.voter))


def _nothing(room: Room) -> None:
    return None


PHASE_ACTS: dict[PhaseKind, Callable[[Room], None]] = {
    PhaseKind.BRIEFING: _briefing,
    PhaseKind.BRAINSTORM: _brainstorm,
    PhaseKind.GROUPING: _grouping,
    PhaseKind.SIGNUP: _signup,
    PhaseKind.DISCUSSION: _discussion,
    PhaseKind.PITCHES: _pitches,
    PhaseKind.VOTE: _vote,
    PhaseKind.CLOSED: _nothing,
}
