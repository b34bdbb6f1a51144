"""An initiative: a winning idea carried from adoption to delivery and evaluation.

One stream per initiative, so its trail runs unbroken from the idea that
started it, through owners, stages, milestones and progress, to its benefits.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from .errors import AlreadyExists, InvalidInput, UnknownId, WrongPhase
from .meta import Meta, derive_id
from .owner import Owner
from .programme import Programme
from .text import SUMMARY_MAX, TITLE_MAX, require_text

EVIDENCE_MAX = 2000
NOTE_MAX = 2000
MAX_BENEFIT = 1e12


class Stage(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    IN_DELIVERY = "in_delivery"
    DELIVERED = "delivered"
    EVALUATED = "evaluated"
    PAUSED = "paused"
    DROPPED = "dropped"


class Rag(StrEnum):
    RED = "red"
    AMBER = "amber"
    GREEN = "green"


# Which moves are allowed; resuming from a pause returns to the stage before it.
MOVES: dict[Stage, frozenset[Stage]] = {
    Stage.PROPOSED: frozenset({Stage.APPROVED, Stage.PAUSED, Stage.DROPPED}),
    Stage.APPROVED: frozenset({Stage.IN_DELIVERY, Stage.PAUSED, Stage.DROPPED}),
    Stage.IN_DELIVERY: frozenset({Stage.DELIVERED, Stage.PAUSED, Stage.DROPPED}),
    Stage.DELIVERED: frozenset({Stage.EVALUATED}),
    Stage.PAUSED: frozenset({Stage.DROPPED}),  # plus resume, see `move`
    Stage.EVALUATED: frozenset(),
    Stage.DROPPED: frozenset(),
}
NEEDS_REASON = frozenset({Stage.PAUSED, Stage.DROPPED})
ACTIVE = frozenset({Stage.PROPOSED, Stage.APPROVED, Stage.IN_DELIVERY})


def adopted_id(project_id: UUID) -> UUID:
    """Adopting the same winning project twice names the same initiative."""
    return derive_id("initiative", project_id)


class Milestone:
    def __init__(self, title: str, due: datetime) -> None:
        self.title = title
        self.due = due
        self.completed_at: datetime | None = None
        self.flagged_overdue_for: datetime | None = None


class Initiative(Aggregate):
    @event("Adopted")
    def __init__(
        self,
        id: UUID,  # noqa: A002
        programme_id: UUID,
        title: str,
        summary: str,
        region: str,
        origin: dict[str, Any],
        meta: Meta,
    ) -> None:
        self.programme_id = programme_id
        self.title = title
        self.summary = summary
        self.regions = [region]
        self.origin = origin
        self.adopted_at = meta.at
        self.owner_id: UUID | None = None  # an Owner's id: the name lives there, encrypted
        self.stage = Stage.PROPOSED
        self.stage_before_pause: Stage | None = None
        self.milestones: dict[UUID, Milestone] = {}
        self.progress: dict[str, Any] | None = None
        self.last_report_at: datetime | None = None
        self.stale = False
        self.benefits: list[dict[str, Any]] = []
        self.follow_ups: list[UUID] = []
        self.delivered_at: datetime | None = None
        self.review_due: datetime | None = None
        self.reminder_keys: set[str] = set()

    # ----- owner and stage ---------------------------------------------------

    def assign_owner(self, owner: Owner, meta: Meta) -> None:
        """Only the owner's id is recorded here: their name stays in their own stream."""
        self._require_not_closed()
        if owner.programme_id != self.programme_id:
            raise InvalidInput("that owner belongs to another programme", "owner")
        if owner.erased:
            raise WrongPhase("that owner was erased", "owner")
        if owner.id != self.owner_id:
            self._owner_assigned(owner_id=owner.id, previous_id=self.owner_id, meta=meta)

    @event("OwnerAssigned")
    def _owner_assigned(self, owner_id: UUID, previous_id: UUID | None, meta: Meta) -> None:
        self.owner_id = owner_id

    def move(self, to: Stage, reason: str, meta: Meta) -> None:
        reason = require_text("reason", reason, NOTE_MAX, allow_empty=to not in NEEDS_REASON)
        resuming = self.stage == Stage.PAUSED and to == self.stage_before_pause
        if not resuming and to not in MOVES[self.stage]:
            raise WrongPhase(f"an initiative cannot move from {self.stage} to {to}", "stage")
        if to == Stage.IN_DELIVERY and self.owner_id is None:
            raise InvalidInput("assign an owner before delivery starts", "owner")
        self._stage_changed(stage=to.value, previous=self.stage.value, reason=reason, meta=meta)

    @event("StageChanged")
    def _stage_changed(self, stage: str, previous: str, reason: str, meta: Meta) -> None:
        self.stage_before_pause = Stage(previous) if stage == Stage.PAUSED else None
        self.stage = Stage(stage)
        if self.stage == Stage.DELIVERED:
            self.delivered_at = meta.at

    # ----- milestones --------------------------------------------------------

    def plan_milestone(self, milestone_id: UUID, title: str, due: datetime, meta: Meta) -> None:
        self._require_not_closed()
        if milestone_id in self.milestones:
            raise AlreadyExists("that milestone is planned already", "milestone_id")
        title = require_text("title", title, TITLE_MAX)
        self._milestone_planned(milestone_id=milestone_id, title=title, due=due, meta=meta)

    @event("MilestonePlanned")
    def _milestone_planned(self, milestone_id: UUID, title: str, due: datetime, meta: Meta) -> None:
        self.milestones[milestone_id] = Milestone(title, due)

    def reschedule_milestone(
        self, milestone_id: UUID, due: datetime, reason: str, meta: Meta
    ) -> None:
        self._require_not_closed()
        milestone = self._open_milestone(milestone_id)
        if due == milestone.due:
            return
        reason = require_text("reason", reason, NOTE_MAX)
        self._milestone_rescheduled(milestone_id=milestone_id, due=due, reason=reason, meta=meta)

    @event("MilestoneRescheduled")
    def _milestone_rescheduled(
        self, milestone_id: UUID, due: datetime, reason: str, meta: Meta
    ) -> None:
        self.milestones[milestone_id].due = due

    def complete_milestone(self, milestone_id: UUID, meta: Meta) -> None:
        self._require_not_closed()
        self._open_milestone(milestone_id)
        self._milestone_completed(milestone_id=milestone_id, meta=meta)

    @event("MilestoneCompleted")
    def _milestone_completed(self, milestone_id: UUID, meta: Meta) -> None:
        self.milestones[milestone_id].completed_at = meta.at

    def flag_overdue(self, milestone_id: UUID, meta: Meta) -> bool:
        """Flag once per due date; a completed or not-yet-due milestone is left alone."""
        milestone = self._milestone(milestone_id)
        if self.stage in (Stage.DROPPED, Stage.EVALUATED):
            return False
        due_passed = meta.at >= milestone.due
        if (
            milestone.completed_at
            or not due_passed
            or milestone.flagged_overdue_for == milestone.due
        ):
            return False
        self._milestone_overdue(milestone_id=milestone_id, due=milestone.due, meta=meta)
        return True

    @event("MilestoneOverdue")
    def _milestone_overdue(self, milestone_id: UUID, due: datetime, meta: Meta) -> None:
        self.milestones[milestone_id].flagged_overdue_for = due

    def _milestone(self, milestone_id: UUID) -> Milestone:
        if milestone_id not in self.milestones:
            raise UnknownId(f"no milestone {milestone_id}", "milestone_id")
        return self.milestones[milestone_id]

    def _open_milestone(self, milestone_id: UUID) -> Milestone:
        milestone = self._milestone(milestone_id)
        if milestone.completed_at is not None:
            raise WrongPhase("that milestone is completed", "milestone_id")
        return milestone

    # ----- progress, staleness and reminders ---------------------------------

    def report_progress(self, percent: int, status: Rag, note: str, meta: Meta) -> None:
        self._require_not_closed()
        if not 0 <= percent <= 100:
            raise InvalidInput("percent must be between 0 and 100", "percent")
        if status not in {r.value for r in Rag}:
            raise InvalidInput("status must be red, amber or green", "status")
        note = require_text("note", note, NOTE_MAX, allow_empty=True)
        self._progress_reported(percent=percent, status=Rag(status).value, note=note, meta=meta)

    @event("ProgressReported")
    def _progress_reported(self, percent: int, status: str, note: str, meta: Meta) -> None:
        self.progress = {"percent": percent, "status": status, "note": note, "at": meta.at}
        self.last_report_at = meta.at
        self.stale = False

    def flag_stale(self, since: datetime, meta: Meta) -> bool:
        """Flag when no report came since `since`; once until the next report."""
        last = self.last_report_at or self.adopted_at
        if self.stale or self.stage not in ACTIVE or last > since:
            return False
        self._flagged_stale(last_report_at=self.last_report_at, meta=meta)
        return True

    @event("FlaggedStale")
    def _flagged_stale(self, last_report_at: datetime | None, meta: Meta) -> None:
        self.stale = True

    def record_reminder(self, kind: str, about: str, meta: Meta, key: str = "") -> None:
        """Who was reminded of what. A reminder with a key is recorded once, however
        often a retried activity asks (the key names the act, e.g. its due date)."""
        if key and key in self.reminder_keys:
            return
        self._reminder_sent(kind=kind, about=about, owner_id=self.owner_id, meta=meta, key=key)

    @event("ReminderSent")
    def _reminder_sent(
        self, kind: str, about: str, owner_id: UUID | None, meta: Meta, key: str = ""
    ) -> None:
        if key:
            self.reminder_keys.add(key)

    def schedule_benefits_review(self, due: datetime, meta: Meta) -> None:
        if self.stage != Stage.DELIVERED:
            raise WrongPhase("a benefits review follows delivery", "stage")
        if self.review_due != due:
            self._review_scheduled(due=due, meta=meta)

    @event("BenefitsReviewScheduled")
    def _review_scheduled(self, due: datetime, meta: Meta) -> None:
        self.review_due = due

    # ----- benefits, follow-ups, regions -------------------------------------

    def record_benefit(
        self, programme: Programme, measure: str, amount: float, evidence: str, meta: Meta
    ) -> None:
        if self.stage not in (Stage.IN_DELIVERY, Stage.DELIVERED, Stage.EVALUATED):
            raise WrongPhase("benefits are recorded from delivery on", "stage")
        known = programme.require_measure(measure)
        if not -MAX_BENEFIT <= amount <= MAX_BENEFIT or amount != amount:  # NaN
            raise InvalidInput("amount is out of range", "amount")
        evidence = require_text("evidence", evidence, EVIDENCE_MAX)
        self._benefit_recorded(
            measure=known.key, amount=amount, unit=known.unit, evidence=evidence, meta=meta
        )

    @event("BenefitRecorded")
    def _benefit_recorded(
        self, measure: str, amount: float, unit: str, evidence: str, meta: Meta
    ) -> None:
        self.benefits.append({"measure": measure, "amount": amount, "unit": unit, "at": meta.at})

    def link_follow_up(self, workshop_id: UUID, meta: Meta) -> None:
        self._require_not_closed()
        if workshop_id in self.follow_ups:
            raise AlreadyExists("that workshop is linked already", "workshop_id")
        self._follow_up_linked(workshop_id=workshop_id, meta=meta)

    @event("FollowUpLinked")
    def _follow_up_linked(self, workshop_id: UUID, meta: Meta) -> None:
        self.follow_ups.append(workshop_id)

    def adopt_in_region(self, programme: Programme, region: str, meta: Meta) -> None:
        self._require_not_closed()
        region = programme.require_region(region)
        if region in self.regions:
            raise AlreadyExists(f"already adopted in {region}", "region")
        self._adopted_in_region(region=region, meta=meta)

    @event("AdoptedInRegion")
    def _adopted_in_region(self, region: str, meta: Meta) -> None:
        self.regions.append(region)

    def _require_not_closed(self) -> None:
        if self.stage in (Stage.DROPPED, Stage.EVALUATED):
            raise WrongPhase(f"the initiative is {self.stage}", "stage")


