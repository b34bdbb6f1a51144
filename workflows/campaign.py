"""The campaign workflow: carries a programme's workshops through time, one after another.

`ProgrammeCampaign` takes a programme's scheduled workshops in start order.
For each one it waits until `brief_days_before` its start and drafts its
briefing note from what came before (the key areas and winning projects of
earlier workshops, the initiatives carried forward and their status), for
the facilitator to edit and publish; waits until the workshop is due and runs
its `WorkshopAgenda` as a child; and once that is over adopts the winners as
initiatives and, unless told not to, starts each initiative's
`InitiativeDelivery` (by its type name, so this module does not depend on the
delivery workflow's). The `status` query says what is next, what has run and
which initiatives were adopted.

The workflow holds no domain facts of its own: drafting, adopting and reading
a workshop's progress are idempotent activities (`workflows.campaign_activities`)
with a Meta naming the actor (``programme-campaign``), the scenario time and the
causal chain (correlated by the workflow id, so a restarted campaign continues
the same chain).

Time: the workflow reads only `workflow.now()`. Scenario time is `sim_epoch`
when the campaign has checked its plan (its first step; without a
`sim_epoch`, it is the real time then) and runs `time_scale` times faster than
real time, so with 432,000 a scenario day passes in 0.2 real seconds. While a
workshop's agenda runs, scenario time passes at the agenda's pace instead
(`agenda_time_scale`, for example 600: half an hour in 3 s), so a workshop day
does not swallow the weeks after it. When a timer the campaign set runs out,
the scenario time is the time it was set for: the real latency of a timer,
multiplied by a large time scale, is not scenario time, and so the acts that
follow a timer are recorded at exactly their planned time.

A workshop's agenda that is running already (started by hand with
`workflows.worker.start_agenda`, or by an earlier run of this campaign: the
agendas are started with `ParentClosePolicy.ABANDON`, because a room's clock
must not stop when its campaign is terminated or restarted) is joined rather
than failed on. Child workflows have no "use existing" conflict policy, so
the campaign asks the event store where the workshop has got to, starts its
agenda from there, and if the start is refused because a run exists
(`WorkflowAlreadyStartedError`) waits on a durable timer and asks again until
the workshop is over. A workflow cannot wait on a workflow that is not its
child, and asking the event store keeps the workflow free of a Temporal
client in its activities; trying the start again each time also takes over a
workshop whose agenda run was terminated half-way. A workshop that is over
already is not run again. So a campaign restarted with the same id records
nothing twice: each step is idempotent, and initiative ids derive from the
winning projects.

One run per programme: its id is `campaign_workflow_id(programme_id)` and it
is started with `id_conflict_policy=USE_EXISTING` (see
`workflows.campaign_worker`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from pydantic import (
        BaseModel,
        ConfigDict,
        Field,
        ValidationError,
        field_validator,
        model_validator,
    )

    from domain import programme_commands as pc
    from domain.agenda import MAX_PHASES, Agenda, Phase
    from domain.meta import Meta, derive_id
    from workflows.agenda import AgendaInput, AgendaStatus, WorkshopAgenda, agenda_workflow_id
    from workflows.campaign_activities import (
        AdoptWinnersAct,
        CampaignActivities,
        DraftBriefingAct,
        ProgressQuery,
        WorkshopProgress,
    )

ACTOR = "programme-campaign"
# The delivery workflow, started by its type name (see the module docstring).
DELIVERY_WORKFLOW = "InitiativeDelivery"
ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Infrastructure failures (the database is down) are retried without end, at
# most this far apart; broken rules are non-retryable (see campaign_activities).
ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
)
# A timer this close to its deadline counts as run out.
TOLERANCE = timedelta(milliseconds=1)
# Waiting for an agenda run the campaign did not start: ask again about every
# planned minute of the agenda, in real time, but within these bounds.
MIN_POLL = timedelta(milliseconds=250)
MAX_POLL = timedelta(seconds=30)
# History: a workshop costs a few dozen events (about fifteen more for each poll
# while waiting on an agenda run started elsewhere), so a campaign of this many
# workshops stays far below Temporal's cap of about 50k events and never needs
# to continue-as-new. A programme of hundreds of workshops would continue-as-new
# with the workshops still to come once `workflow.info().is_continue_as_new_suggested()`.
MAX_WORKSHOPS = 50
MAX_AGENDA_SCALE = 1_000_000  # what AgendaInput accepts


def campaign_workflow_id(programme_id: UUID) -> str:
    """The id of a programme's campaign workflow: one per programme."""
    return f"campaign-{programme_id}"


