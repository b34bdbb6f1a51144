"""Commands for programmes and initiatives, as pydantic models."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field, model_validator

from .agenda import SEED_CRITERIA, Agenda, Criterion, VotingRules
from .commands import Command
from .initiative import Rag, Stage
from .programme import SEED_MEASURES, OutcomeMeasure


class LaunchProgramme(Command):
    name: str
    sponsor: str
    regions: list[str] = Field(min_length=1)
    criteria: list[Criterion] = list(SEED_CRITERIA)
    measures: list[OutcomeMeasure] = list(SEED_MEASURES)


class ProgrammeCommand(Command):
    programme_id: UUID


class ScheduleProgrammeWorkshop(ProgrammeCommand):
    code: str
    title: str
    region: str
    venue: str = ""
    starts_at: datetime
    agenda: Agenda
    voting: VotingRules = VotingRules()  # its criteria are replaced by the programme's


class ReviseCriteria(ProgrammeCommand):
    criteria: list[Criterion] = Field(min_length=1)


class CloseProgramme(ProgrammeCommand):
    pass


class AdoptWinners(Command):
    workshop_id: UUID


class DraftBriefing(Command):
    workshop_id: UUID


class AddInitiative(ProgrammeCommand):
    initiative_id: UUID
    title: str
    summary: str = ""
    region: str
    reason: str


class InitiativeCommand(Command):
    initiative_id: UUID


class AssignOwner(InitiativeCommand):
    owner: str = Field(description='the owner as typed: "Name <address>", a name or an address')


class EraseOwner(ProgrammeCommand):
    """Right to erasure for an initiative owner, named by the text assigned or by id."""

    owner: str = Field(default="", description="the owner's text as assigned")
    owner_id: UUID | None = None

    @model_validator(mode="after")
    def _one_reference(self) -> EraseOwner:
        if (self.owner.strip() == "") == (self.owner_id is None):
            raise ValueError("name the owner by its text or by its id, not both")
        return self


class MoveInitiative(InitiativeCommand):
    stage: Stage
    reason: str = ""


class PlanMilestone(InitiativeCommand):
    milestone_id: UUID
    title: str
    due: datetime


class RescheduleMilestone(InitiativeCommand):
    milestone_id: UUID
    due: datetime
    reason: str


class CompleteMilestone(InitiativeCommand):
    milestone_id: UUID


class ReportProgress(InitiativeCommand):
    percent: int = Field(ge=0, le=100)
    status: Rag
    note: str = ""


class RecordBenefit(InitiativeCommand):
    measure: str
    amount: float
    evidence: str


class LinkFollowUp(InitiativeCommand):
    workshop_id: UUID


class AdoptInRegion(InitiativeCommand):
    region: str


class FlagOverdue(InitiativeCommand):
    milestone_id: UUID


class FlagStale(InitiativeCommand):
    since: datetime


class RecordReminder(InitiativeCommand):
    kind: str = Field(min_length=1, max_length=40)
    about: str = Field(default="", max_length=200)
    key: str = Field(default="", max_length=200, description="names the act: recorded once")


class ScheduleBenefitsReview(InitiativeCommand):
    due: datetime
