"""`quickwins webhooks ...`: run webhook delivery, and look after subscriptions and dead letters.

The CLI acts as an admin: it sees every subscription and may register
private or loopback URLs when told so (`--allow-private`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table

from .bootstrap import Stack, bootstrap
from .cli_programmes import BadValue
from .webhooks.sealing import sealer_for
from .webhooks.store import Delivery, WebhookStore
from .webhooks.subscriptions import BadSubscription
from .webhooks.subscriptions import register as register_subscription

T = TypeVar("T")

webhooks_cli = typer.Typer(
    help="Signed webhooks: delivery, subscriptions and dead letters.", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add the `webhooks` commands to the main CLI (once, however often it is called)."""
    if all(group.name != "webhooks" for group in app.registered_groups):
        app.add_typer(webhooks_cli, name="webhooks")


@contextmanager
def _stack() -> Iterator[Stack]:
    from .cli import settings_from_environment

    with bootstrap(settings_from_environment(), temporal=False) as stack:
        for line in stack.started:
            err.print(f"[dim]started {line}[/dim]")
        yield stack


def _with_store(act: Callable[[Stack, WebhookStore], T]) -> T:
    with _stack() as stack:
        store = WebhookStore(stack.database_url, sealer=sealer_for(stack.settings), max_size=2)
        try:
            return act(stack, store)
        finally:
            store.close()


def _uuid(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise BadValue(f"{what}: {value!r} is not an id") from None


@webhooks_cli.command("run")
def run(
    poll: Annotated[
        float, typer.Option(help="seconds between catch-up polls of the log", min=0.5, max=3600)
    ] = 5.0,
    max_attempts: Annotated[
        int, typer.Option(help="tries before a delivery is dead-lettered", min=1, max=30)
    ] = 8,
    base_seconds: Annotated[
        float, typer.Option(help="ceiling of the first retry's delay (it grows 4x a try)", min=0.01)
    ] = 5.0,
    timeout: Annotated[float, typer.Option(help="seconds per HTTP request", min=1, max=60)] = 10.0,
    workers: Annotated[int, typer.Option(help="requests in flight at most", min=1, max=64)] = 8,
) -> None:
    """Follow the event log and deliver webhooks until interrupted (Ctrl-C)."""
    import threading

    from .stopping import stop_on_signals, stopped
    from .webhooks.delivery import RetryPolicy, WebhookDelivery

    policy = RetryPolicy(max_attempts=max_attempts, base_seconds=base_seconds)
    with _stack() as stack:
        stop = threading.Event()
        stop_on_signals(stop.set)
        process = WebhookDelivery(
            stack.database_url,
            sealer=sealer_for(stack.settings),
            policy=policy,
            poll_seconds=poll,
            timeout=timeout,
            workers=workers,
        )
        err.print(f"delivering webhooks from position {process.position() or 0}")
        process.run_forever(stop)
        stopped()
        err.print(
            f"stopped at position {process.position() or 0}: "
            f"{process.enqueued} enqueued, {process.sent} tries"
        )


@webhooks_cli.command("add")
def add(
    url: Annotated[str, typer.Option(help="the http(s) URL that receives the POSTs")],
    event_type: Annotated[
        list[str] | None, typer.Option("--type", help="an event type (repeat; default: all)")
    ] = None,
    programme: Annotated[str | None, typer.Option(help="only this programme's events")] = None,
    workshop: Annotated[str | None, typer.Option(help="only this workshop's events")] = None,
    allow_private: Annotated[
        bool, typer.Option("--allow-private", help="allow loopback and private addresses")
    ] = False,
) -> None:
    """Register a webhook for the events recorded from now on; prints its secret once."""
    programme_id = _uuid(programme, "--programme") if programme else None
    workshop_id = _uuid(workshop, "--workshop") if workshop else None

    def act(stack: Stack, store: WebhookStore) -> None:
        try:
            sub = register_subscription(
                store,
                url=url,
                start_position=stack.app.max_position(),
                owner_token_id=None,
                types=event_type or None,
                programme_id=programme_id,
                workshop_id=workshop_id,
                allow_private=allow_private,
            )
        except BadSubscription as bad:
            raise BadValue(str(bad)) from None
        console.print(f"webhook {sub.id} registered for {sub.url}")
        console.print(f"secret {sub.secret}")

    _with_store(act)


@webhooks_cli.command("list")
def list_webhooks(
    inactive: Annotated[bool, typer.Option("--inactive", help="include removed ones")] = False,
) -> None:
    """Every webhook subscription, with how its deliveries stand."""

    def act(_: Stack, store: WebhookStore) -> None:
        table = Table("id", "url", "types", "filter", "active", "from position")
        for sub in store.subscriptions(everyone=True, inactive=inactive):
            where = ", ".join(
                f"{name} {value}"
                for name, value in (("programme", sub.programme_id), ("workshop", sub.workshop_id))
                if value
            )
            types = "all" if sub.types is None else ", ".join(sorted(sub.types))
            active = "yes" if sub.active else "no"
            table.add_row(
                str(sub.id), sub.url, types, where or "-", active, str(sub.start_position)
            )
        console.print(table)
        counts = store.counts()
        console.print(", ".join(f"{n} {status}" for status, n in counts.items()))

    _with_store(act)


@webhooks_cli.command("remove")
def remove(webhook: Annotated[str, typer.Argument(help="the webhook's id")]) -> None:
    """Stop sending to a webhook (its delivery log is kept)."""
    subscription_id = _uuid(webhook, "webhook")

    def act(_: Stack, store: WebhookStore) -> None:
        if not store.deactivate(subscription_id):
            raise BadValue(f"webhook: no active webhook {subscription_id}")
        console.print(f"webhook {subscription_id} removed")

    _with_store(act)


def _delivery_table(deliveries: list[Delivery]) -> Table:
    table = Table("id", "webhook", "position", "type", "status", "tries", "last answer")
    for d in deliveries:
        answer = d.last_error or (str(d.last_status_code) if d.last_status_code else "-")
        table.add_row(
            str(d.id), str(d.subscription_id), str(d.position), d.event_type, d.status,
            str(d.attempts), answer,
        )  # fmt: skip
    return table


@webhooks_cli.command("deliveries")
def deliveries(
    dead: Annotated[bool, typer.Option("--dead", help="only the dead letters")] = False,
    webhook: Annotated[str | None, typer.Option(help="only this webhook's")] = None,
    limit: Annotated[int, typer.Option(help="at most this many, newest first", min=1)] = 50,
) -> None:
    """Recent deliveries (or the dead letters), newest first."""
    subscription_id = _uuid(webhook, "--webhook") if webhook else None

    def act(_: Stack, store: WebhookStore) -> None:
        found = store.deliveries(
            subscription_id=subscription_id, status="dead" if dead else None, limit=limit
        )
        console.print(_delivery_table(found))

    _with_store(act)


@webhooks_cli.command("redeliver")
def redeliver(delivery: Annotated[str, typer.Argument(help="the delivery's id")]) -> None:
    """Send a delivery again from its first try (a dead letter, or a delivered one)."""
    delivery_id = _uuid(delivery, "delivery")

    def act(_: Stack, store: WebhookStore) -> None:
        again = store.redeliver(delivery_id)
        if again is None:
            raise BadValue(f"delivery: no delivery {delivery_id}")
        console.print(f"delivery {again.id} is pending again (event {again.position})")

    _with_store(act)
