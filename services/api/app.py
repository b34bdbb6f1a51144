"""The FastAPI application: one per process, over a stack from the composition root."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ..bootstrap import Stack
from ..feed import EventFeed
from ..webhooks.sealing import sealer_for
from . import (
    feed_routes,
    openapi,
    problems,
    routes_admin,
    routes_agenda,
    routes_audit,
    routes_participants,
    routes_programmes,
    routes_workshops,
    webhook_routes,
)
from .context import open_context
from .idempotency import IdempotencyMiddleware

DESCRIPTION = """
Crowdsourced strategy workshops you can audit.

Authenticate with `Authorization: Bearer <token>`. Participants get a token by
joining a workshop (`POST /join` with its code); an admin issues the others
(`POST /tokens`). Every POST accepts an `Idempotency-Key` header: a retry with
the same key returns the first answer and records nothing twice. Errors are
`application/problem+json` naming the field at fault. Every event is on
`GET /events` (CloudEvents 1.0), live on `GET /events/stream` (Server-Sent
Events), and at webhooks you register.
"""


# The projector thread follows LISTEN/NOTIFY; a fresh subscription this often
# makes up for a notification lost on a dropped connection.
PROJECTOR_POLL_SECONDS = 10.0


def create_api(stack: Stack, *, projector: bool = False, pages: bool = True) -> FastAPI:
    """The API (and the web pages) over `stack`; with `projector`, this process also
    keeps the read models."""

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        # Read once: a bad secrets key stops the start, not a later request.
        api.state.sealer = sealer_for(stack.settings)
        ctx = open_context(stack)
        api.state.ctx = ctx
        api.state.stack = stack
        api.state.tokens = ctx.tokens
        api.state.feed = EventFeed(stack.app)
        api.state.read_models = feed_routes.SharedReading(ctx.read_models_position)
        stop = threading.Event()
        thread = _start_projector(stack, stop) if projector else None
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=30)
            ctx.close()

    api = FastAPI(title="quickwins", version="1", description=DESCRIPTION, lifespan=lifespan)
    api.add_middleware(IdempotencyMiddleware)
    api.add_middleware(problems.RefuseNul)  # added last: runs first
    problems.install(api)
    openapi.install(api)
    for module in (
        routes_admin,
        routes_participants,
        routes_workshops,
        routes_agenda,
        routes_programmes,
        routes_audit,
        feed_routes,
        webhook_routes,
    ):
        api.include_router(module.router)
    if pages:
        from ..web.pages import install_pages

        install_pages(api)
    return api


def _start_projector(stack: Stack, stop: threading.Event) -> threading.Thread:
    from ..projector import follow

    thread = threading.Thread(
        target=follow,
        args=(stack, PROJECTOR_POLL_SECONDS),
        kwargs={"stop": stop},
        name="projector",
        daemon=True,
    )
    thread.start()
    return thread