def delivery_child_id(initiative_id: UUID) -> str:
    """The id the delivery workflow of an initiative runs under (as workflows.delivery has it)."""
    return f"delivery-{initiative_id}"


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class CampaignWorkshop(BaseModel):
    """One scheduled workshop of the programme, as the campaign plans it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workshop_id: UUID
    starts_at: datetime = Field(description="scenario time; must be what it was scheduled for")
    phases: list[Phase] = Field(
        min_length=1, max_length=MAX_PHASES, description="its agenda, as it was scheduled"
    )

    @field_validator("starts_at")
    @classmethod
    def _aware_start(cls, value: datetime) -> datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    @field_validator("phases")
    @classmethod
    def _an_agenda(cls, value: list[Phase]) -> list[Phase]:
        try:
            Agenda(phases=tuple(value))
        except ValidationError as error:
            raise ValueError(f"not an agenda: {error.errors()[0]['msg']}") from None
        return value


class CampaignInput(BaseModel):
    """A programme's campaign: its workshops, and how fast scenario time passes."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    programme_id: UUID
    workshops: list[CampaignWorkshop] = Field(min_length=1, max_length=MAX_WORKSHOPS)
    time_scale: float = Field(
        default=1.0, gt=0, le=10_000_000, description="scenario seconds per real second"
    )
    sim_epoch: datetime | None = Field(
        default=None, description="scenario time at the campaign's first step (default: real time)"
    )
    brief_days_before: float = Field(default=7, ge=0, le=365)
    agenda_time_scale: float | None = Field(
        default=None,
        gt=0,
        le=MAX_AGENDA_SCALE,
        description="the agendas' pace (default: time_scale); usually slower than the days'",
    )
    start_deliveries: bool = True
    agenda_task_queue: str | None = Field(default=None, description="default: the campaign's")
    delivery_task_queue: str | None = Field(default=None, description="default: the campaign's")

    @field_validator("sim_epoch")
    @classmethod
    def _aware_epoch(cls, value: datetime | None) -> datetime | None:
        return _aware(value)

    @model_validator(mode="after")
    def _consistent(self) -> CampaignInput:
        ids = [w.workshop_id for w in self.workshops]
        if len(set(ids)) != len(ids):
            raise ValueError("a workshop appears twice in the campaign")
        if self.agenda_scale > MAX_AGENDA_SCALE:
            raise ValueError(
                f"time_scale above {MAX_AGENDA_SCALE:,} needs a slower agenda_time_scale"
            )
        return self

    @property
    def agenda_scale(self) -> float:
        """The pace the agendas run at."""
        return self.agenda_time_scale or self.time_scale

    def in_start_order(self) -> list[CampaignWorkshop]:
        return sorted(self.workshops, key=lambda w: w.starts_at)


