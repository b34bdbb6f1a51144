"""The programme pipeline, built by the library's ProjectionRunner on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from domain.initiative import Rag, Stage
from projections.pipeline import (
    HANDLED_EVENTS,
    PIPELINE_TABLES,
    PipelineProjection,
    PipelineView,
    pipeline_view,
)
from projections.pipeline_models import TrailKind
from services.app import Workshops
from services.persistence import postgres_env

from .programme_helpers import (
    WAIT,
    Manager,
    Story,
    application,
    check_handled_or_ignored,
    day,
    dump_tables,
    runner_of,
    south_west,
)

# Events the pipeline does not show: they only advance its position.
IGNORED = {
    "Participant.Erased",  # no participant names are kept here to erase
    "Workshop.PhaseOpened",
    "Workshop.CriteriaAdopted",
    "Workshop.PhaseClosed",
    "Workshop.PhaseExtended",
    "Workshop.PhasePaused",
    "Workshop.PhaseResumed",
    "Workshop.BriefingPublished",
    "Workshop.BriefingDrafted",
    "Workshop.KeyAreasMerged",  # the trail names the area an idea was grouped under
    "Workshop.GroupCapacitySet",
    "Workshop.PitchSlotEnded",  # the trail has the pitch when it starts
    "Participant.Joined",
    "SignUp.SignedUp",
    "SignUp.SwitchedGroup",
    "Seat.Claimed",
    "Seat.Reclaimed",
    "Seat.Released",
    "Ballot.Cast",  # the result carries the support; ballots stay out of the pipeline
    "Ballot.Revised",
    "Programme.InitiativeRegistered",  # Initiative.Adopted says it all
    "Programme.CriteriaRevised",
}
TABLES = (*PIPELINE_TABLES, "pipeline_tracking")


def test_every_domain_event_is_handled_or_knowingly_ignored() -> None:
    """A new event type must be placed: handled by the pipeline, or listed as ignored here."""
    check_handled_or_ignored(PipelineProjection, HANDLED_EVENTS, IGNORED)


def test_the_projection_subscribes_to_every_topic() -> None:
    assert PipelineProjection.topics == ()
    assert PipelineProjection.name == "pipeline"


@dataclass
class World:
    url: str
    app: Workshops
    story: Story
    view: PipelineView


@pytest.fixture
def world(fresh_database_url: str) -> Iterator[World]:
    """The south-west story, with the pipeline caught up with it."""
    url = fresh_database_url
    with application(url) as app:
        story = south_west(app)
        with runner_of(url, PipelineProjection, PipelineView) as runner:
            runner.wait(story.position, timeout=WAIT)
            yield World(url, app, story, runner.view)


@pytest.mark.integration
def test_programmes_and_their_workshops(world: World) -> None:
    s, view = world.story, world.view
    listed = view.programmes()
    assert [p.name for p in listed] == ["South West ICT", "North East digital"]
    sw = listed[0]
    assert (sw.id, sw.sponsor, sw.regions) == (
        s.south_west.id,
        "South West ICT board",
        ["Devon", "Cornwall", "Somerset"],
    )
    assert (sw.workshop_count, sw.initiative_count, sw.closed) == (2, 4, False)
    assert [(m.key, m.unit) for m in sw.measures][:2] == [
        ("money_saved", "GBP"),
        ("staff_time_saved", "hours"),
    ]
    assert (listed[1].workshop_count, listed[1].initiative_count) == (1, 0)

    programme = view.programme(s.south_west.id)
    assert programme is not None
    devon, cornwall = programme.workshops
    # Scheduled as "devon": shown as the programme spells the region.
    assert (devon.code, devon.region, devon.title) == (
        "SW-DEVON",
        "Devon",
        "Devon ICT strategy day",
    )
    assert devon.starts_at == day(2010, 7, 2, 9, 30)
    assert devon.winners == [s.devon.projects["A"]]
    assert devon.ideas == 5  # seven submitted, one merged, one withdrawn
    assert cornwall.region == "Cornwall"
    assert set(cornwall.winners) == {s.cornwall.projects["D"], s.cornwall.projects["E"]}
    assert view.programme(uuid4()) is None


@pytest.mark.integration
def test_initiatives_by_stage_and_region(world: World) -> None:
    s, view = world.story, world.view
    i = s.initiatives
    pid = s.south_west.id
    everything = view.initiatives(pid)
    # In the order adopted: Cornwall's tied winners in the result's order (by title).
    assert [r.id for r in everything] == [i["I1"], i["I3"], i["I2"], i["I4"]]
    assert [r.stage for r in everything] == [
        Stage.DELIVERED,
        Stage.IN_DELIVERY,
        Stage.DELIVERED,
        Stage.PROPOSED,
    ]
    assert [r.id for r in view.initiatives(pid, stage=Stage.DELIVERED)] == [i["I1"], i["I2"]]
    assert [r.id for r in view.initiatives(pid, stage="in_delivery")] == [i["I3"]]
    assert view.initiatives(pid, stage=Stage.DROPPED) == []
    # I1 was adopted in Devon, then in Cornwall too.
    assert [r.id for r in view.initiatives(pid, region="Cornwall")] == [i["I1"], i["I3"], i["I2"]]
    assert [r.id for r in view.initiatives(pid, region="devon")] == [i["I1"]]
    assert [r.id for r in view.initiatives(pid, region="Somerset")] == [i["I4"]]
    assert [r.id for r in view.initiatives(pid, stage=Stage.DELIVERED, region="Cornwall")] == [
        i["I1"],
        i["I2"],
    ]
    assert view.initiatives(s.north_east.id) == []


@pytest.mark.integration
def test_one_initiative_with_milestones_progress_benefits_and_follow_ups(world: World) -> None:
    s, view = world.story, world.view
    one = view.initiative(s.initiatives["I1"])
    assert one is not None
    assert (one.title, one.owner, one.regions) == (
        "Regional CEO workshop",
        "Jo Bloggs",
        ["Devon", "Cornwall"],
    )
    assert one.summary == "Regional CEO workshop: the group's plan"
    assert one.origin.kind == "project"
    assert one.origin.project_id == s.devon.projects["A"]
    assert one.origin.workshop_id == s.devon.id
    assert one.origin.idea_ids == [s.devon.ideas["i0"], s.devon.ideas["i6"]]
    assert (one.adopted_at, one.delivered_at) == (day(2010, 7, 5), day(2011, 1, 14, 12))
    assert one.review_due == day(2011, 7, 1)
    assert one.progress is not None
    assert (one.progress.percent, one.progress.status, one.progress.note) == (
        90,
        Rag.GREEN,
        "Workshop held in Truro",
    )
    assert one.progress.at == one.last_report_at == day(2010, 11, 15)
    assert not one.stale

    m = s.milestones
    assert [(x.id, x.title) for x in one.milestones] == [
        (m["M1"], "Book the venue"),
        (m["M2"], "Hold the CEO workshop"),
        (m["M3"], "Write up outcomes"),
    ]
    m2 = one.milestones[1]
    assert (m2.due, m2.completed_at) == (day(2010, 10, 29), day(2010, 10, 28))
    assert not m2.overdue_flagged  # flagged for 30 September, then rescheduled
    assert all(not x.overdue_at(day(2011, 6, 1)) for x in one.milestones)  # all completed

    assert [(b.measure, b.amount, b.unit) for b in one.benefits] == [
        ("staff_time_saved", 300, "hours"),
        ("money_saved", 12000, "GBP"),
        ("money_saved", 3000.5, "GBP"),
    ]
    assert one.benefits[1].evidence == "Two data centres closed"
    assert [(f.workshop_id, f.title, f.region) for f in one.follow_ups] == [
        (s.cornwall.id, "Cornwall ICT strategy day", "Cornwall")
    ]

    manual = view.initiative(s.initiatives["I4"])
    assert manual is not None
    assert manual.origin.kind == "manual" and manual.origin.idea_ids == []
    assert manual.origin.reason == "Carried over from the 2009 plan"
    assert (manual.regions, manual.owner, manual.progress) == (["Somerset"], None, None)
    assert view.initiative(uuid4()) is None


@pytest.mark.integration
def test_summary_at_a_given_moment(world: World) -> None:
    s, view = world.story, world.view
    i, m = s.initiatives, s.milestones
    summary = view.summary(s.south_west.id, now=day(2010, 11, 1))
    assert summary is not None
    assert summary.initiatives == 4
    assert summary.by_stage == {
        Stage.PROPOSED: 1,
        Stage.APPROVED: 0,
        Stage.IN_DELIVERY: 1,
        Stage.DELIVERED: 2,
        Stage.EVALUATED: 0,
        Stage.PAUSED: 0,
        Stage.DROPPED: 0,
    }
    assert summary.by_region == {"Devon": 1, "Cornwall": 3, "Somerset": 1}

    # Both of I3's milestones are past due on 1 November; one was flagged.
    assert [(o.initiative_id, o.milestone_id, o.flagged) for o in summary.overdue] == [
        (i["I3"], m["N1"], True),
        (i["I3"], m["N2"], False),
    ]
    assert summary.overdue[0].overdue_by == day(2010, 11, 1) - day(2010, 10, 15)
    assert summary.overdue[0].owner == "Lou Grant"
    # On 10 October neither is past due; the flagged one is still listed.
    earlier = view.summary(s.south_west.id, now=day(2010, 10, 10))
    assert earlier is not None
    assert [(o.milestone_id, o.flagged, o.overdue_by) for o in earlier.overdue] == [
        (m["N1"], True, timedelta(0))
    ]

    # I2 was flagged stale, then reported: only I3 is still stale.
    assert [(x.initiative_id, x.last_report_at) for x in summary.stale] == [(i["I3"], None)]

    assert [(b.measure, b.unit, b.total, b.records) for b in summary.benefits] == [
        ("money_saved", "GBP", 20000.5, 3),
        ("staff_time_saved", "hours", 300, 1),
        ("service_quality", "points", 0, 0),
        ("people_involved", "people", 0, 0),
    ]

    # From the first idea of the winning project to delivery; I4 came from no idea.
    first_devon = s.devon.submitted["i0"]  # i6 came later
    first_cornwall = s.cornwall.submitted["j1"]
    i1_time = day(2011, 1, 14, 12) - first_devon
    i2_time = day(2010, 12, 1) - first_cornwall
    assert [(t.initiative_id, t.first_idea_at, t.lead_time) for t in summary.lead_times] == [
        (i["I2"], first_cornwall, i2_time),
        (i["I1"], first_devon, i1_time),
    ]
    assert summary.median_lead_time == (i1_time + i2_time) / 2
    assert summary.position == s.position

    other = view.summary(s.north_east.id, now=day(2010, 11, 1))
    assert other is not None
    assert other.initiatives == 0 and other.median_lead_time is None
    assert other.by_region == {"Northumberland": 0, "Durham": 0}
    assert view.summary(uuid4(), now=day(2010, 11, 1)) is None
    with pytest.raises(ValueError):
        view.summary(s.south_west.id, now=day(2010, 11, 1).replace(tzinfo=None))


@pytest.mark.integration
def test_the_trail_from_the_first_idea_to_the_latest_benefit(world: World) -> None:
    s, view = world.story, world.view
    trail = view.trail(s.initiatives["I1"])
    k = TrailKind
    assert [e.kind for e in trail] == [
        k.IDEA_SUBMITTED,  # i0
        k.IDEA_SUBMITTED,  # i6
        k.DUPLICATE_MERGED,  # i4 into i0
        k.IDEA_GROUPED,
        k.IDEA_GROUPED,
        k.PROJECT_PROPOSED,
        k.PROJECT_REVISED,
        k.PITCHED,
        k.RESULTS_DECLARED,
        k.ADOPTED,
        k.OWNER_ASSIGNED,
        k.STAGE_CHANGED,
        k.MILESTONE_PLANNED,
        k.MILESTONE_PLANNED,
        k.MILESTONE_PLANNED,
        k.STAGE_CHANGED,
        k.MILESTONE_COMPLETED,
        k.PROGRESS_REPORTED,
        k.FOLLOW_UP_LINKED,
        k.MILESTONE_OVERDUE,
        k.REMINDER_SENT,
        k.MILESTONE_RESCHEDULED,
        k.MILESTONE_COMPLETED,
        k.ADOPTED_IN_REGION,
        k.PROGRESS_REPORTED,
        k.MILESTONE_COMPLETED,
        k.BENEFIT_RECORDED,
        k.STAGE_CHANGED,
        k.REVIEW_SCHEDULED,
        k.BENEFIT_RECORDED,
        k.BENEFIT_RECORDED,
    ]
    positions = [e.position for e in trail]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert positions[-1] == s.position  # the latest benefit is the last act of the story

    first, last = trail[0], trail[-1]
    assert first.subject == "idea" and first.subject_id == s.devon.ideas["i0"]
    assert first.at == s.devon.submitted["i0"] and first.actor == "participant:ann"
    assert first.text == 'Idea submitted: "Regional workshop for chief executives on shared ICT"'
    assert last.text == "Benefit recorded: Money saved, 3,000.50 GBP. Evidence: Licences pooled"

    texts = {e.kind: e.text for e in trail}  # the last of each kind
    assert (
        texts[k.DUPLICATE_MERGED]
        == 'Duplicate merged into this idea: "Chief executives\' away day"'
    )
    assert texts[k.IDEA_GROUPED] == 'Idea grouped under key area "Leadership"'
    assert texts[k.RESULTS_DECLARED] == (
        'Results declared: "Regional CEO workshop" won with 80% support (4 of 5 ballots), total 4'
    )
    assert texts[k.ADOPTED] == (
        'Adopted as an initiative in Devon: "Regional CEO workshop" from "Devon ICT strategy day"'
    )
    assert texts[k.MILESTONE_RESCHEDULED] == (
        'Milestone rescheduled: "Hold the CEO workshop", due 2010-10-29 (was 2010-09-30):'
        " Venue moved to Truro"
    )
    assert (
        texts[k.MILESTONE_OVERDUE] == 'Milestone overdue: "Hold the CEO workshop", due 2010-09-30'
    )
    assert texts[k.REMINDER_SENT] == (
        "Reminder (milestone_overdue) sent to Jo Bloggs: Hold the CEO workshop"
    )
    assert texts[k.STAGE_CHANGED] == "Stage moved from in delivery to delivered"
    assert texts[k.FOLLOW_UP_LINKED] == (
        'Follow-up workshop linked: "Cornwall ICT strategy day" (Cornwall, 2010-09-10)'
    )
    assert texts[k.ADOPTED_IN_REGION] == "Adopted in Cornwall too"
    # Nothing from the ideas and projects the initiative did not come from.
    devon_others = {s.devon.ideas[key] for key in ("i1", "i2", "i3", "i5")}
    assert not {e.subject_id for e in trail} & devon_others

    # A tie: both winners say so; the stale flag is in the trail too.
    i3 = view.trail(s.initiatives["I3"])
    result = next(e for e in i3 if e.kind == k.RESULTS_DECLARED)
    assert result.text == (
        'Results declared: "Mentoring network" won (tied) with 50% support'
        " (2 of 4 ballots), total 2"
    )
    assert i3[0].subject_id == s.cornwall.ideas["j2"]
    stale = [e for e in i3 if e.kind == k.FLAGGED_STALE]
    assert [e.text for e in stale] == ["Flagged stale: no progress report since adoption"]

    manual = view.trail(s.initiatives["I4"])
    assert [e.kind for e in manual] == [k.ADOPTED]
    assert manual[0].text == (
        'Added by the programme in Somerset: "Shared service desk"'
        " (Carried over from the 2009 plan)"
    )
    assert view.trail(uuid4()) == []


@pytest.mark.integration
def test_reset_and_rebuild_from_zero_reproduce_every_row(fresh_database_url: str) -> None:
    url = fresh_database_url
    with application(url) as app:
        story = south_west(app)
        with runner_of(url, PipelineProjection, PipelineView) as runner:
            runner.wait(story.position, timeout=WAIT)
            before = dump_tables(url, TABLES)
            summary_before = runner.view.summary(story.south_west.id, now=day(2010, 11, 1))
            trail_before = runner.view.trail(story.initiatives["I1"])
        assert all(before[table] for table in TABLES)

        view = pipeline_view(postgres_env(url))
        try:
            view.reset()
            assert view.tracked_position() is None
            assert all(rows == [] for rows in dump_tables(url, PIPELINE_TABLES).values())
            assert view.programmes() == [] and view.trail(story.initiatives["I1"]) == []
        finally:
            view.close()

        with runner_of(url, PipelineProjection, PipelineView) as runner:
            runner.wait(story.position, timeout=WAIT)
            after = dump_tables(url, TABLES)
            assert runner.view.summary(story.south_west.id, now=day(2010, 11, 1)) == summary_before
            assert runner.view.trail(story.initiatives["I1"]) == trail_before
    assert after == before


@pytest.mark.integration
def test_the_same_event_twice_changes_nothing(fresh_database_url: str) -> None:
    """Same tracking: rejected (IntegrityError), rows unchanged. Same event, later
    position (as if tracking were lost): the stream's version guard keeps every row."""
    url = fresh_database_url
    with application(url) as app:
        story = south_west(app)
        notifications = app.recorder.select_notifications(1, 10_000)
        events = [(app.mapper.to_domain_event(n), Tracking(app.name, n.id)) for n in notifications]
    assert events[-1][1].notification_id == story.position

    view = pipeline_view(postgres_env(url))
    try:
        projection = PipelineProjection(view)
        for event, tracking in events:
            projection.process_event(event, tracking)
        before = dump_tables(url, TABLES)
        trail_before = view.trail(story.initiatives["I1"])

        for event, tracking in events[-5:]:
            with pytest.raises(IntegrityError):
                projection.process_event(event, tracking)
        assert dump_tables(url, TABLES) == before

        before.pop("pipeline_tracking")
        last = story.position
        for n, (event, _) in enumerate(events, start=1):
            projection.process_event(event, Tracking(app.name, last + n))
            again = dump_tables(url, TABLES)
            assert (app.name, last + n) in again.pop("pipeline_tracking")
            assert again == before, type(event).__qualname__
        assert view.trail(story.initiatives["I1"]) == trail_before
    finally:
        view.close()


