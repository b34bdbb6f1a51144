"""A project proposed by a group, pitched to the room and voted on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypedDict
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from .agenda import PhaseKind
from .errors import InvalidInput, UnknownId
from .idea import Idea
from .meta import Meta
from .participant import Participant
from .text import SUMMARY_MAX, TITLE_MAX, require_text
from .workshop import Workshop

MAX_PROPOSERS = 100
MAX_IDEAS = 100


class ProjectFields(TypedDict):
    title: str
    summary: str
    idea_ids: list[UUID]
    proposer_ids: list[UUID]


class Project(Aggregate):
    @event("Proposed")
    def __init__(
        self,
        id: UUID,  # noqa: A002
        workshop_id: UUID,
        key_area_id: UUID,
        title: str,
        summary: str,
        idea_ids: list[UUID],
        proposer_ids: list[UUID],
        meta: Meta,
    ) -> None:
        self.workshop_id = workshop_id
        self.key_area_id = key_area_id
        self.title = title
        self.summary = summary
        self.idea_ids = idea_ids
        self.proposer_ids = proposer_ids

    def revise(
        self,
        workshop: Workshop,
        title: str,
        summary: str,
        ideas: Sequence[Idea],
        proposers: Sequence[Participant],
        meta: Meta,
    ) -> None:
        if workshop.id != self.workshop_id:
            raise UnknownId("the project belongs to another workshop", "project_id")
        fields = _checked(workshop, title, summary, ideas, proposers)
        self._revised(**fields, meta=meta)

    @event("Revised")
    def _revised(
        self, title: str, summary: str, idea_ids: list[UUID], proposer_ids: list[UUID], meta: Meta
    ) -> None:
        self.title = title
        self.summary = summary
        self.idea_ids = idea_ids
        self.proposer_ids = proposer_ids


def propose(
    project: UUID,
    workshop: Workshop,
    area: UUID,
    title: str,
    summary: str,
    ideas: Sequence[Idea],
    proposers: Sequence[Participant],
    meta: Meta,
) -> Project:
    fields = _checked(workshop, title, summary, ideas, proposers)
    workshop.active_area(area)
    return Project(id=project, workshop_id=workshop.id, key_area_id=area, **fields, meta=meta)


def _checked(
    workshop: Workshop,
    title: str,
    summary: str,
    ideas: Sequence[Idea],
    proposers: Sequence[Participant],
) -> ProjectFields:
    """Projects are written and revised during discussion, until pitches start."""
    workshop.require_phase(PhaseKind.DISCUSSION)
    if not proposers:
        raise InvalidInput("a project needs at least one proposer", "proposer_ids")
    if len(proposers) > MAX_PROPOSERS:
        raise InvalidInput(f"at most {MAX_PROPOSERS} proposers", "proposer_ids")
    if len(ideas) > MAX_IDEAS:
        raise InvalidInput(f"at most {MAX_IDEAS} ideas", "idea_ids")
    if any(i.workshop_id != workshop.id for i in ideas):
        raise UnknownId("an idea belongs to another workshop", "idea_ids")
    if any(p.workshop_id != workshop.id for p in proposers):
        raise UnknownId("a proposer has not joined this workshop", "proposer_ids")
    return {
        "title": require_text("title", title, TITLE_MAX),
        "summary": require_text("summary", summary, SUMMARY_MAX, allow_empty=True),
        "idea_ids": _distinct(i.id for i in ideas),
        "proposer_ids": _distinct(p.id for p in proposers),
    }


def _distinct(ids: Iterable[UUID]) -> list[UUID]:
    return list(dict.fromkeys(ids))
