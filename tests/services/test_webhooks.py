"""Webhooks: signing, the URL check, the outbox, and delivery to a real receiver on loopback."""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import uuid4

import pytest

from domain.agenda import PhaseKind
from services.app import Workshops
from services.feed import type_name
from services.persistence import postgres_env
from services.webhooks import signing
from services.webhooks.delivery import RetryPolicy, WebhookDelivery, pinned_request
from services.webhooks.sealing import Sealer, new_key_text, parse_key
from services.webhooks.ssrf import UnsafeURL, check_url, is_private
from services.webhooks.store import Subscription, WebhookStore, webhook_id
from services.webhooks.subscriptions import BadSubscription, register

from .walk import Walk

# ----- a receiver on loopback ------------------------------------------------------------


class Receiver:
    """An HTTP server on 127.0.0.1 that verifies signatures and dedupes by webhook-id.

    `respond(webhook_id, tries_so_far)` picks the status code; `delay` slows
    each answer (to stop a sender with requests in flight).
    """

    def __init__(
        self,
        secret: str = "",
        respond: Callable[[str, int], int] | None = None,
        delay: float = 0.0,
    ) -> None:
        self.secret = secret
        self.respond = respond or (lambda _id, _n: 204)
        self.delay = delay
        self.lock = threading.Lock()
        self.requests: list[tuple[str, dict[str, Any]]] = []  # (webhook-id, CloudEvent)
        self.events: dict[str, dict[str, Any]] = {}  # after dedup: webhook-id -> CloudEvent
        self.tries: dict[str, int] = {}
        self.bad: list[str] = []  # why a request failed verification
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                self.send_response(receiver.receive(headers, body))
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def receive(self, headers: dict[str, str], body: bytes) -> int:
        time.sleep(self.delay)
        try:
            message_id = signing.verify(self.secret, headers, body)
        except signing.InvalidSignature as error:
            with self.lock:
                self.bad.append(str(error))
            return 401
        event = json.loads(body)
        with self.lock:
            tries = self.tries.get(message_id, 0)
            self.tries[message_id] = tries + 1
            self.requests.append((message_id, event))
        code = self.respond(message_id, tries)
        if 200 <= code < 300:
            with self.lock:
                self.events.setdefault(message_id, event)  # a repeat is dropped
        return code

    def positions(self) -> list[int]:
        with self.lock:
            return sorted(int(event["id"]) for event in self.events.values())

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def eventually(check: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or check}")


FAST = RetryPolicy(max_attempts=4, base_seconds=0.05, factor=2.0, cap_seconds=0.2)
# The key these tests seal secrets under: the store and the delivery process share it.
SEALER = Sealer(parse_key(new_key_text(), "test key"))


# ----- signing -----------------------------------------------------------------------------

# The test vector published with the Standard Webhooks reference libraries.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIME = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _at(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def test_signing_matches_the_published_test_vector() -> None:
    assert signing.sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIME, VECTOR_BODY) == VECTOR_SIGNATURE
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIME),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    assert signing.verify(VECTOR_SECRET, headers, VECTOR_BODY, now=_at(VECTOR_TIME)) == VECTOR_ID


def test_a_new_secret_round_trips_and_verification_rejects_tampering() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24
    now = int(time.time())
    headers = signing.headers(secret, "msg_1", now, b"{}")
    assert signing.verify(secret, headers, b"{}") == "msg_1"
    for body, changed in [
        (b"{ }", headers),
        (b"{}", {**headers, "webhook-id": "msg_2"}),
        (b"{}", {**headers, "webhook-timestamp": str(now + 1)}),
    ]:
        with pytest.raises(signing.InvalidSignature):
            signing.verify(secret, changed, body)
    with pytest.raises(signing.InvalidSignature):
        signing.verify(signing.new_secret(), headers, b"{}")


def test_verification_enforces_the_timestamp_tolerance_and_accepts_any_listed_signature() -> None:
    secret = signing.new_secret()
    headers = signing.headers(secret, "msg_1", VECTOR_TIME, b"x")
    late = _at(VECTOR_TIME) + timedelta(seconds=signing.TOLERANCE_SECONDS + 1)
    with pytest.raises(signing.InvalidSignature, match="tolerance"):
        signing.verify(secret, headers, b"x", now=late)
    rotated = {**headers, "webhook-signature": f"v1,bm90IGl0 {headers['webhook-signature']}"}
    assert signing.verify(secret, rotated, b"x", now=_at(VECTOR_TIME)) == "msg_1"
    with pytest.raises(signing.InvalidSignature, match="missing"):
        signing.verify(secret, {"webhook-id": "msg_1"}, b"x")


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_c2hvcnQ=", ""])
def test_bad_secrets_are_refused(secret: str) -> None:
    with pytest.raises(signing.InvalidSecret):
        signing.secret_key(secret)


