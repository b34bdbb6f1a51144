"""`quickwins serve`, `quickwins up` and `quickwins token`: the HTTP API from the command line."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console

from .bootstrap import Stack
from .stopping import stop_loop_on_signals, stopped
from .webhooks.sealing import sealer_for

console = Console()
err = Console(stderr=True)
token_cli = typer.Typer(help="Issue and revoke API tokens.", no_args_is_help=True)

Host = Annotated[str, typer.Option(help="address to listen on (loopback by default)")]
GRACEFUL_SHUTDOWN_SECONDS = 5
Port = Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")]


def register(cli: typer.Typer) -> None:
    cli.command()(serve)
    cli.command()(up)
    cli.add_typer(token_cli, name="token")


def serve(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    projector: Annotated[
        bool, typer.Option(help="also keep the read models here (no separate projector)")
    ] = False,
) -> None:
    """Run the HTTP API over the configured database (and Temporal, if configured)."""
    from .cli import _stack, settings_from_environment

    _check_host(host)
    temporal = bool(settings_from_environment().temporal_address)
    with _stack(temporal=temporal) as stack:
        sealer_for(stack.settings)  # a bad secrets key: one line, before anything starts
        _print_urls(stack, host, port)
        asyncio.run(_serve(stack, host, port, projector))
        stopped()


def up(
    host: Host = "127.0.0.1",
    port: Port = 8000,
) -> None:
    """Run the whole stack in one process: database, Temporal, worker, projector, relay, API.

    Prints the addresses, and a fresh admin token to start with.
    """
    from .cli import _stack

    _check_host(host)
    with _stack() as stack:
        sealer_for(stack.settings)  # a bad secrets key: one line, before anything starts
        asyncio.run(_up(stack, host, port))
        stopped()


async def _up(stack: Stack, host: str, port: int) -> None:
    from .delivery_relay import DeliveryRelay
    from .worker_process import build_all_workers

    client = await stack.temporal_client()
    # Our own activity pool, waited for on the way out (see `quickwins worker`).
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="activity") as pool:
        async with build_all_workers(stack, client, pool):
            with DeliveryRelay(stack.database_url, client, poll_seconds=5.0), _webhooks(stack):
                _print_urls(stack, host, port)
                await _serve(stack, host, port, projector=True, admin_token=True)


@contextlib.contextmanager
def _webhooks(stack: Stack) -> Iterator[None]:
    """Webhook deliveries follow the log in threads of their own."""
    from .webhooks.delivery import WebhookDelivery

    process = WebhookDelivery(stack.database_url, sealer=sealer_for(stack.settings))
    process.start()
    try:
        yield
    finally:
        process.stop()


async def _serve(
    stack: Stack, host: str, port: int, projector: bool, admin_token: bool = False
) -> None:
    from .api.app import create_api

    api = create_api(stack, projector=projector)
    config = uvicorn.Config(
        api,
        host=host,
        port=port,
        log_level="warning",
        # Live streams (SSE) never end by themselves; cut them off on the way out.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = _Server(config)
    stop_loop_on_signals(asyncio.get_running_loop(), server.stop, grace=30.0)
    if admin_token:
        asyncio.get_running_loop().create_task(_announce_admin(api, server))
    await server.serve()


class _Server(uvicorn.Server):
    """Uvicorn, stopped by our own signal handlers (`services.stopping`).

    Left to itself, uvicorn re-raises the signal once it has stopped serving,
    which cancels the main task half-way through stopping the Temporal workers,
    the relay and the webhooks that `quickwins up` runs around it.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def stop(self) -> None:
        if self.should_exit:  # a second Ctrl-C: stop waiting for open requests
            self.force_exit = True
        self.should_exit = True


async def _announce_admin(api: Any, server: Any) -> None:
    while not server.started:
        await asyncio.sleep(0.05)
    from .api.tokens import Role

    # The administrator of a local stack may point webhooks at loopback (their own receivers).
    token, _ = await asyncio.to_thread(
        lambda: api.state.tokens.issue(Role.ADMIN, "quickwins up", allow_private_webhooks=True)
    )
    console.print(f"admin token  {token}")
    console.print("             (shown once; issue more with POST /tokens)")


def _print_urls(stack: Stack, host: str, port: int) -> None:
    base = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    console.print(f"pages        {base}/ui   (participants join at {base}/ui/join)")
    console.print(f"API          {base}")
    console.print(f"OpenAPI      {base}/docs")
    console.print(f"events       {base}/events   live: {base}/events/stream")
    if stack.temporal_ui:
        console.print(f"Temporal UI  {stack.temporal_ui}")
    elif stack.temporal_address:
        console.print(f"Temporal     {stack.temporal_address}")


def _check_host(host: str) -> None:
    from .cli import BadInput

    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return
    if host != "localhost":
        raise BadInput(f"--host: not an IP address: {host!r}")


@token_cli.command("issue")
def issue(
    role: Annotated[
        str, typer.Argument(help="admin, programme_manager, facilitator, auditor or subscriber")
    ],
    name: Annotated[str, typer.Option(help="who holds it")] = "cli",
    programme: Annotated[list[str] | None, typer.Option(help="programme id (repeatable)")] = None,
    workshop: Annotated[list[str] | None, typer.Option(help="workshop id (repeatable)")] = None,
) -> None:
    """Issue a token (printed once; only its digest is stored)."""
    from uuid import UUID

    from .api.context import open_context
    from .api.tokens import Role
    from .cli import BadInput, _stack

    roles = [r.value for r in Role if r != Role.PARTICIPANT]
    if role not in roles:
        raise BadInput(f"role: one of {', '.join(roles)}")
    try:
        programmes = frozenset(UUID(p) for p in programme or [])
        workshops = frozenset(UUID(w) for w in workshop or [])
    except ValueError:
        raise BadInput("--programme/--workshop: not an id") from None
    with _stack(temporal=False) as stack:
        ctx = open_context(stack)
        try:
            token, _ = ctx.tokens.issue(
                Role(role), name, programmes=programmes, workshops=workshops
            )
        finally:
            ctx.close()
    console.print(token)
