"""The delivery workflow's activities: read an initiative, record acts on it, send notices.

The activities are methods on `DeliveryActivities`, which holds the programme
application it was given (anything that satisfies `DeliveryCommands`; the
services layer passes its `Programmes`) and a `Notifier`. The library is
synchronous, so they are plain `def`s that the worker runs on a thread pool.
Each takes one pydantic model.

Idempotence, act by act:

- `snapshot` only reads. It returns a pydantic `InitiativeSnapshot`, never
  the aggregate, so the workflow's history holds plain data.
- `flag_overdue` and `flag_stale` call commands that the domain makes
  idempotent (once per due date; once until the next report); they answer
  with the state after the act, so a retry that finds the flag set by an
  earlier attempt answers the same.
- `schedule_benefits_review` records nothing when the review is scheduled for
  that date already, and answers False (recording nothing) once the
  initiative has moved past delivery.
- `record_reminder` appends a `ReminderSent` every time it runs: the domain
  keeps no memory of reminders. The workflow calls it once per reminder (its
  own durable state says which reminders were recorded), so only a retry
  after a commit whose completion was lost (the worker died in between)
  records a reminder twice.
- `notify` is at least once by nature: see `workflows.notifier`. It looks
  the owner up when it sends, so the name and address never enter the
  workflow's history, and an owner erased meanwhile gets no mail.

A broken domain rule is not going to mend itself on a retry: it becomes a
non-retryable `ApplicationError` whose type is the rule's code. Anything else
(the database or the mail server is down) is retried.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from temporalio import activity

from domain import programme_commands as pc
from domain.errors import DomainError, WrongPhase
from domain.initiative import Initiative, Stage
from domain.meta import Meta
from domain.owner import Owner
from workflows.errors import rule_broken
from workflows.notifier import Notice, Notifier, Recipient


class DeliveryCommands(Protocol):
    """What the delivery workflow needs of the programme application (`Programmes`)."""

    def initiative(self, initiative_id: UUID) -> Initiative: ...

    def owner(self, owner_id: UUID) -> Owner: ...

    def flag_overdue(self, cmd: pc.FlagOverdue, meta: Meta) -> int: ...

    def flag_stale(self, cmd: pc.FlagStale, meta: Meta) -> int: ...

    def record_reminder(self, cmd: pc.RecordReminder, meta: Meta) -> int: ...

    def schedule_benefits_review(self, cmd: pc.ScheduleBenefitsReview, meta: Meta) -> int: ...


# ----- what the workflow sees of an initiative -----------------------------------


class MilestoneView(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    milestone_id: UUID
    title: str
    due: datetime
    completed_at: datetime | None
    flagged_overdue_for: datetime | None


class InitiativeSnapshot(BaseModel):
    """The facts the delivery workflow plans from, read from the event store."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    initiative_id: UUID
    version: int
    title: str
    owner_id: UUID | None  # by id only: the workflow's history holds no names
    stage: Stage
    adopted_at: datetime
    last_report_at: datetime | None
    stale: bool
    delivered_at: datetime | None
    review_due: datetime | None
    milestones: list[MilestoneView]

    @classmethod
    def of(cls, initiative: Initiative) -> InitiativeSnapshot:
        milestones = [
            MilestoneView(
                milestone_id=milestone_id,
                title=m.title,
                due=m.due,
                completed_at=m.completed_at,
                flagged_overdue_for=m.flagged_overdue_for,
            )
            for milestone_id, m in initiative.milestones.items()
        ]
        milestones.sort(key=lambda m: (m.due, str(m.milestone_id)))
        return cls(
            initiative_id=initiative.id,
            version=initiative.version,
            title=initiative.title,
            owner_id=initiative.owner_id,
            stage=initiative.stage,
            adopted_at=initiative.adopted_at,
            last_report_at=initiative.last_report_at,
            stale=initiative.stale,
            delivered_at=initiative.delivered_at,
            review_due=initiative.review_due,
            milestones=milestones,
        )

    @property
    def finished(self) -> bool:
        """Nothing more to watch: evaluated or dropped."""
        return self.stage in (Stage.EVALUATED, Stage.DROPPED)


