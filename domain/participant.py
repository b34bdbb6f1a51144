"""A participant: someone who joined one workshop."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from .errors import WrongPhase
from .meta import Meta, derive_id
from .personal import ERASED_NAME, Personal
from .text import NAME_MAX, ORGANISATION_MAX, require_text
from .workshop import Workshop


def participant_id(workshop: UUID, key: str) -> UUID:
    """One participant per workshop and join key (a token, an e-mail digest...)."""
    return derive_id("participant", workshop, key)


class Participant(Aggregate):
    class Joined(Aggregate.Created):
        """Names and organisation travel encrypted, inside `personal`."""

        workshop_id: UUID
        personal: Personal
        meta: Meta

        @property
        def display_name(self) -> str:
            return _display_name(self.personal)

        @property
        def organisation(self) -> str:
            return self.personal.get("organisation")

    @event(Joined)
    def __init__(
        self,
        id: UUID,  # noqa: A002
        workshop_id: UUID,
        personal: Personal,
        meta: Meta,
    ) -> None:
        self.workshop_id = workshop_id
        self.personal = personal

    @property
    def display_name(self) -> str:
        return _display_name(self.personal)

    @property
    def organisation(self) -> str:
        return self.personal.get("organisation")

    @property
    def erased(self) -> bool:
        return self.personal.erased

    def erase(self, meta: Meta) -> None:
        """Right to erasure: the trail keeps that they took part, not who they are."""
        if not self.erased:
            self._erased(meta=meta)

    @event("Erased")
    def _erased(self, meta: Meta) -> None:
        self.personal = Personal(self.id, erased=True)


def _display_name(personal: Personal) -> str:
    return ERASED_NAME if personal.erased else personal.get("display_name")


def join(
    workshop: Workshop, key: str, display_name: str, organisation: str, meta: Meta
) -> Participant:
    if workshop.finished:
        raise WrongPhase("the workshop is over", "phase")
    key = require_text("key", key, 200)
    person = participant_id(workshop.id, key)
    fields = {
        "display_name": require_text("display_name", display_name, NAME_MAX),
        "organisation": require_text(
            "organisation", organisation, ORGANISATION_MAX, allow_empty=True
        ),
    }
    return Participant(
        id=person, workshop_id=workshop.id, personal=Personal(person, fields), meta=meta
    )
