"""The agenda workflow: opens and closes a workshop's phases on a durable clock.

`WorkshopAgenda` runs one workshop's agenda: it opens each phase, waits for
the phase's planned time on a durable timer, closes it, and after the vote
closes declares the results. A facilitator steers it with updates (`advance`,
`extend`, `pause`, `resume`), each checked by a validator that rejects a bad
request before anything is written to the history or the event store.

The workflow holds no domain facts of its own: every act is recorded in the
event store by an idempotent activity, with a Meta naming the actor, the
scenario time and the causal chain. It holds only the clock: when the current
phase ends, or how much of it is left while it is paused.

Time: the workflow reads only `workflow.now()`. `time_scale` compresses
planned time (600 plays 30 planned minutes in 3 real seconds). With a
`sim_epoch`, acts are recorded at scenario time, that is
``sim_epoch + (now - workflow start) * time_scale``, so a demo run today can
record a day in July 2010; without one, scenario time starts at the
workflow's start, which at a time_scale of 1 is simply the real time.

Updates and the timer take turns (a workflow lock). An update accepted by
its validator that finds the phase closed by the time its turn comes fails
with an `ApplicationError` of type ``agenda-conflict`` and records nothing;
while a phase's close is being recorded, the validators reject outright.

One run per workshop: its id is `agenda_workflow_id(workshop_id)` and it is
started with `id_conflict_policy=USE_EXISTING` (see `workflows.worker`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

    from domain import commands as c
    from domain.agenda import MAX_EXTENSION_MINUTES, MAX_PHASES, Phase, PhaseKind
    from domain.meta import Meta, derive_id
    from workflows.activities import (
        AgendaActivities,
        ClosePhaseAct,
        DeclareResultsAct,
        ExtendPhaseAct,
        OpenPhaseAct,
        PausePhaseAct,
        ResumePhaseAct,
    )

ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Infrastructure failures (the database is down) are retried without end, at
# most this far apart; broken rules are non-retryable (see workflows.activities).
ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
)
# A timer this close to its deadline counts as run out.
TOLERANCE = timedelta(milliseconds=1)


def agenda_workflow_id(workshop_id: UUID) -> str:
    """The id of a workshop's agenda workflow: one per workshop."""
    return f"agenda-{workshop_id}"


