"""Browser tests: the real stack (PostgreSQL, Temporal, a worker, the projector, the API and
pages on a loopback port) driven by Debian's Chromium through Playwright.

Screenshots go to test-artifacts/screenshots/; axe-core (from the npm registry,
installed by `make test`) checks each page for serious accessibility problems.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI

from services.api.app import create_api
from services.api.tokens import Role, TokenStore
from services.bootstrap import Stack, bootstrap
from services.embedded import TemporalDevServer
from services.settings import Settings
from services.worker_process import build_all_workers
from tests.api.live import live_server

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 360, "height": 740}
DESK = {"width": 1280, "height": 800}

playwright_api = pytest.importorskip("playwright.sync_api")


@dataclass
class Site:
    """The running site: its address, the stack under it, and a way to issue tokens."""

    base: str
    stack: Stack
    api: FastAPI

    @property
    def tokens(self) -> TokenStore:
        return self.api.state.tokens  # type: ignore[no-any-return]

    def token(self, role: Role, **scope: Any) -> str:
        frozen: dict[str, Any] = {
            k: frozenset(v) if isinstance(v, list | set | tuple) else v for k, v in scope.items()
        }
        token, _ = self.tokens.issue(role, f"browser {role.value}", **frozen)
        return token


@pytest.fixture
def site(
    fresh_database_url: str, temporal_server: TemporalDevServer, tmp_path: Path
) -> Iterator[Site]:
    settings = Settings(
        database_url=fresh_database_url,
        temporal_address=temporal_server.address,
        task_queue=f"web-{uuid4().hex[:8]}",
        data_dir=tmp_path / "data",
    )
    with bootstrap(settings) as stack, _worker(stack):
        api = create_api(stack, projector=True)
        with live_server(api) as base:
            yield Site(base, stack, api)


class _Worker:
    """A Temporal worker for the agendas, on its own event loop thread."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.stop: asyncio.Event | None = None
        self.thread = threading.Thread(
            target=self.loop.run_until_complete,
            args=(self._run(),),
            name="web-test-worker",
            daemon=True,
        )

    async def _run(self) -> None:
        self.stop = asyncio.Event()
        client = await self.stack.temporal_client()
        async with build_all_workers(self.stack, client):
            self.ready.set()
            await self.stop.wait()


@contextmanager
def _worker(stack: Stack) -> Iterator[None]:
    worker = _Worker(stack)
    worker.thread.start()
    if not worker.ready.wait(60):
        raise RuntimeError("the Temporal worker did not start")
    try:
        yield
    finally:
        assert worker.stop is not None
        worker.loop.call_soon_threadsafe(worker.stop.set)
        worker.thread.join(timeout=30)


# Per module: Playwright's sync API keeps an event loop running in the main thread
# while it is open, and tests elsewhere call asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is missing: `make test` installs it")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """new_page("phone") or new_page("desk"): a page in a fresh context (its own cookies)."""
    contexts: list[Any] = []

    def make(kind: str = "desk") -> Any:
        options: dict[str, Any] = {"viewport": PHONE if kind == "phone" else DESK}
        if kind == "phone":
            options.update(is_mobile=True, has_touch=True, device_scale_factor=2)
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def sign_in(page: Any, site: Site, token: str, then: str = "/ui") -> None:
    page.goto(f"{site.base}/ui/login?next={then}")
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.base}{then}*")


def shot(page: Any, name: str) -> Path:
    """A full-page screenshot kept as a test artifact."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it stands."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: `make test` installs it from the npm registry")
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def assert_accessible(page: Any) -> None:
    problems = serious_violations(page)
    assert not problems, problems
