"""Webhook delivery: follow the log into an outbox, then send the outbox.

Two halves run in one process object (`WebhookDelivery`):

- the follower reads the notification log with its own tracking table
  (`webhooks_tracking`), like the delivery relay: for each event it builds
  the CloudEvent (`EventFeed.envelope`) and inserts one outbox row per
  matching subscription in the SAME transaction as the event's tracking
  record. A restart resumes after the last tracked position, so no event is
  lost and none is enqueued twice. The PostgreSQL subscription waits on
  LISTEN/NOTIFY without a time-out, so a fresh runner is started every
  `poll_seconds`, and after a failure, `retry_seconds` later;
- the sender takes due outbox rows (`FOR UPDATE SKIP LOCKED`, with a lease
  so a row in flight is not taken twice), checks the URL again against
  private addresses, POSTs the stored body with the Standard Webhooks
  headers to the address it checked, and records the outcome: delivered on
  2xx, otherwise another try after an exponential delay with full jitter,
  dead after the last try. A crash repeats at most the rows in flight (their
  lease runs out); the `webhook-id` lets receivers drop such repeats.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import httpx
from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.utils import Environment

from ..app import Workshops
from ..feed import CloudEvent, EventFeed, FeedFilter
from ..log_follower import LogFollower
from ..persistence import postgres_env, schema_lock
from . import signing
from .sealing import Sealer
from .ssrf import Resolver, Target, UnsafeURL, check_url
from .store import Claimed, Status, Subscription, WebhookStore, active_subscriptions, enqueue

log = logging.getLogger(__name__)

FOLLOWER_NAME = "webhooks"
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
USER_AGENT = "quickwins-webhooks/1"
MAX_ERROR = 500


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: try n waits uniform(0, min(cap, base*factor^(n-1))).

    The defaults spread 8 tries over up to about 7.5 hours (ceilings 5 s,
    20 s, 80 s, 5 min, 21 min, 85 min, 5.7 h).
    """

    max_attempts: int = 8
    base_seconds: float = 5.0
    factor: float = 4.0
    cap_seconds: float = 6 * 3600.0

    def delay(self, attempt: int, rng: random.Random) -> float | None:
        """Seconds before the next try after try number `attempt` (1-based); None: no more."""
        if attempt >= self.max_attempts:
            return None
        ceiling = min(self.cap_seconds, self.base_seconds * self.factor ** (attempt - 1))
        return rng.uniform(0.0, ceiling)


def subscription_filter(sub: Subscription) -> FeedFilter:
    return FeedFilter(types=sub.types, programme_id=sub.programme_id, workshop_id=sub.workshop_id)


# ----- the follower -----------------------------------------------------------------------


class WebhookTracking(PostgresTrackingRecorder):
    """The follower's position (table `webhooks_tracking`) and its enqueueing transaction."""

    def close(self) -> None:
        self.datastore.close()

    def enqueue(self, tracking: Tracking, event: CloudEvent, body: str) -> int:
        """Track the event and add its deliveries in one transaction; how many were added."""
        position = tracking.notification_id
        with self.datastore.transaction(commit=True) as curs:
            # A second recording of the same tracking raises and rolls back the lot.
            self._insert_tracking(curs, tracking)
            wanted = [
                sub
                for sub in active_subscriptions(curs, position)
                if subscription_filter(sub).matches(event)
            ]
            return enqueue(curs, wanted, position, event.type, body)


class WebhookProjection(Projection[WebhookTracking]):
    name = FOLLOWER_NAME
    topics = ()  # every event: the feed decides what each subscription gets

    def __init__(
        self, view: WebhookTracking, feed: EventFeed, enqueued: Callable[[int], None]
    ) -> None:
        super().__init__(view)
        self.feed = feed
        self.enqueued = enqueued

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        event = self.feed.envelope(domain_event, tracking.notification_id)
        self.enqueued(self.view.enqueue(tracking, event, event.model_dump_json()))