# ----- the URL check -------------------------------------------------------------------------

REFUSED = [
    "http://127.0.0.1/",
    "http://127.1.2.3:8080/x",
    "http://10.0.0.5/",
    "http://172.16.0.1/",
    "http://192.168.1.10/",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://[::1]/",
    "http://[::]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[ff02::1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
    "http://[::ffff:10.0.0.1]/",
    "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://localhost:9000/",
    "http://2130706433/",  # 127.0.0.1 as one number
    "http://0x7f.1/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_private_and_loopback_targets_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(UnsafeURL, match="^url: "):
        check_url(url)
    if "ff02" not in url and "224." not in url and "255." not in url:
        assert check_url(url, allow_private=True).url == url


@pytest.mark.parametrize(
    "url", ["ftp://93.184.216.34/", "file:///etc/passwd", "gopher://x/", "http:///x", "nonsense"]
)
def test_only_http_and_https_urls_with_a_host_are_accepted(url: str) -> None:
    with pytest.raises(UnsafeURL, match="^url: "):
        check_url(url, allow_private=True)


def test_public_addresses_pass_and_every_resolved_address_counts() -> None:
    assert check_url("https://93.184.216.34/hook").address == "93.184.216.34"
    assert check_url("http://[2606:4700::1111]:8443/").port == 8443
    assert not is_private(ipaddress.ip_address("8.8.8.8"))
    # A name resolving to a public and a private address is refused.
    with pytest.raises(UnsafeURL, match="10.1.2.3"):
        check_url("https://hooks.example/", resolve=lambda _h, _p: ["93.184.216.34", "10.1.2.3"])
    with pytest.raises(UnsafeURL, match="^url: credentials"):
        check_url("https://user:pw@93.184.216.34/")


def test_the_sender_connects_to_the_checked_address_and_keeps_the_host_name() -> None:
    target = check_url(
        "https://hooks.example:8443/in?x=1", resolve=lambda _h, _p: ["93.184.216.34"]
    )
    url, host, extensions = pinned_request(target)
    assert url == "https://93.184.216.34:8443/in?x=1"
    assert host == {"host": "hooks.example:8443"}
    assert extensions == {"sni_hostname": "hooks.example"}


def test_backoff_grows_with_full_jitter_and_stops_after_the_last_try() -> None:
    policy = RetryPolicy(max_attempts=8, base_seconds=5, factor=4, cap_seconds=3600)
    rng = random.Random(7)
    for attempt in range(1, 8):
        ceiling = min(3600, 5 * 4 ** (attempt - 1))
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(d is not None and 0 <= d <= ceiling for d in delays)
        assert max(d for d in delays if d is not None) > ceiling / 2  # spread, not fixed
    assert policy.delay(8, rng) is None


# ----- the store and registration ---------------------------------------------------------------


@pytest.fixture
def app(fresh_database_url: str) -> Iterator[Workshops]:
    application = Workshops(env=postgres_env(fresh_database_url))
    yield application
    application.close()


@pytest.fixture
def store(fresh_database_url: str) -> Iterator[WebhookStore]:
    webhooks = WebhookStore(fresh_database_url, sealer=SEALER)
    yield webhooks
    webhooks.close()


def subscribe(store: WebhookStore, url: str, start: int = 0, **kwargs: Any) -> Subscription:
    return register(
        store,
        url=url,
        start_position=start,
        owner_token_id=kwargs.pop("owner", None),
        allow_private=True,
        **kwargs,
    )


@pytest.mark.integration
def test_registration_checks_url_types_and_secret(store: WebhookStore) -> None:
    owner = uuid4()
    with pytest.raises(BadSubscription) as refused:
        register(store, url="http://127.0.0.1:9/", start_position=0, owner_token_id=owner)
    assert refused.value.field == "url"
    scheduled = type_name_of("Workshop", "Scheduled")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"types": ["quickwins.nothing.v1"]}, "types"),
        ({"types": []}, "types"),
        ({"types": [scheduled], "granted_types": frozenset({"x"})}, "types"),
        ({"secret": "whsec_c2hvcnQ="}, "secret"),
    ]
    for extra, field in cases:
        with pytest.raises(BadSubscription) as refused:
            subscribe(store, "http://127.0.0.1:9/", owner=owner, **extra)
        assert refused.value.field == field
    granted = subscribe(
        store, "http://127.0.0.1:9/", owner=owner, granted_types=frozenset({scheduled})
    )
    assert granted.types == frozenset({scheduled}) and granted.secret.startswith("whsec_")
    assert [s.id for s in store.subscriptions(owner)] == [granted.id]
    assert store.subscriptions(uuid4()) == []
    assert store.deactivate(granted.id) and not store.deactivate(granted.id)
    assert store.subscriptions(owner) == [] and len(store.subscriptions(owner, inactive=True)) == 1


