"""The delivery workflow: carries one initiative from its plan to its benefits review.

`InitiativeDelivery` runs for as long as an initiative is live, often months.
It holds no domain facts of its own: it reads the initiative as recorded (a
snapshot, through an activity), works out what falls due next, sleeps on a
durable timer until then, and on waking re-reads the initiative and performs
what is due, each act through an idempotent activity:

- a reminder to the owner `remind_days_before` a milestone's due date
  (notice + `ReminderSent`); a milestone planned inside that window is
  reminded of at once;
- an overdue flag when a milestone's due date passes uncompleted
  (`MilestoneOverdue`, once per due date) and an overdue notice;
- a progress request every `progress_every_days` without a report
  (notice + `ReminderSent`), and a stale flag (`FlaggedStale`, once until the
  next report) and notice after `stale_after_days` without one;
- after delivery, a benefits review `review_after_days` later
  (`BenefitsReviewScheduled`, unless one is scheduled already), and a notice
  (+ `ReminderSent`) when it falls due: "is it better?".

Milestone reminders, overdue flags, progress requests and stale flags apply
while the initiative is proposed, approved or in delivery; a paused
initiative is left alone until it resumes. The run finishes when the
initiative is evaluated or dropped.

Recorded events reach the workflow as the `initiative_changed` signal, sent
by the relay that follows the event log (`services.delivery_relay`). The
signal only marks the snapshot out of date, so it is idempotent and its
payload is only informative; the workflow re-reads the initiative before it
plans again. No polling: between signals it wakes only when something falls
due (and re-reads then too, so it never acts on an out-of-date view).

Exactly once: every flag is idempotent in the domain; which reminders and
notices were sent is durable workflow state (`DeliveryCarry.done`), carried
across continue-as-new, so a restarted worker replays rather than repeats.

Time: the workflow reads only `workflow.now()`. Scenario time is
``sim_epoch + (now - origin) * time_scale``, where `origin` is the real start
of the first run (carried across continue-as-new); without a `sim_epoch` the
scenario starts at `origin`, so at a time_scale of 1 it is real time. Acts
are recorded at scenario time; a moment in scenario time becomes a real timer
by dividing by `time_scale` (86400 makes a day pass in a second).

The Temporal server fires no timer sooner than about a second after it was
set (on the dev server a timer of 0.05-1.0 s fires after ~1.0 s; longer ones
fire within a few tens of milliseconds). So at a high `time_scale`, acts less
than a real second apart, or a timer set less than a second before its
moment, come late: an act is then performed late, at the scenario time it
actually happens, and a milestone reminder whose due date passed meanwhile
is skipped (the overdue flag takes its place). To keep acts on time, a
wake-up by a signal that leaves the next moment unchanged keeps the timer it
has rather than setting a new one.

History stays bounded: the run continues as new (carrying its state) when
its history passes `max_history_length` events, when the server suggests it,
or after `max_cycles` wake-ups.

One run (chain) per initiative: its id is `delivery_workflow_id(initiative_id)`
and it is started with `id_conflict_policy=USE_EXISTING`
(see `workflows.delivery_worker`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ConfigDict, Field, field_validator

    from domain import programme_commands as pc
    from domain.initiative import ACTIVE, Stage
    from domain.meta import Meta, derive_id
    from workflows.delivery_activities import (
        DeliveryActivities,
        FlagOverdueAct,
        FlagStaleAct,
        InitiativeSnapshot,
        MilestoneView,
        NotifyAct,
        ReadInitiative,
        RecordReminderAct,
        ScheduleReviewAct,
    )
    from workflows.notifier import Notice, NoticeKind

ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Infrastructure failures (the database is down) are retried without end, at
# most this far apart; broken rules are non-retryable.
ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
)
# A notice that cannot be sent after this many tries (the mail server is down
# for a quarter of an hour) is given up: the workflow logs it, records no
# reminder, and goes on with the rest of its work.
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=20,
)
# A timer this close to its deadline counts as run out.
TOLERANCE = timedelta(milliseconds=1)
DEFAULT_MAX_HISTORY = 10_000
DEFAULT_MAX_CYCLES = 500


def delivery_workflow_id(initiative_id: UUID) -> str:
    """The id of an initiative's delivery workflow: one per initiative."""
    return f"delivery-{initiative_id}"


