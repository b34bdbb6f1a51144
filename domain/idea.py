"""An idea: one stream each, so a room can brainstorm at once without contention."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from .agenda import PhaseKind
from .errors import AlreadyExists, InvalidInput, NotAllowed, UnknownId
from .meta import Meta
from .participant import Participant
from .text import IDEA_MAX, require_text
from .workshop import Workshop


class Idea(Aggregate):
    @event("Submitted")
    def __init__(
        self,
        id: UUID,  # noqa: A002
        workshop_id: UUID,
        author_id: UUID,
        text: str,
        meta: Meta,
    ) -> None:
        self.workshop_id = workshop_id
        self.author_id = author_id
        self.text = text
        self.withdrawn = False
        self.key_area_id: UUID | None = None
        self.merged_into: UUID | None = None
        self.recurs: list[UUID] = []  # ideas from earlier workshops it came up in too

    @property
    def active(self) -> bool:
        return not self.withdrawn and self.merged_into is None

    def edit(self, workshop: Workshop, author: UUID, text: str, meta: Meta) -> None:
        self._require_author_in_brainstorm(workshop, author)
        self._edited(text=require_text("text", text, IDEA_MAX), meta=meta)

    @event("Edited")
    def _edited(self, text: str, meta: Meta) -> None:
        self.text = text

    def withdraw(self, workshop: Workshop, author: UUID, meta: Meta) -> None:
        self._require_author_in_brainstorm(workshop, author)
        self._withdrawn(meta=meta)

    @event("Withdrawn")
    def _withdrawn(self, meta: Meta) -> None:
        self.withdrawn = True

    def group(self, workshop: Workshop, area: UUID, meta: Meta) -> None:
        self._require_same_workshop(workshop)
        workshop.require_phase(PhaseKind.GROUPING)
        workshop.active_area(area)
        self._require_active()
        self._grouped(key_area_id=area, meta=meta)

    @event("Grouped")
    def _grouped(self, key_area_id: UUID, meta: Meta) -> None:
        self.key_area_id = key_area_id

    def merge_into(self, workshop: Workshop, target: Idea, meta: Meta) -> None:
        """Mark this idea a duplicate of `target`; both streams keep their trail."""
        self._require_same_workshop(workshop)
        workshop.require_phase(PhaseKind.BRAINSTORM, PhaseKind.GROUPING)
        if target.id == self.id:
            raise InvalidInput("an idea cannot be merged into itself", "target_id")
        if target.workshop_id != self.workshop_id:
            raise UnknownId("the target idea belongs to another workshop", "target_id")
        self._require_active()
        if not target.active:
            raise InvalidInput("the target idea was withdrawn or merged", "target_id")
        self._merged(target_id=target.id, meta=meta)

    @event("MergedAsDuplicate")
    def _merged(self, target_id: UUID, meta: Meta) -> None:
        self.merged_into = target_id

    def link_to_earlier(
        self, workshop: Workshop, earlier: Idea, earlier_workshop: Workshop, meta: Meta
    ) -> None:
        """Note that this idea came up at an earlier workshop of the same programme.

        Across events the ideas are not merged (each workshop keeps its own
        board); the link joins their trails, so a recurring idea is visible.
        """
        self._require_same_workshop(workshop)
        workshop.require_phase(PhaseKind.BRAINSTORM, PhaseKind.GROUPING)
        if earlier.workshop_id != earlier_workshop.id:
            raise UnknownId("the earlier idea's workshop does not match", "earlier_id")
        same_programme = workshop.programme_id is not None and (
            workshop.programme_id == earlier_workshop.programme_id
        )
        if not same_programme or earlier_workshop.starts_at >= workshop.starts_at:
            raise InvalidInput(
                "the earlier idea must come from an earlier workshop of the same programme",
                "earlier_id",
            )
        if earlier.id in self.recurs:
            raise AlreadyExists("already linked to that idea", "earlier_id")
        self._linked(earlier_id=earlier.id, earlier_workshop_id=earlier_workshop.id, meta=meta)

    @event("LinkedToEarlier")
    def _linked(self, earlier_id: UUID, earlier_workshop_id: UUID, meta: Meta) -> None:
        self.recurs.append(earlier_id)

    def _require_author_in_brainstorm(self, workshop: Workshop, author: UUID) -> None:
        self._require_same_workshop(workshop)
        if author != self.author_id:
            raise NotAllowed("only the idea's author may change it", "author_id")
        workshop.require_phase(PhaseKind.BRAINSTORM)
        self._require_active()

    def _require_active(self) -> None:
        if not self.active:
            raise InvalidInput("the idea was withdrawn or merged", "idea_id")

    def _require_same_workshop(self, workshop: Workshop) -> None:
        if workshop.id != self.workshop_id:
            raise UnknownId("the idea belongs to another workshop", "idea_id")


def submit(idea: UUID, workshop: Workshop, author: Participant, text: str, meta: Meta) -> Idea:
    workshop.require_phase(PhaseKind.BRAINSTORM)
    if author.workshop_id != workshop.id:
        raise UnknownId("the author has not joined this workshop", "author_id")
    return Idea(
        id=idea,
        workshop_id=workshop.id,
        author_id=author.id,
        text=require_text("text", text, IDEA_MAX),
        meta=meta,
    )
