"""Time travel: the board at a past time or position, folded from the log in memory.

The fold must agree with the board view: at every stage of a day with the
awkward cases (duplicates, withdrawals, merged and renamed areas, a switch
of group, a revised project and ballot) the board folded up to the view's
position equals what the view showed at that moment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from uuid import UUID

import pytest

from domain.agenda import PhaseKind
from domain.idea import Idea
from domain.workshop import Workshop
from projections.board_models import Board
from projections.time_travel import board_at, cut, workshop_events
from services.app import Workshops
from services.decision import aggregate_at, read_log, state_at
from services.persistence import postgres_env
from tests.services.test_decision import play_seed

from .helpers import (
    WAIT,
    Driver,
    application,
    at,
    board_runner,
    brainstorm,
    discussion,
    grouping,
    pitches,
    sign_ups,
    to_brainstorm,
    vote,
)

pytestmark = pytest.mark.integration


def _without_position(board: Board | None) -> Board | None:
    # The view's position is the last event of the whole log it read; the fold's
    # is the last event of this workshop. Everything else must be equal.
    return None if board is None else board.model_copy(update={"position": None})


def _clock_changes(d: Driver) -> None:
    """The pitches run over: extended, paused and resumed."""
    d.extend(5, 166)
    d.pause(167)
    d.resume(169.5)


def test_the_fold_equals_the_board_view_at_every_stage_of_the_day(
    fresh_database_url: str,
) -> None:
    stages: list[Callable[[Driver], object]] = [
        to_brainstorm,
        brainstorm,
        grouping,
        sign_ups,
        discussion,
        pitches,
        _clock_changes,
        vote,
    ]
    seen: list[tuple[int, Board]] = []
    with application(fresh_database_url) as app, board_runner(fresh_database_url) as runner:
        other = Driver(app)  # another workshop in the same log, interleaved
        d = Driver(app)
        for stage in stages:
            stage(d)
            other.brief(f"other briefing after {stage.__name__}", 0)
            runner.wait(d.position, timeout=WAIT)
            shown = runner.view.board(d.w)
            assert shown is not None
            seen.append((d.position, shown))
        log = list(read_log(app, topics=()))  # every event, those the board ignores too
    for position, shown in seen:
        folded = board_at(d.w, log, position=position)
        assert _without_position(folded) == _without_position(shown), position
    final = board_at(d.w, log)
    assert final is not None and final.results is not None
    assert final.position == max(p for p, _ in workshop_events(d.w, log))


def test_the_seed_day_at_chosen_times(fresh_database_url: str) -> None:
    with application(fresh_database_url) as app:
        d = Driver(app)
        to_brainstorm(d)
        brainstorm(d)
        grouping(d)
        sign_ups(d)
        log = list(read_log(app))

    def board(minutes: float) -> Board:
        found = board_at(d.w, log, at=at(minutes))
        assert found is not None
        return found

    early = board(3)  # briefing open, three people in
    assert early.phase is not None and early.phase.kind == PhaseKind.BRIEFING
    assert early.participants == 3 and early.idea_count() == 0
    mid = board(20)  # brainstorm, ideas 0..4 in (one a minute from +16)
    assert mid.phase is not None and mid.phase.kind == PhaseKind.BRAINSTORM
    assert [i.text for i in mid.ungrouped] == [f"idea {n}" for n in range(5)]
    assert mid.time_left(at(20)) is not None
    before_merge = board(59.5)  # Leadership still its own area
    assert "Leadership" in [a.name for a in before_merge.key_areas]
    after = board(61)  # merged into Culture, Skills renamed
    names = [a.name for a in after.key_areas]
    assert "Leadership" not in names and "Skills and careers" in names
    assert board(76).signed_up == 4 and board(73).signed_up == 1
    assert board_at(d.w, log, at=at(-1)) is None  # not scheduled yet

    with pytest.raises(ValueError):
        cut(log, position=1, at=at(1))


# ----- the demo's workshop ---------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(database_url: str) -> Iterator[tuple[Workshops, UUID]]:
    app = Workshops(env=postgres_env(database_url))
    workshop_id, _ = play_seed(app)
    yield app, workshop_id
    app.close()


def story(clock: str) -> datetime:
    return datetime.fromisoformat(f"2010-07-02T{clock}+01:00")


@pytest.mark.parametrize(
    ("clock", "kind", "participants", "ideas", "signed_up", "projects", "ballots"),
    [
        ("09:32", PhaseKind.BRIEFING, 12, 0, 0, 0, 0),
        ("09:47", PhaseKind.BRAINSTORM, 30, 12, 0, 0, 0),
        ("11:30", PhaseKind.DISCUSSION, 30, 24, 30, 7, 0),
        ("12:33", PhaseKind.VOTE, 30, 24, 30, 7, 18),
        ("12:45", PhaseKind.CLOSED, 30, 24, 30, 7, 30),
    ],
)
def test_the_demo_workshop_at_several_times(
    demo: tuple[Workshops, UUID],
    clock: str,
    kind: PhaseKind,
    participants: int,
    ideas: int,
    signed_up: int,
    projects: int,
    ballots: int,
) -> None:
    app, workshop_id = demo
    board = state_at(app, workshop_id, at=story(clock))
    assert board is not None and board.phase is not None
    assert board.phase.kind == kind and board.phase.open
    assert board.participants == participants
    assert board.idea_count() == ideas
    assert board.signed_up == signed_up
    assert len(board.projects) == projects
    assert board.ballots_cast == ballots
    assert (board.results is not None) == (kind == PhaseKind.CLOSED)
    if kind == PhaseKind.DISCUSSION:
        assert len(board.key_areas) == 5
        assert board.time_left(story(clock)).total_seconds() == 30 * 60  # type: ignore[union-attr]
        assert all(p.pitch_order is None for p in board.projects)
    if kind == PhaseKind.CLOSED:
        assert sorted(p.pitch_order or 0 for p in board.projects) == list(range(1, 8))


def test_the_demo_workshop_by_position_and_its_end_equals_the_view(
    demo: tuple[Workshops, UUID], database_url: str
) -> None:
    app, workshop_id = demo
    assert state_at(app, workshop_id, at=story("09:29")) is None
    workshop = app.load(Workshop, workshop_id, "workshop_id")
    assert workshop.vote_closed_version is not None
    close = app.position_of(workshop_id, workshop.vote_closed_version)
    at_close = state_at(app, workshop.code, position=close)
    assert at_close is not None and at_close.phase is not None
    assert at_close.phase.kind == PhaseKind.VOTE and not at_close.phase.open
    assert at_close.results is None and at_close.ballots_cast == 30
    assert at_close.position == close
    just_before = state_at(app, workshop_id, position=close - 1)
    assert just_before is not None and just_before.phase is not None
    assert just_before.phase.open

    with board_runner(database_url) as runner:
        runner.wait(app.max_position(), timeout=WAIT)
        shown = runner.view.board(workshop_id)
    assert _without_position(state_at(app, workshop_id)) == _without_position(shown)


def test_one_aggregate_at_a_past_time_or_position(demo: tuple[Workshops, UUID]) -> None:
    app, workshop_id = demo
    then = aggregate_at(app, workshop_id, at=story("11:30"))
    assert isinstance(then, Workshop)
    assert then.current_kind == PhaseKind.DISCUSSION and then.results is None
    assert aggregate_at(app, workshop_id, at=story("09:00")) is None
    events = workshop_events(workshop_id, read_log(app))
    idea_id = next(e.originator_id for _, e in events if isinstance(e, vars(Idea)["Submitted"]))
    grouped_at = next(
        p for p, e in events if e.originator_id == idea_id and isinstance(e, vars(Idea)["Grouped"])
    )
    before = aggregate_at(app, idea_id, position=grouped_at - 1)
    after = aggregate_at(app, idea_id, position=grouped_at)
    assert isinstance(before, Idea) and isinstance(after, Idea)
    assert before.key_area_id is None and after.key_area_id is not None
