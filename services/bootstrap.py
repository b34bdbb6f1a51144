"""The composition root: settings in, a wired stack out.

Every entry point (CLI, tests, later the API) builds the same stack here. An
adapter passed in is used as it is; one left out is made from the settings,
and the embedded servers are started only when no address is configured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from eventsourcing.persistence import TrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from projections.audit_chain import AuditChainProjection, AuditChainView
from projections.audit_trail import AuditTrailProjection, AuditTrailView
from projections.board import BoardProjection, BoardView
from projections.matching import MatchingProjection, MatchingView
from projections.pipeline import PipelineProjection, PipelineView
from workflows.notifier import Notifier

from .app import Workshops
from .embedded import EmbeddedPostgres, TemporalDevServer
from .notifications import FanOutNotifier, LogNotifier, SmtpNotifier
from .persistence import postgres_env, schema_lock
from .settings import Settings

V = TypeVar("V", bound=TrackingRecorder)

# Every read model a projector keeps up to date.
PROJECTIONS: tuple[tuple[type[Projection[Any]], type[Any]], ...] = (
    (BoardProjection, BoardView),
    (PipelineProjection, PipelineView),
    (MatchingProjection, MatchingView),
    (AuditTrailProjection, AuditTrailView),
    (AuditChainProjection, AuditChainView),
)


class ClosingRunner(ProjectionRunner[Workshops, V]):
    """A projection runner that also closes its view's connections when it stops.

    The library's runner closes its application but not the view it built, so
    a process that restarts runners (the projector polls that way) would keep
    one pool of connections per restart until the garbage collector ran.
    """

    def __exit__(self, *exc: Any) -> None:
        try:
            super().__exit__(*exc)
        finally:
            close = getattr(self.view, "close", None)
            if close is not None:
                close()


@dataclass
class Stack:
    """What a process needs: where things are, the application, and what to stop."""

    settings: Settings
    database_url: str
    temporal_address: str
    temporal_ui: str | None = None
    started: list[str] = field(default_factory=list)
    _app: Workshops | None = None
    _exit: ExitStack = field(default_factory=ExitStack)

    @property
    def app(self) -> Workshops:
        if self._app is None:
            self._app = build_app(self.database_url)
            self._exit.callback(self._app.close)
        return self._app

    def board_runner(self) -> ProjectionRunner[Workshops, BoardView]:
        return self.runner(BoardProjection, BoardView)

    def runner(
        self, projection: type[Projection[V]], view: type[V]
    ) -> ProjectionRunner[Workshops, V]:
        """Follow the log into one read model, from the position it last committed."""
        with schema_lock(self.database_url):  # its tables may be created now
            return ClosingRunner(
                application_class=Workshops,
                projection_class=projection,
                view_class=view,
                env=postgres_env(self.database_url),
            )

    @contextmanager
    def caught_up(
        self, projection: type[Projection[V]], view: type[V], timeout: float = 60
    ) -> Iterator[V]:
        """A read model brought up to the log's current end (read-your-writes)."""
        with self.runner(projection, view) as runner:
            if self.app.max_position():  # waiting for position 0 would never end
                runner.wait(self.app.max_position(), timeout=timeout)
            yield runner.view

    async def temporal_client(self, attempts: int = 60) -> Client:
        """Connect, waiting while a server that just started says it is not healthy yet."""
        for _ in range(attempts - 1):
            try:
                return await self._connect()
            except RuntimeError:  # "Frontend is not healthy yet" and the like
                await asyncio.sleep(0.5)
        return await self._connect()

    async def _connect(self) -> Client:
        return await Client.connect(
            self.temporal_address,
            namespace=self.settings.temporal_namespace,
            data_converter=pydantic_data_converter,
        )

    def close(self) -> None:
        """Close the application and stop the servers this stack started (by pid)."""
        self._exit.close()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def build_notifier(settings: Settings) -> FanOutNotifier:
    """Reminders are always logged, and e-mailed when an SMTP host is configured."""
    notifiers: list[Notifier] = [LogNotifier()]
    if settings.smtp_host:
        notifiers.append(
            SmtpNotifier(
                settings.smtp_host,
                settings.smtp_port,
                settings.mail_from,
                settings.mail_fallback_to,
            )
        )
    return FanOutNotifier(notifiers)


def build_app(database_url: str) -> Workshops:
    with schema_lock(database_url):
        return Workshops(env=postgres_env(database_url))


def bootstrap(settings: Settings | None = None, *, temporal: bool = True) -> Stack:
    """Start what is not configured (embedded PostgreSQL, Temporal dev server).

    `temporal=False` is for commands that only read the log: they leave the
    dev server alone and get an empty `temporal_address` when none is set.
    """
    settings = settings or Settings()
    exit_stack = ExitStack()
    try:
        return _start(settings, temporal, exit_stack)
    except BaseException:  # a failed or interrupted start stops what it started
        exit_stack.close()
        raise


def _start(settings: Settings, temporal: bool, exit_stack: ExitStack) -> Stack:
    started: list[str] = []
    database_url = settings.database_url
    if database_url is None:
        postgres = exit_stack.enter_context(EmbeddedPostgres(settings.data_dir / "embedded"))
        database_url = postgres.url
        started.append(f"PostgreSQL (pid {postgres.pid}) at {_without_user(database_url)}")
    address, ui = settings.temporal_address or "", None
    if not address and temporal:
        server = exit_stack.enter_context(TemporalDevServer(settings.data_dir / "embedded"))
        address, ui = server.address, server.ui_url
        started.append(f"Temporal dev server (pid {server.pid}) at {address}, UI {ui}")
    return Stack(settings, database_url, address, ui, started, _exit=exit_stack)


def _without_user(url: str) -> str:
    return url.split("@", 1)[-1]
