"""Cross-event idea matching, built by the library's ProjectionRunner on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.projection import ProjectionRunner

from domain.agenda import PhaseKind
from projections.matching import (
    HANDLED_EVENTS,
    MATCHING_TABLES,
    MatchingProjection,
    MatchingView,
    matching_view,
)
from services.app import Workshops
from services.persistence import postgres_env

from .programme_helpers import (
    WAIT,
    Story,
    application,
    check_handled_or_ignored,
    day,
    dump_tables,
    runner_of,
    south_west,
)

# Events matching does not need (it keeps workshops and the text of their ideas):
# they only advance its position.
IGNORED = {
    "Participant.Erased",  # no names are kept here to erase
    "Owner.Registered",  # initiative owners are not matched
    "Owner.Erased",
    "Idea.LinkedToEarlier",  # matching finds candidates; the link itself is on the trail
    "Programme.Launched",
    "Programme.InitiativeRegistered",
    "Programme.CriteriaRevised",
    "Programme.Closed",
    "Initiative.Adopted",
    "Initiative.OwnerAssigned",
    "Initiative.StageChanged",
    "Initiative.MilestonePlanned",
    "Initiative.MilestoneRescheduled",
    "Initiative.MilestoneCompleted",
    "Initiative.MilestoneOverdue",
    "Initiative.ProgressReported",
    "Initiative.FlaggedStale",
    "Initiative.ReminderSent",
    "Initiative.BenefitsReviewScheduled",
    "Initiative.BenefitRecorded",
    "Initiative.FollowUpLinked",
    "Initiative.AdoptedInRegion",
    "Workshop.PhaseOpened",
    "Workshop.CriteriaAdopted",
    "Workshop.PhaseClosed",
    "Workshop.PhaseExtended",
    "Workshop.PhasePaused",
    "Workshop.PhaseResumed",
    "Workshop.BriefingPublished",
    "Workshop.BriefingDrafted",
    "Workshop.KeyAreaDefined",
    "Workshop.KeyAreaRenamed",
    "Workshop.KeyAreasMerged",
    "Workshop.GroupCapacitySet",
    "Workshop.PitchSlotStarted",
    "Workshop.PitchSlotEnded",
    "Workshop.ResultsDeclared",
    "Participant.Joined",
    "Idea.Grouped",  # grouping changes neither the text nor whether the idea stands
    "Project.Proposed",
    "Project.Revised",
    "Ballot.Cast",
    "Ballot.Revised",
    "Seat.Claimed",
    "Seat.Reclaimed",
    "Seat.Released",
    "SignUp.SignedUp",
    "SignUp.SwitchedGroup",
}
TABLES = (*MATCHING_TABLES, "matching_tracking")


def test_every_domain_event_is_handled_or_knowingly_ignored() -> None:
    """A new event type must be placed: handled by matching, or listed as ignored here.

    Handled: Workshop.Scheduled, Programme.WorkshopScheduled, and the Idea
    events that change an idea's text or whether it still stands.
    """
    check_handled_or_ignored(MatchingProjection, HANDLED_EVENTS, IGNORED)


def test_the_projection_subscribes_to_every_topic() -> None:
    assert MatchingProjection.topics == ()
    assert MatchingProjection.name == "matching"


@dataclass
class World:
    url: str
    app: Workshops
    story: Story
    runner: ProjectionRunner[Workshops, MatchingView]

    @property
    def view(self) -> MatchingView:
        return self.runner.view


@pytest.fixture
def world(fresh_database_url: str) -> Iterator[World]:
    """The south-west story, with matching caught up with it."""
    url = fresh_database_url
    with application(url) as app:
        story = south_west(app)
        with runner_of(url, MatchingProjection, MatchingView) as runner:
            runner.wait(story.position, timeout=WAIT)
            yield World(url, app, story, runner)


@pytest.mark.integration
def test_a_similar_idea_in_a_later_workshop_finds_the_earlier_one(world: World) -> None:
    s, view = world.story, world.view
    devon, cornwall = s.devon, s.cornwall

    (match,) = view.similar(cornwall.ideas["j0"])  # "A regional workshop for council chief ..."
    assert match.idea_id == devon.ideas["i0"]
    assert match.text == "Regional workshop for chief executives on shared ICT"
    assert (match.region, match.workshop_title, match.workshop_code) == (
        "Devon",  # scheduled as "devon": the programme's spelling
        "Devon ICT strategy day",
        "SW-DEVON",
    )
    assert match.workshop_id == devon.id
    assert match.starts_at == day(2010, 7, 2, 9, 30)
    assert match.submitted_at == devon.submitted["i0"]
    assert 0.6 < match.similarity < 0.7
    # Not the other programme's identical idea, nor Devon's duplicate merged into i0.

    (mentoring,) = view.similar(cornwall.ideas["j2"])
    assert mentoring.idea_id == devon.ideas["i2"]  # i5, as alike, was withdrawn


@pytest.mark.integration
def test_an_unrelated_idea_the_first_workshop_and_another_programme_find_nothing(
    world: World,
) -> None:
    s, view = world.story, world.view
    assert view.similar(s.cornwall.ideas["j3"]) == []  # bin collections: nothing like it
    # The programme's first workshop has nothing earlier to match.
    assert all(view.similar(idea) == [] for idea in s.devon.ideas.values())
    # Northumberland's idea is word for word Devon's i0, and Devon's day was earlier:
    # another programme's ideas never match, either way round.
    assert view.similar(s.northumberland.ideas["n0"]) == []
    assert view.similar(s.northumberland.ideas["n1"]) == []
    for idea in s.cornwall.ideas.values():
        found = {m.idea_id for m in view.similar(idea, limit=50, min_similarity=0.01)}
        assert not found & set(s.northumberland.ideas.values())
        assert found <= set(s.devon.ideas.values())
    assert view.similar(uuid4()) == []


@pytest.mark.integration
def test_withdrawn_merged_and_edited_ideas_are_kept_current(world: World) -> None:
    s, view = world.story, world.view
    devon, cornwall = s.devon, s.cornwall
    everything = {
        m.idea_id: m for m in view.similar(cornwall.ideas["j2"], limit=50, min_similarity=0.1)
    }
    assert devon.ideas["i5"] not in everything  # withdrawn ("Mentoring circle ...")
    everything = {
        m.idea_id: m for m in view.similar(cornwall.ideas["j0"], limit=50, min_similarity=0.1)
    }
    assert devon.ideas["i4"] not in everything  # merged into i0 as a duplicate

    # i3 was "Open data protal", then edited: matched on what it says now.
    (portal,) = view.similar(cornwall.ideas["j1"], min_similarity=0.5)
    assert portal.idea_id == devon.ideas["i3"]
    assert portal.text == "Open data portal for the region"

    # The idea asked about is set aside too: a withdrawn idea has no matches.
    assert view.similar(devon.ideas["i5"]) == []


@pytest.mark.integration
def test_matches_for_every_idea_of_a_workshop(world: World) -> None:
    s, view = world.story, world.view
    devon, cornwall = s.devon, s.cornwall
    found = view.matches_for_workshop(cornwall.id)
    assert [(x.idea_id, [m.idea_id for m in x.matches]) for x in found] == [
        (cornwall.ideas["j0"], [devon.ideas["i0"]]),
        (cornwall.ideas["j1"], [devon.ideas["i3"]]),
        (cornwall.ideas["j2"], [devon.ideas["i2"]]),
        (cornwall.ideas["j3"], []),
    ]
    assert found[0].text == "A regional workshop for council chief executives"
    for x in found:
        assert x.matches == view.similar(x.idea_id)

    # A lower threshold finds more, best first, and the limit cuts the list.
    loose = view.matches_for_workshop(cornwall.id, limit=3, min_similarity=0.1)
    for x in loose:
        assert len(x.matches) <= 3
        similarities = [m.similarity for m in x.matches]
        assert similarities == sorted(similarities, reverse=True)
        assert all(m.similarity >= 0.1 for m in x.matches)
    assert len(loose[0].matches) >= 2
    (top,) = view.matches_for_workshop(cornwall.id, limit=1, min_similarity=0.1)[:1]
    assert top.matches == loose[0].matches[:1]

    assert [len(x.matches) for x in view.matches_for_workshop(devon.id)] == [0, 0, 0, 0, 0]
    assert view.matches_for_workshop(uuid4()) == []
    with pytest.raises(ValueError):
        view.similar(cornwall.ideas["j0"], limit=0)
    with pytest.raises(ValueError):
        view.similar(cornwall.ideas["j0"], min_similarity=1.5)


@pytest.mark.integration
def test_a_later_edit_changes_the_matches(world: World) -> None:
    """Edited during the brainstorm of a third workshop: its matches follow the text."""
    s = world.story
    later = s.south_west.workshop(
        "SW-SOMERSET", "Somerset", "Somerset day", day(2010, 11, 5, 9, 30), day(2010, 10, 5)
    )
    later.to(PhaseKind.BRAINSTORM)
    later.join("Pat")
    later.idea("k0", "Pat", "Bin collection text reminders")
    world.runner.wait(world.app.max_position(), timeout=WAIT)
    (bins,) = world.view.similar(later.ideas["k0"])
    assert bins.idea_id == s.cornwall.ideas["j3"] and bins.region == "Cornwall"

    later.edit("k0", "Pat", "Mentoring for junior ICT staff")
    world.runner.wait(world.app.max_position(), timeout=WAIT)
    found = [m.idea_id for m in world.view.similar(later.ideas["k0"])]
    # Both earlier workshops: Cornwall's and Devon's mentoring ideas, other regions both.
    assert set(found) == {s.cornwall.ideas["j2"], s.devon.ideas["i2"]}


@pytest.mark.integration
def test_the_trigram_index_exists_and_serves_the_search(world: World) -> None:
    with psycopg.connect(world.url) as conn:
        (definition,) = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'matching_ideas_text_trgm'"
        ).fetchone() or ("",)
        assert "gin" in definition and "gin_trgm_ops" in definition
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET pg_trgm.similarity_threshold = 0.3")
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                "EXPLAIN SELECT id FROM matching_ideas WHERE text %% %s",
                ("Open data portal for the county",),
            ).fetchall()
        )
        assert "matching_ideas_text_trgm" in plan


@pytest.mark.integration
def test_reset_and_rebuild_from_zero_reproduce_every_row(fresh_database_url: str) -> None:
    url = fresh_database_url
    with application(url) as app:
        story = south_west(app)
        with runner_of(url, MatchingProjection, MatchingView) as runner:
            runner.wait(story.position, timeout=WAIT)
            before = dump_tables(url, TABLES)
            matches_before = runner.view.matches_for_workshop(story.cornwall.id)
        assert all(before[table] for table in TABLES)

        view = matching_view(postgres_env(url))
        try:
            view.reset()
            assert view.tracked_position() is None
            assert all(rows == [] for rows in dump_tables(url, MATCHING_TABLES).values())
            assert view.similar(story.cornwall.ideas["j0"]) == []
        finally:
            view.close()

        with runner_of(url, MatchingProjection, MatchingView) as runner:
            runner.wait(story.position, timeout=WAIT)
            after = dump_tables(url, TABLES)
            assert runner.view.matches_for_workshop(story.cornwall.id) == matches_before
    assert after == before


@pytest.mark.integration
def test_the_same_event_twice_changes_nothing(fresh_database_url: str) -> None:
    url = fresh_database_url
    with application(url) as app:
        story = south_west(app)
        notifications = app.recorder.select_notifications(1, 10_000)
        events = [(app.mapper.to_domain_event(n), Tracking(app.name, n.id)) for n in notifications]

    view = matching_view(postgres_env(url))
    try:
        projection = MatchingProjection(view)
        for event, tracking in events:
            projection.process_event(event, tracking)
        before = dump_tables(url, TABLES)
        for event, tracking in events[-3:]:
            with pytest.raises(IntegrityError):
                projection.process_event(event, tracking)
        assert dump_tables(url, TABLES) == before

        before.pop("matching_tracking")
        last = story.position
        for n, (event, _) in enumerate(events, start=1):
            projection.process_event(event, Tracking(app.name, last + n))
            again = dump_tables(url, TABLES)
            assert (app.name, last + n) in again.pop("matching_tracking")
            assert again == before, type(event).__qualname__
    finally:
        view.close()