class DeliveryPolicy(BaseModel):
    """When to remind, ask, flag and review, in scenario days."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    remind_days_before: float = Field(default=3, ge=0, le=365)
    progress_every_days: float = Field(default=14, gt=0, le=365)
    stale_after_days: float = Field(default=21, gt=0, le=3650)
    review_after_days: float = Field(default=42, ge=0, le=3650)


class DeliveryCarry(BaseModel):
    """What one run hands the next across continue-as-new."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    origin: datetime = Field(description="the real (workflow) time the first run started")
    sim_origin: datetime = Field(description="the scenario time at `origin`")
    run: int = Field(default=1, ge=1, description="this run's number in the chain")
    cycles: int = Field(default=0, ge=0, description="wake-ups in the runs before")
    notices: int = Field(default=0, ge=0, description="notices sent in the runs before")
    done: list[str] = Field(default=[], description="keys of the acts performed already")
    progress_basis: datetime | None = None
    progress_asked: int = Field(default=0, ge=0)


class DeliveryInput(BaseModel):
    """What a delivery run needs: the initiative, the policy and how fast time passes."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    initiative_id: UUID
    time_scale: float = Field(default=1.0, gt=0, le=10_000_000)
    sim_epoch: datetime | None = None
    policy: DeliveryPolicy = DeliveryPolicy()
    actor: str = Field(default="delivery-timer", min_length=1, max_length=200)
    max_history_length: int = Field(default=DEFAULT_MAX_HISTORY, ge=20, le=40_000)
    max_cycles: int = Field(default=DEFAULT_MAX_CYCLES, ge=1)
    carried: DeliveryCarry | None = None

    @field_validator("sim_epoch")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Upcoming(BaseModel):
    """One act the workflow will perform, and when (scenario time)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: NoticeKind
    at: datetime
    about: str
    key: str = Field(description="names the act, so it is performed once")
    milestone_id: UUID | None = None


class DeliveryStatus(BaseModel):
    """What falls due next, as the `status` query (and the run's result) reports it.

    The numbers hold at `as_of`, the workflow time of its latest task; for
    the scenario time at some other real time, ask `sim_time_at(now)`.
    """

    initiative_id: UUID
    stage: Stage | None = Field(description="as last read; None before the first read")
    owner_id: UUID | None
    next_due: Upcoming | None
    upcoming: list[Upcoming] = Field(
        description="what is still to do, earliest first; an item at or before `sim_now` "
        "is being performed"
    )
    deadline: datetime | None = Field(description="the real time the workflow wakes next")
    sim_now: datetime
    as_of: datetime
    time_scale: float
    sim_origin: datetime
    origin: datetime
    finished: bool
    run: int
    cycles: int = Field(description="wake-ups so far, across the runs")
    notices: int = Field(description="notices sent so far, across the runs")
    signals: int = Field(description="initiative_changed signals this run received")
    last_signal: str | None = Field(description="the kind the latest signal named")
    done: list[str]

    def sim_time_at(self, now: datetime) -> datetime:
        """The scenario time at real time `now`."""
        return self.sim_now + (now - self.as_of) * self.time_scale


def _day(at: datetime) -> str:
    return f"{at:%d %B %Y}"