# ----- inputs: one pydantic model per activity -----------------------------------


class _Act(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReadInitiative(_Act):
    initiative_id: UUID


class NotifyAct(_Act):
    notice: Notice


class RecordReminderAct(_Act):
    command: pc.RecordReminder
    meta: Meta


class FlagOverdueAct(_Act):
    command: pc.FlagOverdue
    due: datetime  # the due date the workflow saw: the answer says if it is flagged for it
    meta: Meta


class FlagStaleAct(_Act):
    command: pc.FlagStale
    meta: Meta


class ScheduleReviewAct(_Act):
    command: pc.ScheduleBenefitsReview
    meta: Meta


class DeliveryActivities:
    """The delivery workflow's activities, bound to the programme application and a notifier."""

    def __init__(self, programmes: DeliveryCommands, notifier: Notifier) -> None:
        self.programmes = programmes
        self.notifier = notifier

    @activity.defn(name="delivery.snapshot")
    def snapshot(self, act: ReadInitiative) -> InitiativeSnapshot:
        """The initiative as recorded now."""
        try:
            return InitiativeSnapshot.of(self.programmes.initiative(act.initiative_id))
        except DomainError as error:
            raise rule_broken(error) from error

    @activity.defn(name="delivery.notify")
    def notify(self, act: NotifyAct) -> None:
        """Hand a notice to the notifier (at least once), addressed to the owner as of now."""
        recipient = self._recipient(act.notice.owner_id)
        try:
            self.notifier.send(act.notice.model_copy(update={"recipient": recipient}))
        except Exception as error:
            # A mail error may quote the address; the failure goes into the workflow's
            # history, so only the error's type travels (the activity still retries).
            raise RuntimeError(
                f"{type(error).__name__} sending a {act.notice.kind} notice"
            ) from None

    def _recipient(self, owner_id: UUID | None) -> Recipient | None:
        if owner_id is None:
            return None
        try:
            owner = self.programmes.owner(owner_id)
        except DomainError:
            return None  # not an owner: the notice goes to the fallback
        return Recipient(name=owner.name, address=owner.address)

    @activity.defn(name="delivery.record_reminder")
    def record_reminder(self, act: RecordReminderAct) -> int:
        """Record who was reminded of what; returns the log position."""
        try:
            return self.programmes.record_reminder(act.command, act.meta)
        except DomainError as error:
            raise rule_broken(error) from error

    @activity.defn(name="delivery.flag_overdue")
    def flag_overdue(self, act: FlagOverdueAct) -> bool:
        """Flag the milestone overdue; True if it is (now or already) flagged for `act.due`."""
        try:
            self.programmes.flag_overdue(act.command, act.meta)
            initiative = self.programmes.initiative(act.command.initiative_id)
        except DomainError as error:
            raise rule_broken(error) from error
        milestone = initiative.milestones.get(act.command.milestone_id)
        return milestone is not None and milestone.flagged_overdue_for == act.due

    @activity.defn(name="delivery.flag_stale")
    def flag_stale(self, act: FlagStaleAct) -> bool:
        """Flag the initiative stale; True if it is (now or already) flagged."""
        try:
            self.programmes.flag_stale(act.command, act.meta)
            return bool(self.programmes.initiative(act.command.initiative_id).stale)
        except DomainError as error:
            raise rule_broken(error) from error

    @activity.defn(name="delivery.schedule_benefits_review")
    def schedule_benefits_review(self, act: ScheduleReviewAct) -> bool:
        """Schedule the review; False (recording nothing) if the initiative moved on."""
        try:
            self.programmes.schedule_benefits_review(act.command, act.meta)
        except WrongPhase:
            return False  # no longer delivered: evaluated meanwhile
        except DomainError as error:
            raise rule_broken(error) from error
        return True

    def all(self) -> list[Callable[..., Any]]:
        """The bound activity methods, for `Worker(activities=...)`."""
        return [
            self.snapshot,
            self.notify,
            self.record_reminder,
            self.flag_overdue,
            self.flag_stale,
            self.schedule_benefits_review,
        ]
