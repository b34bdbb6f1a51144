"""A workshop recorded from the briefing to declared results, for the auditor's pages."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from projections.time_travel import PositionedEvent
from services.app import Workshops
from services.decision import workshop_log
from tests.api.feed_helpers import PEOPLE, Room, lone_workshop, run_day


@dataclass
class Recorded:
    room: Room
    events: list[PositionedEvent]  # the workshop's events, in log order

    @property
    def id(self) -> UUID:
        return self.room.id

    def position_of(self, kind: str, nth: int = 1) -> int:
        """The log position of the nth event of `kind` ("Idea.Submitted")."""
        found = [p for p, e in self.events if type(e).__qualname__ == kind]
        return found[nth - 1]


def declared_workshop(app: Workshops) -> Recorded:
    """A whole day, as in the seed but small: three people, ideas, groups, a pitch, a vote,
    results declared (the projector's audit chain signs a checkpoint for them)."""
    room = lone_workshop(app)
    run_day(room)
    _, events = workshop_log(app, room.id)
    return Recorded(room, events)


FIRST_PERSON = next(iter(PEOPLE))
