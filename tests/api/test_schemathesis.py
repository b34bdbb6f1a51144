"""schemathesis against the live OpenAPI document: no server error, no schema violation.

Runs the `st` command line against a real server on a loopback port, as an
admin (every route is reachable, so the requests get past authorisation and
into validation and the domain). The event stream never ends, so it is left
out. Webhook URLs resolve through a stand-in that answers without the network.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from services.api.app import create_api
from services.api.tokens import Role
from services.bootstrap import Stack

from .live import live_server

EXAMPLES = 10


def _offline_resolver(host: str, port: int) -> list[str]:
    return ["93.184.215.14"]  # a public address: nothing is ever sent in this test


def test_generated_requests_find_no_server_error(api_stack: Stack, tmp_path: Path) -> None:
    api = create_api(api_stack)
    api.state.webhook_resolver = _offline_resolver
    with live_server(api) as base:
        token, _ = api.state.tokens.issue(Role.ADMIN, "schemathesis")
        before = api_stack.app.max_position()
        report = tmp_path / "events.ndjson"
        run = subprocess.run(
            [
                str(Path(sys.executable).with_name("st")),
                "run",
                f"{base}/openapi.json",
                "--checks",
                "not_a_server_error,response_schema_conformance,content_type_conformance",
                "--header",
                f"Authorization: Bearer {token}",
                "--exclude-path-regex",
                "/stream$",
                "--max-examples",
                str(EXAMPLES),
                "--seed",
                "20101202",
                "--report",
                "ndjson",
                "--report-ndjson-path",
                str(report),
                "--no-color",
                "--request-timeout",
                "30",
                "--workers",
                "2",
                # The stateful phase (link-following scenarios) adds 40 s for about 60
                # cases; run it by hand with `--phases stateful` when links change.
                "--phases",
                "examples,coverage,fuzzing",
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    tail = run.stdout[-4000:]
    assert run.returncode == 0, tail
    requests = _requests(report)
    print(f"schemathesis: {requests} requests; {tail.splitlines()[-1] if tail else ''}")
    assert requests > 3000, tail
    assert api_stack.app.max_position() >= before


def _requests(report: Path) -> int:
    """How many requests the run sent, from its NDJSON event stream."""
    count = 0
    for line in report.read_text().splitlines():
        event = json.loads(line)
        count += len(event.get("ScenarioFinished", {}).get("recorder", {}).get("interactions", {}))
    return count
