"""Sign-ups: one stream per participant per workshop, and numbered seats per group.

A group's capacity is kept by seats: seat n of a group is its own stream, so two
people taking the last seat at once conflict on that stream and one of them
fails, instead of both reading "one place left" and overfilling the group.
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from .agenda import PhaseKind
from .errors import GroupFull, InvalidInput, UnknownId
from .meta import Meta, derive_id
from .participant import Participant
from .workshop import Workshop


def sign_up_id(workshop: UUID, participant: UUID) -> UUID:
    return derive_id("sign-up", workshop, participant)


def seat_ids(area: UUID, capacity: int) -> list[UUID]:
    return [derive_id("seat", area, n) for n in range(capacity)]


class Seat(Aggregate):
    @event("Claimed")
    def __init__(self, id: UUID, key_area_id: UUID, holder: UUID, meta: Meta) -> None:  # noqa: A002
        self.key_area_id = key_area_id
        self.holder: UUID | None = holder

    def claim(self, holder: UUID, meta: Meta) -> None:
        if self.holder is not None:
            raise GroupFull("that seat is taken", "key_area_id")
        self._reclaimed(holder=holder, meta=meta)

    @event("Reclaimed")
    def _reclaimed(self, holder: UUID, meta: Meta) -> None:
        self.holder = holder

    def release(self, meta: Meta) -> None:
        if self.holder is not None:
            self._released(meta=meta)

    @event("Released")
    def _released(self, meta: Meta) -> None:
        self.holder = None


class SignUp(Aggregate):
    @event("SignedUp")
    def __init__(
        self,
        id: UUID,  # noqa: A002
        workshop_id: UUID,
        participant_id: UUID,
        key_area_id: UUID,
        seat_id: UUID | None,
        meta: Meta,
    ) -> None:
        self.workshop_id = workshop_id
        self.participant_id = participant_id
        self.key_area_id = key_area_id
        self.seat_id = seat_id

    def switch(
        self, workshop: Workshop, area: UUID, seats: Mapping[UUID, Seat], meta: Meta
    ) -> Seat | None:
        """Move to another group; returns the new seat (if the group is capped)."""
        _require_open(workshop, area)
        if area == self.key_area_id:
            raise InvalidInput("already signed up to that group", "key_area_id")
        seat = take_seat(workshop, area, self.participant_id, seats, meta)
        self._switched(key_area_id=area, seat_id=seat.id if seat else None, meta=meta)
        return seat

    @event("SwitchedGroup")
    def _switched(self, key_area_id: UUID, seat_id: UUID | None, meta: Meta) -> None:
        self.key_area_id = key_area_id
        self.seat_id = seat_id


def take_seat(
    workshop: Workshop, area: UUID, holder: UUID, seats: Mapping[UUID, Seat], meta: Meta
) -> Seat | None:
    """Claim the first free seat of a capped group; `seats` are the ones that exist."""
    capacity = workshop.active_area(area).capacity
    if capacity is None:
        return None
    for seat_id in seat_ids(area, capacity):
        seat = seats.get(seat_id)
        if seat is None:
            return Seat(id=seat_id, key_area_id=area, holder=holder, meta=meta)
        if seat.holder is None:
            seat.claim(holder, meta)
            return seat
    raise GroupFull(f"the group is full ({capacity} places)", "key_area_id")


def sign_up(
    workshop: Workshop,
    participant: Participant,
    area: UUID,
    seats: Mapping[UUID, Seat],
    meta: Meta,
) -> tuple[SignUp, Seat | None]:
    if participant.workshop_id != workshop.id:
        raise UnknownId("the participant has not joined this workshop", "participant_id")
    _require_open(workshop, area)
    seat = take_seat(workshop, area, participant.id, seats, meta)
    signup = SignUp(
        id=sign_up_id(workshop.id, participant.id),
        workshop_id=workshop.id,
        participant_id=participant.id,
        key_area_id=area,
        seat_id=seat.id if seat else None,
        meta=meta,
    )
    return signup, seat


def _require_open(workshop: Workshop, area: UUID) -> None:
    workshop.require_phase(PhaseKind.SIGNUP)
    workshop.active_area(area)
