"""Webhook tables: subscriptions, the outbox of deliveries and the attempt log.

- `webhook_subscriptions`: who wants what where: URL, signing secret, filters
  (event types, programme, workshop), whether an admin allowed a private URL,
  and the log position it starts after (events recorded before it registered
  are not sent). Deleting a subscription deactivates it; its log stays. The
  secret is sealed (`sealing.py`) under a key kept out of the database, so a
  dump does not leak it; rows from before sealing hold it plain and still work.
  It is opened only to sign (`claim`) and shown only at registration.
- `webhook_deliveries`: the outbox, one row per (subscription, log position),
  with the exact body and the `webhook-id` every retry repeats, the attempt
  count, the status (pending, delivered, dead), when the next try is due and
  what the last one answered. Rows are enqueued by the follower in the same
  transaction as its tracking record (`enqueue`).
- `webhook_attempts`: one row per try: when, status code or error, duration.

Times come from the database's clock, so processes on several machines agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import psycopg
from psycopg import Cursor
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

from ..persistence import schema_lock
from .sealing import Sealer

Status = Literal["pending", "delivered", "dead"]
STATUSES: tuple[Status, ...] = ("pending", "delivered", "dead")

# The namespace of deterministic webhook-ids: one per (subscription, position).
WEBHOOK_ID_NAMESPACE = uuid5(NAMESPACE_URL, "quickwins:webhook")

DDL = (
    """CREATE TABLE IF NOT EXISTS webhook_subscriptions (
        id uuid PRIMARY KEY,
        owner_token_id uuid,
        url text NOT NULL,
        secret text NOT NULL,
        types text[],
        programme_id uuid,
        workshop_id uuid,
        allow_private boolean NOT NULL DEFAULT false,
        active boolean NOT NULL DEFAULT true,
        start_position bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now())""",
    "CREATE INDEX IF NOT EXISTS webhook_subscriptions_owner"
    " ON webhook_subscriptions (owner_token_id)",
    """CREATE TABLE IF NOT EXISTS webhook_deliveries (
        id uuid PRIMARY KEY,
        subscription_id uuid NOT NULL REFERENCES webhook_subscriptions (id),
        position bigint NOT NULL,
        webhook_id text NOT NULL,
        event_type text NOT NULL,
        body text NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        status text NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'delivered', 'dead')),
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_status_code integer,
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (subscription_id, position))""",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_due"
    " ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_status ON webhook_deliveries (status)",
    """CREATE TABLE IF NOT EXISTS webhook_attempts (
        id bigserial PRIMARY KEY,
        delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id),
        attempt integer NOT NULL,
        at timestamptz NOT NULL DEFAULT now(),
        status_code integer,
        error text,
        duration_ms integer NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS webhook_attempts_delivery ON webhook_attempts (delivery_id)",
)


@dataclass(frozen=True)
class Subscription:
    id: UUID
    owner_token_id: UUID | None
    url: str
    types: frozenset[str] | None
    programme_id: UUID | None
    workshop_id: UUID | None
    allow_private: bool
    active: bool
    start_position: int
    created_at: datetime


@dataclass(frozen=True)
class Registered(Subscription):
    """A subscription just stored, with its secret in the clear: the one time it is shown."""

    secret: str


@dataclass(frozen=True)
class Delivery:
    id: UUID
    subscription_id: UUID
    position: int
    webhook_id: str
    event_type: str
    body: str
    attempts: int
    status: Status
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Attempt:
    delivery_id: UUID
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True)
class Claimed:
    """A due delivery with what the sender needs from its subscription."""

    delivery: Delivery
    url: str
    secret: str
    allow_private: bool


def webhook_id(subscription_id: UUID, position: int) -> str:
    """The same id for every try of one event to one subscription (receivers dedupe on it)."""
    return f"msg_{uuid5(WEBHOOK_ID_NAMESPACE, f'{subscription_id}/{position}').hex}"


# Every column but the secret, which only `claim` reads.
SUBSCRIPTION_SELECT = (
    "id, owner_token_id, url, types, programme_id, workshop_id, allow_private, active,"
    " start_position, created_at"
)


def _subscription(row: DictRow) -> Subscription:
    types = row["types"]
    return Subscription(
        id=row["id"],
        owner_token_id=row["owner_token_id"],
        url=row["url"],
        types=None if types is None else frozenset(types),
        programme_id=row["programme_id"],
        workshop_id=row["workshop_id"],
        allow_private=row["allow_private"],
        active=row["active"],
        start_position=row["start_position"],
        created_at=row["created_at"],
    )


_DELIVERY_COLUMNS = (
    "id", "subscription_id", "position", "webhook_id", "event_type", "body", "attempts",
    "status", "next_attempt_at", "last_status_code", "last_error", "created_at", "updated_at",
)  # fmt: skip
DELIVERY_SELECT = ", ".join(f"d.{column}" for column in _DELIVERY_COLUMNS)


def _delivery(row: DictRow) -> Delivery:
    return Delivery(**{column: row[column] for column in _DELIVERY_COLUMNS})


# ----- enqueueing (inside the follower's transaction) --------------------------------