def type_name_of(aggregate: str, event: str) -> str:
    import domain.workshop

    cls = getattr(getattr(domain.workshop, aggregate), event)
    return type_name(cls)


# ----- delivery to a real receiver -----------------------------------------------------------


def delivery_process(url: str, **kwargs: Any) -> WebhookDelivery:
    defaults: dict[str, Any] = {
        "policy": FAST,
        "poll_seconds": 1.0,
        "send_interval": 0.05,
        "timeout": 5.0,
        "workers": 4,
        "sealer": SEALER,
    }
    return WebhookDelivery(url, **{**defaults, **kwargs})


@pytest.mark.integration
def test_every_event_arrives_exactly_once_after_dedup_across_a_restart(
    fresh_database_url: str, app: Workshops, store: WebhookStore
) -> None:
    secret = signing.new_secret()
    with Receiver(secret, delay=0.02) as receiver:
        sub = subscribe(store, receiver.url, secret=secret)
        walk = Walk(app)
        walk.to(PhaseKind.BRAINSTORM)
        people = walk.join(6)
        first = delivery_process(fresh_database_url)
        with first:
            eventually(lambda: len(receiver.events) >= 5, what="the first deliveries")
        # Stopped mid-way: more events are recorded while no process runs.
        for person in people[:4]:
            walk.idea(person, "Shared procurement")
        expected = list(range(1, app.max_position() + 1))
        assert len(receiver.events) < len(expected)
        second = delivery_process(fresh_database_url)
        with second:
            eventually(lambda: receiver.positions() == expected, what="every event")
            second.wait(app.max_position())
        assert receiver.bad == []  # every request carried a valid signature
        # The follower resumed where the first stopped: nothing enqueued twice.
        assert first.enqueued + second.enqueued == len(expected)
        assert set(receiver.events) == {webhook_id(sub.id, p) for p in expected}
        assert len(receiver.requests) >= len(expected)  # repeats only of what was in flight
        assert store.counts() == {"pending": 0, "delivered": len(expected), "dead": 0}
        body = receiver.events[webhook_id(sub.id, 1)]
        assert body["specversion"] == "1.0" and body["type"] == type_name_of(
            "Workshop", "Scheduled"
        )


@pytest.mark.integration
def test_a_sender_that_dies_mid_send_repeats_only_what_was_in_flight(
    fresh_database_url: str, app: Workshops, store: WebhookStore
) -> None:
    secret = signing.new_secret()
    with Receiver(secret) as receiver:
        subscribe(store, receiver.url, secret=secret)
        walk = Walk(app)
        walk.join(3)
        expected = list(range(1, app.max_position() + 1))
        follower = delivery_process(fresh_database_url, lease_seconds=0.5)
        # Enqueue only: a sender that takes two deliveries and dies before sending them.
        follower.sender.send_due = lambda: 0  # type: ignore[method-assign]
        with follower:
            follower.wait(app.max_position())
        lost = store.claim(2, lease_seconds=0.5)
        assert len(lost) == 2
        with delivery_process(fresh_database_url, lease_seconds=0.5):
            eventually(lambda: receiver.positions() == expected, what="every event")
        assert receiver.bad == []
        assert all(store.delivery(c.delivery.id).status == "delivered" for c in lost)  # type: ignore[union-attr]


