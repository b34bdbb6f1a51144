"""The agenda and voting rules of a workshop: data, not code."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_PHASES = 30
MAX_PHASE_MINUTES = 24 * 60
MAX_EXTENSION_MINUTES = 240


class PhaseKind(StrEnum):
    BRIEFING = "briefing"
    BRAINSTORM = "brainstorm"
    GROUPING = "grouping"
    SIGNUP = "signup"
    DISCUSSION = "discussion"
    PITCHES = "pitches"
    VOTE = "vote"
    CLOSED = "closed"


class Phase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: PhaseKind
    minutes: float = Field(ge=0, le=MAX_PHASE_MINUTES)

    @field_validator("kind", mode="before")
    @classmethod
    def _accept_hyphen(cls, value: object) -> object:
        # The story says "sign-up"; accept both spellings.
        return "signup" if value == "sign-up" else value


class Criterion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    weight: float = Field(default=1.0, gt=0, le=100)


# The seed's criteria: what made the winning project a quick win.
SEED_CRITERIA: tuple[Criterion, ...] = tuple(
    Criterion(name=name)
    for name in (
        "quick to implement",
        "minimal resources",
        "easy to manage",
        "quick win",
        "low cost",
        "supports the profession",
    )
)

Method = Literal["approval", "dots", "scores"]


class VotingRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Method = "approval"
    dots_budget: int = Field(default=5, ge=1, le=100)
    criteria: tuple[Criterion, ...] = SEED_CRITERIA
    pitch_minutes: float = Field(default=2, gt=0, le=60)

    @model_validator(mode="after")
    def _distinct_criteria(self) -> VotingRules:
        names = [c.name.lower() for c in self.criteria]
        if len(set(names)) != len(names):
            raise ValueError("criteria names must be distinct")
        if self.method == "scores" and not self.criteria:
            raise ValueError("scoring needs at least one criterion")
        return self


class Agenda(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    phases: tuple[Phase, ...] = Field(min_length=1, max_length=MAX_PHASES)

    @model_validator(mode="after")
    def _closed_is_last(self) -> Agenda:
        kinds = [p.kind for p in self.phases]
        if PhaseKind.CLOSED in kinds[:-1]:
            raise ValueError("a 'closed' phase can only be the last one")
        if kinds.count(PhaseKind.VOTE) > 1:
            raise ValueError("an agenda has at most one vote phase")
        return self


SEED_AGENDA = Agenda(
    phases=(
        Phase(kind=PhaseKind.BRIEFING, minutes=15),
        Phase(kind=PhaseKind.BRAINSTORM, minutes=30),
        Phase(kind=PhaseKind.GROUPING, minutes=20),
        Phase(kind=PhaseKind.SIGNUP, minutes=45),
        Phase(kind=PhaseKind.DISCUSSION, minutes=40),
        Phase(kind=PhaseKind.PITCHES, minutes=20),
        Phase(kind=PhaseKind.VOTE, minutes=10),
        Phase(kind=PhaseKind.CLOSED, minutes=0),
    )
)
