"""The audit trail, built by the library's ProjectionRunner on a real PostgreSQL."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import Tracking

from domain import commands as c
from domain.agenda import PhaseKind
from domain.meta import Meta
from projections.audit_trail import (
    AUDIT_TABLES,
    CSV_COLUMNS,
    SUBJECTS,
    AuditTrailProjection,
    AuditTrailView,
    TrailRow,
    event_id,
    summary_of,
    write_csv,
    write_jsonl,
)
from services.app import Workshops
from tests.services.walk import Walk

from .programme_helpers import (
    WAIT,
    Story,
    application,
    day,
    domain_event_classes,
    dump_tables,
    runner_of,
    south_west,
)

TABLES = (*AUDIT_TABLES, "audit_trail_tracking")
W, P, IN, K, G = "workshop_id", "participant_id", "initiative_id", "key_area_id", "programme_id"

# The subjects an event names on its own (a stream of its own, nothing inherited).
# A new event type needs no code in the projection, only its line here.
STANDALONE: dict[str, set[str]] = {
    "Workshop.Scheduled": {W, G},
    "Workshop.PhaseOpened": {W},
    "Workshop.CriteriaAdopted": {W},
    "Workshop.PhaseClosed": {W},
    "Workshop.PhaseExtended": {W},
    "Workshop.PhasePaused": {W},
    "Workshop.PhaseResumed": {W},
    "Workshop.BriefingPublished": {W},
    "Workshop.BriefingDrafted": {W},
    "Workshop.KeyAreaDefined": {W, K},
    "Workshop.KeyAreaRenamed": {W, K},
    "Workshop.KeyAreasMerged": {W, K},
    "Workshop.GroupCapacitySet": {W, K},
    "Workshop.PitchSlotStarted": {W},
    "Workshop.PitchSlotEnded": {W},
    "Workshop.ResultsDeclared": {W},
    "Idea.Submitted": {W, P},
    "Idea.Edited": set(),
    "Idea.Withdrawn": set(),
    "Idea.Grouped": {K},
    "Idea.MergedAsDuplicate": set(),
    "Idea.LinkedToEarlier": set(),
    "Participant.Joined": {W, P},
    "Participant.Erased": {P},
    "SignUp.SignedUp": {W, P, K},
    "SignUp.SwitchedGroup": {K},
    "Seat.Claimed": {K, P},
    "Seat.Reclaimed": {P},
    "Seat.Released": set(),
    "Project.Proposed": {W, K},
    "Project.Revised": set(),
    "Ballot.Cast": {W, P},
    "Ballot.Revised": set(),
    "Programme.Launched": {G},
    "Programme.WorkshopScheduled": {G, W},
    "Programme.InitiativeRegistered": {G, IN},
    "Programme.CriteriaRevised": {G},
    "Programme.Closed": {G},
    "Initiative.Adopted": {IN, G, W},
    "Initiative.OwnerAssigned": {IN},
    "Initiative.StageChanged": {IN},
    "Initiative.MilestonePlanned": {IN},
    "Initiative.MilestoneRescheduled": {IN},
    "Initiative.MilestoneCompleted": {IN},
    "Initiative.MilestoneOverdue": {IN},
    "Initiative.ProgressReported": {IN},
    "Initiative.FlaggedStale": {IN},
    "Initiative.ReminderSent": {IN},
    "Initiative.BenefitsReviewScheduled": {IN},
    "Initiative.BenefitRecorded": {IN},
    "Initiative.FollowUpLinked": {IN, W},
    "Initiative.AdoptedInRegion": {IN},
    "Owner.Registered": {G},
    "Owner.Erased": set(),
}

# The subjects of events recorded by the application (own, inherited and derived).
IN_CONTEXT: dict[str, set[str]] = {
    "Idea.Submitted": {W, P, G},
    "Idea.Edited": {W, P, G},
    "Idea.Withdrawn": {W, P, G},
    "Idea.Grouped": {W, P, K, G},
    "Idea.MergedAsDuplicate": {W, P, G},  # merged during the brainstorm, before grouping
    "Participant.Joined": {W, P, G},
    "Project.Proposed": {W, K, G},
    "Project.Revised": {W, K, G},
    "Ballot.Cast": {W, P, G},
    "Workshop.PhaseOpened": {W, G},
    "Workshop.KeyAreaDefined": {W, K, G},
    "Initiative.OwnerAssigned": {IN, G},
    "Initiative.Adopted": {IN, G, W},
    "Programme.Launched": {G},
}


def _sample(name: str, annotation: Any, ids: dict[str, Any]) -> Any:
    """A value for an event field, by its name first and its type second."""
    if name in ids:
        return ids[name]
    text = str(annotation)
    if "UUID" in text:
        return uuid4()
    if "datetime" in text:
        return day(2010, 7, 2)
    if "Meta" in text:
        return Meta(
            actor="tester", at=day(2010, 7, 2), correlation_id=uuid4(), causation_id=uuid4()
        )
    if "dict" in text:
        return {}
    if "list" in text:
        return []
    if "float" in text:
        return 1.0
    if "int" in text:
        return 1
    return "x"


def _standalone_event(cls: type, ids: dict[str, Any]) -> Any:
    values = {f.name: _sample(f.name, f.type, ids) for f in dataclasses.fields(cls)}
    values["originator_id"] = uuid4()
    values["originator_version"] = 1
    values["timestamp"] = datetime.now(UTC)
    if "originator_topic" in values:
        values["originator_topic"] = "x"
    return cls(**values)


def test_every_event_type_has_a_known_subject_mapping_and_a_summary() -> None:
    """Every domain event is listed here (a new one fails until its subjects are written down)."""
    events = domain_event_classes()
    assert set(events) == set(STANDALONE), sorted(set(events) ^ set(STANDALONE))
    for name, cls in events.items():
        e = _standalone_event(cls, {})
        assert summary_of(e, str).startswith(name.split(".")[0]), name


@pytest.mark.integration
def test_subjects_of_every_event_type_on_its_own(fresh_database_url: str) -> None:
    """Each event type, recorded on a stream of its own, names exactly its listed subjects."""
    ids: dict[str, Any] = {
        "origin": {"kind": "project", "workshop_id": str(uuid4())},
        "workshop_id": uuid4(),
        "participant_id": uuid4(),
        "author_id": uuid4(),
        "holder": uuid4(),
        "initiative_id": uuid4(),
        "key_area_id": uuid4(),
        "source_id": uuid4(),
        "programme_id": uuid4(),
    }
    with application(fresh_database_url):
        pass  # the log's tables
    with runner_of(fresh_database_url, AuditTrailProjection, AuditTrailView) as runner:
        view = runner.view
        for position, (name, cls) in enumerate(sorted(domain_event_classes().items()), 1):
            e = _standalone_event(cls, ids)
            assert view.record_event(Tracking("test", 2 * position), e)
            row = view.event(2 * position)
            assert row is not None and row.kind == name
            named = {s for s in SUBJECTS if getattr(row, s) is not None}
            assert named == STANDALONE[name], name
            assert row.aggregate_id == e.originator_id and row.version == 1
            assert row.event_id == event_id(e.originator_id, 1)
            # the same event again changes nothing (the stream's version guard)
            assert not view.record_event(Tracking("test", 2 * position + 1), e)
            assert view.event(2 * position + 1) is None


# ----- the story, projected -------------------------------------------------------------------


@dataclass
class World:
    url: str
    app: Workshops
    story: Story
    walk: Walk
    walk_people: list[UUID]
    walk_areas: dict[str, UUID]
    view: AuditTrailView
    position: int


def _seats_and_ballots(app: Workshops) -> tuple[Walk, list[UUID], dict[str, UUID]]:
    """A workshop outside any programme: a capped group, a switch, a revised ballot."""
    w = Walk(app)
    w.app.publish_briefing(
        c.PublishBriefing(workshop_id=w.id, text="Shared services briefing"), w.meta()
    )
    w.to(PhaseKind.BRAINSTORM)
    w.app.extend_phase(
        c.ExtendPhase(workshop_id=w.id, minutes=5, extension_id="x1"), w.meta("facilitator:amy")
    )
    w.app.pause_phase(c.PausePhase(workshop_id=w.id), w.meta())
    w.app.resume_phase(c.ResumePhase(workshop_id=w.id), w.meta())
    people = w.join(3)
    idea = w.idea(people[0], "Shared procurement of laptops")
    w.to(PhaseKind.GROUPING)
    areas = {"Cloud": w.area("Cloud", capacity=1), "Kit": w.area("Kit"), "Spare": w.area("Spare")}
    w.app.rename_key_area(
        c.RenameKeyArea(workshop_id=w.id, key_area_id=areas["Kit"], name="Hardware"), w.meta()
    )
    w.app.group_idea(c.GroupIdea(idea_id=idea, key_area_id=areas["Kit"]), w.meta())
    w.app.merge_key_areas(
        c.MergeKeyAreas(workshop_id=w.id, source_id=areas["Spare"], target_id=areas["Kit"]),
        w.meta(),
    )
    w.to(PhaseKind.SIGNUP)
    for person, area in ((people[0], "Cloud"), (people[1], "Kit")):
        w.app.sign_up(
            c.SignUpToGroup(workshop_id=w.id, participant_id=person, key_area_id=areas[area]),
            w.meta(f"participant:{person}"),
        )
    # people[0] leaves the capped group (its seat is released), people[2] takes the seat
    w.app.switch_group(
        c.SwitchGroup(workshop_id=w.id, participant_id=people[0], key_area_id=areas["Kit"]),
        w.meta(f"participant:{people[0]}"),
    )
    w.app.sign_up(
        c.SignUpToGroup(workshop_id=w.id, participant_id=people[2], key_area_id=areas["Cloud"]),
        w.meta(f"participant:{people[2]}"),
    )
    w.to(PhaseKind.DISCUSSION)
    project = w.project(areas["Kit"], people[:1], "Laptop pool")
    w.to(PhaseKind.VOTE)
    w.vote(people[1], {str(project): 1})
    w.app.revise_ballot(
        c.ReviseBallot(workshop_id=w.id, participant_id=people[1], choices={str(project): 0}),
        w.meta(f"participant:{people[1]}"),
    )
    return w, people, areas


@pytest.fixture(scope="module")
def world_url(postgres_server_url: str) -> Iterator[str]:
    from tests.conftest import fresh_database

    with fresh_database(postgres_server_url) as url:
        yield url


@pytest.fixture(scope="module")
def world(world_url: str) -> Iterator[World]:
    """The south-west story and a workshop with seats and ballots, the trail caught up."""
    url = world_url
    with application(url) as app:
        story = south_west(app)
        walk, people, areas = _seats_and_ballots(app)
        position = app.max_position()
        with runner_of(url, AuditTrailProjection, AuditTrailView) as runner:
            runner.wait(position, timeout=WAIT)
            yield World(url, app, story, walk, people, areas, runner.view, position)


def _everything(view: AuditTrailView, **filters: Any) -> list[TrailRow]:
    return list(view.search_all(**filters))


@pytest.mark.integration
def test_one_row_per_recorded_event_with_who_when_and_why(world: World) -> None:
    rows = _everything(world.view)
    assert rows[-1].position == world.position
    with psycopg.connect(world.url) as conn:
        stored = conn.execute(
            "SELECT notification_id, originator_id, originator_version, topic"
            " FROM quickwins_events ORDER BY notification_id"
        ).fetchall()
    assert [(r.position, r.aggregate_id, r.version) for r in rows] == [s[:3] for s in stored]
    assert all(r.topic == s[3] for r, s in zip(rows, stored, strict=True))
    first = rows[0]
    assert first.kind == "Programme.Launched"
    assert first.actor == "manager:jo" and first.at == day(2010, 6, 1)
    assert first.summary.startswith('Programme launched: "South West ICT"')
    assert first.recorded_at.year >= 2026  # the library's own timestamp: when it was recorded
    assert first.correlation_id is not None and first.causation_id is not None


@pytest.mark.integration
def test_by_workshop_participant_and_key_area(world: World) -> None:
    s, view = world.story, world.view
    devon = _everything(view, workshop_id=s.devon.id)
    kinds = {r.kind for r in devon}
    assert {"Workshop.Scheduled", "Idea.Submitted", "Ballot.Cast", "Project.Proposed"} <= kinds
    assert "Programme.WorkshopScheduled" in kinds  # the programme's act about this workshop
    assert all(r.workshop_id == s.devon.id for r in devon)
    cornwall = {r.position for r in _everything(view, workshop_id=s.cornwall.id)}
    assert cornwall and not cornwall & {r.position for r in devon}

    ann = _everything(view, participant_id=s.devon.people["Ann"])
    assert [r.kind for r in ann] == [
        "Participant.Joined",
        "Idea.Submitted",
        "Idea.Submitted",
        "Idea.Withdrawn",
        "Idea.Grouped",
        "Ballot.Cast",
    ]
    leadership = _everything(view, key_area_id=s.devon.areas["Leadership"])
    assert [r.kind for r in leadership] == [
        "Workshop.KeyAreaDefined",
        "Idea.Grouped",
        "Idea.Grouped",
        "Project.Proposed",
        "Project.Revised",
    ]
    assert 'Idea grouped: under "Leadership"' in leadership[1].summary


@pytest.mark.integration
def test_seats_sign_ups_and_merged_areas(world: World) -> None:
    view, w, people, areas = world.view, world.walk, world.walk_people, world.walk_areas
    cloud = _everything(view, key_area_id=areas["Cloud"])
    assert [r.kind for r in cloud] == [
        "Workshop.KeyAreaDefined",
        "Workshop.GroupCapacitySet",
        "SignUp.SignedUp",
        "Seat.Claimed",
        "Seat.Released",  # people[0] left the group: still its subject
        "SignUp.SignedUp",
        "Seat.Reclaimed",
    ]
    assert all(r.workshop_id == w.id for r in cloud)  # seats know their workshop via the area
    released, reclaimed = cloud[4], cloud[6]
    assert released.participant_id == people[0]
    assert reclaimed.participant_id == people[2]
    spare = _everything(view, key_area_id=areas["Spare"])
    assert spare[-1].summary == 'Workshop key areas merged: "Spare" into "Hardware"'
    first = _everything(view, participant_id=people[0])
    assert "SignUp.SwitchedGroup" in [r.kind for r in first]
    switched = next(r for r in first if r.kind == "SignUp.SwitchedGroup")
    assert switched.key_area_id == areas["Kit"] and switched.summary.endswith('"Hardware"')


@pytest.mark.integration
def test_ballots_never_show_their_choices(world: World) -> None:
    ballots = [r for r in _everything(world.view) if r.aggregate_type == "Ballot"]
    assert {r.kind for r in ballots} == {"Ballot.Cast", "Ballot.Revised"}
    projects = [str(p) for p in world.story.devon.projects.values()]
    for row in ballots:
        assert row.summary in ("Ballot cast: approval ballot", "Ballot revised"), row.summary
        assert not any(p in row.model_dump_json() for p in projects)


@pytest.mark.integration
def test_by_initiative_and_programme(world: World) -> None:
    s, view = world.story, world.view
    i1 = _everything(view, initiative_id=s.initiatives["I1"])
    assert i1[0].kind == "Initiative.Adopted" and i1[0].workshop_id == s.devon.id
    assert i1[-1].kind == "Initiative.BenefitRecorded"
    assert "Programme.InitiativeRegistered" in {r.kind for r in i1}
    assert all(r.programme_id == s.south_west.id for r in i1)
    owner = next(r for r in i1 if r.kind == "Initiative.OwnerAssigned")
    # By id: the name lives only in the owner's own (encrypted, erasable) stream.
    owner_id = s.south_west.programmes.initiative(s.initiatives["I1"]).owner_id
    assert owner.summary == f"Initiative owner assigned: owner {owner_id}"
    assert not any("Jo Bloggs" in r.model_dump_json() for r in i1)
    later = [r for r in i1 if r.kind == "Initiative.StageChanged"]
    assert later[0].workshop_id is None  # its origin workshop is named on adoption only

    north_east = _everything(view, programme_id=s.north_east.id)
    assert north_east and {r.workshop_id for r in north_east} <= {s.northumberland.id, None}
    sw = {r.position for r in _everything(view, programme_id=s.south_west.id)}
    assert not sw & {r.position for r in north_east}
    # the Walk workshop is in no programme
    assert all(r.programme_id is None for r in _everything(view, workshop_id=world.walk.id))

    for kind, subjects in IN_CONTEXT.items():
        row = next(r for r in _everything(view) if r.kind == kind)
        assert {x for x in SUBJECTS if getattr(row, x) is not None} == subjects, kind


@pytest.mark.integration
def test_by_actor_correlation_text_and_time(world: World) -> None:
    view = world.view
    amy = view.search(actor="facilitator:amy")
    assert [r.kind for r in amy] == ["Workshop.PhaseExtended"]
    assert amy[0].summary == "Workshop phase extended: by 5 min"

    reminders = view.search(actor="workflow:reminders")
    assert len(reminders) == 6
    correlated = view.search(correlation_id=reminders[0].correlation_id)
    assert [r.position for r in correlated] == [reminders[0].position]
    # adopting a winner: one command, two streams, one correlation id
    adopted = next(r for r in _everything(view) if r.kind == "Initiative.Adopted")
    assert adopted.correlation_id is not None
    together = view.search(correlation_id=adopted.correlation_id)
    assert {r.kind for r in together} == {"Initiative.Adopted", "Programme.InitiativeRegistered"}

    found = view.search(text="data portal")
    assert found and all("data portal" in r.summary.lower() for r in found)
    assert {r.kind for r in found} >= {"Idea.Edited", "Project.Proposed"}
    stemmed = view.search(text="mentors")  # English stemming: "Match mentors"
    assert any("Match mentors" in r.summary for r in stemmed)
    assert view.search(text='"open data" -county', workshop_id=world.story.cornwall.id) == [
        r
        for r in view.search(workshop_id=world.story.cornwall.id, limit=1000)
        if "open data" in r.summary.lower() and "county" not in r.summary.lower()
    ]
    assert view.search(text="   ") == view.search()

    since, until = day(2010, 10, 1), day(2010, 11, 1)
    october = _everything(view, since=since, until=until)
    assert october and all(since <= r.at < until for r in october)
    assert len(october) == len([r for r in _everything(view) if since <= r.at < until])


@pytest.mark.integration
def test_paging_by_position(world: World) -> None:
    view = world.view
    everything = _everything(view)
    pages: list[TrailRow] = []
    after = None
    while page := view.search(limit=37, after_position=after):
        pages.extend(page)
        after = page[-1].position
    assert pages == everything
    assert view.search(limit=5, after_position=10) == everything[10:15]
    assert list(view.search_all(page=7, limit=20)) == everything[:20]
    with pytest.raises(ValueError, match="limit"):
        view.search(limit=0)


@pytest.mark.integration
def test_caused_by_follows_event_ids(world: World) -> None:
    view = world.view
    row = view.search(limit=1)[0]
    assert row.causation_id is not None
    assert [r.position for r in view.caused_by(row.causation_id)] == [row.position]
    assert view.caused_by(uuid4()) == []


@pytest.mark.integration
def test_caused_by_chain(fresh_database_url: str) -> None:
    """An act whose causation id is an earlier event's id joins that event's chain."""
    with application(fresh_database_url) as app:
        walk = Walk(app)
        first = app.recorder.max_notification_id()
        cause = event_id(walk.id, 1)
        meta = Meta(
            actor="workflow:agenda",
            at=datetime(2010, 7, 2, 10, tzinfo=UTC),
            correlation_id=uuid4(),
            causation_id=cause,
        )
        app.open_phase(c.OpenPhase(workshop_id=walk.id, index=0), meta)
        meta2 = meta.model_copy(
            update={"causation_id": event_id(walk.id, 2), "at": meta.at + timedelta(minutes=1)}
        )
        app.publish_briefing(c.PublishBriefing(workshop_id=walk.id, text="Briefing"), meta2)
        with runner_of(fresh_database_url, AuditTrailProjection, AuditTrailView) as runner:
            runner.wait(app.max_position(), timeout=WAIT)
            chain = runner.view.caused_by(cause)
    assert first is not None
    assert [r.kind for r in chain] == ["Workshop.PhaseOpened", "Workshop.BriefingPublished"]


@pytest.mark.integration
def test_csv_and_json_lines_exports(world: World) -> None:
    rows = _everything(world.view, workshop_id=world.story.devon.id)
    buffer = io.StringIO()
    assert write_csv(iter(rows), buffer) == len(rows)
    parsed = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert tuple(parsed[0]) == CSV_COLUMNS
    assert [int(p["position"]) for p in parsed] == [r.position for r in rows]
    assert parsed[0]["key_area_id"] == ""  # None is an empty cell
    assert [TrailRow.model_validate({k: v or None for k, v in p.items()}) for p in parsed] == rows

    lines = io.StringIO()
    assert write_jsonl(iter(rows), lines) == len(rows)
    decoded = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert [TrailRow.model_validate(d) for d in decoded] == rows
    assert decoded[0]["workshop_id"] == str(world.story.devon.id)


@pytest.mark.integration
def test_rebuilt_from_the_start_the_trail_is_identical(world: World) -> None:
    before = dump_tables(world.url, TABLES)
    assert len(before["audit_trail_rows"]) == world.position
    world.view.reset()
    assert dump_tables(world.url, ("audit_trail_rows",))["audit_trail_rows"] == []
    with runner_of(world.url, AuditTrailProjection, AuditTrailView) as runner:
        runner.wait(world.position, timeout=WAIT)
    after = dump_tables(world.url, TABLES)
    assert after == before
