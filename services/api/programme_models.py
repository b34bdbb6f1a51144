"""Bodies of programme and initiative commands whose ids come from the path.

Each is the domain command less the ids the URL carries; the route adds them
back and builds the command itself (`command`), so the domain still checks it.
Every body rejects unknown fields.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from domain.agenda import SEED_AGENDA, Agenda, Criterion, VotingRules
from domain.commands import Command
from domain.initiative import Rag, Stage
from domain.text import SUMMARY_MAX, TITLE_MAX, VENUE_MAX
from projections.pipeline_models import InitiativeRow, TrailEntry

C = TypeVar("C", bound=Command)
REASON_MAX = 500
REGION_MAX = 120


def _utc(value: datetime) -> datetime:
    # As the CLI reads a time: without an offset it is UTC, so every stored time is aware.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


When = Annotated[datetime, AfterValidator(_utc), Field(description="ISO time; no offset: UTC")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def command(cls: type[C], body: Body | None = None, **ids: Any) -> C:
    """The domain command `cls` from a body and the ids taken from the path."""
    fields = dict(body) if body is not None else {}
    return cls(**fields, **ids)


class ProgrammeWorkshop(Body):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "code": "DEV-2011",
                    "title": "Devon day",
                    "region": "South West",
                    "venue": "Exeter",
                    "starts_at": "2011-03-01T09:30:00+00:00",
                    "agenda": SEED_AGENDA.model_dump(mode="json"),
                }
            ]
        },
    )
    code: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    region: str = Field(min_length=1, max_length=REGION_MAX)
    venue: str = Field(default="", max_length=VENUE_MAX)
    starts_at: When
    agenda: Agenda
    voting: VotingRules = Field(
        default=VotingRules(), description="its criteria are replaced by the programme's"
    )


class Criteria(Body):
    criteria: list[Criterion] = Field(min_length=1, max_length=50)


class NewInitiative(Body):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "title": "Shared cloud",
                    "summary": "",
                    "region": "Wales",
                    "reason": "Board request",
                }
            ]
        },
    )
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    summary: str = Field(default="", max_length=SUMMARY_MAX)
    region: str = Field(min_length=1, max_length=REGION_MAX)
    reason: str = Field(min_length=1, max_length=REASON_MAX, description="why it is added by hand")


class OwnerBody(Body):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"owner": "Ann Carew <ann@example.org>"}]},
    )
    owner: str = Field(
        min_length=1,
        max_length=300,
        description='the owner as typed: "Name <address>", a name or an address',
    )


class OwnerErasure(Body):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"owner": "Ann Carew <ann@example.org>"}]},
    )
    owner: str = Field(default="", max_length=300, description="the owner's text as assigned")
    owner_id: UUID | None = Field(default=None, description="or the owner's id")


class StageMove(Body):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"stage": "approved", "reason": ""}]},
    )
    stage: Stage
    reason: str = Field(default="", max_length=REASON_MAX, description="required to pause or drop")


class MilestonePlan(Body):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [{"title": "Pilot live", "due": "2011-06-01T09:00:00+00:00"}]
        },
    )
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    due: When


class MilestoneMove(Body):
    due: When
    reason: str = Field(min_length=1, max_length=REASON_MAX)


class Progress(Body):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [{"percent": 40, "status": "amber", "note": "one council late"}]
        },
    )
    percent: int = Field(ge=0, le=100)
    status: Rag
    note: str = Field(default="", max_length=SUMMARY_MAX)


class Benefit(Body):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {"measure": "money_saved", "amount": 2500, "evidence": "licences not renewed"}
            ]
        },
    )
    measure: str = Field(min_length=1, max_length=80, description="an outcome measure's key")
    amount: float = Field(allow_inf_nan=False)
    evidence: str = Field(min_length=1, max_length=SUMMARY_MAX)


class FollowUp(Body):
    workshop_id: UUID = Field(description="the further workshop that follows it up")


class Region(Body):
    region: str = Field(min_length=1, max_length=REGION_MAX)


class Adopted(BaseModel):
    """The initiatives carried forward from a workshop's winners (again: the same ids)."""

    initiatives: list[UUID]
    position: int


class Drafted(BaseModel):
    text: str = Field(description="the briefing note drafted from the programme so far")
    position: int


class InitiativeWithTrail(BaseModel):
    initiative: InitiativeRow
    trail: list[TrailEntry] = Field(description="in log order, from the first idea it came from")
