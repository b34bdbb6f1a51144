"""Ballots: one per participant per workshop, cast and revised while the vote is open;
approval, dots within a budget, or scores 1-5 on every criterion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from domain.agenda import Criterion, PhaseKind, VotingRules
from domain.ballot import MAX_SCORE, MIN_SCORE, Ballot, ballot_id, cast
from domain.errors import (
    ForeignProject,
    InvalidInput,
    OverBudget,
    ScoreOutOfRange,
    UnknownId,
    WrongPhase,
)
from domain.project import Project
from domain.workshop import Workshop

from .builders import (
    MemoryStore,
    advance_to,
    area_named,
    close_vote,
    meta,
    person,
    project,
    projects_by_id,
    rejects,
    settled,
    workshop_at,
)

DOTS = VotingRules(method="dots", dots_budget=5)
SCORES = VotingRules(
    method="scores",
    criteria=(Criterion(name="quick win", weight=2), Criterion(name="low cost")),
)


def _voting(rules: VotingRules | None = None) -> tuple[Workshop, Project, Project]:
    """A workshop in its vote with two projects of its own."""
    workshop = workshop_at(PhaseKind.VOTE, areas={"Cloud": None}, voting=rules)
    proposer = person(workshop)
    cloud = area_named(workshop, "Cloud")
    return (
        workshop,
        project(workshop, cloud, [proposer], "CEO day"),
        project(workshop, cloud, [proposer], "Cloud"),
    )


def _cast(workshop: Workshop, choices: Any, *known: Project) -> Ballot:
    voter = person(workshop)
    return cast(workshop, voter, choices, projects_by_id(*known), meta(actor="voter"))


def _rejects_choices(
    error: type, rules: VotingRules | None, choose: Callable[[str, str], Any]
) -> None:
    """Casting and revising both refuse the choices `choose` makes of the two projects'
    keys, with `error` on field 'choices'."""
    workshop, one, two = _voting(rules)
    known = projects_by_id(one, two)
    choices = choose(str(one.id), str(two.id))
    voter = person(workshop)
    rejects(
        error, "choices", lambda: cast(workshop, voter, choices, known, meta()), workshop, voter
    )
    ballot = settled(cast(workshop, person(workshop), {}, known, meta()))
    rejects(error, "choices", lambda: ballot.revise(workshop, choices, known, meta()), ballot)


# ----- casting and revising -------------------------------------------------


def test_an_approval_ballot_is_cast_during_the_vote() -> None:
    workshop, one, two = _voting()
    voter = person(workshop)
    act = meta(actor="voter", minutes=300)
    choices = {str(two.id): True, str(one.id): 1}
    ballot = cast(workshop, voter, choices, projects_by_id(one, two), act)
    [event] = ballot.collect_events()
    assert type(event).__name__ == "Cast" and event.meta == act
    assert ballot.id == ballot_id(workshop.id, voter.id)
    assert (ballot.workshop_id, ballot.participant_id, ballot.method) == (
        workshop.id,
        voter.id,
        "approval",
    )
    assert ballot.choices == {str(one.id): 1, str(two.id): 1}
    assert list(ballot.choices) == sorted(ballot.choices)


def test_approval_marks_are_yes_or_no_and_no_marks_abstain() -> None:
    workshop, one, two = _voting()
    choices = {str(one.id): 0, str(two.id): False}
    assert _cast(workshop, choices, one, two).choices == {}
    assert _cast(workshop, {}, one, two).choices == {}
    for mark in (2, -1, "yes", None, [1], 0.5):
        _rejects_choices(InvalidInput, None, lambda a, b, mark=mark: {a: 1, b: mark})


def test_a_ballot_is_revised_during_the_vote() -> None:
    workshop, one, two = _voting()
    ballot = settled(_cast(workshop, {str(one.id): 1}, one, two))
    act = meta(actor="voter")
    ballot.revise(workshop, {str(two.id): 1}, projects_by_id(one, two), act)
    [revised] = ballot.collect_events()
    assert type(revised).__name__ == "Revised" and revised.meta == act
    assert revised.choices == ballot.choices == {str(two.id): 1}


@pytest.mark.parametrize("kind", [PhaseKind.DISCUSSION, PhaseKind.PITCHES])
def test_no_ballot_before_the_vote(kind: PhaseKind) -> None:
    workshop = workshop_at(kind)
    voter = person(workshop)
    rejects(WrongPhase, "phase", lambda: cast(workshop, voter, {}, {}, meta()), workshop, voter)


def test_no_ballot_cast_or_revised_after_the_vote_closes() -> None:
    workshop, one, two = _voting()
    ballot = settled(_cast(workshop, {}, one, two))
    close_vote(workshop)
    voter = person(workshop)
    known = projects_by_id(one, two)
    choice = {str(one.id): 1}
    rejects(WrongPhase, "phase", lambda: cast(workshop, voter, choice, known, meta()), workshop)
    rejects(WrongPhase, "phase", lambda: ballot.revise(workshop, choice, known, meta()), ballot)
    advance_to(workshop, PhaseKind.CLOSED)
    rejects(WrongPhase, "phase", lambda: ballot.revise(workshop, choice, known, meta()), ballot)


def test_only_participants_of_this_workshop_vote() -> None:
    workshop, one, _ = _voting()
    stranger = person(workshop_at(PhaseKind.VOTE))
    act = lambda: cast(workshop, stranger, {}, projects_by_id(one), meta())  # noqa: E731
    rejects(UnknownId, "participant_id", act, workshop, stranger)


def test_a_ballot_is_revised_only_in_its_own_workshop() -> None:
    workshop, one, _ = _voting()
    ballot = settled(_cast(workshop, {}, one))
    elsewhere = workshop_at(PhaseKind.VOTE)
    act = lambda: ballot.revise(elsewhere, {}, {}, meta())  # noqa: E731
    rejects(UnknownId, "ballot_id", act, ballot, elsewhere)


def test_one_ballot_per_participant_per_workshop() -> None:
    """A second "first" ballot names the same stream, so storing it is a conflict."""
    workshop, one, two = _voting()
    voter = person(workshop)
    known = projects_by_id(one, two)
    first = cast(workshop, voter, {str(one.id): 1}, known, meta())
    second = cast(workshop, voter, {str(two.id): 1}, known, meta())
    assert first.id == second.id == ballot_id(workshop.id, voter.id)
    store = MemoryStore()
    store.save(first)
    with pytest.raises(IntegrityError):
        store.save(second)
    kept = store.repository.get(first.id)
    assert isinstance(kept, Ballot) and kept.choices == {str(one.id): 1}
    # Revising the stored ballot is how a voter changes their mind.
    kept.revise(workshop, {str(two.id): 1}, known, meta())
    store.save(kept)
    assert store.repository.get(first.id).choices == {str(two.id): 1}
    assert ballot_id(workshop.id, uuid4()) != first.id
    assert ballot_id(uuid4(), voter.id) != first.id


# ----- projects named on a ballot -------------------------------------------


def test_choices_name_projects_of_this_workshop() -> None:
    workshop, one, _ = _voting()
    elsewhere, foreign, _ = _voting()
    voter = person(workshop)
    known = projects_by_id(one, foreign)

    def vote(choices: Any, projects: Any = known) -> Ballot:
        return cast(workshop, voter, choices, projects, meta())

    rejects(ForeignProject, "choices", lambda: vote({str(foreign.id): 1}), workshop, voter)
    rejects(UnknownId, "choices", lambda: vote({str(uuid4()): 1}), workshop, voter)
    gone = {one.id: None}  # looked up and not found
    rejects(UnknownId, "choices", lambda: vote({str(one.id): 1}, gone), workshop, voter)
    rejects(InvalidInput, "choices", lambda: vote({"not-a-uuid": 1}), workshop, voter)
    rejects(InvalidInput, "choices", lambda: vote([str(one.id)]), workshop, voter)
    rejects(InvalidInput, "choices", lambda: vote(None), workshop, voter)


def test_a_revision_names_projects_of_this_workshop_too() -> None:
    workshop, one, _ = _voting()
    _, foreign, _ = _voting()
    ballot = settled(_cast(workshop, {}, one))
    known = projects_by_id(one, foreign)
    choice = {str(foreign.id): 1}
    rejects(
        ForeignProject, "choices", lambda: ballot.revise(workshop, choice, known, meta()), ballot
    )


# ----- dots -----------------------------------------------------------------


def test_dots_are_spent_within_the_budget() -> None:
    workshop, one, two = _voting(DOTS)
    ballot = _cast(workshop, {str(one.id): 3, str(two.id): 2}, one, two)
    assert ballot.method == "dots"
    assert ballot.choices == {str(one.id): 3, str(two.id): 2}
    assert _cast(workshop, {str(one.id): 0, str(two.id): 1}, one, two).choices == {str(two.id): 1}
    assert _cast(workshop, {str(one.id): 5}, one, two).choices == {str(one.id): 5}


def test_dots_over_budget() -> None:
    _rejects_choices(OverBudget, DOTS, lambda a, b: {a: 6})
    _rejects_choices(OverBudget, DOTS, lambda a, b: {a: 3, b: 3})


@pytest.mark.parametrize("dots", [-1, 1.5, 2.0, "2", True, None])
def test_dots_are_whole_numbers_of_at_least_zero(dots: object) -> None:
    _rejects_choices(InvalidInput, DOTS, lambda a, b: {a: 1, b: dots})


# ----- scores ---------------------------------------------------------------


def test_scores_rate_every_criterion_from_one_to_five() -> None:
    workshop, one, two = _voting(SCORES)
    choices = {
        str(one.id): {"low cost": MIN_SCORE, "quick win": MAX_SCORE},
        str(two.id): {"quick win": 3, "low cost": 4},
    }
    ballot = _cast(workshop, choices, one, two)
    assert ballot.method == "scores"
    assert ballot.choices == {
        str(one.id): {"quick win": 5, "low cost": 1},
        str(two.id): {"quick win": 3, "low cost": 4},
    }


@pytest.mark.parametrize("score", [0, 6, -1, 2.5, True, "3", None])
def test_a_score_out_of_range(score: object) -> None:
    fine = {"quick win": 3, "low cost": 3}
    bad = {"quick win": score, "low cost": 3}
    _rejects_choices(ScoreOutOfRange, SCORES, lambda a, b: {a: fine, b: bad})


@pytest.mark.parametrize(
    "scores",
    [
        {"quick win": 3},
        {"quick win": 3, "low cost": 3, "easy to manage": 3},
        {"quick win": 3, "Low Cost": 3},
        {},
        3,
        [3, 3],
    ],
)
def test_scores_name_every_criterion_exactly_once(scores: object) -> None:
    fine = {"quick win": 3, "low cost": 3}
    _rejects_choices(InvalidInput, SCORES, lambda a, b: {a: fine, b: scores})