class DeliveryStart(BaseModel):
    """The input a delivery workflow is started with (what `DeliveryInput` reads)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    initiative_id: UUID
    time_scale: float
    sim_epoch: datetime


WorkshopState = Literal["planned", "briefed", "running", "done"]
AgendaRun = Literal["started", "joined", "found-over"]
NextStep = Literal["briefing", "workshop"]


class WorkshopRun(BaseModel):
    """What the campaign has done with one workshop; scenario times throughout."""

    workshop_id: UUID
    starts_at: datetime
    agenda_id: str
    state: WorkshopState = "planned"
    briefed_at: datetime | None = Field(default=None, description="when its draft was asked for")
    agenda_run: AgendaRun | None = Field(
        default=None,
        description="started as a child; joined (a run existed); or found over already",
    )
    agenda_started_at: datetime | None = None
    finished_at: datetime | None = None
    results_declared: bool = False
    initiatives: list[UUID] = []


class CampaignStatus(BaseModel):
    """Where the campaign is, as the `status` query reports it (at `as_of`)."""

    programme_id: UUID
    workshops: list[WorkshopRun] = Field(description="in start order")
    next_workshop_id: UUID | None = Field(description="None while a workshop runs, and at the end")
    next_step: NextStep | None
    next_at: datetime | None = Field(description="the scenario time the next step is due")
    initiatives: list[UUID] = Field(description="adopted so far, in order of adoption")
    deliveries: list[str] = Field(description="ids of the delivery workflows started (or found)")
    sim_now: datetime = Field(description="the scenario time at `as_of`")
    as_of: datetime = Field(description="the real (workflow) time of the latest task")
    time_scale: float = Field(description="the pace scenario time passes at now")
    finished: bool


@workflow.defn
class ProgrammeCampaign:
    """Runs a programme's workshops in order; see the module docstring."""

    @workflow.init
    def __init__(self, input: CampaignInput) -> None:
        info = workflow.info()
        self._input = input
        self._order = input.in_start_order()
        self._correlation = derive_id("campaign", info.workflow_id)
        # The scenario clock: linear from an anchor, at `_rate` scenario seconds
        # per real second; re-anchored when a timer runs out and when the pace
        # changes (a workshop's agenda starts or ends).
        self._anchor_real = info.workflow_start_time
        self._anchor_sim = input.sim_epoch or info.workflow_start_time
        self._rate = input.time_scale
        self._runs = [
            WorkshopRun(
                workshop_id=w.workshop_id,
                starts_at=w.starts_at,
                agenda_id=agenda_workflow_id(w.workshop_id),
            )
            for w in self._order
        ]
        before = timedelta(days=input.brief_days_before)
        # What is next (the workshop's index, the step, when it is due): the first briefing.
        self._next: tuple[int, NextStep, datetime] | None = (
            0,
            "briefing",
            self._order[0].starts_at - before,
        )
        self._initiatives: list[UUID] = []
        self._deliveries: list[str] = []
        self._finished = False

    # ----- the run -------------------------------------------------------

    @workflow.run
    async def run(self, input: CampaignInput) -> CampaignStatus:
        await self._check_plan()
        # Scenario time starts now, with the plan checked: at a large time scale
        # the checking's real latency would otherwise cost scenario hours.
        self._anchor(input.sim_epoch or workflow.now())
        before = timedelta(days=input.brief_days_before)
        for index, planned in enumerate(self._order):
            run = self._runs[index]
            self._next = (index, "briefing", planned.starts_at - before)
            await self._until(planned.starts_at - before, f"briefing for {planned.workshop_id}")
            await self._draft(planned, run)
            self._next = (index, "workshop", planned.starts_at)
            await self._until(planned.starts_at, f"workshop {planned.workshop_id} starts")
            self._next = None
            await self._run_agenda(planned, run)
            if run.results_declared:
                await self._adopt(planned, run)
            run.state = "done"
        self._finished = True
        return self._status()

    async def _check_plan(self) -> None:
        """Fail at once, not days later, on a workshop the programme does not have as planned."""
        found = await asyncio.gather(*(self._progress(w) for w in self._order))
        for planned, progress in zip(self._order, found, strict=True):
            if progress.starts_at != planned.starts_at or progress.agenda != planned.phases:
                raise ApplicationError(
                    f"workshop {planned.workshop_id} is scheduled for {progress.starts_at} with "
                    f"{len(progress.agenda)} phases; the campaign planned {planned.starts_at} "
                    f"with {len(planned.phases)}",
                    type="plan-mismatch",
                    non_retryable=True,
                )

    async def _until(self, target: datetime, summary: str) -> None:
        """Sleep until scenario time `target` (at once if it has passed)."""
        left = (target - self._sim(workflow.now())) / self._rate
        if left > TOLERANCE:
            await workflow.sleep(left, summary=summary)
            # The timer ran out at `target`, by definition: its latency is not scenario time.
            self._anchor(target)

    async def _draft(self, planned: CampaignWorkshop, run: WorkshopRun) -> None:
        meta = self._meta()
        await self._act(
            CampaignActivities.draft_briefing,
            DraftBriefingAct(command=pc.DraftBriefing(workshop_id=planned.workshop_id), meta=meta),
        )
        run.briefed_at = meta.at
        run.state = "briefed"

    async def _run_agenda(self, planned: CampaignWorkshop, run: WorkshopRun) -> None:
        """Run the workshop's agenda as a child, join the run there is, or find it over."""
        scale = self._input.agenda_scale
        # A workshop the campaign reaches late (it started late, or the one
        # before ran long) starts now, not in the past.
        started = max(planned.starts_at, self._sim(workflow.now()))
        self._anchor(started, rate=scale)  # the workshop's day passes at the agenda's pace
        run.state = "running"
        run.agenda_started_at = started
        poll = min(max(timedelta(minutes=1) / scale, MIN_POLL), MAX_POLL)
        while True:
            progress = await self._progress(planned)
            if progress.done:
                run.agenda_run = run.agenda_run or "found-over"
                run.results_declared = progress.results_declared
                break
            agenda = AgendaInput(
                workshop_id=planned.workshop_id,
                phases=planned.phases,
                time_scale=scale,
                sim_epoch=self._sim(workflow.now()),
                start_index=progress.resume_index,
            )
            try:
                child = await workflow.start_child_workflow(
                    WorkshopAgenda.run,
                    agenda,
                    id=run.agenda_id,
                    task_queue=self._input.agenda_task_queue,
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                    cancellation_type=workflow.ChildWorkflowCancellationType.ABANDON,
                    # As `start_agenda`: a completed run is never repeated.
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                    static_summary=f"agenda of workshop {planned.workshop_id}",
                )
            except WorkflowAlreadyStartedError:
                run.agenda_run = "joined"
                await workflow.sleep(poll, summary="wait for the agenda running already")
                continue
            run.agenda_run = "started"
            final: AgendaStatus = await child
            run.results_declared = final.results_declared
            break
        self._anchor(self._sim(workflow.now()), rate=self._input.time_scale)
        run.finished_at = self._sim(workflow.now())

    async def _adopt(self, planned: CampaignWorkshop, run: WorkshopRun) -> None:
        meta = self._meta()
        adopted: list[UUID] = await self._act(
            CampaignActivities.adopt_winners,
            AdoptWinnersAct(command=pc.AdoptWinners(workshop_id=planned.workshop_id), meta=meta),
        )
        run.initiatives = list(adopted)
        self._initiatives += [i for i in adopted if i not in self._initiatives]
        if self._input.start_deliveries:
            for initiative_id in adopted:
                # An initiative's delivery begins, in scenario time, when it was adopted.
                await self._start_delivery(initiative_id, meta.at)

    async def _start_delivery(self, initiative_id: UUID, adopted_at: datetime) -> None:
        child_id = delivery_child_id(initiative_id)
        if child_id in self._deliveries:
            return
        # Refused when it is running already (an earlier run of the campaign
        # started it) or has run: either way there is nothing to start.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await workflow.start_child_workflow(
                DELIVERY_WORKFLOW,
                DeliveryStart(
                    initiative_id=initiative_id,
                    time_scale=self._input.time_scale,
                    sim_epoch=adopted_at,
                ),
                id=child_id,
                task_queue=self._input.delivery_task_queue,
                # Delivery outlives the campaign: months of milestones and reminders.
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                cancellation_type=workflow.ChildWorkflowCancellationType.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                static_summary=f"delivery of initiative {initiative_id}",
            )
        self._deliveries.append(child_id)

    # ----- the query -------------------------------------------------------

    @workflow.query
    def status(self) -> CampaignStatus:
        return self._status()

    # ----- helpers ---------------------------------------------------------

    def _sim(self, real: datetime) -> datetime:
        """Scenario time for a real (workflow) time."""
        return self._anchor_sim + (real - self._anchor_real) * self._rate

    def _anchor(self, sim: datetime, rate: float | None = None) -> None:
        """From now on, now is scenario time `sim`, passing at `rate` (or as before)."""
        self._anchor_real = workflow.now()
        self._anchor_sim = sim
        if rate is not None:
            self._rate = rate

    def _meta(self) -> Meta:
        return Meta(
            actor=ACTOR,
            at=self._sim(workflow.now()),
            correlation_id=self._correlation,
            causation_id=workflow.uuid4(),
        )

    async def _progress(self, planned: CampaignWorkshop) -> WorkshopProgress:
        progress: WorkshopProgress = await self._act(
            CampaignActivities.workshop_progress,
            ProgressQuery(workshop_id=planned.workshop_id, programme_id=self._input.programme_id),
        )
        return progress

    async def _act(self, activity: Callable[..., Any], arg: Any) -> Any:
        return await workflow.execute_activity_method(
            activity,
            arg,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )

    def _status(self) -> CampaignStatus:
        now = workflow.now()
        following = self._next
        return CampaignStatus(
            programme_id=self._input.programme_id,
            workshops=[run.model_copy(deep=True) for run in self._runs],
            next_workshop_id=None if following is None else self._order[following[0]].workshop_id,
            next_step=None if following is None else following[1],
            next_at=None if following is None else following[2],
            initiatives=list(self._initiatives),
            deliveries=list(self._deliveries),
            sim_now=self._sim(now),
            as_of=now,
            time_scale=self._rate,
            finished=self._finished,
        )