@pytest.mark.integration
def test_owners_are_named_in_one_row_and_resolved_when_read(fresh_database_url: str) -> None:
    """Trail lines keep owner ids; the names are filled in from `pipeline_owners` on reading."""
    with application(fresh_database_url) as app:
        sw = Manager(app, "Owners 2010", ["Devon"], day(2010, 6, 1))
        i = sw.add("Shared desk", "Devon", "Board", day(2010, 6, 2))
        sw.owner(i, "Ann {Carew} <ann@example.org>", day(2010, 6, 3))
        sw.remind(i, "stale", "no {report} yet", day(2010, 6, 4))
        sw.owner(i, "Bob", day(2010, 6, 5))
        with runner_of(fresh_database_url, PipelineProjection, PipelineView) as runner:
            runner.wait(app.max_position(), timeout=WAIT)
            view = runner.view
            row = view.initiative(i)
            lines = [e.text for e in view.trail(i) if e.kind != TrailKind.ADOPTED]
            owners = dump_tables(fresh_database_url, ["pipeline_owners"])["pipeline_owners"]
    assert row is not None and row.owner == "Bob" and row.owner_id is not None
    assert lines == [
        "Owner: Ann {Carew}",
        "Reminder (stale) sent to Ann {Carew}: no {report} yet",
        "Owner: Bob (was Ann {Carew})",
    ]
    assert sorted(r[2] for r in owners) == ["Ann {Carew}", "Bob"]  # the only copies