@workflow.defn
class InitiativeDelivery:
    """Watches one initiative's delivery; see the module docstring."""

    @workflow.init
    def __init__(self, input: DeliveryInput) -> None:
        info = workflow.info()
        self._input = input
        carried = input.carried
        if carried is None:
            origin = info.workflow_start_time
            carried = DeliveryCarry(origin=origin, sim_origin=input.sim_epoch or origin)
        self._carried = carried
        self._done: set[str] = set(carried.done)
        self._basis = carried.progress_basis
        self._asked = carried.progress_asked
        self._notices = carried.notices
        self._cycles = 0  # this run's
        self._correlation = derive_id("delivery", info.workflow_id)
        self._snapshot: InitiativeSnapshot | None = None
        self._dirty = True  # the snapshot must be (re-)read
        self._signals = 0
        self._last_signal: str | None = None
        self._deadline: datetime | None = None  # the real time of the next wake-up
        self._timer: asyncio.Task[None] | None = None
        self._timer_deadline: datetime | None = None
        self._finished = False

    # ----- the run ---------------------------------------------------------

    @workflow.run
    async def run(self, input: DeliveryInput) -> DeliveryStatus:
        while True:
            if self._dirty:
                self._dirty = False  # a signal during the read sets it again
                self._snapshot = await self._act(
                    DeliveryActivities.snapshot, ReadInitiative(initiative_id=input.initiative_id)
                )
                self._follow_reports(self._snapshot)
            snapshot = self._snapshot
            assert snapshot is not None
            if snapshot.finished:
                break
            now = self._sim(workflow.now())
            self._deadline = None  # awake
            if await self._perform(snapshot, now):
                self._dirty = True  # what was recorded changes the plan
                continue
            if self._dirty:
                continue
            if self._should_continue_as_new():
                self._cancel_timer()
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._next_input())
            await self._sleep(now)
        self._finished = True
        self._deadline = None
        self._cancel_timer()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status()

    async def _sleep(self, now: datetime) -> None:
        """Wait for a signal, or until the next act falls due (then re-read).

        The timer outlives a wake-up by a signal: when the re-read plan has
        the same next moment, the workflow goes on waiting for the timer it
        set, rather than setting a new one for the time left. Besides saving
        history, this keeps acts on time: the server fires no timer sooner
        than about a second after it was set.
        """
        self._cycles += 1
        assert self._snapshot is not None
        upcoming = self._plan(self._snapshot, now)
        if not upcoming:
            self._cancel_timer()
            await workflow.wait_condition(lambda: self._dirty)
            return
        following = upcoming[0]
        deadline = self._real(following.at)
        if self._timer is None or self._timer.done() or self._timer_deadline != deadline:
            self._cancel_timer()
            left = max(deadline - workflow.now(), TOLERANCE)
            summary = f"{following.kind} {following.about}"[:200]
            self._timer = asyncio.create_task(workflow.sleep(left, summary=summary))
            self._timer_deadline = deadline
        self._deadline = deadline
        timer = self._timer
        await workflow.wait_condition(lambda: self._dirty or timer.done())
        if timer.done():
            self._timer = None
            self._dirty = True  # re-read before acting: never act on an old view

    def _cancel_timer(self) -> None:
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        self._timer = None
        self._timer_deadline = None

    # ----- what is due ---------------------------------------------------------

    def _follow_reports(self, snapshot: InitiativeSnapshot) -> None:
        """Progress requests count from the latest report (or the adoption)."""
        basis = snapshot.last_report_at or snapshot.adopted_at
        if basis != self._basis:
            self._basis = basis
            self._asked = 0

    def _plan(self, snapshot: InitiativeSnapshot, now: datetime) -> list[Upcoming]:
        """Every act still to perform, earliest first (some may be due already)."""
        policy = self._input.policy
        items: list[Upcoming] = []
        if snapshot.stage in ACTIVE:
            remind = timedelta(days=policy.remind_days_before)
            for m in snapshot.milestones:
                if m.completed_at is not None:
                    continue
                overdue_key = self._milestone_key("milestone-overdue", m)
                if overdue_key in self._done:
                    continue
                reminder_key = self._milestone_key("milestone-reminder", m)
                if (
                    reminder_key not in self._done
                    and remind > timedelta(0)
                    and not self._is_due(m.due, now)
                ):
                    items.append(
                        Upcoming(
                            kind="milestone-reminder",
                            at=m.due - remind,
                            about=f"milestone {m.milestone_id} due {m.due.isoformat()}",
                            key=reminder_key,
                            milestone_id=m.milestone_id,
                        )
                    )
                items.append(
                    Upcoming(
                        kind="milestone-overdue",
                        at=m.due,
                        about=f"milestone {m.milestone_id} due {m.due.isoformat()}",
                        key=overdue_key,
                        milestone_id=m.milestone_id,
                    )
                )
            assert self._basis is not None
            every = timedelta(days=policy.progress_every_days)
            items.append(
                Upcoming(
                    kind="progress-request",
                    at=self._basis + every * (self._asked + 1),
                    about=f"no report since {self._basis.isoformat()}",
                    key=f"progress-request/{self._basis.isoformat()}/{self._asked + 1}",
                )
            )
            stale_key = f"stale/{self._basis.isoformat()}"
            if not snapshot.stale and stale_key not in self._done:
                items.append(
                    Upcoming(
                        kind="stale",
                        at=self._basis + timedelta(days=policy.stale_after_days),
                        about=f"no report since {self._basis.isoformat()}",
                        key=stale_key,
                    )
                )
        elif snapshot.stage == Stage.DELIVERED and snapshot.review_due is not None:
            review_key = f"benefits-review/{snapshot.review_due.isoformat()}"
            if review_key not in self._done:
                items.append(
                    Upcoming(
                        kind="benefits-review",
                        at=snapshot.review_due,
                        about=f"benefits review due {snapshot.review_due.isoformat()}",
                        key=review_key,
                    )
                )
        items.sort(key=lambda item: (item.at, item.key))
        return items

    def _is_due(self, at: datetime, now: datetime) -> bool:
        return at <= now + TOLERANCE * self._input.time_scale

    async def _perform(self, snapshot: InitiativeSnapshot, now: datetime) -> bool:
        """Perform every act that is due; True if any was."""
        acted = False
        if (
            snapshot.stage == Stage.DELIVERED
            and snapshot.review_due is None
            and snapshot.delivered_at is not None
        ):
            key = f"review-scheduled/{snapshot.delivered_at.isoformat()}"
            if key not in self._done:
                await self._schedule_review(snapshot, snapshot.delivered_at, now)
                self._done.add(key)
                acted = True
        for item in self._plan(snapshot, now):
            if not self._is_due(item.at, now):
                break
            # The act happens at its moment (the timer may wake a hair early or late).
            await self._perform_one(snapshot, item, max(now, item.at))
            acted = True
        return acted

    async def _perform_one(
        self, snapshot: InitiativeSnapshot, item: Upcoming, at: datetime
    ) -> None:
        if item.kind == "milestone-reminder":
            milestone = self._milestone(snapshot, item.milestone_id)
            notice = self._notice(
                item,
                snapshot,
                at,
                f"Reminder: '{milestone.title}' is due on {_day(milestone.due)}",
                f"The milestone '{milestone.title}' of the initiative '{snapshot.title}' "
                f"falls due on {_day(milestone.due)}. Please complete it on time, or "
                "reschedule it with a reason.",
            )
            if await self._notify(notice):
                await self._record_reminder(snapshot, item, at)
        elif item.kind == "milestone-overdue":
            milestone = self._milestone(snapshot, item.milestone_id)
            flagged = await self._act(
                DeliveryActivities.flag_overdue,
                FlagOverdueAct(
                    command=pc.FlagOverdue(
                        initiative_id=snapshot.initiative_id, milestone_id=milestone.milestone_id
                    ),
                    due=milestone.due,
                    meta=self._meta(at),
                ),
            )
            if flagged:
                await self._notify(
                    self._notice(
                        item,
                        snapshot,
                        at,
                        f"Overdue: '{milestone.title}' was due on {_day(milestone.due)}",
                        f"The milestone '{milestone.title}' of the initiative "
                        f"'{snapshot.title}' was due on {_day(milestone.due)} and is not "
                        "completed. Please complete it, or reschedule it with a reason.",
                    )
                )
        elif item.kind == "progress-request":
            assert self._basis is not None
            notice = self._notice(
                item,
                snapshot,
                at,
                f"Progress report requested: {snapshot.title}",
                f"No progress has been reported on the initiative '{snapshot.title}' since "
                f"{_day(self._basis)}. Please report its progress (percent, RAG status "
                "and a note).",
            )
            if await self._notify(notice):
                await self._record_reminder(snapshot, item, at)
            every = timedelta(days=self._input.policy.progress_every_days)
            # One request per period; periods missed while no worker ran are skipped.
            self._asked = max(self._asked + 1, int((at - self._basis) / every))
        elif item.kind == "stale":
            assert self._basis is not None
            stale_after = timedelta(days=self._input.policy.stale_after_days)
            flagged = await self._act(
                DeliveryActivities.flag_stale,
                FlagStaleAct(
                    command=pc.FlagStale(
                        initiative_id=snapshot.initiative_id, since=at - stale_after
                    ),
                    meta=self._meta(at),
                ),
            )
            if flagged:
                await self._notify(
                    self._notice(
                        item,
                        snapshot,
                        at,
                        f"Stale: no progress report on {snapshot.title}",
                        f"The initiative '{snapshot.title}' has had no progress report since "
                        f"{_day(self._basis)} and is now flagged stale. A progress report "
                        "clears the flag.",
                    )
                )
        elif item.kind == "benefits-review":
            notice = self._notice(
                item,
                snapshot,
                at,
                f"Benefits review due: {snapshot.title} - is it better?",
                f"The initiative '{snapshot.title}' was delivered"
                + (f" on {_day(snapshot.delivered_at)}" if snapshot.delivered_at else "")
                + f"; its benefits review falls due on {_day(item.at)}. Is it better? "
                "Please record the benefits seen, then mark it evaluated.",
            )
            if await self._notify(notice):
                await self._record_reminder(snapshot, item, at)
        self._done.add(item.key)

    async def _schedule_review(
        self, snapshot: InitiativeSnapshot, delivered_at: datetime, now: datetime
    ) -> None:
        due = delivered_at + timedelta(days=self._input.policy.review_after_days)
        await self._act(
            DeliveryActivities.schedule_benefits_review,
            ScheduleReviewAct(
                command=pc.ScheduleBenefitsReview(initiative_id=snapshot.initiative_id, due=due),
                meta=self._meta(now),
            ),
        )

    async def _record_reminder(
        self, snapshot: InitiativeSnapshot, item: Upcoming, at: datetime
    ) -> None:
        await self._act(
            DeliveryActivities.record_reminder,
            RecordReminderAct(
                command=pc.RecordReminder(
                    initiative_id=snapshot.initiative_id,
                    kind=item.kind,
                    about=item.about[:200],
                    key=item.key[:200],
                ),
                meta=self._meta(at),
            ),
        )

    async def _notify(self, notice: Notice) -> bool:
        """Send a notice; False (after a warning) if it could not be sent."""
        try:
            await workflow.execute_activity_method(
                DeliveryActivities.notify,
                NotifyAct(notice=notice),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=NOTIFY_RETRY,
            )
        except ActivityError as error:
            workflow.logger.warning("could not send %s notice: %s", notice.kind, error.cause)
            return False
        self._notices += 1
        return True

    # ----- the signal and the query ----------------------------------------

    @workflow.signal
    def initiative_changed(self, kind: str) -> None:
        """Something was recorded on the initiative: re-read it before planning again."""
        self._dirty = True
        self._signals += 1
        self._last_signal = kind

    @workflow.query
    def status(self) -> DeliveryStatus:
        return self._status()

    # ----- continue-as-new ---------------------------------------------------

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        return (
            info.get_current_history_length() >= self._input.max_history_length
            or info.is_continue_as_new_suggested()
            or self._cycles >= self._input.max_cycles
        )

    def _next_input(self) -> DeliveryInput:
        return self._input.model_copy(
            update={
                "carried": DeliveryCarry(
                    origin=self._carried.origin,
                    sim_origin=self._carried.sim_origin,
                    run=self._carried.run + 1,
                    cycles=self._carried.cycles + self._cycles,
                    notices=self._notices,
                    done=sorted(self._done & self._live_keys()),
                    progress_basis=self._basis,
                    progress_asked=self._asked,
                )
            }
        )

    def _live_keys(self) -> set[str]:
        """The done keys that can still matter; the rest are dropped when continuing."""
        snapshot = self._snapshot
        if snapshot is None:
            return set(self._done)
        keys: set[str] = set()
        for m in snapshot.milestones:
            if m.completed_at is None:
                keys.add(self._milestone_key("milestone-reminder", m))
                keys.add(self._milestone_key("milestone-overdue", m))
        if self._basis is not None:
            keys.add(f"stale/{self._basis.isoformat()}")
        if snapshot.delivered_at is not None:
            keys.add(f"review-scheduled/{snapshot.delivered_at.isoformat()}")
        if snapshot.review_due is not None:
            keys.add(f"benefits-review/{snapshot.review_due.isoformat()}")
        return keys

    # ----- helpers ---------------------------------------------------------

    @staticmethod
    def _milestone_key(kind: str, m: MilestoneView) -> str:
        return f"{kind}/{m.milestone_id}/{m.due.isoformat()}"

    @staticmethod
    def _milestone(snapshot: InitiativeSnapshot, milestone_id: UUID | None) -> MilestoneView:
        return next(m for m in snapshot.milestones if m.milestone_id == milestone_id)

    def _sim(self, real: datetime) -> datetime:
        """Scenario time for a real (workflow) time."""
        c = self._carried
        return c.sim_origin + (real - c.origin) * self._input.time_scale

    def _real(self, sim: datetime) -> datetime:
        """Real (workflow) time for a scenario time."""
        c = self._carried
        return c.origin + (sim - c.sim_origin) / self._input.time_scale

    def _meta(self, at: datetime) -> Meta:
        return Meta(
            actor=self._input.actor,
            at=at,
            correlation_id=self._correlation,
            causation_id=workflow.uuid4(),
        )

    def _notice(
        self, item: Upcoming, snapshot: InitiativeSnapshot, at: datetime, subject: str, body: str
    ) -> Notice:
        return Notice(
            kind=item.kind,
            initiative_id=snapshot.initiative_id,
            title=snapshot.title,
            owner_id=snapshot.owner_id,
            subject=subject,
            body=body,
            at=at,
            notice_id=derive_id("notice", workflow.info().workflow_id, item.key),
        )

    async def _act(self, activity: Callable[..., Any], arg: Any) -> Any:
        return await workflow.execute_activity_method(
            activity,
            arg,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )

    def _status(self) -> DeliveryStatus:
        now = workflow.now()
        snapshot = self._snapshot
        upcoming: list[Upcoming] = []
        if snapshot is not None and not self._finished:
            upcoming = self._plan(snapshot, self._sim(now))
        return DeliveryStatus(
            initiative_id=self._input.initiative_id,
            stage=snapshot.stage if snapshot else None,
            owner_id=snapshot.owner_id if snapshot else None,
            next_due=upcoming[0] if upcoming else None,
            upcoming=upcoming,
            deadline=self._deadline,
            sim_now=self._sim(now),
            as_of=now,
            time_scale=self._input.time_scale,
            sim_origin=self._carried.sim_origin,
            origin=self._carried.origin,
            finished=self._finished,
            run=self._carried.run,
            cycles=self._carried.cycles + self._cycles,
            notices=self._notices,
            signals=self._signals,
            last_signal=self._last_signal,
            done=sorted(self._done),
        )
