"""The event feed: CloudEvents envelopes of the log, filters, paging, no personal data."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import pytest

from domain.participant import Participant
from services.app import Workshops
from services.feed import (
    EVENT_TYPES,
    CloudEvent,
    EventFeed,
    FeedFilter,
    FeedPage,
    type_name,
)
from services.persistence import postgres_env
from tests.api.feed_helpers import PEOPLE, SECRETS, World, build_world

pytestmark = pytest.mark.integration

TYPE = re.compile(r"^quickwins\.[a-z_]+\.[a-z_]+\.v1$")


@pytest.fixture(scope="module")
def world_app(postgres_server_url: str) -> Iterator[tuple[Workshops, World]]:
    from tests.conftest import fresh_database

    with fresh_database(postgres_server_url) as url:
        app = Workshops(env=postgres_env(url))
        try:
            yield app, build_world(app)
        finally:
            app.close()


@pytest.fixture
def app(world_app: tuple[Workshops, World]) -> Workshops:
    return world_app[0]


@pytest.fixture
def world(world_app: tuple[Workshops, World]) -> World:
    return world_app[1]


def everything(
    feed: EventFeed, where: FeedFilter | None = None, limit: int = 1000
) -> list[CloudEvent]:
    """Page through the whole log with `where`, asserting every page moves forward."""
    found: list[CloudEvent] = []
    after = 0
    while after < feed.max_position():
        page = feed.page(after, limit, where)
        assert page.last_position > after
        found.extend(page.events)
        after = page.last_position
    return found


def by_type(events: list[CloudEvent], name: str) -> list[CloudEvent]:
    return [e for e in events if e.type == f"quickwins.{name}.v1"]


# ----- types ------------------------------------------------------------------------------


def test_event_types_name_every_aggregate_event_sorted_and_versioned() -> None:
    assert list(EVENT_TYPES) == sorted(set(EVENT_TYPES))
    assert all(TYPE.match(t) for t in EVENT_TYPES), EVENT_TYPES
    for expected in (
        "quickwins.workshop.scheduled.v1",
        "quickwins.workshop.phase_opened.v1",
        "quickwins.participant.joined.v1",
        "quickwins.sign_up.signed_up.v1",
        "quickwins.seat.claimed.v1",
        "quickwins.initiative.benefits_review_scheduled.v1",
        "quickwins.programme.launched.v1",
    ):
        assert expected in EVENT_TYPES


def test_type_name_from_aggregate_and_event_class() -> None:
    from domain.events import IDEA_MERGED, PITCH_STARTED

    assert type_name(IDEA_MERGED) == "quickwins.idea.merged_as_duplicate.v1"
    assert type_name(PITCH_STARTED) == "quickwins.workshop.pitch_slot_started.v1"


# ----- envelopes ----------------------------------------------------------------------------


def test_every_stored_event_becomes_one_envelope_in_log_order(app: Workshops) -> None:
    events = everything(EventFeed(app))
    positions = [n.id for n in app.recorder.select_notifications(1, 10_000)]
    assert [int(e.id) for e in events] == positions
    for event in events:
        assert event.specversion == "1.0"
        assert event.datacontenttype == "application/json"
        assert event.type in EVENT_TYPES
        UUID(event.subject)
        assert isinstance(event.time, datetime) and event.time.tzinfo is not None
        assert {"originator_id", "originator_version", "timestamp"}.isdisjoint(event.data)
        assert isinstance(event.data["version"], int) and event.data["version"] >= 1
        meta = event.data["meta"]
        assert set(meta) == {"actor", "at", "correlation_id", "causation_id"}
        datetime.fromisoformat(meta["at"])
        json.loads(event.model_dump_json())  # JSON all the way down


def test_sources_name_the_programme_and_workshop(app: Workshops, world: World) -> None:
    events = everything(EventFeed(app))
    pid, wid, lone = world.programme_id, world.programme_room.id, world.lone_room.id
    in_workshop = f"/quickwins/programmes/{pid}/workshops/{wid}"
    for name in (
        "workshop.scheduled",
        "participant.joined",
        "idea.submitted",
        "seat.claimed",
        "sign_up.signed_up",
        "project.proposed",
        "ballot.cast",
        "workshop.results_declared",
    ):
        found = [e for e in by_type(events, name) if e.workshopid == str(wid)]
        assert found, name
        for event in found:
            assert event.source == in_workshop, name
            assert event.programmeid == str(pid)
    launched = by_type(events, "programme.launched")[0]
    assert launched.source == f"/quickwins/programmes/{pid}"
    assert launched.subject == str(pid) and launched.workshopid is None
    adopted = [
        e for e in by_type(events, "initiative.adopted") if e.subject == str(world.initiative_id)
    ]
    assert adopted[0].source == f"/quickwins/programmes/{pid}"
    lone_events = [e for e in events if e.workshopid == str(lone)]
    assert lone_events and all(e.source == f"/quickwins/workshops/{lone}" for e in lone_events)
    assert all(e.programmeid is None for e in lone_events)


def test_data_carries_the_fields_and_the_meta(app: Workshops, world: World) -> None:
    events = everything(EventFeed(app))
    opened = [
        e for e in by_type(events, "workshop.phase_opened") if e.subject == str(world.lone_room.id)
    ]
    assert [e.data["kind"] for e in opened] == ["briefing", "brainstorm"]
    assert opened[0].data["index"] == 0 and opened[0].data["meta"]["actor"] == "facilitator:test"
    scheduled = [
        e
        for e in by_type(events, "workshop.scheduled")
        if e.subject == str(world.programme_room.id)
    ]
    assert scheduled[0].data["programme_id"] == str(world.programme_id)
    assert scheduled[0].data["version"] == 1
    ballot = by_type(events, "ballot.cast")[0]
    assert ballot.data["choices"] == {str(world.programme_room.projects[0]): 1}


def test_a_person_appears_only_by_pseudonymous_id(app: Workshops, world: World) -> None:
    events = everything(EventFeed(app))
    joined = {e.subject: e for e in by_type(events, "participant.joined")}
    for name, person in world.people.items():
        assert app.load(Participant, person, "id").display_name == name  # really stored
        assert joined[str(person)].data["personal"] == {"person_id": str(person)}
    owners = by_type(events, "owner.registered")
    assert owners and set(owners[0].data["personal"]) == {"person_id"}


def test_the_feed_never_decrypts_personal_fields(app: Workshops, world: World) -> None:
    feed = EventFeed(app)
    person = next(iter(world.people.values()))
    stored = app.recorder.select_events(person, limit=1)[0]
    readable: Any = app.mapper.to_domain_event(stored)
    assert readable.personal.fields  # the application can read them
    sealed = cast(Any, feed.mapper.to_domain_event(stored)).personal
    assert sealed.subject_id == person and not sealed.fields


def test_no_name_or_organisation_anywhere_in_the_feed(app: Workshops, world: World) -> None:
    feed = EventFeed(app)
    pages = [feed.page(0, 1000)]
    pages += [feed.page(0, 1000, FeedFilter(workshop_id=world.programme_room.id))]
    pages += [feed.page(0, 1000, FeedFilter(programme_id=world.programme_id))]
    text = "\n".join(p.model_dump_json() for p in pages)
    assert '"personal"' in text  # the participants' events are in there
    for secret in SECRETS:
        assert secret.lower() not in text.lower(), secret
    assert len(PEOPLE) == 3


# ----- filters and paging --------------------------------------------------------------------


def test_filter_by_type(app: Workshops) -> None:
    feed = EventFeed(app)
    wanted = frozenset({"quickwins.idea.submitted.v1", "quickwins.ballot.cast.v1"})
    found = everything(feed, FeedFilter(types=wanted))
    every = everything(feed)
    assert found == [e for e in every if e.type in wanted]
    assert {e.type for e in found} == wanted
    assert everything(feed, FeedFilter(types=frozenset())) == []


def test_filter_by_programme_and_by_workshop(app: Workshops, world: World) -> None:
    feed = EventFeed(app)
    every = everything(feed)
    pid, wid = str(world.programme_id), str(world.programme_room.id)
    in_programme = everything(feed, FeedFilter(programme_id=world.programme_id))
    assert in_programme == [e for e in every if e.programmeid == pid]
    assert {e.type for e in in_programme} >= {
        "quickwins.programme.launched.v1",
        "quickwins.initiative.adopted.v1",
        "quickwins.idea.submitted.v1",
    }
    in_workshop = everything(feed, FeedFilter(workshop_id=world.programme_room.id))
    assert in_workshop == [e for e in every if e.workshopid == wid]
    assert len(in_workshop) < len(in_programme) < len(every)
    both = FeedFilter(
        workshop_id=world.lone_room.id, types=frozenset({"quickwins.workshop.phase_opened.v1"})
    )
    assert [e.data["kind"] for e in everything(feed, both)] == ["briefing", "brainstorm"]
    assert (
        everything(
            feed, FeedFilter(programme_id=world.programme_id, workshop_id=world.lone_room.id)
        )
        == []
    )


def test_small_pages_add_up_to_the_whole_feed(app: Workshops, world: World) -> None:
    feed = EventFeed(app)
    for where in (None, FeedFilter(workshop_id=world.lone_room.id)):
        whole = everything(feed, where)
        paged = everything(feed, where, limit=3)
        assert paged == whole


def test_a_filtered_page_may_be_empty_and_still_advance(app: Workshops, world: World) -> None:
    lone = FeedFilter(workshop_id=world.lone_room.id)
    positions = [int(e.id) for e in everything(EventFeed(app), lone)]
    # The lone workshop was scheduled early, then the programme's day ran: a long gap.
    assert positions[1] - positions[0] > 20
    feed = EventFeed(app, scan_limit=5)
    page = feed.page(positions[0], 10, lone)
    assert page == FeedPage(events=[], last_position=positions[0] + 5)
    assert everything(feed, lone) == everything(EventFeed(app), lone)


def test_a_page_at_the_end_is_empty_and_stays_put(app: Workshops) -> None:
    feed = EventFeed(app)
    top = feed.max_position()
    assert feed.page(top, 100) == FeedPage(events=[], last_position=top)
    assert feed.page(top + 10, 100).last_position == top + 10


def test_a_fresh_feed_read_from_the_middle_resolves_scopes_from_the_log(app: Workshops) -> None:
    whole = everything(EventFeed(app))
    middle = int(whole[len(whole) // 2].id)
    for feed in (EventFeed(app), EventFeed(app, cache_size=2)):
        later = feed.page(middle, 1000).events
        assert later == [e for e in whole if int(e.id) > middle]
    tiny = EventFeed(app, cache_size=2)
    everything(tiny)
    assert len(tiny.scopes) <= 2
