"""A participant: someone who joined one workshop."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from .errors import WrongPhase
from .meta import Meta, derive_id
from .text import NAME_MAX, ORGANISATION_MAX, require_text
from .workshop import Workshop


def participant_id(workshop: UUID, key: str) -> UUID:
    """One participant per workshop and join key (a token, an e-mail digest...)."""
    return derive_id("participant", workshop, key)


class Participant(Aggregate):
    @event("Joined")
    def __init__(
        self,
        id: UUID,  # noqa: A002
        workshop_id: UUID,
        display_name: str,
        organisation: str,
        meta: Meta,
    ) -> None:
        self.workshop_id = workshop_id
        self.display_name = display_name
        self.organisation = organisation


def join(
    workshop: Workshop, key: str, display_name: str, organisation: str, meta: Meta
) -> Participant:
    if workshop.finished:
        raise WrongPhase("the workshop is over", "phase")
    key = require_text("key", key, 200)
    return Participant(
        id=participant_id(workshop.id, key),
        workshop_id=workshop.id,
        display_name=require_text("display_name", display_name, NAME_MAX),
        organisation=require_text("organisation", organisation, ORGANISATION_MAX, allow_empty=True),
        meta=meta,
    )
