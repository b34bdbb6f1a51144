"""`quickwins demo --programme`: a programme of regional workshops, then delivery.

The ProgrammeCampaign workflow runs the workshops on their dates; this driver
plays each room as its agenda opens, then plays each initiative's delivery plan
on the initiative's own clock, while the InitiativeDelivery workflows remind,
flag and ask for reports. At the end it writes the programme report.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from domain import programme_commands as pc
from domain.initiative import Initiative, Stage, adopted_id
from domain.meta import Meta
from domain.owner import identify
from domain.tally import Result
from workflows.agenda import agenda_workflow_id
from workflows.campaign import CampaignInput, CampaignWorkshop, ProgrammeCampaign
from workflows.campaign_worker import build_campaign_worker, start_campaign
from workflows.delivery import InitiativeDelivery
from workflows.delivery_activities import DeliveryActivities
from workflows.notifier import Notice

from .bootstrap import Stack
from .delivery_relay import DeliveryRelay
from .demo import Room, declared, play_room
from .programme_scenario import DeliveryPlan, ProgrammeScenario
from .programmes import Programmes
from .scenario import Scenario

DAY = 86_400.0
POLL_SECONDS = 0.05

Progress = Callable[[str], None]


class RecordingNotifier:
    """Keeps every notice the delivery workflows send, for the demo's summary."""

    def __init__(self) -> None:
        self.notices: list[Notice] = []

    def send(self, notice: Notice) -> None:
        self.notices.append(notice)


@dataclass
class ProgrammeOutcome:
    programme_id: UUID
    name: str
    workshops: list[tuple[str, Result]]
    initiatives: list[UUID]
    notices: list[Notice]
    ends_at: datetime


@dataclass
class Run:
    """What the driver knows while the programme runs."""

    stack: Stack
    plan: ProgrammeScenario
    programmes: Programmes
    client: Client
    task_queue: str
    day_seconds: float
    agenda_scale: float
    progress: Progress
    programme_id: UUID = field(default_factory=uuid4)
    workshop_ids: list[UUID] = field(default_factory=list)
    initiatives: dict[str, UUID] = field(default_factory=dict)  # by title
    correlation: UUID = field(default_factory=uuid4)
    deliveries: list[asyncio.Task[datetime]] = field(default_factory=list)
    # Each initiative's scenario clock: its adoption time, and when the driver saw it.
    clocks: dict[UUID, tuple[datetime, float]] = field(default_factory=dict)

    def initiative_now(self, initiative_id: UUID) -> datetime:
        adopted_at, seen = self.clocks[initiative_id]
        return adopted_at + timedelta(seconds=(time.monotonic() - seen) * self.time_scale)

    @property
    def time_scale(self) -> float:
        return DAY / self.day_seconds

    def meta(self, actor: str, at: datetime) -> Meta:
        return Meta(actor=actor, at=at, correlation_id=self.correlation, causation_id=uuid4())


async def run_programme(
    stack: Stack,
    plan: ProgrammeScenario,
    suffix: str,
    day_seconds: float,
    agenda_scale: float,
    progress: Progress,
) -> ProgrammeOutcome:
    client = await stack.temporal_client()
    programmes = Programmes(stack.app)
    run = Run(
        stack,
        plan,
        programmes,
        client,
        f"{stack.settings.task_queue}-programme-{suffix}",
        day_seconds,
        agenda_scale,
        progress,
    )
    _launch(run, suffix)
    notifier = RecordingNotifier()
    worker = build_campaign_worker(
        client,
        stack.app,
        programmes,
        run.task_queue,
        workflows=[InitiativeDelivery],
        activities=DeliveryActivities(programmes, notifier).all(),
    )
    with DeliveryRelay(stack.database_url, client, poll_seconds=1.0):
        async with worker:
            handle = await start_campaign(client, _campaign_input(run), run.task_queue)
            results = await _play_workshops(run)
            await handle.result()
            ends_at = await _play_deliveries(run)
    return ProgrammeOutcome(
        run.programme_id,
        _name(plan, suffix),
        results,
        list(run.initiatives.values()),
        notifier.notices,
        ends_at,
    )


