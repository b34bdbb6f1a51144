"""Commands: what a facilitator, participant or timer asks for, as pydantic models.

Shapes and types are checked here; the rules (phases, limits on text, budgets)
are checked by the aggregates, so they hold whichever door a command came in by.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from .agenda import MAX_EXTENSION_MINUTES, Agenda, VotingRules


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScheduleWorkshop(Command):
    code: str
    title: str
    region: str
    venue: str = ""
    starts_at: datetime
    agenda: Agenda
    voting: VotingRules = VotingRules()


class WorkshopCommand(Command):
    workshop_id: UUID


class PublishBriefing(WorkshopCommand):
    text: str


class OpenPhase(WorkshopCommand):
    index: int = Field(ge=0)


class ClosePhase(WorkshopCommand):
    index: int = Field(ge=0)


class ExtendPhase(WorkshopCommand):
    minutes: float = Field(gt=0, le=MAX_EXTENSION_MINUTES)
    extension_id: str = Field(min_length=1, max_length=100)


class PausePhase(WorkshopCommand):
    pass


class ResumePhase(WorkshopCommand):
    pass


class JoinWorkshop(WorkshopCommand):
    key: str = Field(description="a stable key for this person in this workshop")
    display_name: str
    organisation: str = ""


class EraseParticipant(Command):
    participant_id: UUID


class SubmitIdea(WorkshopCommand):
    idea_id: UUID
    author_id: UUID
    text: str


class EditIdea(Command):
    idea_id: UUID
    author_id: UUID
    text: str


class WithdrawIdea(Command):
    idea_id: UUID
    author_id: UUID


class DefineKeyArea(WorkshopCommand):
    name: str


class RenameKeyArea(WorkshopCommand):
    key_area_id: UUID
    name: str


class MergeKeyAreas(WorkshopCommand):
    source_id: UUID
    target_id: UUID


class SetGroupCapacity(WorkshopCommand):
    key_area_id: UUID
    capacity: int


class GroupIdea(Command):
    idea_id: UUID
    key_area_id: UUID


class MergeIdea(Command):
    idea_id: UUID
    target_id: UUID


class LinkToEarlierIdea(Command):
    idea_id: UUID
    earlier_id: UUID


class SignUpToGroup(WorkshopCommand):
    participant_id: UUID
    key_area_id: UUID


class SwitchGroup(WorkshopCommand):
    participant_id: UUID
    key_area_id: UUID


class ProposeProject(WorkshopCommand):
    project_id: UUID
    key_area_id: UUID
    title: str
    summary: str = ""
    idea_ids: list[UUID] = []
    proposer_ids: list[UUID]


class ReviseProject(Command):
    project_id: UUID
    title: str
    summary: str = ""
    idea_ids: list[UUID] = []
    proposer_ids: list[UUID]


class StartPitch(WorkshopCommand):
    project_id: UUID


class EndPitch(WorkshopCommand):
    project_id: UUID


class CastBallot(WorkshopCommand):
    participant_id: UUID
    choices: dict[str, Any]


class DeclareResults(WorkshopCommand):
    pass


class ReviseBallot(CastBallot):
    pass
