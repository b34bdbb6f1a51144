"""`GET /events` and `GET /events/stream` over HTTP, with real tokens.

The streaming tests run the API under a real uvicorn server on a loopback
port (in a thread of the test process, stopped after each test) and read it
with httpx, as a subscriber would.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import fastapi.routing
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from domain import commands as c
from services.api.app import create_api
from services.api.feed_routes import follow
from services.api.tokens import Role
from services.bootstrap import Stack
from services.feed import EVENT_TYPES, EventFeed, FeedFilter

from .conftest import TokenFor, bearer
from .feed_helpers import SECRETS, World, build_world

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
IDEA = "quickwins.idea.submitted.v1"
BALLOT = "quickwins.ballot.cast.v1"
JOINED = "quickwins.participant.joined.v1"


@pytest.fixture
def world(api_stack: Stack) -> World:
    return build_world(api_stack.app)


def all_pages(client: TestClient, token: str, **params: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        answer = client.get("/events", params={**params, "after": after}, headers=bearer(token))
        assert answer.status_code == 200, answer.text
        page = answer.json()
        events.extend(page["events"])
        if page["last_position"] == after:
            return events
        after = page["last_position"]


# ----- GET /events ---------------------------------------------------------------------------


def test_pages_of_cloud_events(
    api_client: TestClient, token_for: TokenFor, world: World, api_stack: Stack
) -> None:
    auditor = token_for(Role.AUDITOR)
    first = api_client.get("/events", params={"limit": 5}, headers=bearer(auditor))
    assert first.status_code == 200, first.text
    page = first.json()
    assert [e["id"] for e in page["events"]] == ["1", "2", "3", "4", "5"]
    assert page["last_position"] == 5
    launched = page["events"][0]
    assert launched["specversion"] == "1.0"
    assert launched["type"] == "quickwins.programme.launched.v1"
    assert launched["source"] == f"/quickwins/programmes/{world.programme_id}"
    assert launched["subject"] == str(world.programme_id)
    assert launched["datacontenttype"] == "application/json"
    assert launched["data"]["meta"]["actor"] == "manager:test"
    events = all_pages(api_client, auditor, limit=7)
    assert [int(e["id"]) for e in events] == list(range(1, api_stack.app.max_position() + 1))
    library = EventFeed(api_stack.app).page(0, 1000).events
    assert events == [e.model_dump(mode="json") for e in library]


def test_filters_by_type_programme_and_workshop(
    api_client: TestClient, token_for: TokenFor, world: World
) -> None:
    admin = token_for(Role.ADMIN)
    every = all_pages(api_client, admin)
    typed = all_pages(api_client, admin, type=[IDEA, BALLOT], limit=2)
    assert typed == [e for e in every if e["type"] in (IDEA, BALLOT)] and typed
    pid, wid = str(world.programme_id), str(world.programme_room.id)
    in_programme = all_pages(api_client, admin, programme=pid, limit=4)
    assert in_programme == [e for e in every if e["programmeid"] == pid]
    in_workshop = all_pages(api_client, admin, workshop=wid, type=JOINED)
    assert in_workshop == [e for e in every if e["workshopid"] == wid and e["type"] == JOINED]
    assert len(in_workshop) == 3


def test_no_personal_data_over_http(
    api_client: TestClient, token_for: TokenFor, world: World
) -> None:
    admin = token_for(Role.ADMIN)
    text = api_client.get("/events", params={"limit": 1000}, headers=bearer(admin)).text
    assert '"person_id"' in text
    for secret in SECRETS:
        assert secret.lower() not in text.lower(), secret


def test_bad_parameters_are_problems_naming_the_field(
    api_client: TestClient, token_for: TokenFor
) -> None:
    admin = token_for(Role.ADMIN)
    cases = [
        ({"type": "quickwins.nothing.v1"}, "type"),
        ({"type": [IDEA, "nope"]}, "type"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"after": -1}, "after"),
        ({"programme": "not-a-uuid"}, "programme"),
    ]
    for params, field in cases:
        answer = api_client.get("/events", params=params, headers=bearer(admin))
        assert answer.status_code == 422, (params, answer.text)
        assert answer.headers["content-type"].startswith(PROBLEM)
        assert answer.json()["field"] == field, answer.json()


def test_who_may_read_the_feed(api_client: TestClient, token_for: TokenFor) -> None:
    assert api_client.get("/events").status_code == 401
    for role in (Role.ADMIN, Role.AUDITOR, Role.SUBSCRIBER):
        assert api_client.get("/events", headers=bearer(token_for(role))).status_code == 200
    for role in (Role.FACILITATOR, Role.PARTICIPANT, Role.MANAGER):
        answer = api_client.get("/events", headers=bearer(token_for(role)))
        assert answer.status_code == 403, role
        assert answer.headers["content-type"].startswith(PROBLEM)


def test_a_subscriber_gets_only_the_types_granted(
    api_client: TestClient, token_for: TokenFor, world: World
) -> None:
    subscriber = token_for(Role.SUBSCRIBER, event_types=[IDEA, BALLOT])
    events = all_pages(api_client, subscriber)
    assert events and {e["type"] for e in events} == {IDEA, BALLOT}
    assert {e["type"] for e in all_pages(api_client, subscriber, type=IDEA)} == {IDEA}
    refused = api_client.get("/events", params={"type": JOINED}, headers=bearer(subscriber))
    assert refused.status_code == 403 and refused.json()["field"] == "type"
    stream = api_client.get("/events/stream", params={"type": JOINED}, headers=bearer(subscriber))
    assert stream.status_code == 403


def test_openapi_describes_the_feed(api_client: TestClient) -> None:
    spec = api_client.get("/openapi.json").json()
    listing = spec["paths"]["/events"]["get"]
    assert listing["tags"] == ["events"]
    schema = spec["components"]["schemas"]["FeedPage"]
    assert schema["examples"][0]["events"][0]["specversion"] == "1.0"
    assert (
        "text/event-stream" in spec["paths"]["/events/stream"]["get"]["responses"]["200"]["content"]
    )
    assert all(t in listing["description"] for t in EVENT_TYPES)


# ----- the live stream, under uvicorn ----------------------------------------------------------


@dataclass
class Running:
    url: str
    server: uvicorn.Server
    api: FastAPI

    def active_requests(self) -> int:
        return len(self.server.server_state.tasks)

    def token(self, role: Role, **scope: Any) -> str:
        token, _ = self.api.state.tokens.issue(role, f"test {role}", **scope)
        return str(token)


@contextmanager
def serving(api: FastAPI) -> Iterator[Running]:
    """`api` under uvicorn on a free loopback port, in a thread; stopped on the way out."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(api, log_level="warning", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield Running(f"http://127.0.0.1:{port}", server, api)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


