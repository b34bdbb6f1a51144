"""What the programme pipeline shows: pydantic models assembled by `PipelineView`.

Plain data, plus the one piece of arithmetic a page, the API and a test must
agree on: whether a milestone is overdue at a given moment.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.initiative import Rag, Stage


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MeasureRow(_Model):
    """An outcome measure of a programme ("is it better?") and its unit."""

    key: str
    name: str
    unit: str


class ProgrammeSummaryRow(_Model):
    id: UUID
    name: str
    sponsor: str
    regions: list[str]
    measures: list[MeasureRow]
    closed: bool
    launched_at: datetime
    workshop_count: int
    initiative_count: int
    position: int  # log position of the launch


class ProgrammeWorkshopRow(_Model):
    """A workshop scheduled in a programme, with the winners its vote declared."""

    id: UUID
    programme_id: UUID
    code: str
    title: str
    region: str  # as the programme spells it
    starts_at: datetime
    winners: list[UUID]  # winning project ids; empty until results are declared
    declared_at: datetime | None
    ideas: int  # ideas still in the room (neither withdrawn nor merged)
    position: int  # log position of its scheduling


class ProgrammeRow(ProgrammeSummaryRow):
    """One programme with its workshops, by start time."""

    workshops: list[ProgrammeWorkshopRow]


class OriginRow(_Model):
    """Where an initiative came from: a winning project, or a manager's decision."""

    kind: Literal["project", "manual"]
    project_id: UUID | None
    workshop_id: UUID | None
    idea_ids: list[UUID]  # the ideas the winning project builds on
    reason: str | None  # why a manager added it (manual only)


class ProgressRow(_Model):
    percent: int
    status: Rag
    note: str
    at: datetime


class MilestoneRow(_Model):
    id: UUID
    title: str
    due: datetime
    completed_at: datetime | None
    overdue_flagged: bool  # flagged overdue for its current due date
    position: int  # log position of its planning

    def overdue_at(self, now: datetime) -> bool:
        """Not completed, and either past due at `now` or flagged for its due date."""
        return self.completed_at is None and (self.due < now or self.overdue_flagged)


class BenefitRow(_Model):
    measure: str
    amount: float
    unit: str
    evidence: str
    at: datetime
    actor: str
    position: int


class FollowUpRow(_Model):
    """A further workshop linked to an initiative (title and region when it is a programme's)."""

    workshop_id: UUID
    code: str | None
    title: str | None
    region: str | None
    starts_at: datetime | None
    linked_at: datetime
    position: int


class InitiativeRow(_Model):
    id: UUID
    programme_id: UUID
    title: str
    summary: str
    stage: Stage
    regions: list[str]  # the first is where it was adopted
    owner_id: UUID | None
    owner: str | None  # the owner's name as it is now ("erased owner" after an erasure)
    origin: OriginRow
    adopted_at: datetime
    delivered_at: datetime | None
    stale: bool
    last_report_at: datetime | None
    progress: ProgressRow | None  # the latest report
    review_due: datetime | None  # when benefits are next reviewed
    milestones: list[MilestoneRow]  # in the order planned
    benefits: list[BenefitRow]  # in the order recorded
    follow_ups: list[FollowUpRow]  # in the order linked
    position: int  # log position of its adoption


class OverdueMilestone(_Model):
    initiative_id: UUID
    initiative_title: str
    owner: str | None  # the owner's name, as in InitiativeRow
    milestone_id: UUID
    title: str
    due: datetime
    flagged: bool  # flagged overdue for this due date (a reminder went out)
    overdue_by: timedelta  # now - due, never negative


class StaleInitiative(_Model):
    initiative_id: UUID
    title: str
    owner: str | None
    stage: Stage
    last_report_at: datetime | None  # None: no report since adoption


class BenefitTotal(_Model):
    measure: str
    name: str
    unit: str
    total: float
    records: int


class LeadTime(_Model):
    """From the first idea its winning project builds on to delivery."""

    initiative_id: UUID
    title: str
    first_idea_at: datetime
    delivered_at: datetime
    lead_time: timedelta


class PipelineSummary(_Model):
    """A programme's pipeline at `at`, read in one snapshot of the view."""

    programme_id: UUID
    at: datetime
    initiatives: int
    by_stage: dict[Stage, int]  # every stage, in the domain's order
    by_region: dict[str, int]  # every programme region; an initiative counts in each of its
    overdue: list[OverdueMilestone]  # by due date
    stale: list[StaleInitiative]  # open initiatives flagged stale
    benefits: list[BenefitTotal]  # per outcome measure, in the programme's order
    lead_times: list[LeadTime]  # delivered initiatives that came from ideas, by delivery
    median_lead_time: timedelta | None
    position: int | None  # the log position this summary reflects


class TrailKind(StrEnum):
    IDEA_SUBMITTED = "idea_submitted"
    IDEA_EDITED = "idea_edited"
    IDEA_WITHDRAWN = "idea_withdrawn"
    IDEA_GROUPED = "idea_grouped"
    CAME_UP_BEFORE = "came_up_before"
    DUPLICATE_MERGED = "duplicate_merged"
    PROJECT_PROPOSED = "project_proposed"
    PROJECT_REVISED = "project_revised"
    PITCHED = "pitched"
    RESULTS_DECLARED = "results_declared"
    ADOPTED = "adopted"
    OWNER_ASSIGNED = "owner_assigned"
    STAGE_CHANGED = "stage_changed"
    MILESTONE_PLANNED = "milestone_planned"
    MILESTONE_RESCHEDULED = "milestone_rescheduled"
    MILESTONE_COMPLETED = "milestone_completed"
    MILESTONE_OVERDUE = "milestone_overdue"
    PROGRESS_REPORTED = "progress_reported"
    FLAGGED_STALE = "flagged_stale"
    REMINDER_SENT = "reminder_sent"
    REVIEW_SCHEDULED = "review_scheduled"
    BENEFIT_RECORDED = "benefit_recorded"
    FOLLOW_UP_LINKED = "follow_up_linked"
    ADOPTED_IN_REGION = "adopted_in_region"


Subject = Literal["idea", "project", "initiative"]


class TrailEntry(_Model):
    """One event in an initiative's history, or in the history of what it came from."""

    position: int  # the event's log position: the trail's order
    at: datetime
    actor: str
    kind: TrailKind
    text: str
    subject: Subject  # what it is about (a pitch or a result is about its project)
    subject_id: UUID  # the idea, project or initiative