def _name(plan: ProgrammeScenario, suffix: str) -> str:
    return f"{plan.programme.name} ({suffix})"


def _launch(run: Run, suffix: str) -> None:
    details = run.plan.programme
    at = details.starts_at
    launch = pc.LaunchProgramme(
        name=_name(run.plan, suffix), sponsor=details.sponsor, regions=details.regions
    )
    run.programme_id = run.programmes.launch(launch, run.meta("manager:demo", at))
    for scenario in run.plan.scenarios:
        w = scenario.workshop
        schedule = pc.ScheduleProgrammeWorkshop(
            programme_id=run.programme_id,
            code=f"{w.code}-{suffix}",
            title=w.title,
            region=w.region,
            venue=w.venue,
            starts_at=w.starts_at,
            agenda=scenario.agenda,
            voting=scenario.voting,
        )
        run.workshop_ids.append(
            run.programmes.schedule_workshop(schedule, run.meta("manager:demo", at))
        )
    run.progress(f"launched {launch.name} with {len(run.workshop_ids)} workshops")


def _campaign_input(run: Run) -> CampaignInput:
    workshops = [
        CampaignWorkshop(
            workshop_id=wid, starts_at=s.workshop.starts_at, phases=list(s.agenda.phases)
        )
        for wid, s in zip(run.workshop_ids, run.plan.scenarios, strict=True)
    ]
    return CampaignInput(
        programme_id=run.programme_id,
        workshops=workshops,
        time_scale=run.time_scale,
        sim_epoch=run.plan.programme.starts_at,
        brief_days_before=7,
        agenda_time_scale=run.agenda_scale,
        start_deliveries=True,
        agenda_task_queue=run.task_queue,
        delivery_task_queue=run.task_queue,
    )


# ----- the workshops -------------------------------------------------------------------


async def _play_workshops(run: Run) -> list[tuple[str, Result]]:
    results: list[tuple[str, Result]] = []
    for index, (workshop_id, scenario) in enumerate(
        zip(run.workshop_ids, run.plan.scenarios, strict=True)
    ):
        handle = await _agenda_started(run.client, workshop_id)
        await play_room(
            run.stack.app,
            handle,
            scenario,
            workshop_id,
            run.agenda_scale,
            run.progress,
            briefing=_publish_draft,
        )
        await handle.result()
        results.append((scenario.workshop.title, declared(run.stack.app, workshop_id)))
        await _after_workshop(run, index, workshop_id, scenario)
    return results


async def _agenda_started(client: Client, workshop_id: UUID) -> WorkflowHandle[object, object]:
    handle: WorkflowHandle[object, object] = client.get_workflow_handle(
        agenda_workflow_id(workshop_id)
    )
    while True:
        try:
            await handle.describe()
            return handle
        except RPCError:  # not started yet: the campaign starts it on the day
            await asyncio.sleep(POLL_SECONDS)


def _publish_draft(room: Room) -> None:
    """The facilitator edits the campaign's draft (adds the day's note) and publishes it."""
    from domain import commands as c
    from domain.workshop import Workshop

    workshop = room.app.load(Workshop, room.workshop_id, "workshop_id")
    text = "\n\n".join(t for t in (workshop.briefing_draft, room.scenario.briefing) if t)
    room.app.publish_briefing(
        c.PublishBriefing(workshop_id=room.workshop_id, text=text), room.facilitator()
    )


async def _after_workshop(run: Run, index: int, workshop_id: UUID, scenario: Scenario) -> None:
    """Wait for the campaign to adopt the winners; link a follow-up; start delivery plans."""
    result = declared(run.stack.app, workshop_id)
    titles = {t.project_id: t.title for t in result.totals}
    for project_id in result.winners:
        initiative = await _adopted(run, project_id)
        run.initiatives[titles[project_id]] = initiative.id
        run.clocks.setdefault(initiative.id, (initiative.adopted_at, time.monotonic()))
        run.progress(f"adopted: {titles[project_id]}")
        plan = next((d for d in run.plan.delivery if d.initiative == titles[project_id]), None)
        if plan is not None:
            run.deliveries.append(asyncio.create_task(_deliver(run, initiative, plan)))
    follow_up_of = run.plan.workshops[index].follow_up_of
    if follow_up_of and follow_up_of in run.initiatives:
        initiative_id = run.initiatives[follow_up_of]
        link = pc.LinkFollowUp(initiative_id=initiative_id, workshop_id=workshop_id)
        # On the initiative's own clock, like its delivery plan, so its trail stays in order.
        run.programmes.link_follow_up(
            link, run.meta("manager:demo", run.initiative_now(initiative_id))
        )