def lean_env(database_url: str) -> dict[str, str]:
    """Persistence settings with small pools: the follower works one event at a time."""
    return {**postgres_env(database_url), "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "3"}


def webhook_tracking(database_url: str) -> WebhookTracking:
    """The follower's tracking recorder as the follower builds it. Close it with `close()`."""
    with schema_lock(database_url):
        factory = InfrastructureFactory[WebhookTracking].construct(
            env=Environment(FOLLOWER_NAME, lean_env(database_url))
        )
        return factory.tracking_recorder(WebhookTracking)


# ----- the sender -------------------------------------------------------------------------


def pinned_request(target: Target) -> tuple[str, dict[str, str], dict[str, Any]]:
    """URL, extra headers and extensions that connect to the checked address, not a new lookup.

    The Host header keeps the name for virtual hosting; for https the TLS
    server name (and so the certificate check) stays the URL's host.
    """
    parts = urlsplit(target.url)
    host = f"[{target.address}]" if ":" in target.address else target.address
    netloc = f"{host}:{parts.port}" if parts.port else host
    url = urlunsplit(parts._replace(netloc=netloc))
    extensions: dict[str, Any] = {}
    if target.scheme == "https":
        extensions["sni_hostname"] = target.host
    return url, {"host": parts.netloc}, extensions


class Sender:
    """Sends due deliveries, a batch at a time, on a pool of threads."""

    def __init__(
        self,
        store: WebhookStore,
        policy: RetryPolicy,
        *,
        timeout: float = 10.0,
        workers: int = 8,
        lease_seconds: float | None = None,
        resolve: Resolver | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.workers = workers
        # In flight longer than this, a delivery is taken again (the sender is presumed dead).
        self.lease_seconds = lease_seconds or max(60.0, 3 * timeout)
        self.resolve = resolve
        self.rng = rng or random.SystemRandom()
        # No redirects (they could lead anywhere) and no kept-alive connections
        # (a pinned connection must not be reused for another host name).
        self.client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0),
            trust_env=False,
        )
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook-send")

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.client.close()

    def send_due(self) -> int:
        """Claim and send one batch of due deliveries; how many were sent."""
        batch = self.store.claim(self.workers, self.lease_seconds)
        list(self.pool.map(self.send, batch))
        return len(batch)

    def send(self, claimed: Claimed) -> Status:
        """One try of one delivery, logged; returns the delivery's new status."""
        started = time.monotonic()
        code, error = self._post(claimed)
        delivery = claimed.delivery
        ok = code is not None and 200 <= code < 300
        return self.store.record(
            delivery,
            status_code=code,
            error=None if ok else error or f"HTTP {code}",
            duration_ms=round((time.monotonic() - started) * 1000),
            retry_in=None if ok else self.policy.delay(delivery.attempts + 1, self.rng),
        )

    def _post(self, claimed: Claimed) -> tuple[int | None, str | None]:
        delivery = claimed.delivery
        try:
            target = check_url(
                claimed.url, allow_private=claimed.allow_private, resolve=self.resolve
            )
        except UnsafeURL as refused:
            return None, str(refused)
        url, host, extensions = pinned_request(target)
        body = delivery.body.encode()
        stamp = int(time.time())
        headers = {
            **signing.headers(claimed.secret, delivery.webhook_id, stamp, body),
            **host,
            "content-type": CONTENT_TYPE,
            "user-agent": USER_AGENT,
        }
        try:
            response = self.client.post(url, content=body, headers=headers, extensions=extensions)
        except httpx.HTTPError as failed:
            return None, f"{type(failed).__name__}: {failed}"[:MAX_ERROR]
        return response.status_code, None


# ----- both, in one process ---------------------------------------------------------------


class WebhookDelivery(LogFollower[WebhookTracking]):
    """Follows the log into the outbox and sends the outbox, each in a thread of its own.

    Use as a context manager, or call `start()` and `stop()`; `stop()` lets
    the event and the sends in flight finish. `sealer` opens the stored
    signing secrets (see `sealing.sealer_for`).
    """

    def __init__(
        self,
        database_url: str,
        *,
        sealer: Sealer,
        policy: RetryPolicy | None = None,
        poll_seconds: float = 5.0,
        send_interval: float = 0.5,
        retry_seconds: float = 1.0,
        timeout: float = 10.0,
        workers: int = 8,
        lease_seconds: float | None = None,
        resolve: Resolver | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(
            "webhook-follow",
            database_url,
            webhook_tracking(database_url),
            lean_env(database_url),
            poll_seconds=poll_seconds,
            retry_seconds=retry_seconds,
        )
        self.send_interval = send_interval
        self.store = WebhookStore(database_url, sealer=sealer, max_size=min(workers, 4) + 1)
        with schema_lock(database_url):
            # The feed's own look-ups (where an aggregate belongs) go through this app.
            self.app = Workshops(env=lean_env(database_url))
        self.feed = EventFeed(self.app)
        self.sender = Sender(
            self.store,
            policy or RetryPolicy(),
            timeout=timeout,
            workers=workers,
            lease_seconds=lease_seconds,
            resolve=resolve,
            rng=rng,
        )
        self.enqueued = 0
        self.sent = 0
        self._closed = False
        self._final_position: int | None = None
        self._wake = threading.Event()
        self._sender = threading.Thread(target=self._send, name="webhook-send", daemon=True)

    # ----- lifecycle -----

    def start(self) -> None:
        self._start_following()
        self._sender.start()

    def stop(self) -> None:
        self._wake.set()
        self._stop_following(timeout=30)
        if self._sender.is_alive():
            self._sender.join(timeout=30)
        self.sender.close()
        self._final_position = self.position()  # readable after the pools are closed
        self._closed = True
        self.view.close()
        self.store.close()
        self.app.close()

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

    def run_forever(self, stop_event: threading.Event) -> None:
        """Deliver until `stop_event` is set (for the CLI)."""
        with self, contextlib.suppress(KeyboardInterrupt):
            # Short waits keep the main thread ready for Ctrl-C.
            while not stop_event.wait(0.5):
                pass

    # ----- reading -----

    def position(self) -> int | None:
        """The log position of the last event followed (None before the first)."""
        if self._closed:
            return self._final_position
        return self.view.max_tracking_id(Workshops.name)

    def wait(self, position: int, timeout: float = 10.0) -> None:
        """Block until the follower has enqueued the deliveries of events up to `position`."""
        self.view.wait(Workshops.name, position, timeout=timeout)

    # ----- the follower thread -----

    def _on_enqueued(self, added: int) -> None:
        with self._lock:
            self.enqueued += added
        if added:
            self._wake.set()  # the sender need not wait for its next poll

    def projection(self) -> WebhookProjection:
        return WebhookProjection(self.view, self.feed, self._on_enqueued)

    # ----- the sender thread -----

    def _send(self) -> None:
        while not self._stopping.is_set():
            try:
                sent = self.sender.send_due()
            except Exception:
                self.failures += 1
                log.exception("the webhook sender failed; trying again")
                self._stopping.wait(self.retry_seconds)
                continue
            with self._lock:
                self.sent += sent
            if sent < self.sender.workers:  # the outbox is drained for now
                self._wake.wait(self.send_interval)
                self._wake.clear()
