"""`quickwins up` as a new user meets it: one command, then curl-like requests.

The user opens the OpenAPI page, schedules a workshop, starts its agenda,
joins as a participant with the workshop's code, submits an idea, and watches
it arrive on `/events` and at a webhook receiver on loopback that checks every
signature. Ctrl-C stops everything `up` started.
"""

from __future__ import annotations

import http.server
import json
import re
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from domain.agenda import SEED_AGENDA
from services.embedded import pid_alive
from services.webhooks.signing import verify

from .processes import CLI, cli_env, started, wait_until

IDEA = "quickwins.idea.submitted.v1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """A webhook receiver on loopback: verifies each delivery, keeps them by webhook-id."""

    def __init__(self) -> None:
        self.secret = ""
        self.received: dict[str, dict[str, Any]] = {}
        self.bad = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    webhook_id = verify(receiver.secret, headers, body)
                    receiver.received[webhook_id] = json.loads(body)
                    self.send_response(204)
                except Exception:
                    receiver.bad += 1
                    self.send_response(400)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def types(self) -> list[str]:
        return [event["type"] for event in self.received.values()]


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        thread.join(timeout=10)


def test_up_then_join_with_curl_and_watch_the_idea_arrive(
    fresh_database_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    env = cli_env(QUICKWINS_DATABASE_URL=fresh_database_url, QUICKWINS_DATA_DIR=str(tmp_path))
    command = [*CLI, "up", "--port", str(port)]
    with started(command, env, tmp_path / "logs", "up") as up, receiving() as receiver:
        up.wait_for("admin token", timeout=120, stream="stdout")
        said = up.stdout
        token = re.search(r"admin token\s+(\S+)", said)
        assert token and "Temporal UI  http://127.0.0.1:" in said and "/docs" in said
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as http:
            _walk(http, token.group(1), receiver)
        temporal = [int(p) for p in re.findall(r"Temporal dev server \(pid (\d+)\)", up.stderr)]
        up.interrupt(signal.SIGINT)
        assert up.exit_status(60) == 0, up.tail()
    assert temporal and not any(pid_alive(pid) for pid in temporal)


def _walk(http: httpx.Client, admin_token: str, receiver: Receiver) -> None:
    admin = {"Authorization": f"Bearer {admin_token}"}
    assert http.get("/docs").status_code == 200
    hook = http.post("/webhooks", json={"url": receiver.url, "types": [IDEA]}, headers=admin)
    assert hook.status_code == 201, hook.text
    receiver.secret = hook.json()["secret"]
    workshop = _schedule(http, admin)
    http.post(f"/workshops/{workshop}/agenda/start", json={"time_scale": 1}, headers=admin)
    advanced = http.post(f"/workshops/{workshop}/agenda/advance", headers=admin)
    assert advanced.json()["kind"] == "brainstorm", advanced.text
    joined = http.post("/join", json={"code": "UP-1", "display_name": "Sam"})
    assert joined.status_code == 201, joined.text
    me = {"Authorization": f"Bearer {joined.json()['token']}"}
    idea = http.post(f"/workshops/{workshop}/ideas", json={"text": "One front door"}, headers=me)
    assert idea.status_code == 201, idea.text

    def on_the_feed() -> bool:
        page = http.get("/events", params={"after": 0, "type": IDEA}, headers=admin).json()
        return any(e["data"].get("text") == "One front door" for e in page["events"])

    wait_until(on_the_feed, 30, "the idea on /events")
    wait_until(lambda: IDEA in receiver.types(), 60, "the idea at the webhook")
    assert receiver.bad == 0
    assert "Sam" not in json.dumps(list(receiver.received.values()))


def _schedule(http: httpx.Client, admin: dict[str, str]) -> str:
    body = {
        "code": "UP-1",
        "title": "Try it",
        "region": "Devon",
        "starts_at": datetime(2026, 12, 1, 9, tzinfo=UTC).isoformat(),
        "agenda": SEED_AGENDA.model_dump(mode="json"),
    }
    answer = http.post("/workshops", json=body, headers=admin)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_token_issue_prints_a_token_the_api_accepts(
    fresh_database_url: str, tmp_path: Path
) -> None:
    from services.api.context import open_context
    from services.bootstrap import bootstrap
    from services.settings import Settings

    from .cli import quickwins

    run = quickwins(
        "token",
        "issue",
        "auditor",
        "--name",
        "Ann (audit office)",
        database_url=fresh_database_url,
        data_dir=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    token = run.stdout.strip()
    assert re.fullmatch(r"qw_[\w-]{40,}", token)
    settings = Settings(database_url=fresh_database_url, data_dir=tmp_path)
    with bootstrap(settings, temporal=False) as stack:
        ctx = open_context(stack)
        try:
            caller = ctx.tokens.caller(token)
        finally:
            ctx.close()
    assert caller is not None and caller.role.value == "auditor"
    assert caller.name == "Ann (audit office)"
