"""Ballots: one stream per participant per workshop, cast and revised while voting is open."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from .agenda import PhaseKind, VotingRules
from .errors import ForeignProject, InvalidInput, OverBudget, ScoreOutOfRange, UnknownId
from .meta import Meta, derive_id
from .participant import Participant
from .project import Project
from .workshop import Workshop

MIN_SCORE, MAX_SCORE = 1, 5

# What a voter marks: approval -> {project: 1}; dots -> {project: n};
# scores -> {project: {criterion: 1..5}}. Keys are project ids as text (JSON keys).
Choices = dict[str, Any]


def ballot_id(workshop: UUID, participant: UUID) -> UUID:
    return derive_id("ballot", workshop, participant)


class Ballot(Aggregate):
    @event("Cast")
    def __init__(
        self,
        id: UUID,  # noqa: A002
        workshop_id: UUID,
        participant_id: UUID,
        method: str,
        choices: Choices,
        meta: Meta,
    ) -> None:
        self.workshop_id = workshop_id
        self.participant_id = participant_id
        self.method = method
        self.choices = choices

    def revise(
        self,
        workshop: Workshop,
        choices: Choices,
        projects: Mapping[UUID, Project | None],
        meta: Meta,
    ) -> None:
        workshop.require_phase(PhaseKind.VOTE)
        if workshop.id != self.workshop_id:
            raise UnknownId("the ballot belongs to another workshop", "ballot_id")
        self._revised(choices=check_choices(workshop, choices, projects), meta=meta)

    @event("Revised")
    def _revised(self, choices: Choices, meta: Meta) -> None:
        self.choices = choices


def cast(
    workshop: Workshop,
    voter: Participant,
    choices: Choices,
    projects: Mapping[UUID, Project | None],
    meta: Meta,
) -> Ballot:
    workshop.require_phase(PhaseKind.VOTE)
    if voter.workshop_id != workshop.id:
        raise UnknownId("the voter has not joined this workshop", "participant_id")
    return Ballot(
        id=ballot_id(workshop.id, voter.id),
        workshop_id=workshop.id,
        participant_id=voter.id,
        method=workshop.voting.method,
        choices=check_choices(workshop, choices, projects),
        meta=meta,
    )


def check_choices(
    workshop: Workshop, choices: Choices, projects: Mapping[UUID, Project | None]
) -> Choices:
    """Validate a voter's marks against the workshop's method; return them normalised."""
    if not isinstance(choices, dict):
        raise InvalidInput("choices must map project ids to marks", "choices")
    for key in choices:
        _require_project(workshop, key, projects)
    checker = {"approval": _approval, "dots": _dots, "scores": _scores}[workshop.voting.method]
    return checker(workshop.voting, choices)


def _require_project(workshop: Workshop, key: str, projects: Mapping[UUID, Project | None]) -> None:
    try:
        project = projects.get(UUID(str(key)))
    except ValueError:
        raise InvalidInput(f"{key!r} is not a project id", "choices") from None
    if project is None:
        raise UnknownId(f"no project {key}", "choices")
    if project.workshop_id != workshop.id:
        raise ForeignProject(f"project {key} belongs to another workshop", "choices")


def _approval(rules: VotingRules, choices: Choices) -> Choices:
    for key, mark in choices.items():
        if mark not in (0, 1, True, False):
            raise InvalidInput(f"approval marks are yes or no (project {key})", "choices")
    return {key: 1 for key, mark in sorted(choices.items()) if mark}


def _dots(rules: VotingRules, choices: Choices) -> Choices:
    for key, dots in choices.items():
        if not _is_int(dots) or dots < 0:
            raise InvalidInput(
                f"dots must be a whole number of at least 0 (project {key})", "choices"
            )
    spent = sum(choices.values())
    if spent > rules.dots_budget:
        raise OverBudget(f"{spent} dots placed but the budget is {rules.dots_budget}", "choices")
    return {key: int(dots) for key, dots in sorted(choices.items()) if dots}


def _scores(rules: VotingRules, choices: Choices) -> Choices:
    names = [c.name for c in rules.criteria]
    normalised: Choices = {}
    for key, scores in sorted(choices.items()):
        if not isinstance(scores, dict) or sorted(scores) != sorted(names):
            raise InvalidInput(f"score every criterion exactly once: {', '.join(names)}", "choices")
        for name, score in scores.items():
            if not _is_int(score) or not MIN_SCORE <= score <= MAX_SCORE:
                raise ScoreOutOfRange(
                    f"scores run from {MIN_SCORE} to {MAX_SCORE} ({name!r}, project {key})",
                    "choices",
                )
        normalised[key] = {name: int(scores[name]) for name in names}
    return normalised


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
