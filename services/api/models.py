"""Request and response bodies of the API that are not domain commands as they stand.

Participant actions carry no participant id: the token says who acts. Every
body rejects unknown fields.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.text import (
    BRIEFING_MAX,
    IDEA_MAX,
    NAME_MAX,
    ORGANISATION_MAX,
    SUMMARY_MAX,
    TITLE_MAX,
)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Recorded(BaseModel):
    """A command was recorded: the log position of its last event."""

    position: int = Field(description="log position; pass to GET /events?after= to follow on")


class Created(Recorded):
    id: UUID


class JoinRequest(Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"code": "SW-2010-07", "display_name": "Sam"}]},
    )
    code: str = Field(min_length=1, max_length=100, description="the workshop's code")
    display_name: str = Field(min_length=1, max_length=NAME_MAX)
    organisation: str = Field(default="", max_length=ORGANISATION_MAX)


class Joined(BaseModel):
    token: str = Field(description="your bearer token: shown once, keep it")
    participant_id: UUID
    workshop_id: UUID


class IdeaText(Body):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"text": "One front door for tenants"}]}
    )
    text: str = Field(min_length=1, max_length=IDEA_MAX)


class KeyAreaName(Body):
    name: str = Field(min_length=1, max_length=TITLE_MAX)


class KeyAreaMerge(Body):
    into: UUID = Field(description="the key area that survives")


class Capacity(Body):
    capacity: int = Field(ge=1, le=10_000)


class Grouping(Body):
    key_area_id: UUID


class IdeaMerge(Body):
    target_id: UUID = Field(description="the idea that survives")


class EarlierLink(Body):
    earlier_id: UUID


class Briefing(Body):
    text: str = Field(min_length=1, max_length=BRIEFING_MAX)


class Extension(Body):
    minutes: float = Field(gt=0, le=120)


class AgendaStart(Body):
    time_scale: float = Field(default=1.0, gt=0, le=10_000)


class SignUp(Body):
    key_area_id: UUID


class ProjectDraft(Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "key_area_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
                    "title": "Tenant front door",
                    "summary": "One number for every housing question",
                    "idea_ids": [],
                    "co_proposer_ids": [],
                }
            ]
        },
    )
    key_area_id: UUID
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    summary: str = Field(default="", max_length=SUMMARY_MAX)
    idea_ids: list[UUID] = Field(default=[], max_length=500)
    co_proposer_ids: list[UUID] = Field(
        default=[], max_length=50, description="other participants proposing it with you"
    )


class ProjectRevision(Body):
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    summary: str = Field(default="", max_length=SUMMARY_MAX)
    idea_ids: list[UUID] = Field(default=[], max_length=500)
    co_proposer_ids: list[UUID] = Field(default=[], max_length=50)


class PitchSlot(Body):
    project_id: UUID


class BallotChoices(Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"choices": {"1b4e28ba-2fa1-11d2-883f-0016d3cca427": True}},
                {"choices": {"1b4e28ba-2fa1-11d2-883f-0016d3cca427": 3}},
                {"choices": {"1b4e28ba-2fa1-11d2-883f-0016d3cca427": {"impact": 5, "cost": 2}}},
            ]
        },
    )
    choices: dict[str, Any] = Field(
        max_length=1000,
        description="project id -> approval (true), dots (int) or scores per criterion (object)",
    )


class TokenRequest(Body):
    role: str = Field(description="admin, programme_manager, facilitator, auditor or subscriber")
    name: str = Field(min_length=1, max_length=200, description="who holds it (a label)")
    programmes: list[UUID] = Field(default=[], max_length=1000)
    workshops: list[UUID] = Field(default=[], max_length=1000)
    event_types: list[str] | None = Field(
        default=None, max_length=1000, description="subscribers: types granted (null: all)"
    )
    allow_private_webhooks: bool = False


class IssuedToken(BaseModel):
    token: str = Field(description="the bearer token: shown once")
    token_id: UUID
    role: str


class WorkshopSummary(BaseModel):
    id: UUID
    code: str
    title: str
    region: str
    starts_at: Any
    participants: int
    ideas: int
    ballots_cast: int