@dataclass
class Received:
    id: str
    event: str
    data: str
    at: float  # time.monotonic() when it arrived


def sse_events(lines: Iterator[str]) -> Iterator[Received | str]:
    """Parse SSE lines: a `Received` per event; a comment line as a string."""
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            if fields:
                yield Received(fields["id"], fields["event"], fields["data"], time.monotonic())
            fields = {}
        elif line.startswith(":"):
            yield line
        else:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


def read_events(
    client: httpx.Client, token: str, count: int, last_id: str | None = None, **params: Any
) -> list[Received]:
    """Connect, read `count` events, then hang up mid-stream."""
    headers = bearer(token) | ({"Last-Event-ID": last_id} if last_id else {})
    got: list[Received] = []
    with client.stream("GET", "/events/stream", params=params, headers=headers) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        for item in sse_events(answer.iter_lines()):
            if isinstance(item, Received):
                got.append(item)
                if len(got) == count:
                    break
    return got


def wait_until(check: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_client_that_disconnects_and_resumes_gets_every_event_once_in_order(
    api_stack: Stack, world: World
) -> None:
    app, room = api_stack.app, world.lone_room
    with (
        serving(create_api(api_stack)) as running,
        httpx.Client(base_url=running.url, timeout=10) as client,
    ):
        subscriber = running.token(Role.SUBSCRIBER)
        first = read_events(client, subscriber, 10)  # hang up after ten
        assert [r.id for r in first] == [str(n) for n in range(1, 11)]
        wait_until(lambda: running.active_requests() == 0)  # the server let it go
        # Meanwhile the room carries on.
        person = room.join("Late Comer", "")
        room.idea("Late Comer", "recorded while the client was away")
        missed_up_to = app.max_position()

        headers = bearer(subscriber) | {"Last-Event-ID": first[-1].id}
        second: list[Received] = []
        recorded_at: dict[str, float] = {}
        with client.stream("GET", "/events/stream", headers=headers) as answer:
            assert answer.status_code == 200
            for item in sse_events(answer.iter_lines()):
                if not isinstance(item, Received):
                    continue
                second.append(item)
                if int(item.id) == missed_up_to:  # caught up: now record live, one by one
                    recorded_at[str(_live_idea(app, room.id, person, 1))] = time.monotonic()
                elif item.id in recorded_at and len(recorded_at) < 3:
                    position = _live_idea(app, room.id, person, len(recorded_at) + 1)
                    recorded_at[str(position)] = time.monotonic()
                elif len(recorded_at) == 3 and item.id == max(recorded_at, key=int):
                    break
        wait_until(lambda: running.active_requests() == 0)

    ids = [r.id for r in first + second]
    assert ids == [str(n) for n in range(1, app.max_position() + 1)]  # each once, in order
    assert {r.id: r.event for r in second if r.id in recorded_at} == {p: IDEA for p in recorded_at}
    delays = [r.at - recorded_at[r.id] for r in second if r.id in recorded_at]
    assert max(delays) < 1.0, delays
    envelope = second[-1].data
    assert envelope.startswith("{") and f'"id":"{second[-1].id}"' in envelope


def _live_idea(app: Any, workshop: Any, person: Any, n: int) -> int:
    from datetime import UTC, datetime

    from domain.meta import Meta

    meta = Meta(
        actor=f"participant:{person}",
        at=datetime(2010, 7, 2, 12, n, tzinfo=UTC),
        correlation_id=uuid4(),
        causation_id=uuid4(),
    )
    cmd = c.SubmitIdea(workshop_id=workshop, idea_id=uuid4(), author_id=person, text=f"live {n}")
    return int(app.submit_idea(cmd, meta))


def test_a_filtered_stream_resumes_after_the_last_event_it_sent(
    api_stack: Stack, world: World
) -> None:
    params = {"type": IDEA, "workshop": str(world.programme_room.id)}
    expected = [
        e.id
        for e in EventFeed(api_stack.app)
        .page(0, 1000, FeedFilter(types=frozenset({IDEA}), workshop_id=world.programme_room.id))
        .events
    ]
    assert len(expected) == 3
    with (
        serving(create_api(api_stack)) as running,
        httpx.Client(base_url=running.url, timeout=10) as client,
    ):
        auditor = running.token(Role.AUDITOR)
        first = read_events(client, auditor, 1, **params)
        rest = read_events(client, auditor, 2, last_id=first[-1].id, **params)
        after = read_events(client, auditor, 1, after=int(first[0].id), **params)
    assert [r.id for r in first + rest] == expected
    assert [r.id for r in after] == expected[1:2]
    assert {r.event for r in first + rest} == {IDEA}


def test_an_idle_stream_sends_heartbeats(api_stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastapi.routing, "_PING_INTERVAL", 0.3)  # 15 s in production
    with (
        serving(create_api(api_stack)) as running,
        httpx.Client(base_url=running.url, timeout=10) as client,
    ):
        auditor = running.token(Role.AUDITOR)
        params = {"workshop": str(uuid4())}  # matches nothing
        with client.stream(
            "GET", "/events/stream", params=params, headers=bearer(auditor)
        ) as answer:
            comments = []
            for item in sse_events(answer.iter_lines()):
                assert isinstance(item, str)
                comments.append(item)
                if len(comments) == 2:
                    break
        assert comments == [": ping", ": ping"]
        wait_until(lambda: running.active_requests() == 0)


def test_bad_last_event_id_is_a_problem(api_client: TestClient, token_for: TokenFor) -> None:
    auditor = token_for(Role.AUDITOR)
    answer = api_client.get(
        "/events/stream", headers=bearer(auditor) | {"Last-Event-ID": "yesterday"}
    )
    assert answer.status_code == 422
    assert answer.json()["field"] == "Last-Event-ID"


def test_follow_stops_when_the_client_is_gone(api_stack: Stack, world: World) -> None:
    feed = EventFeed(api_stack.app)
    calls = 0

    async def gone() -> bool:
        nonlocal calls
        calls += 1
        return calls > 3

    async def collect() -> list[str]:
        return [str(e.id) async for e in follow(feed, 0, FeedFilter(), gone, poll_seconds=0.01)]

    ids = asyncio.run(asyncio.wait_for(collect(), timeout=10))
    assert ids == [str(n) for n in range(1, len(ids) + 1)]
    assert ids  # it sent what there was before it noticed
