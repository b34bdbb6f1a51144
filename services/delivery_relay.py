"""The delivery relay: follows the event log and signals the delivery workflows.

Workflows that wait on recorded events get them through the same
subscription machinery as the read models: the notification log followed
with tracking. For each initiative event that can change a delivery plan
(`RELAYED_EVENTS`) the relay sends the `initiative_changed` signal to the
workflow `delivery-{initiative_id}`, then records the event's position in its
own tracking table (`delivery_relay_tracking`).

Signal first, then track: a crash in between means the event is signalled
again when the relay restarts from its tracked position. That repeat is
harmless, since the signal only tells the workflow to re-read the initiative.
Nothing is skipped: an event is tracked only after its signal was accepted
(or its workflow was found missing). A signal to a workflow that does not
exist (not started yet, or finished) is logged and dropped: a workflow
started later reads the initiative as recorded anyway.

Temporal's client is asynchronous and the library's subscription is not: the
signals are sent from a dedicated event loop thread with
`asyncio.run_coroutine_threadsafe`, and the projection thread waits for each.

The PostgreSQL subscription waits on LISTEN/NOTIFY without a time-out, so the
relay restarts its runner every `poll_seconds` (a fresh runner resumes from
the tracked position and catches up); after a failure (Temporal or the
database unreachable) it waits `retry_seconds` and starts again from the
tracked position.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar
from uuid import UUID

from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.utils import Environment, get_topic
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.initiative import Initiative
from workflows.delivery import InitiativeDelivery, delivery_workflow_id

from .app import Workshops
from .log_follower import LogFollower
from .persistence import postgres_env, schema_lock

log = logging.getLogger(__name__)

T = TypeVar("T")

RELAY_NAME = "delivery_relay"
# The initiative events that can change what a delivery workflow plans.
RELAYED_EVENTS = (
    "MilestonePlanned",
    "MilestoneRescheduled",
    "MilestoneCompleted",
    "StageChanged",
    "ProgressReported",
    "OwnerAssigned",
)
RELAYED_TOPICS = tuple(get_topic(vars(Initiative)[name]) for name in RELAYED_EVENTS)

# Sends one signal: (initiative id, event kind) -> True if delivered, False if
# there was no workflow to deliver it to. Raises when it could not tell.
Signaller = Callable[[UUID, str], bool]


class DeliveryRelayTracking(PostgresTrackingRecorder):
    """The relay's position in the log (its table is `delivery_relay_tracking`)."""

    def close(self) -> None:
        self.datastore.close()


class DeliveryRelayProjection(Projection[DeliveryRelayTracking]):
    """Signals the initiative's workflow, then tracks the event."""

    name = RELAY_NAME
    topics = RELAYED_TOPICS

    def __init__(self, view: DeliveryRelayTracking, signal: Signaller) -> None:
        super().__init__(view)
        self.signal = signal

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.signal(domain_event.originator_id, type(domain_event).__name__)
        self.view.insert_tracking(tracking)


class EventLoopThread:
    """An asyncio event loop running in a thread of its own, for calls from other threads."""

    def __init__(self, name: str = "delivery-relay-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> None:
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run `coroutine` on the loop; wait at most `timeout` seconds for its result."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout=timeout)
        except TimeoutError:
            future.cancel()
            raise

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()


class TemporalSignaller:
    """Sends `initiative_changed` to `delivery-{initiative_id}` from a loop thread."""

    def __init__(self, client: Client, loop: EventLoopThread, timeout: float = 10.0) -> None:
        self.client = client
        self.loop = loop
        self.timeout = timeout

    def __call__(self, initiative_id: UUID, kind: str) -> bool:
        return self.loop.call(self._signal(initiative_id, kind), self.timeout)

    async def _signal(self, initiative_id: UUID, kind: str) -> bool:
        workflow_id = delivery_workflow_id(initiative_id)
        handle = self.client.get_workflow_handle(workflow_id)
        try:
            await handle.signal(InitiativeDelivery.initiative_changed, kind)
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            log.info("no running workflow %s: %s not signalled (%s)", workflow_id, kind, error)
            return False
        return True


class DeliveryRelay(LogFollower[DeliveryRelayTracking]):
    """Follows the log in a thread of its own and signals delivery workflows.

    Use as a context manager, or call `start()` and `stop()`. Pass a Temporal
    `client` (its signals then go out from a loop thread the relay runs), or a
    `signaller` of your own.
    """

    def __init__(
        self,
        database_url: str,
        client: Client | None = None,
        *,
        signaller: Signaller | None = None,
        poll_seconds: float = 5.0,
        retry_seconds: float = 1.0,
        signal_timeout: float = 10.0,
    ) -> None:
        if (client is None) == (signaller is None):
            raise ValueError("give a Temporal client or a signaller (one of them)")
        self._loop: EventLoopThread | None = None
        if signaller is None:
            assert client is not None
            self._loop = EventLoopThread()
            signaller = TemporalSignaller(client, self._loop, signal_timeout)
        self.signaller = signaller
        env = postgres_env(database_url)
        with schema_lock(database_url):
            view = relay_tracking(env)
        super().__init__(
            "delivery-relay",
            database_url,
            view,
            env,
            poll_seconds=poll_seconds,
            retry_seconds=retry_seconds,
        )
        self.signalled = 0  # signals delivered
        self.missing = 0  # signals for workflows that did not exist

    # ----- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        if self._loop is not None:
            self._loop.start()
        self._start_following()

    def stop(self) -> None:
        """Stop following (the event in flight finishes first) and close everything."""
        self._stop_following(timeout=10)
        if self._loop is not None:
            self._loop.stop()
        self.view.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ----- reading the position ----------------------------------------------

    def position(self) -> int | None:
        """The log position of the last event relayed (None before the first)."""
        return self.view.max_tracking_id(Workshops.name)

    def wait(self, position: int, timeout: float = 5.0) -> None:
        """Block until the relay has passed `position` (the position of a relayed event)."""
        self.view.wait(Workshops.name, position, timeout=timeout)

    # ----- the follower thread ------------------------------------------------

    def _signal(self, initiative_id: UUID, kind: str) -> bool:
        delivered = self.signaller(initiative_id, kind)
        with self._lock:
            if delivered:
                self.signalled += 1
            else:
                self.missing += 1
        return delivered

    def projection(self) -> DeliveryRelayProjection:
        return DeliveryRelayProjection(self.view, self._signal)


def relay_tracking(env: Mapping[str, str]) -> DeliveryRelayTracking:
    """The relay's tracking recorder, as the relay builds it (for reading its position).

    `env` holds the library's persistence settings (see `services.persistence`),
    optionally prefixed `DELIVERY_RELAY_`. Close it with `close()`.
    """
    factory = InfrastructureFactory[DeliveryRelayTracking].construct(
        env=Environment(RELAY_NAME, dict(env))
    )
    return factory.tracking_recorder(DeliveryRelayTracking)


def run_relay(
    database_url: str,
    client: Client,
    stop_event: threading.Event,
    *,
    poll_seconds: float = 5.0,
) -> None:
    """Relay until `stop_event` is set (for a process of its own)."""
    with DeliveryRelay(database_url, client, poll_seconds=poll_seconds) as relay:
        with contextlib.suppress(KeyboardInterrupt):
            # Short waits keep the main thread ready for Ctrl-C.
            while not stop_event.wait(0.5):
                pass
        log.info("delivery relay stopping at position %s", relay.position())