def active_subscriptions(curs: Cursor[DictRow], position: int) -> list[Subscription]:
    """Subscriptions that want events at `position` (registered before it was recorded)."""
    curs.execute(
        f"SELECT {SUBSCRIPTION_SELECT} FROM webhook_subscriptions"
        " WHERE active AND start_position < %s ORDER BY id",
        (position,),
    )
    return [_subscription(row) for row in curs.fetchall()]


def enqueue(
    curs: Cursor[DictRow],
    subscriptions: Iterable[Subscription],
    position: int,
    kind: str,
    body: str,
) -> int:
    """One pending delivery per subscription; a repeat of (subscription, position) adds nothing."""
    added = 0
    for sub in subscriptions:
        curs.execute(
            "INSERT INTO webhook_deliveries (id, subscription_id, position, webhook_id,"
            " event_type, body) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (subscription_id, position) DO NOTHING",
            (uuid4(), sub.id, position, webhook_id(sub.id, position), kind, body),
        )
        added += curs.rowcount
    return added


# ----- the store ------------------------------------------------------------------------


class WebhookStore:
    """Reads and writes the webhook tables (creating them on first use)."""

    def __init__(
        self,
        database_url: str,
        *,
        sealer: Sealer,
        pool: ConnectionPool[Any] | None = None,
        max_size: int = 8,
    ) -> None:
        """Use `pool` when given (its owner closes it), else a pool of the store's own.

        `sealer` seals secrets as they are stored and opens them to sign; it
        is required so that no caller can store a secret in the clear.
        """
        self.sealer = sealer
        with schema_lock(database_url):
            create_tables(database_url)
        self._own_pool = pool is None
        self.pool: ConnectionPool[Any] = pool or ConnectionPool(
            database_url, min_size=1, max_size=max_size, open=True, name="webhooks"
        )

    def close(self) -> None:
        if self._own_pool:
            self.pool.close()

    @contextmanager
    def _cursor(self) -> Iterator[Cursor[DictRow]]:
        with (
            self.pool.connection() as conn,
            conn.transaction(),
            conn.cursor(row_factory=dict_row) as curs,
        ):
            yield curs

    # ----- subscriptions -----

    def add_subscription(
        self,
        *,
        url: str,
        secret: str,
        owner_token_id: UUID | None,
        types: frozenset[str] | None = None,
        programme_id: UUID | None = None,
        workshop_id: UUID | None = None,
        allow_private: bool = False,
        start_position: int = 0,
    ) -> Registered:
        """Store a subscription, its secret sealed; the answer carries the secret in the clear."""
        subscription_id = uuid4()
        with self._cursor() as curs:
            curs.execute(
                "INSERT INTO webhook_subscriptions (id, owner_token_id, url, secret, types,"
                " programme_id, workshop_id, allow_private, start_position)"
                f" VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {SUBSCRIPTION_SELECT}",
                (
                    subscription_id,
                    owner_token_id,
                    url,
                    self.sealer.seal(subscription_id, secret),
                    None if types is None else sorted(types),
                    programme_id,
                    workshop_id,
                    allow_private,
                    start_position,
                ),
            )
            row = curs.fetchone()
            assert row is not None
        sub = _subscription(row)
        return Registered(**{f.name: getattr(sub, f.name) for f in fields(sub)}, secret=secret)

    def subscription(self, subscription_id: UUID) -> Subscription | None:
        with self._cursor() as curs:
            curs.execute(
                f"SELECT {SUBSCRIPTION_SELECT} FROM webhook_subscriptions WHERE id = %s",
                (subscription_id,),
            )
            row = curs.fetchone()
            return None if row is None else _subscription(row)

    def subscriptions(
        self, owner_token_id: UUID | None = None, *, everyone: bool = False, inactive: bool = False
    ) -> list[Subscription]:
        """The owner's subscriptions (or `everyone`'s), oldest first; active ones unless asked."""
        with self._cursor() as curs:
            curs.execute(
                f"SELECT {SUBSCRIPTION_SELECT} FROM webhook_subscriptions"
                " WHERE (%(everyone)s OR owner_token_id IS NOT DISTINCT FROM %(owner)s)"
                " AND (%(inactive)s OR active) ORDER BY created_at, id",
                {"everyone": everyone, "owner": owner_token_id, "inactive": inactive},
            )
            return [_subscription(row) for row in curs.fetchall()]

    def deactivate(self, subscription_id: UUID) -> bool:
        """Stop sending to a subscription (pending deliveries stay pending, unsent)."""
        with self._cursor() as curs:
            curs.execute(
                "UPDATE webhook_subscriptions SET active = false WHERE id = %s AND active",
                (subscription_id,),
            )
            return curs.rowcount == 1

    # ----- deliveries -----

    def deliveries(
        self,
        *,
        subscription_id: UUID | None = None,
        status: Status | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        """Newest first, optionally of one subscription and in one status."""
        with self._cursor() as curs:
            curs.execute(
                f"SELECT {DELIVERY_SELECT} FROM webhook_deliveries d"
                " WHERE (%(sub)s::uuid IS NULL OR d.subscription_id = %(sub)s)"
                " AND (%(status)s::text IS NULL OR d.status = %(status)s)"
                " ORDER BY d.position DESC, d.id LIMIT %(limit)s",
                {"sub": subscription_id, "status": status, "limit": limit},
            )
            return [_delivery(row) for row in curs.fetchall()]

    def delivery(self, delivery_id: UUID) -> Delivery | None:
        with self._cursor() as curs:
            curs.execute(
                f"SELECT {DELIVERY_SELECT} FROM webhook_deliveries d WHERE d.id = %s",
                (delivery_id,),
            )
            row = curs.fetchone()
            return None if row is None else _delivery(row)

    def attempts(self, delivery_id: UUID) -> list[Attempt]:
        with self._cursor() as curs:
            curs.execute(
                "SELECT delivery_id, attempt, at, status_code, error, duration_ms"
                " FROM webhook_attempts WHERE delivery_id = %s ORDER BY id",
                (delivery_id,),
            )
            return [Attempt(**row) for row in curs.fetchall()]

    def counts(self) -> dict[Status, int]:
        """How many deliveries are in each status."""
        with self._cursor() as curs:
            curs.execute("SELECT status, count(*) AS n FROM webhook_deliveries GROUP BY status")
            found = {row["status"]: row["n"] for row in curs.fetchall()}
        return {status: found.get(status, 0) for status in STATUSES}

    def redeliver(self, delivery_id: UUID) -> Delivery | None:
        """Send a delivery again from its first try, now (None: no such delivery)."""
        with self._cursor() as curs:
            curs.execute(
                "UPDATE webhook_deliveries d SET status = 'pending', attempts = 0,"
                " next_attempt_at = now(), updated_at = now()"
                f" WHERE d.id = %s RETURNING {DELIVERY_SELECT}",
                (delivery_id,),
            )
            row = curs.fetchone()
            return None if row is None else _delivery(row)

    # ----- the sender's side -----

    def claim(self, limit: int, lease_seconds: float) -> list[Claimed]:
        """Take up to `limit` due deliveries of active subscriptions for `lease_seconds`.

        `FOR UPDATE SKIP LOCKED` lets several senders share the outbox; the
        lease (the next try pushed into the future) keeps a delivery from
        being taken again while it is in flight, and brings it back if the
        sender dies before recording the outcome. Secrets are opened before
        the lease commits: one that does not open (a wrong key) raises
        SealingError and leaves the deliveries untouched, to be tried again.
        """
        with self._cursor() as curs:
            curs.execute(
                f"WITH due AS (SELECT d.id FROM webhook_deliveries d"
                " JOIN webhook_subscriptions s ON s.id = d.subscription_id"
                " WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND s.active"
                " ORDER BY d.next_attempt_at, d.position LIMIT %(limit)s"
                " FOR UPDATE OF d SKIP LOCKED)"
                " UPDATE webhook_deliveries d"
                " SET next_attempt_at = now() + make_interval(secs => %(lease)s)"
                " FROM due, webhook_subscriptions s"
                " WHERE d.id = due.id AND s.id = d.subscription_id"
                f" RETURNING {DELIVERY_SELECT}, s.url, s.secret, s.allow_private",
                {"limit": limit, "lease": lease_seconds},
            )
            claimed = [
                Claimed(
                    _delivery(row),
                    row["url"],
                    self.sealer.unseal(row["subscription_id"], row["secret"]),
                    row["allow_private"],
                )
                for row in curs.fetchall()
            ]
        return sorted(claimed, key=lambda c: c.delivery.position)

    def record(
        self,
        delivery: Delivery,
        *,
        status_code: int | None,
        error: str | None,
        duration_ms: int,
        retry_in: float | None,
    ) -> Status:
        """Log one try and move the delivery on: delivered (2xx), retried later, or dead.

        `retry_in`: seconds until the next try, or None when this was the last.
        """
        attempt = delivery.attempts + 1
        delivered = status_code is not None and 200 <= status_code < 300 and error is None
        status: Status = (
            "delivered" if delivered else ("pending" if retry_in is not None else "dead")
        )
        with self._cursor() as curs:
            curs.execute(
                "INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error,"
                " duration_ms) VALUES (%s, %s, %s, %s, %s)",
                (delivery.id, attempt, status_code, error, duration_ms),
            )
            curs.execute(
                "UPDATE webhook_deliveries SET attempts = %(attempt)s, status = %(status)s,"
                " last_status_code = %(code)s, last_error = %(error)s, updated_at = now(),"
                " next_attempt_at = now() + make_interval(secs => %(delay)s)"
                " WHERE id = %(id)s AND status = 'pending'",
                {
                    "attempt": attempt,
                    "status": status,
                    "code": status_code,
                    "error": error,
                    "delay": retry_in or 0.0,
                    "id": delivery.id,
                },
            )
        return status


def create_tables(database_url: str) -> None:
    """Create the webhook tables if missing (call under `schema_lock`)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for statement in DDL:
            conn.execute(statement)  # type: ignore[arg-type]
