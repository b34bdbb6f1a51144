"""What the routes share: the application, the read models, tokens, the ballot box.

Built once per API process from the stack (the composition root's output);
routes reach it through the `Ctx` dependency.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

import psycopg
from fastapi import Depends, Header, Request
from psycopg import sql
from psycopg_pool import ConnectionPool
from temporalio.client import Client

from domain.meta import Meta
from projections.board import BoardProjection, BoardView
from projections.tracking import TrackedView, construct_view

from ..app import Workshops
from ..bootstrap import PROJECTIONS, Stack
from ..group_commit import BallotBox
from ..persistence import postgres_env, schema_lock
from ..programmes import Programmes
from .idempotency import CREATE as IDEMPOTENCY_TABLES
from .idempotency import IdempotencyStore
from .models import Recorded
from .problems import ProblemError
from .tokens import CREATE as TOKEN_TABLES
from .tokens import Caller, TokenStore

# How long a query waits for the read models to catch up with the latest write.
FRESHNESS_SECONDS = 2.0


# Each projection's tracking table is named after it (as the library names them).
_READ_MODELS_POSITION = sql.SQL("SELECT LEAST({})").format(
    sql.SQL(", ").join(
        sql.SQL(
            "COALESCE((SELECT MAX(notification_id) FROM {} WHERE application_name = %(app)s), 0)"
        ).format(sql.Identifier(f"{projection.name.lower()}_tracking"))
        for projection, _ in PROJECTIONS
    )
)


@dataclass
class ApiContext:
    stack: Stack
    pool: ConnectionPool[Any]
    tokens: TokenStore
    idempotency: IdempotencyStore
    ballots: BallotBox
    programmes: Programmes
    _views: dict[str, TrackedView] = field(default_factory=dict)
    _temporal: Client | None = None

    @property
    def app(self) -> Workshops:
        return self.stack.app

    def view(self, cls: type[Any], name: str) -> Any:
        """A read model's view, waiting briefly until it reflects the latest write."""
        if name not in self._views:
            with schema_lock(self.stack.database_url):  # its tables may be created now
                env = postgres_env(self.stack.database_url)
                self._views[name] = construct_view(cls, name, env)
        view = self._views[name]
        latest = self.app.max_position()
        if latest:
            # No projector running, or a slow one: serve what the view holds.
            with suppress(TimeoutError):
                view.wait(self.app.name, latest, timeout=FRESHNESS_SECONDS)
        return view

    def read_models_position(self) -> int:
        """The log position every read model has reached (0 before the first)."""
        try:
            with self.pool.connection() as conn:
                row = conn.execute(_READ_MODELS_POSITION, {"app": self.app.name}).fetchone()
        except psycopg.errors.UndefinedTable:  # no projector has run yet
            return 0
        return int(row[0]) if row else 0

    def board(self) -> BoardView:
        return self.view(BoardView, BoardProjection.name)  # type: ignore[no-any-return]

    async def temporal(self) -> Client:
        if not self.stack.temporal_address:
            raise ProblemError(
                503,
                "Temporal unavailable",
                "no Temporal server is configured for this API (QUICKWINS_TEMPORAL_ADDRESS)",
            )
        if self._temporal is None:
            self._temporal = await self.stack.temporal_client()
        return self._temporal

    def close(self) -> None:
        self.ballots.close()
        for view in self._views.values():
            view.close()
        self.pool.close()


def open_context(stack: Stack) -> ApiContext:
    with schema_lock(stack.database_url):
        pool: ConnectionPool[Any] = ConnectionPool(
            stack.database_url,
            min_size=1,
            max_size=8,
            kwargs={"autocommit": True},
            open=True,
        )
        with pool.connection() as conn:
            for statement in TOKEN_TABLES + IDEMPOTENCY_TABLES:
                conn.execute(statement)
    return ApiContext(
        stack=stack,
        pool=pool,
        tokens=TokenStore(pool),
        idempotency=IdempotencyStore(pool),
        ballots=BallotBox(stack.app),
        programmes=Programmes(stack.app),
    )


def _context(request: Request) -> ApiContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


Ctx = Annotated[ApiContext, Depends(_context)]


def meta_for(
    caller: Caller,
    correlation: UUID | None = None,
) -> Meta:
    """The metadata of one request's events: the caller as actor, now, a fresh cause."""
    return Meta(
        actor=caller.actor,
        at=datetime.now(UTC),
        correlation_id=correlation or uuid4(),
        causation_id=uuid4(),
    )


def _correlation(
    x_correlation_id: Annotated[
        UUID | None,
        Header(description="groups the events of one user journey; a fresh id if absent"),
    ] = None,
) -> UUID:
    return x_correlation_id or uuid4()


Correlation = Annotated[UUID, Depends(_correlation)]


async def record(act: Any, cmd: Any, caller: Caller, corr: UUID) -> Recorded:
    """Run one command as `caller` (off the event loop); answer its last event's position."""
    return Recorded(position=await run(act, cmd, meta_for(caller, corr)))


async def run(func: Any, *args: Any) -> Any:
    """Run a blocking application call off the event loop."""
    return await asyncio.to_thread(func, *args)
