"""The pages' live channel (`/ui/live`) says "changed" only once the read models hold the change.

Pages re-read their parts from the read models when told; told too early (the
projector still behind), a page would draw the old state and stay there until
the next event. No projector runs here: the test moves the read models on
itself, so it decides when they are behind.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from domain.agenda import PhaseKind
from services.api.app import create_api
from services.api.tokens import Role
from services.bootstrap import PROJECTIONS, Stack
from services.web.session import COOKIE
from tests.api.test_feed_api import Received, serving, sse_events
from tests.services.walk import Walk

QUIET = 1.5  # seconds in which nothing may arrive while the read models are behind


def _catch_up(stack: Stack) -> None:
    for projection, view in PROJECTIONS:
        with stack.caught_up(projection, view):
            pass


@contextmanager
def _listening(url: str, token: str, workshop: str) -> Iterator[queue.Queue[Received]]:
    """The live channel of `workshop`, read in a thread; its events arrive in the queue."""
    got: queue.Queue[Received] = queue.Queue()
    client = httpx.Client(base_url=url, cookies={COOKIE: token}, timeout=30)

    def read() -> None:
        with (
            contextlib.suppress(httpx.HTTPError),  # the client closed under it: done
            client.stream("GET", "/ui/live", params={"workshop": workshop}) as answer,
        ):
            assert answer.status_code == 200
            for item in sse_events(answer.iter_lines()):
                if isinstance(item, Received):
                    got.put(item)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        yield got
    finally:
        client.close()  # ends the stream (the thread's read fails and it ends)


def _nothing_for(got: queue.Queue[Received], seconds: float) -> None:
    try:
        item = got.get(timeout=seconds)
    except queue.Empty:
        return
    raise AssertionError(f"the channel spoke while the read models were behind: {item}")


def test_the_live_channel_waits_for_the_read_models(api_stack: Stack) -> None:
    walk = Walk(api_stack.app)
    walk.to(PhaseKind.BRAINSTORM)
    api = create_api(api_stack, projector=False)
    with serving(api) as running:
        token = running.token(Role.ADMIN)
        with _listening(running.url, token, str(walk.id)) as got:
            # Opened while the read models are behind the log: silent until they catch up.
            _nothing_for(got, QUIET)
            _catch_up(api_stack)
            caught_up = got.get(timeout=10)
            assert caught_up.event == "changed" and "caught-up" in caught_up.data

            # A new event: not announced until the read models hold it, then at once.
            (person,) = walk.join(1)
            position = api_stack.app.max_position()
            _nothing_for(got, QUIET)
            began = time.monotonic()
            _catch_up(api_stack)
            changed = got.get(timeout=10)
            assert changed.event == "changed" and changed.id == str(position)
            assert changed.at - began < 5
