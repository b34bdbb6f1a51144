"""The workshop board, built by the library's ProjectionRunner on a real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.utils import get_topic

from domain import commands as c
from domain.agenda import Criterion, PhaseKind
from domain.ballot import Ballot
from domain.idea import Idea
from domain.participant import Participant
from domain.project import Project
from domain.signup import Seat, SignUp
from domain.workshop import Workshop
from projections.board import (
    BOARD_TABLES,
    HANDLED_EVENTS,
    PHASE_EXTENDED,
    Board,
    BoardProjection,
    BoardView,
    board_view,
    rebuild,
)
from services.persistence import postgres_env
from tests.services.walk import Walk

from .helpers import (
    BRAINSTORM,
    WAIT,
    Driver,
    application,
    at,
    board_runner,
    brainstorm,
    discussion,
    dump_tables,
    grouping,
    meta,
    pitches,
    seed_day,
    sign_ups,
    to_brainstorm,
)

# Events the board does not show: they only advance its position.
IGNORED = {
    "Idea.LinkedToEarlier",  # shown on the pipeline trail, not on the room's board
    "Seat.Claimed",
    "Seat.Reclaimed",
    "Seat.Released",
    "Ballot.Revised",
    "Workshop.BriefingDrafted",  # a draft for the facilitator, not shown to the room
}


def _event_classes() -> dict[str, type]:
    found = {}
    for aggregate in (Workshop, Idea, Participant, SignUp, Seat, Project, Ballot):
        for name, value in vars(aggregate).items():
            if isinstance(value, type) and issubclass(value, aggregate.Event) and name != "Event":
                found[f"{aggregate.__name__}.{name}"] = value
    return found


def test_every_domain_event_is_handled_or_knowingly_ignored() -> None:
    """A new event type must be placed: shown on the board, or listed as ignored here."""
    # Each aggregate names its own creation event, so the library's default
    # `Created` classes are never recorded.
    events = {n: cls for n, cls in _event_classes().items() if not n.endswith(".Created")}
    handled = {name for name, cls in events.items() if cls in HANDLED_EVENTS}
    assert handled | IGNORED == set(events), set(events) - handled - IGNORED
    assert not handled & IGNORED

    dispatcher = BoardProjection.__dict__["process_event"].dispatcher
    fallback = dispatcher.dispatch(object)
    for cls in HANDLED_EVENTS:
        assert dispatcher.dispatch(cls) is not fallback, cls
    for name in IGNORED:
        assert dispatcher.dispatch(events[name]) is fallback, name


def test_the_projection_subscribes_to_every_topic() -> None:
    # With a topic filter the position would stall on ignored events (see the next tests).
    assert BoardProjection.topics == ()
    assert BoardProjection.name == "board"


@pytest.mark.integration
def test_board_of_an_unknown_workshop_is_none(fresh_database_url: str) -> None:
    with application(fresh_database_url), board_runner(fresh_database_url) as runner:
        assert runner.view.board(uuid4()) is None
        assert runner.view.counts(uuid4()) is None
        assert runner.view.workshop_ids() == []


@pytest.mark.integration
def test_phase_clock_extensions_pauses_and_time_left(fresh_database_url: str) -> None:
    url = fresh_database_url
    with application(url) as app, board_runner(url) as runner:
        d = Driver(app)

        def board() -> Board:
            runner.wait(d.position, timeout=WAIT)
            found = runner.view.board(d.w)
            assert found is not None
            return found

        before = board()
        assert before.phase is None and before.ends_at is None
        assert before.time_left(at(0)) is None
        assert runner.view.workshop_ids() == [d.w]

        to_brainstorm(d)
        b = board()
        assert b.phase is not None
        assert (b.phase.index, b.phase.kind, b.phase.open) == (
            BRAINSTORM,
            PhaseKind.BRAINSTORM,
            True,
        )
        assert b.phase.opened_at == at(15) and b.phase.minutes == 30
        assert b.ends_at == at(45)
        assert b.time_left(at(20)) == timedelta(minutes=25)
        assert b.briefing is not None and b.briefing.startswith("Strategy summary")

        d.extend(5, 20, extension_id="more-time")
        position = d.position
        d.extend(5, 21, extension_id="more-time")  # a retried request records nothing
        assert d.position == position
        b = board()
        assert b.phase is not None and b.phase.minutes == 35
        assert b.ends_at == at(50)

        d.pause(30)
        b = board()
        assert b.phase is not None and b.phase.paused_at == at(30)
        assert b.ends_at is None
        # The clock is frozen: what was left when the pause began.
        assert b.time_left(at(31)) == b.time_left(at(99)) == timedelta(minutes=20)

        d.resume(32)
        b = board()
        assert b.phase is not None and b.phase.paused_at is None
        assert b.phase.minutes == 37  # the pause moved the end
        assert b.ends_at == at(52)
        assert b.time_left(at(40)) == timedelta(minutes=12)
        assert b.time_left(at(60)) == timedelta(0)  # never negative

        d.close(BRAINSTORM, 52)
        b = board()
        assert b.phase is not None and not b.phase.open
        assert b.ends_at is None and b.time_left(at(52)) is None


@pytest.mark.integration
def test_ideas_per_key_area_with_duplicates_withdrawals_and_merged_areas(
    fresh_database_url: str,
) -> None:
    url = fresh_database_url
    with application(url) as app, board_runner(url) as runner:
        d = Driver(app)
        to_brainstorm(d)
        brainstorm(d)
        runner.wait(d.position, timeout=WAIT)
        b = runner.view.board(d.w)
        assert b is not None
        ids = {v: k for k, v in d.ideas.items()}

        # During the brainstorm every live idea is ungrouped, in submission order.
        assert [ids[i.id] for i in b.ungrouped] == ["i0", "i1", "i2", "i3", "i4"]
        by_key = {ids[i.id]: i for i in b.ungrouped}
        assert by_key["i1"].duplicates == [d.ideas["i5"]]  # i5 was merged into i1
        assert by_key["i3"].text == "idea 3, sharpened"
        assert by_key["i0"].author_id == d.people["Ann"]
        assert b.key_areas == [] and b.idea_count() == 5

        grouping(d)
        runner.wait(d.position, timeout=WAIT)
        b = runner.view.board(d.w)
        assert b is not None
        areas = {a.name: a for a in b.key_areas}
        # Leadership was merged into Culture; Skills was renamed.
        assert list(areas) == ["Cloud", "Culture", "Skills and careers"]
        assert [ids[i.id] for i in areas["Cloud"].ideas] == ["i0"]
        assert [ids[i.id] for i in areas["Culture"].ideas] == ["i1", "i3"]
        assert areas["Culture"].merged_from == [d.areas["Leadership"]]
        assert areas["Culture"].ideas[1].key_area_id == d.areas["Leadership"]  # as grouped
        assert areas["Culture"].ideas[0].duplicates == [d.ideas["i5"]]
        assert [ids[i.id] for i in areas["Skills and careers"].ideas] == ["i2"]
        assert areas["Skills and careers"].id == d.areas["Skills"]
        assert [ids[i.id] for i in b.ungrouped] == ["i4"]
        assert areas["Cloud"].capacity == 2 and areas["Culture"].capacity is None
        # Withdrawn (i6) and duplicate (i5) ideas appear nowhere as ideas.
        shown = {i.id for a in b.key_areas for i in a.ideas} | {i.id for i in b.ungrouped}
        assert d.ideas["i5"] not in shown and d.ideas["i6"] not in shown

        counts = runner.view.counts(d.w)
        assert counts is not None
        assert (counts.ideas, counts.withdrawn, counts.merged, counts.key_areas) == (5, 1, 1, 3)


@pytest.mark.integration
def test_sign_ups_per_group_and_read_your_writes_after_a_seat(fresh_database_url: str) -> None:
    url = fresh_database_url
    with application(url) as app, board_runner(url) as runner:
        d = Driver(app)
        to_brainstorm(d)
        brainstorm(d)
        grouping(d)
        d.next_phase(3, 72)
        d.sign_up("Ann", "Cloud", 73)
        d.sign_up("Bob", "Cloud", 74)

        # The sign-up's last event is a Seat claim, which the board ignores; its
        # position must still be reached, or read-your-writes would time out.
        last = app.recorder.select_notifications(d.position, 1)[0]
        assert last.topic == get_topic(_event_classes()["Seat.Claimed"])
        runner.wait(d.position, timeout=WAIT)
        b = runner.view.board(d.w)
        assert b is not None
        cloud = next(a for a in b.key_areas if a.id == d.areas["Cloud"])
        assert (cloud.signed_up, cloud.capacity, cloud.places_left) == (2, 2, 0)

        d.sign_up("Cat", "Culture", 75)
        d.sign_up("Dan", "Skills", 76)
        d.switch("Bob", "Culture", 77)  # frees a Cloud seat (a Seat.Released event)
        runner.wait(d.position, timeout=WAIT)
        b = runner.view.board(d.w)
        assert b is not None
        groups = {a.name: (a.signed_up, a.places_left) for a in b.key_areas}
        assert groups == {"Cloud": (1, 1), "Culture": (2, None), "Skills and careers": (1, None)}
        assert (b.signed_up, b.participants) == (4, 5)  # Eve has not signed up


@pytest.mark.integration
def test_projects_pitch_order_and_the_running_pitch(fresh_database_url: str) -> None:
    url = fresh_database_url
    with application(url) as app, board_runner(url) as runner:
        d = Driver(app)
        to_brainstorm(d)
        brainstorm(d)
        grouping(d)
        sign_ups(d)
        discussion(d)
        runner.wait(d.position, timeout=WAIT)
        b = runner.view.board(d.w)
        assert b is not None
        keys = {v: k for k, v in d.projects.items()}
        # Before the pitches: in the order proposed, none pitched.
        assert [keys[p.id] for p in b.projects] == ["A", "B", "C"]
        assert all(p.pitch_order is None for p in b.projects)
        project_c = b.projects[2]
        assert project_c.title == "Mentoring scheme"  # revised
        assert project_c.proposers == 2
        assert project_c.proposer_ids == [d.people["Dan"], d.people["Eve"]]
        assert b.projects[1].idea_ids == [d.ideas["i1"], d.ideas["i3"]]
        assert b.projects[1].key_area_id == d.areas["Culture"]

        d.next_phase(5, 157)
        app.start_pitch(c.StartPitch(workshop_id=d.w, project_id=d.projects["B"]), meta(158))
        runner.wait(app.max_position(), timeout=WAIT)
        b = runner.view.board(d.w)
        assert b is not None and b.pitching == d.projects["B"]
        app.end_pitch(c.EndPitch(workshop_id=d.w, project_id=d.projects["B"]), meta(160))
        d.pitch("A", 161)
        d.pitch("C", 164)
        runner.wait(d.position, timeout=WAIT)
        b = runner.view.board(d.w)
        assert b is not None and b.pitching is None
        assert [(keys[p.id], p.pitch_order) for p in b.projects] == [("B", 1), ("A", 2), ("C", 3)]
        assert [p.pitched_at for p in b.projects] == [at(158), at(161), at(164)]


@pytest.mark.integration
def test_results_and_the_closed_workshop(fresh_database_url: str) -> None:
    url = fresh_database_url
    with application(url) as app, board_runner(url) as runner:
        d = Driver(app)
        to_brainstorm(d)
        brainstorm(d)
        grouping(d)
        sign_ups(d)
        discussion(d)
        pitches(d)
        d.next_phase(6, 177)
        d.vote("Ann", ["B"], 178)
        runner.wait(d.position, timeout=WAIT)
        b = runner.view.board(d.w)
        assert b is not None and b.results is None and b.ballots_cast == 1
        assert b.phase is not None and b.phase.kind == PhaseKind.VOTE

    with application(url) as app, board_runner(url) as runner:
        d2 = Driver(app)  # another workshop on the same board
        results = seed_day(d2)
        runner.wait(d2.position, timeout=WAIT)
        b = runner.view.board(d2.w)
        assert b is not None
        assert b.results == results
        assert b.results["winners"] == [str(d2.projects["B"])]
        assert b.ballots_cast == 5  # Eve's revised ballot is still one ballot
        assert b.phase is not None and b.phase.kind == PhaseKind.CLOSED and b.phase.open
        assert b.ends_at is None and b.time_left(at(200)) is None
        assert b.position == d2.position
        assert set(runner.view.workshop_ids()) == {d.w, d2.w}
        first = runner.view.board(d.w)
        assert first is not None and first.results is None  # untouched by the other day


@pytest.mark.integration
def test_reset_and_rebuild_reproduce_every_row(fresh_database_url: str) -> None:
    url = fresh_database_url
    with application(url) as app:
        with board_runner(url) as runner:
            d = Driver(app)
            seed_day(d)
            other = Driver(app)
            to_brainstorm(other)
            runner.wait(other.position, timeout=WAIT)
            before = dump_tables(url)
            board_before = runner.view.board(d.w)
        assert all(before[table] for table in BOARD_TABLES)

        view = board_view(postgres_env(url))
        try:
            rebuild(view)
            assert view.max_tracking_id(app.name) is None
            assert view.tracked_position() is None
            emptied = dump_tables(url)
            assert all(emptied[table] == [] for table in BOARD_TABLES)
            assert view.board(d.w) is None
        finally:
            view.close()

        with board_runner(url) as runner:
            runner.wait(other.position, timeout=WAIT)
            after = dump_tables(url)
            assert runner.view.board(d.w) == board_before
    assert after == before


@pytest.mark.integration
def test_the_same_event_twice(fresh_database_url: str) -> None:
    """Same tracking: rejected by the tracking table (IntegrityError), rows unchanged.

    Same event under a later position (as if tracking were lost): accepted,
    and the per-stream version guard leaves every row as it was; only the
    view's position moves.
    """
    url = fresh_database_url
    with application(url) as app:
        d = Driver(app)
        to_brainstorm(d)
        brainstorm(d)
        d.extend(5, 20)  # += minutes: not idempotent without the guard
        d.pause(30)
        d.resume(32)  # still in the brainstorm: a double-applied extension would show
        notifications = app.recorder.select_notifications(1, 1000)
        events = [(app.mapper.to_domain_event(n), Tracking(app.name, n.id)) for n in notifications]

        view: BoardView = board_view(postgres_env(url))
        try:
            projection = BoardProjection(view)
            for event, tracking in events:
                projection.process_event(event, tracking)
            before = dump_tables(url)
            board_before = view.board(d.w)
            assert board_before is not None and board_before.phase is not None
            assert board_before.phase.minutes == 37

            for event, tracking in events:
                with pytest.raises(IntegrityError):
                    projection.process_event(event, tracking)
            assert dump_tables(url) == before

            # Each event again on its own, under a later position.
            before.pop("board_tracking")
            last = events[-1][1].notification_id
            for n, (event, _) in enumerate(events, start=1):
                projection.process_event(event, Tracking(app.name, last + n))
                again = dump_tables(url)
                assert (app.name, last + n) in again.pop("board_tracking")
                assert again == before, type(event).__qualname__
            assert view.board(d.w) == board_before.model_copy(
                update={"position": last + len(events)}
            )

            # The view's own write methods say whether anything changed.
            extended = next(e for e, _ in events if isinstance(e, PHASE_EXTENDED))
            fresh = Tracking(app.name, last + len(events) + 1)
            changed = view.extend_phase(
                fresh, d.w, extended.originator_version, minutes=extended.minutes
            )
            assert changed is False
        finally:
            view.close()


@pytest.mark.integration
def test_a_new_workshop_on_the_board(fresh_database_url: str) -> None:
    with application(fresh_database_url) as app, board_runner(fresh_database_url) as runner:
        d = Driver(app)
        runner.wait(d.position, timeout=WAIT)
        assert all(isinstance(i, UUID) for i in runner.view.workshop_ids())
        b = runner.view.board(d.w)
        assert b is not None
        assert (b.code, b.region, b.venue, b.starts_at) == (d.code, "South West", "Exeter", at(0))
        assert b.agenda.phases[BRAINSTORM].minutes == 30
        assert b.voting.method == "approval"
        assert b.participants == 0 and b.projects == [] and b.results is None


@pytest.mark.integration
def test_criteria_adopted_from_a_programme_show_on_the_board(fresh_database_url: str) -> None:
    with application(fresh_database_url) as app, board_runner(fresh_database_url) as runner:
        walk = Walk(app)
        workshop = walk.workshop
        workshop.adopt_criteria(2, (Criterion(name="low cost", weight=3),), walk.meta())
        position = app.record(workshop)
        runner.wait(position, timeout=10)
        board = runner.view.board(walk.id)
        assert board is not None
        assert [(c.name, c.weight) for c in board.voting.criteria] == [("low cost", 3.0)]