async def _adopted(run: Run, project_id: UUID) -> Initiative:
    while True:
        found = run.stack.app.find(Initiative, adopted_id(project_id))
        if found is not None:
            return found
        await asyncio.sleep(POLL_SECONDS)


# ----- delivery --------------------------------------------------------------------------

# One step of a delivery plan: on scenario day `day`, call `method(command, meta)`.
Step = tuple[float, Callable[[Any, Meta], object], Any]


async def _deliver(run: Run, initiative: Initiative, plan: DeliveryPlan) -> datetime:
    """Play one initiative's plan; day 0 is its adoption, on its own scenario clock."""
    started = run.clocks.setdefault(initiative.id, (initiative.adopted_at, time.monotonic()))[1]
    last = initiative.adopted_at
    # The owner acts under their pseudonymous id: Meta is stored in plain text.
    actor = f"owner:{identify(initiative.programme_id, plan.owner)}"
    for day, method, command in _steps(run.programmes, initiative, plan):
        wait = day * run.day_seconds - (time.monotonic() - started)
        if wait > 0:
            await asyncio.sleep(wait)
        last = initiative.adopted_at + timedelta(days=day)
        await asyncio.to_thread(method, command, run.meta(actor, last))
    return last


def _steps(p: Programmes, initiative: Initiative, plan: DeliveryPlan) -> list[Step]:
    i, adopted = initiative.id, initiative.adopted_at
    steps: list[Step] = [
        (0, p.assign_owner, pc.AssignOwner(initiative_id=i, owner=plan.owner)),
        (plan.approve_day, p.move, pc.MoveInitiative(initiative_id=i, stage=Stage.APPROVED)),
        (plan.start_day, p.move, pc.MoveInitiative(initiative_id=i, stage=Stage.IN_DELIVERY)),
    ]
    for milestone in plan.milestones:
        mid, due = uuid4(), adopted + timedelta(days=milestone.due_day)
        steps.append(
            (
                plan.approve_day,
                p.plan_milestone,
                pc.PlanMilestone(initiative_id=i, milestone_id=mid, title=milestone.title, due=due),
            )
        )
        if milestone.done_day is not None:
            steps.append(
                (
                    milestone.done_day,
                    p.complete_milestone,
                    pc.CompleteMilestone(initiative_id=i, milestone_id=mid),
                )
            )
    steps += [
        (
            r.day,
            p.report_progress,
            pc.ReportProgress(initiative_id=i, percent=r.percent, status=r.status, note=r.note),
        )
        for r in plan.progress
    ]
    steps += [
        (r.day, p.adopt_in_region, pc.AdoptInRegion(initiative_id=i, region=r.region))
        for r in plan.adopted_in
    ]
    if plan.delivered_day is not None:
        steps.append(
            (plan.delivered_day, p.move, pc.MoveInitiative(initiative_id=i, stage=Stage.DELIVERED))
        )
    steps += [
        (
            b.day,
            p.record_benefit,
            pc.RecordBenefit(
                initiative_id=i, measure=b.measure, amount=b.amount, evidence=b.evidence
            ),
        )
        for b in plan.benefits
    ]
    return sorted(steps, key=lambda step: step[0])


async def _play_deliveries(run: Run) -> datetime:
    """Wait for every plan, then a few more days for the last reminders and flags."""
    ends = await asyncio.gather(*run.deliveries)
    run.progress(f"delivery plans played for {len(ends)} initiatives")
    grace_days = 5
    await asyncio.sleep(grace_days * run.day_seconds)
    return max(ends, default=run.plan.programme.starts_at) + timedelta(days=grace_days)


__all__ = ["ProgrammeCampaign", "ProgrammeOutcome", "run_programme"]
