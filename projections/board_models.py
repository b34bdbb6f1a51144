"""What the workshop board shows: pydantic models assembled by `BoardView.board`.

The models are plain data plus two pieces of arithmetic on the phase clock
(`ends_at` and `time_left`), so a page, the API and a test all agree on
"how long is left".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, computed_field

from domain.agenda import Agenda, PhaseKind, VotingRules


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BoardPhase(_Model):
    """The phase the workshop is in (open) or has just closed (not open)."""

    index: int
    kind: PhaseKind
    open: bool
    opened_at: datetime | None
    minutes: float  # planned length: the agenda's, plus extensions, plus pauses resumed
    paused_at: datetime | None

    @property
    def timed(self) -> bool:
        """Whether a clock runs: an open phase other than the final 'closed' one."""
        return self.open and self.kind != PhaseKind.CLOSED and self.opened_at is not None

    def planned_end(self) -> datetime | None:
        """opened_at + minutes, whether or not the clock is paused."""
        if not self.timed or self.opened_at is None:
            return None
        return self.opened_at + timedelta(minutes=self.minutes)


class BoardIdea(_Model):
    id: UUID
    author_id: UUID
    text: str
    key_area_id: UUID | None  # as grouped; the board lists it under the area it resolves to
    submitted_at: datetime
    position: int  # log position of its submission
    duplicates: list[UUID]  # ideas merged into this one as duplicates (transitively)


class BoardKeyArea(_Model):
    """A key area that is still in use (not merged away), with what resolves to it."""

    id: UUID
    name: str
    capacity: int | None
    position: int  # log position of its definition
    merged_from: list[UUID]  # key areas merged into this one (transitively)
    ideas: list[BoardIdea]
    signed_up: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def places_left(self) -> int | None:
        if self.capacity is None:
            return None
        return max(self.capacity - self.signed_up, 0)


class BoardProject(_Model):
    id: UUID
    key_area_id: UUID  # resolved through key-area merges
    title: str
    summary: str
    idea_ids: list[UUID]
    proposer_ids: list[UUID]
    proposers: int
    pitch_order: int | None  # 1 for the first pitch, None until it pitches
    pitched_at: datetime | None
    position: int  # log position of its proposal


class Board(_Model):
    """One workshop's board, read in one snapshot of the view."""

    id: UUID
    code: str
    title: str
    region: str
    venue: str
    starts_at: datetime
    agenda: Agenda
    voting: VotingRules
    briefing: str | None
    phase: BoardPhase | None  # None before the first phase opens
    pitching: UUID | None  # the project whose pitch slot is running
    key_areas: list[BoardKeyArea]  # active areas in the order they were defined
    ungrouped: list[BoardIdea]  # active ideas not (yet) in a key area
    participants: int
    signed_up: int
    ballots_cast: int
    projects: list[BoardProject]  # pitched ones in pitch order, then the rest as proposed
    results: dict[str, Any] | None  # the ResultsDeclared payload
    position: int | None  # the log position this board reflects

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ends_at(self) -> datetime | None:
        """When the open phase's clock runs out; None when paused or no clock runs."""
        if self.phase is None or self.phase.paused_at is not None:
            return None
        return self.phase.planned_end()

    def time_left(self, now: datetime) -> timedelta | None:
        """Time left on the phase clock at `now` (never negative).

        Paused: the time that was left when the pause began (the clock is
        frozen). None when no phase clock runs (before the start, between
        phases, in the final 'closed' phase).
        """
        if self.phase is None:
            return None
        end = self.phase.planned_end()
        if end is None:
            return None
        at = self.phase.paused_at if self.phase.paused_at is not None else now
        return max(end - at, timedelta(0))

    def idea_count(self) -> int:
        return len(self.ungrouped) + sum(len(area.ideas) for area in self.key_areas)


class BoardCounts(_Model):
    """Cheap totals for a workshop, without assembling the whole board."""

    participants: int
    ideas: int  # active (neither withdrawn nor merged)
    withdrawn: int
    merged: int
    key_areas: int  # active
    signed_up: int
    projects: int
    pitched: int
    ballots_cast: int
