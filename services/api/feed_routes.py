"""`GET /events` (pages of CloudEvents) and `GET /events/stream` (the same, live, as SSE).

A reader keeps the position it got to: `last_position` of a page, or the
`id:` of the last Server-Sent Event it received. Reconnecting with
`Last-Event-ID` (as browsers' EventSource do on their own) resumes right
after it, so nothing is missed and nothing is sent twice.

The stream follows the log by a short poll of its end (`POLL_SECONDS`), so a
new event reaches a connected client well within a second; FastAPI sends a
`: ping` comment when nothing was sent for 15 seconds, and the stream ends
as soon as the client has gone.
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from ..feed import EVENT_TYPES, EventFeed, FeedFilter, FeedPage, unknown_types
from .auth import permit
from .problems import ProblemError
from .tokens import Caller

router = APIRouter(tags=["events"])

POLL_SECONDS = 0.2  # how often a live stream looks for new events
STREAM_PAGE = 200  # events read per query while a stream catches up

FeedReader = Annotated[Caller, Depends(permit("feed.read"))]
Types = Annotated[
    list[str] | None,
    Query(
        alias="type",
        description="only these event types (repeat the parameter for several)",
        examples=[["quickwins.workshop.phase_opened.v1"]],
    ),
]
ProgrammeId = Annotated[UUID | None, Query(description="only this programme's events")]
WorkshopId = Annotated[UUID | None, Query(description="only this workshop's events")]
After = Annotated[
    int, Query(ge=0, description="the log position to read after (0: from the start)")
]


def feed_of(request: Request) -> EventFeed:
    feed: EventFeed = request.app.state.feed
    return feed


def feed_filter(
    caller: FeedReader,
    types: Types = None,
    programme: ProgrammeId = None,
    workshop: WorkshopId = None,
) -> FeedFilter:
    """The filter asked for, within the event types the caller's token grants."""
    unknown = unknown_types(types or [])
    if unknown:
        known = f"{len(EVENT_TYPES)} types are listed in the OpenAPI description"
        raise ProblemError(
            422, "Invalid input", f"unknown event type {unknown[0]!r}; {known}", "type"
        )
    wanted = frozenset(types) if types else None
    granted = caller.event_types
    if granted is not None:
        refused = sorted((wanted or frozenset()) - granted)
        if refused:
            raise ProblemError(
                403, "Forbidden", f"your token does not grant {refused[0]!r}", "type"
            )
        wanted = wanted or frozenset(granted) & frozenset(EVENT_TYPES)
    return FeedFilter(types=wanted, programme_id=programme, workshop_id=workshop)


Where = Annotated[FeedFilter, Depends(feed_filter)]


@router.get(
    "/events",
    response_model=FeedPage,
    summary="A page of events after a log position, as CloudEvents 1.0",
    description=(
        "Events in log order after `after`, each a CloudEvents 1.0 JSON envelope. Ask for the "
        "next page with `after=last_position`: a filtered page may be empty and still advance. "
        "People appear only by pseudonymous ids. Types: " + ", ".join(EVENT_TYPES)
    ),
)
def list_events(
    request: Request,
    where: Where,
    after: After = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many events")] = 100,
) -> FeedPage:
    return feed_of(request).page(after, limit, where)


@dataclass(frozen=True)
class StreamStart:
    after: int
    where: FeedFilter


def stream_start(
    where: Where,
    after: After = 0,
    last_event_id: Annotated[
        str | None,
        Header(description="the `id` of the last event received: resume after it"),
    ] = None,
) -> StreamStart:
    """Where a stream starts: after `Last-Event-ID` when the client sends one, else `after`."""
    if last_event_id is None or not last_event_id.strip():
        return StreamStart(after, where)
    try:
        position = int(last_event_id.strip())
    except ValueError:
        position = -1
    if position < 0:
        raise ProblemError(
            422,
            "Invalid input",
            "Last-Event-ID must be a log position (an event's id)",
            "Last-Event-ID",
        )
    return StreamStart(position, where)


@router.get(
    "/events/stream",
    response_class=EventSourceResponse,
    summary="The events live, as Server-Sent Events (resume with Last-Event-ID)",
    description=(
        "Each event as `id: <log position>`, `event: <type>`, `data: <CloudEvent JSON>`: first "
        "those after the resume point, then new ones as they are recorded. A `: ping` comment "
        "keeps an idle connection open. Same filters as `GET /events`."
    ),
)
async def stream_events(
    request: Request, start: Annotated[StreamStart, Depends(stream_start)]
) -> AsyncIterator[ServerSentEvent]:
    async for item in follow(feed_of(request), start.after, start.where, request.is_disconnected):
        yield item


class SharedReading:
    """A number (a log position) read at most once per `fresh_seconds` however many ask.

    Idle streams all poll the end of the log (or how far the read models
    are); sharing one reading keeps that to a few cheap queries a second per
    API process, not a few per client.
    """

    def __init__(self, read: Callable[[], int], fresh_seconds: float = POLL_SECONDS / 2) -> None:
        self.read = read
        self.fresh_seconds = fresh_seconds
        self._top = 0
        self._read_at = -math.inf
        self._reading: asyncio.Task[int] | None = None

    async def top(self) -> int:
        if time.monotonic() - self._read_at < self.fresh_seconds:
            return self._top
        if self._reading is None or self._reading.done():
            self._reading = asyncio.create_task(self._read())
        # Shielded: a stream whose client left must not cancel the others' reading.
        return await asyncio.shield(self._reading)

    async def reached(self, position: int, timeout: float) -> bool:
        """Wait until the reading is at least `position`; False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while await self.top() < position:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL_SECONDS)
        return True

    async def _read(self) -> int:
        self._top = await run_in_threadpool(self.read)
        self._read_at = time.monotonic()
        return self._top


_ENDS: weakref.WeakKeyDictionary[EventFeed, SharedReading] = weakref.WeakKeyDictionary()


def log_end(feed: EventFeed) -> SharedReading:
    if feed not in _ENDS:
        _ENDS[feed] = SharedReading(feed.max_position)
    return _ENDS[feed]


async def follow(
    feed: EventFeed,
    after: int,
    where: FeedFilter,
    gone: Callable[[], Awaitable[bool]],
    poll_seconds: float = POLL_SECONDS,
) -> AsyncIterator[ServerSentEvent]:
    """The events after `after`, then new ones as they come, until `gone()` says so."""
    end = log_end(feed)
    position = after
    while not await gone():
        if await end.top() <= position:  # nothing new yet
            await asyncio.sleep(poll_seconds)
            continue
        page = await run_in_threadpool(feed.page, position, STREAM_PAGE, where)
        for event in page.events:
            yield ServerSentEvent(id=event.id, event=event.type, raw_data=event.model_dump_json())
        position = max(position, page.last_position)
