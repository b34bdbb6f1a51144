"""`quickwins webhooks ...` as a user runs it: delivery across a restart of the process."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest

from services.app import Workshops
from services.persistence import postgres_env
from services.webhooks.sealing import SEALED_V1, Sealer, key_path, load_key_file
from services.webhooks.store import WebhookStore
from tests.services.test_webhooks import Receiver, eventually
from tests.services.walk import Walk

from .processes import cli_env, started

pytestmark = pytest.mark.e2e

# The main CLI with the webhook commands registered (a no-op once the CLI registers them).
CLI = (
    sys.executable,
    "-c",
    "from services.cli import cli, main; from services.cli_webhooks import register;"
    " register(cli); main()",
)


class Admin:
    def __init__(self, url: str, data: Path) -> None:
        self.env = cli_env(QUICKWINS_DATABASE_URL=url, QUICKWINS_DATA_DIR=str(data))

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, "webhooks", *args], env=self.env, capture_output=True, text=True, timeout=120
        )

    def __call__(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def fails(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 2, (done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("quickwins: "), done.stderr
        return lines[0]


@pytest.fixture
def admin(fresh_database_url: str, tmp_path: Path) -> Admin:
    return Admin(fresh_database_url, tmp_path / "data")


@pytest.fixture
def app(fresh_database_url: str) -> Iterator[Workshops]:
    application = Workshops(env=postgres_env(fresh_database_url))
    yield application
    application.close()


def test_bad_input_is_one_line_and_exit_2(admin: Admin) -> None:
    assert "url: " in admin.fails("add", "--url", "http://127.0.0.1:9/hook")
    assert "url: " in admin.fails("add", "--url", "file:///etc/passwd", "--allow-private")
    assert "types: " in admin.fails(
        "add", "--url", "http://127.0.0.1:9/", "--allow-private", "--type", "nope.v1"
    )
    assert "--workshop: 'x' is not an id" in admin.fails(
        "add", "--url", "http://127.0.0.1:9/", "--allow-private", "--workshop", "x"
    )
    assert "delivery: 'nonsense' is not an id" in admin.fails("redeliver", "nonsense")
    assert "no delivery" in admin.fails("redeliver", str(uuid4()))
    assert "no active webhook" in admin.fails("remove", str(uuid4()))
    admin.fails("run", "--max-attempts", "0")


def test_the_delivery_process_restarts_without_losing_or_repeating_events(
    admin: Admin, app: Workshops, fresh_database_url: str, tmp_path: Path
) -> None:
    with Receiver() as receiver:
        added = admin("add", "--url", receiver.url, "--allow-private")
        webhook = added.split()[1]
        receiver.secret = added.split("secret ")[1].split()[0]
        _assert_sealed(fresh_database_url, tmp_path / "data", webhook, receiver.secret)
        walk = Walk(app)
        walk.join(3)
        run = (*CLI, "webhooks", "run", "--poll", "1", "--max-attempts", "3")
        with started(run, admin.env, tmp_path / "logs", "first") as first:
            eventually(lambda: receiver.positions() == list(range(1, app.max_position() + 1)))
            first.interrupt(signal.SIGINT)
            assert first.exit_status(30) == 0, first.tail()
            assert "stopped at position" in first.stderr
        walk.join(2)  # recorded while no delivery process runs
        expected = list(range(1, app.max_position() + 1))
        with started(run, admin.env, tmp_path / "logs", "second") as second:
            eventually(lambda: receiver.positions() == expected, what="every event")
            second.interrupt(signal.SIGTERM)
            assert second.exit_status(30) == 0, second.tail()
        assert receiver.bad == []
        assert len(receiver.events) == len(expected)  # each event once, after dedup
    listed = admin("list")
    assert webhook in listed and f"{len(expected)} delivered" in listed
    table = admin("deliveries", "--webhook", webhook, "--limit", "100")
    assert table.count("delivered") == len(expected)
    store = WebhookStore(
        fresh_database_url, sealer=Sealer(load_key_file(key_path(tmp_path / "data")))
    )
    try:
        first_delivery = store.deliveries(limit=1000)[-1]
    finally:
        store.close()
    assert "pending again" in admin("redeliver", str(first_delivery.id))
    assert "delivery" not in admin("deliveries", "--dead").split("\n", 3)[-1]
    assert "removed" in admin("remove", webhook)


def _assert_sealed(url: str, data: Path, webhook: str, secret: str) -> None:
    """The CLI stored the secret sealed, under a key file of its own in the data folder."""
    assert secret.startswith("whsec_")
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT secret FROM webhook_subscriptions WHERE id = %s", (webhook,))
        (stored,) = row.fetchone() or ("",)
    assert stored.startswith(SEALED_V1) and secret not in stored and secret[6:] not in stored
    assert key_path(data).stat().st_mode & 0o777 == 0o600