def adopt_project(
    programme: Programme,
    project_id: UUID,
    workshop_id: UUID,
    title: str,
    summary: str,
    idea_ids: list[UUID],
    meta: Meta,
) -> Initiative:
    """Carry a winning project forward; its workshop's region is its first region."""
    programme.require_open()
    scheduled = programme.workshops.get(workshop_id)
    if scheduled is None:
        raise UnknownId("that workshop is not part of the programme", "workshop_id")
    origin = {
        "kind": "project",
        "project_id": str(project_id),
        "workshop_id": str(workshop_id),
        "idea_ids": [str(i) for i in idea_ids],
    }
    return Initiative(
        id=adopted_id(project_id),
        programme_id=programme.id,
        title=require_text("title", title, TITLE_MAX),
        summary=require_text("summary", summary, SUMMARY_MAX, allow_empty=True),
        region=scheduled.region,
        origin=origin,
        meta=meta,
    )


def add_by_manager(
    initiative_id: UUID,
    programme: Programme,
    title: str,
    summary: str,
    region: str,
    reason: str,
    meta: Meta,
) -> Initiative:
    programme.require_open()
    return Initiative(
        id=initiative_id,
        programme_id=programme.id,
        title=require_text("title", title, TITLE_MAX),
        summary=require_text("summary", summary, SUMMARY_MAX, allow_empty=True),
        region=programme.require_region(region),
        origin={"kind": "manual", "reason": require_text("reason", reason, NOTE_MAX)},
        meta=meta,
    )