@pytest.mark.integration
def test_failures_are_retried_with_backoff_and_every_attempt_is_logged(
    fresh_database_url: str, app: Workshops, store: WebhookStore
) -> None:
    secret = signing.new_secret()
    # Each message fails twice (500, then 503) before it is accepted.
    codes = [500, 503]
    with Receiver(secret, respond=lambda _id, n: codes[n] if n < 2 else 200) as receiver:
        subscribe(store, receiver.url, secret=secret)
        Walk(app)
        with delivery_process(fresh_database_url):
            eventually(lambda: receiver.positions() == [1], what="the retried delivery")
            eventually(lambda: store.counts()["delivered"] == 1)
        (delivery,) = store.deliveries()
        assert delivery.status == "delivered" and delivery.attempts == 3
        log = store.attempts(delivery.id)
        assert [a.status_code for a in log] == [500, 503, 200]
        assert [a.attempt for a in log] == [1, 2, 3]
        assert log[0].error == "HTTP 500" and log[2].error is None
        assert receiver.tries[delivery.webhook_id] == 3  # one webhook-id for every try


@pytest.mark.integration
def test_after_the_last_try_a_delivery_is_dead_and_can_be_redelivered(
    fresh_database_url: str, app: Workshops, store: WebhookStore
) -> None:
    secret = signing.new_secret()
    down = threading.Event()
    down.set()
    with Receiver(secret, respond=lambda _id, _n: 503 if down.is_set() else 200) as receiver:
        subscribe(store, receiver.url, secret=secret)
        Walk(app)
        with delivery_process(fresh_database_url):
            eventually(lambda: store.counts()["dead"] == 1, what="the dead letter")
            (dead,) = store.deliveries(status="dead")
            assert dead.attempts == FAST.max_attempts and dead.last_status_code == 503
            assert len(store.attempts(dead.id)) == FAST.max_attempts
            down.clear()
            again = store.redeliver(dead.id)
            assert again is not None and again.status == "pending" and again.attempts == 0
            eventually(lambda: store.counts()["delivered"] == 1, what="the redelivery")
        assert receiver.positions() == [1]
        assert store.redeliver(uuid4()) is None


@pytest.mark.integration
def test_filters_and_start_positions_decide_what_each_subscription_gets(
    fresh_database_url: str, app: Workshops, store: WebhookStore
) -> None:
    secret = signing.new_secret()
    with Receiver(secret) as receiver:
        before = Walk(app)
        start = app.max_position()
        scheduled = type_name_of("Workshop", "Scheduled")
        everything = subscribe(store, receiver.url, start, secret=secret)
        only_scheduled = subscribe(store, receiver.url, start, secret=secret, types=[scheduled])
        walk = Walk(app)
        in_workshop = subscribe(
            store, receiver.url, app.max_position(), secret=secret, workshop_id=walk.id
        )
        walk.join(2)
        before.join(1)
        with delivery_process(fresh_database_url) as process:
            process.wait(app.max_position())
            eventually(lambda: store.counts()["pending"] == 0)
        got = {
            sub.id: {d.position for d in store.deliveries(subscription_id=sub.id)}
            for sub in (everything, only_scheduled, in_workshop)
        }
        assert got[everything.id] == set(range(start + 1, app.max_position() + 1))
        assert got[only_scheduled.id] == {start + 1}
        workshop_events = {
            int(e["id"]) for e in receiver.events.values() if e.get("workshopid") == str(walk.id)
        }
        assert got[in_workshop.id] and got[in_workshop.id] <= workshop_events
        assert all("Person" not in json.dumps(e) for e in receiver.events.values())  # no names


@pytest.mark.integration
def test_the_url_is_checked_again_at_send_time(
    fresh_database_url: str, app: Workshops, store: WebhookStore
) -> None:
    answers = ["93.184.216.34"]  # public when registered; loopback when sending
    sub = register(
        store,
        url="http://hooks.example:9/",
        start_position=0,
        owner_token_id=None,
        resolve=lambda _h, _p: answers,
    )
    assert not sub.allow_private
    answers[0] = "127.0.0.1"
    Walk(app)
    with delivery_process(fresh_database_url, resolve=lambda _h, _p: answers):
        eventually(lambda: store.counts()["dead"] == 1, what="the refused delivery")
    (dead,) = store.deliveries()
    assert dead.last_status_code is None
    assert dead.last_error is not None and dead.last_error.startswith("url: hooks.example")
