"""The workshop application on a real PostgreSQL: rules hold and bad input records nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import uuid4

import pytest

from domain import commands as c
from domain.agenda import SEED_AGENDA, PhaseKind, VotingRules
from domain.errors import (
    AlreadyExists,
    DomainError,
    DuplicateBallot,
    DuplicateSignUp,
    ForeignProject,
    GroupFull,
    InvalidInput,
    NotAllowed,
    OverBudget,
    ScoreOutOfRange,
    UnknownId,
    WrongPhase,
)
from domain.workshop import Workshop
from services.app import Workshops
from services.persistence import postgres_env

from .walk import START, Walk, ready_to_vote

pytestmark = pytest.mark.integration


@pytest.fixture
def app(fresh_database_url: str) -> Iterator[Workshops]:
    application = Workshops(env=postgres_env(fresh_database_url))
    yield application
    application.close()


def rejected(app: Workshops, error: type[DomainError], field: str, act: Callable[[], Any]) -> None:
    """`act` raises `error` naming `field`, and the log is exactly as it was."""
    before = app.max_position()
    with pytest.raises(error) as raised:
        act()
    assert raised.value.field == field
    assert app.max_position() == before


def test_scheduling_the_same_code_twice_is_rejected(app: Workshops) -> None:
    walk = Walk(app)
    code = walk.workshop.code
    again = c.ScheduleWorkshop(
        code=code, title="Again", region="X", starts_at=START, agenda=SEED_AGENDA
    )
    rejected(app, AlreadyExists, "code", lambda: app.schedule(again, walk.meta()))


def test_bad_code_and_empty_title_are_rejected(app: Workshops) -> None:
    walk = Walk(app)
    for code, title, field in (("bad code!", "T", "code"), ("OK-1", "   ", "title")):
        cmd = c.ScheduleWorkshop(
            code=code, title=title, region="R", starts_at=START, agenda=SEED_AGENDA
        )
        rejected(app, InvalidInput, field, lambda cmd=cmd: app.schedule(cmd, walk.meta()))


def test_unknown_workshop_is_rejected(app: Workshops) -> None:
    walk = Walk(app)
    cmd = c.PublishBriefing(workshop_id=uuid4(), text="hello")
    rejected(app, UnknownId, "workshop_id", lambda: app.publish_briefing(cmd, walk.meta()))


def test_ideas_only_in_the_brainstorm_with_text_within_limits(app: Workshops) -> None:
    walk = Walk(app)
    walk.to(PhaseKind.BRIEFING)
    (author,) = walk.join(1)
    rejected(app, WrongPhase, "phase", lambda: walk.idea(author))
    walk.to(PhaseKind.BRAINSTORM)
    rejected(app, InvalidInput, "text", lambda: walk.idea(author, " "))
    rejected(app, InvalidInput, "text", lambda: walk.idea(author, "x" * 501))
    rejected(app, UnknownId, "author_id", lambda: walk.idea(uuid4()))
    walk.idea(author, "x" * 500)


def test_only_the_author_edits_an_idea(app: Workshops) -> None:
    walk = Walk(app)
    walk.to(PhaseKind.BRAINSTORM)
    author, other = walk.join(2)
    idea = walk.idea(author)
    edit = c.EditIdea(idea_id=idea, author_id=other, text="mine now")
    rejected(app, NotAllowed, "author_id", lambda: app.edit_idea(edit, walk.meta()))
    app.edit_idea(c.EditIdea(idea_id=idea, author_id=author, text="better"), walk.meta())


def test_second_sign_up_and_full_group_are_rejected(app: Workshops) -> None:
    walk = Walk(app)
    walk.to(PhaseKind.BRAINSTORM)
    a, b = walk.join(2)
    walk.to(PhaseKind.GROUPING)
    small, big = walk.area("Small", capacity=1), walk.area("Big")
    walk.to(PhaseKind.SIGNUP)

    def sign(who: Any, area: Any) -> int:
        cmd = c.SignUpToGroup(workshop_id=walk.id, participant_id=who, key_area_id=area)
        return app.sign_up(cmd, walk.meta())

    sign(a, small)
    rejected(app, DuplicateSignUp, "participant_id", lambda: sign(a, big))
    rejected(app, GroupFull, "key_area_id", lambda: sign(b, small))
    # Switching out frees the seat for someone else.
    app.switch_group(
        c.SwitchGroup(workshop_id=walk.id, participant_id=a, key_area_id=big), walk.meta()
    )
    sign(b, small)


def test_capacity_holds_when_many_sign_up_at_once(app: Workshops) -> None:
    walk = Walk(app)
    walk.to(PhaseKind.BRAINSTORM)
    people = walk.join(16)
    walk.to(PhaseKind.GROUPING)
    area = walk.area("Popular", capacity=5)
    walk.to(PhaseKind.SIGNUP)

    def sign(who: Any) -> str:
        cmd = c.SignUpToGroup(workshop_id=walk.id, participant_id=who, key_area_id=area)
        try:
            app.sign_up(cmd, walk.meta())
        except GroupFull:
            return "full"
        return "in"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(sign, people))
    assert outcomes.count("in") == 5
    assert outcomes.count("full") == 11


def test_ballot_rules(app: Workshops) -> None:
    walk, people, projects = ready_to_vote(app)
    other, _, other_projects = ready_to_vote(app)
    rejected(
        app, ForeignProject, "choices", lambda: walk.vote(people[0], {str(other_projects[0]): 1})
    )
    rejected(app, UnknownId, "choices", lambda: walk.vote(people[0], {str(uuid4()): 1}))
    rejected(app, UnknownId, "participant_id", lambda: walk.vote(uuid4(), {str(projects[0]): 1}))
    walk.vote(people[0], {str(projects[0]): 1})
    rejected(app, DuplicateBallot, "participant_id", lambda: walk.vote(people[0], {}))


def test_dots_over_budget_and_scores_out_of_range(app: Workshops) -> None:
    dots, people, projects = ready_to_vote(app, VotingRules(method="dots", dots_budget=3))
    rejected(app, OverBudget, "choices", lambda: dots.vote(people[0], {str(projects[0]): 4}))
    dots.vote(people[0], {str(projects[0]): 2, str(projects[1]): 1})
    scores, people, projects = ready_to_vote(app, VotingRules(method="scores"))
    criteria = [cr.name for cr in scores.workshop.voting.criteria]
    for bad in (0, 6):
        marks = {str(projects[0]): {name: bad for name in criteria}}
        rejected(app, ScoreOutOfRange, "choices", lambda m=marks: scores.vote(people[0], m))


def test_concurrent_first_ballots_from_one_person_record_one(app: Workshops) -> None:
    walk, people, projects = ready_to_vote(app)

    def vote(_: int) -> str:
        try:
            walk.vote(people[0], {str(projects[0]): 1})
        except DuplicateBallot:
            return "duplicate"
        return "recorded"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(vote, range(8)))
    assert outcomes.count("recorded") == 1


def test_results_only_after_the_vote_closes_and_count_the_log(app: Workshops) -> None:
    walk, people, projects = ready_to_vote(app)
    declare = c.DeclareResults(workshop_id=walk.id)
    rejected(app, WrongPhase, "phase", lambda: app.declare_results(declare, walk.meta()))
    walk.vote(people[0], {str(projects[0]): 1})
    walk.vote(people[1], {str(projects[1]): 1})
    app.revise_ballot(
        c.ReviseBallot(
            workshop_id=walk.id, participant_id=people[1], choices={str(projects[0]): 1}
        ),
        walk.meta(),
    )
    walk.to(PhaseKind.CLOSED)
    result = app.declare_results(declare, walk.meta())
    assert result.ballots_counted == 2
    assert result.winners == [projects[0]]
    assert result.counted_up_to == app.position_of(walk.id, walk.workshop.vote_closed_version or 0)
    # Declaring again is idempotent: the same result, nothing new recorded.
    before = app.max_position()
    assert app.declare_results(declare, walk.meta()) == result
    assert app.max_position() == before
    assert app.recount(app.load(Workshop, walk.id, "workshop_id")) == result