class AgendaInput(BaseModel):
    """What an agenda run needs: the workshop, its phases and how fast time passes."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    workshop_id: UUID
    phases: list[Phase] = Field(min_length=1, max_length=MAX_PHASES)
    time_scale: float = Field(default=1.0, gt=0, le=1_000_000)
    sim_epoch: datetime | None = None
    actor: str = Field(default="agenda-timer", min_length=1, max_length=200)
    start_index: int = Field(default=0, ge=0)

    @field_validator("sim_epoch")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @model_validator(mode="after")
    def _start_within(self) -> AgendaInput:
        if self.start_index >= len(self.phases):
            raise ValueError(f"start_index {self.start_index} is past the agenda's last phase")
        return self


class AgendaStatus(BaseModel):
    """Where the agenda is, as the `status` query (and every update) reports it.

    The numbers hold at `as_of`, the workflow time of its latest task (the time
    an update or a timer last woke it). A query does not wake the workflow, so
    between two tasks its `seconds_left` and `sim_now` stand still (Temporal's
    queries are pure reads of the state). For a live countdown, ask
    `seconds_left_at(now)` and `sim_time_at(now)` with your own clock.
    """

    workshop_id: UUID
    phase_index: int = Field(description="the current phase, or the last one once finished")
    kind: PhaseKind
    open: bool = Field(description="false between phases (while one closes and the next opens)")
    paused: bool
    seconds_left: float | None = Field(
        description="planned seconds left in scenario time; None between phases or untimed"
    )
    ends_at: datetime | None = Field(
        description="scenario time the open phase ends at; None when paused or between phases"
    )
    sim_now: datetime = Field(description="the scenario time at `as_of`")
    finished: bool
    results_declared: bool
    winners: list[UUID] = []
    as_of: datetime = Field(description="the real (workflow) time these numbers hold at")
    deadline: datetime | None = Field(
        description="the real time the open phase ends at; None when paused or between phases"
    )
    time_scale: float
    sim_epoch: datetime | None

    def sim_time_at(self, now: datetime) -> datetime:
        """The scenario time at real time `now`."""
        return self.sim_now + (now - self.as_of) * self.time_scale

    def seconds_left_at(self, now: datetime) -> float | None:
        """Planned seconds left (scenario time) at real time `now`."""
        if self.deadline is None:
            return self.seconds_left  # paused (it stands still), untimed, or between phases
        return max(0.0, (self.deadline - now).total_seconds() * self.time_scale)


def _bad_request(message: str) -> ApplicationError:
    """An update accepted by its validator that the state no longer allows."""
    return ApplicationError(message, type="agenda-conflict", non_retryable=True)


@workflow.defn
class WorkshopAgenda:
    """Runs one workshop's agenda; see the module docstring."""

    @workflow.init
    def __init__(self, input: AgendaInput) -> None:
        info = workflow.info()
        self._input = input
        self._started = info.workflow_start_time
        self._correlation = derive_id("agenda", info.workflow_id)
        self._index = input.start_index
        self._open = False
        self._closing = False  # the open phase's close is being recorded
        self._paused = False
        self._deadline: datetime | None = None  # real time the running phase ends
        self._left: timedelta | None = None  # real time left while paused
        self._advance_to = -1  # close every phase up to this index now
        self._changes = 0  # bumped whenever the clock moves, to wake the timer
        self._finished = False
        self._results_declared = False
        self._winners: list[UUID] = []
        # The main loop's acts and the updates' acts take turns.
        self._lock = asyncio.Lock()

    # ----- the run -------------------------------------------------------

    @workflow.run
    async def run(self, input: AgendaInput) -> AgendaStatus:
        for index in range(input.start_index, len(input.phases)):
            kind = input.phases[index].kind
            await self._open_phase(index)
            if kind == PhaseKind.CLOSED:
                break
            await self._keep_time(index)
            if kind == PhaseKind.VOTE:
                await self._declare_results()
        self._finished = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status()

    async def _open_phase(self, index: int) -> None:
        async with self._lock:
            self._index = index
            phase = self._input.phases[index]
            opened = workflow.now()
            await self._act(
                AgendaActivities.open_phase,
                OpenPhaseAct(
                    command=c.OpenPhase(workshop_id=self._input.workshop_id, index=index),
                    meta=self._meta(opened, workflow.uuid4()),
                ),
            )
            self._open = True
            self._paused = False
            self._left = None
            if phase.kind == PhaseKind.CLOSED:
                self._deadline = None
                self._finished = True
            else:
                # The same instant as the event's time, so the log and the clock agree.
                self._deadline = opened + self._real(phase.minutes)
            self._changes += 1

    async def _keep_time(self, index: int) -> None:
        """Wait until the phase's time is up (or it is advanced), then close it."""
        while True:
            seen = self._changes

            def moved(seen: int = seen) -> bool:
                return self._changes != seen or self._advance_to >= index

            if self._advance_to < index:
                if self._paused or self._deadline is None:
                    await workflow.wait_condition(moved)
                    continue
                left = self._deadline - workflow.now()
                if left > TOLERANCE:
                    with contextlib.suppress(TimeoutError):  # the phase's time is up
                        await workflow.wait_condition(
                            moved, timeout=left, timeout_summary=f"phase {index} ends"
                        )
                    continue
            async with self._lock:
                # An update may have moved the clock while we waited for the lock.
                if self._advance_to < index and not self._due():
                    continue
                self._closing = True  # validators now turn updates away
                await self._act(
                    AgendaActivities.close_phase,
                    ClosePhaseAct(
                        command=c.ClosePhase(workshop_id=self._input.workshop_id, index=index),
                        meta=self._meta(workflow.now(), workflow.uuid4()),
                    ),
                )
                self._open = False
                self._closing = False
                self._paused = False
                self._deadline = None
                self._left = None
                self._changes += 1
                return

    async def _declare_results(self) -> None:
        result = await self._act(
            AgendaActivities.declare_results,
            DeclareResultsAct(
                command=c.DeclareResults(workshop_id=self._input.workshop_id),
                meta=self._meta(workflow.now(), workflow.uuid4()),
            ),
        )
        self._results_declared = True
        self._winners = list(result.winners)
        self._changes += 1

    # ----- updates ---------------------------------------------------------

    @workflow.update
    async def advance(self) -> AgendaStatus:
        """Close the current phase now (the one opening, if between phases); go on."""
        index = self._index
        self._advance_to = max(self._advance_to, index)
        self._changes += 1
        await workflow.wait_condition(
            lambda: self._finished or (self._index > index and self._open)
        )
        return self._status()

    @advance.validator
    def _validate_advance(self) -> None:
        if self._finished:
            raise ValueError("the agenda has finished: there is no phase to advance")

    @workflow.update
    async def extend(self, minutes: float) -> AgendaStatus:
        """Give the open phase `minutes` more planned time (paused or not)."""
        index = self._index
        async with self._lock:
            self._require_running(index)
            now = workflow.now()
            await self._act(
                AgendaActivities.extend_phase,
                ExtendPhaseAct(
                    command=c.ExtendPhase(
                        workshop_id=self._input.workshop_id,
                        minutes=minutes,
                        extension_id=self._update_id(),
                    ),
                    meta=self._meta(now, self._update_cause()),
                ),
            )
            more = self._real(minutes)
            if self._paused:
                assert self._left is not None
                self._left += more
            else:
                assert self._deadline is not None
                self._deadline += more
            self._changes += 1
        return self._status()

    @extend.validator
    def _validate_extend(self, minutes: float) -> None:
        if not 0 < minutes <= MAX_EXTENSION_MINUTES:  # also rejects NaN
            raise ValueError(
                f"minutes must be more than 0 and at most {MAX_EXTENSION_MINUTES}, not {minutes}"
            )
        self._validate_running()

    @workflow.update
    async def pause(self) -> AgendaStatus:
        """Stop the open phase's clock, keeping the time it has left."""
        index = self._index
        async with self._lock:
            self._require_running(index)
            if self._paused:
                raise _bad_request("the phase is paused already")
            assert self._deadline is not None
            now = workflow.now()
            left = self._deadline - now
            if left <= TOLERANCE:
                raise _bad_request("the phase's time is up: it is closing")
            await self._act(
                AgendaActivities.pause_phase,
                PausePhaseAct(
                    command=c.PausePhase(workshop_id=self._input.workshop_id),
                    meta=self._meta(now, self._update_cause()),
                ),
            )
            self._paused = True
            self._left = left
            self._deadline = None
            self._changes += 1
        return self._status()

    @pause.validator
    def _validate_pause(self) -> None:
        self._validate_running()
        if self._paused:
            raise ValueError("the phase is paused already")

    @workflow.update
    async def resume(self) -> AgendaStatus:
        """Restart a paused phase's clock with the time it had left."""
        index = self._index
        async with self._lock:
            self._require_running(index)
            if not self._paused:
                raise _bad_request("the phase is not paused")
            assert self._left is not None
            now = workflow.now()
            await self._act(
                AgendaActivities.resume_phase,
                ResumePhaseAct(
                    command=c.ResumePhase(workshop_id=self._input.workshop_id),
                    meta=self._meta(now, self._update_cause()),
                ),
            )
            self._paused = False
            self._deadline = now + self._left
            self._left = None
            self._changes += 1
        return self._status()

    @resume.validator
    def _validate_resume(self) -> None:
        if self._finished:
            raise ValueError("the agenda has finished")
        if self._closing:
            raise ValueError("the phase is closing")
        if not self._paused:
            raise ValueError("the phase is not paused")

    # ----- the query -------------------------------------------------------

    @workflow.query
    def status(self) -> AgendaStatus:
        return self._status()

    # ----- helpers ---------------------------------------------------------

    def _validate_running(self) -> None:
        if self._finished:
            raise ValueError("the agenda has finished")
        if not self._open:
            raise ValueError("no phase is open: the agenda is between phases")
        if self._closing:
            raise ValueError("the phase is closing")
        if self._input.phases[self._index].kind == PhaseKind.CLOSED:
            raise ValueError("the workshop is closed")

    def _require_running(self, index: int) -> None:
        """After waiting for the lock: is the phase the validator saw still running?"""
        if self._finished or not self._open or self._closing or self._index != index:
            raise _bad_request(f"phase {index} closed meanwhile")

    def _due(self) -> bool:
        if self._paused or self._deadline is None:
            return False
        return self._deadline - workflow.now() <= TOLERANCE

    def _real(self, minutes: float) -> timedelta:
        """Real time for `minutes` of planned time."""
        return timedelta(seconds=minutes * 60 / self._input.time_scale)

    def _sim(self, real: datetime) -> datetime:
        """Scenario time for a real (workflow) time."""
        # Without an epoch the scenario starts when the workflow does, so scaled
        # time stays consistent with the planned minutes (at scale 1: real time).
        epoch = self._input.sim_epoch or self._started
        return epoch + (real - self._started) * self._input.time_scale

    def _meta(self, real: datetime, causation: UUID) -> Meta:
        return Meta(
            actor=self._input.actor,
            at=self._sim(real),
            correlation_id=self._correlation,
            causation_id=causation,
        )

    @staticmethod
    def _update_id() -> str:
        info = workflow.current_update_info()
        assert info is not None, "only inside an update"
        return info.id

    def _update_cause(self) -> UUID:
        """The update's id as a uuid (derived from it when it is not one)."""
        update_id = self._update_id()
        try:
            return UUID(update_id)
        except ValueError:
            return derive_id("agenda-update", workflow.info().workflow_id, update_id)

    async def _act(self, activity: Callable[..., Any], arg: Any) -> Any:
        return await workflow.execute_activity_method(
            activity,
            arg,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )

    def _status(self) -> AgendaStatus:
        now = workflow.now()
        scale = self._input.time_scale
        left: timedelta | None = None
        ends_at: datetime | None = None
        if self._open and self._paused:
            left = self._left
        elif self._open and self._deadline is not None:
            left = max(self._deadline - now, timedelta(0))
            ends_at = self._sim(self._deadline)
        return AgendaStatus(
            workshop_id=self._input.workshop_id,
            phase_index=self._index,
            kind=self._input.phases[self._index].kind,
            open=self._open,
            paused=self._paused,
            seconds_left=None if left is None else left.total_seconds() * scale,
            ends_at=ends_at,
            sim_now=self._sim(now),
            finished=self._finished,
            results_declared=self._results_declared,
            winners=self._winners,
            as_of=now,
            deadline=self._deadline if self._open and not self._paused else None,
            time_scale=scale,
            sim_epoch=self._input.sim_epoch,
        )
