"""Webhook routes with real tokens: register, list, delete, deliveries, redeliver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from services.bootstrap import Stack
from services.feed import EVENT_TYPES
from services.webhooks import signing
from services.webhooks.delivery import WebhookDelivery
from services.webhooks.sealing import SEALED_V1, sealer_for
from tests.services.test_erasure import _plaintext_anywhere
from tests.services.test_webhooks import FAST, Receiver, eventually
from tests.services.walk import Walk

from .conftest import TokenFor, bearer

PROBLEM = "application/problem+json"
SCHEDULED = "quickwins.workshop.scheduled.v1"


@pytest.fixture
def delivering(api_stack: Stack) -> Iterator[WebhookDelivery]:
    with WebhookDelivery(
        api_stack.database_url,
        sealer=sealer_for(api_stack.settings),  # the key the API sealed with
        policy=FAST,
        poll_seconds=1.0,
        send_interval=0.05,
        timeout=5.0,
    ) as process:
        yield process


def register(client: TestClient, token: str, **body: Any) -> dict[str, Any]:
    answer = client.post("/webhooks", json=body, headers=bearer(token))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def problem_of(answer: Any, status: int, field: str) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert answer.json()["field"] == field
    return str(answer.json()["detail"])


def test_loopback_urls_are_refused_unless_the_token_allows_them(
    api_client: TestClient, token_for: TokenFor
) -> None:
    plain = token_for("subscriber")
    for url in ("http://127.0.0.1:8080/hook", "http://[::ffff:10.0.0.1]/", "http://localhost/"):
        answer = api_client.post("/webhooks", json={"url": url}, headers=bearer(plain))
        assert "loopback, private or reserved" in problem_of(answer, 422, "url")
    answer = api_client.post("/webhooks", json={"url": "ftp://x/"}, headers=bearer(plain))
    problem_of(answer, 422, "url")
    allowed = token_for("subscriber", allow_private_webhooks=True)
    made = register(api_client, allowed, url="http://127.0.0.1:8080/hook", types=[SCHEDULED])
    assert made["secret"].startswith("whsec_") and made["types"] == [SCHEDULED]
    listed = api_client.get("/webhooks", headers=bearer(allowed)).json()
    assert [w["id"] for w in listed] == [made["id"]]
    assert "secret" not in listed[0]  # shown once, at registration


def test_the_secret_is_shown_once_and_stored_sealed(
    api_client: TestClient, api_stack: Stack, token_for: TokenFor
) -> None:
    token = token_for("subscriber", allow_private_webhooks=True)
    given = signing.new_secret()
    for body in ({"secret": given}, {}):
        made = register(api_client, token, url="http://127.0.0.1:9/", **body)
        secret = made["secret"]
        assert secret == body.get("secret", secret) and secret.startswith("whsec_")
        with psycopg.connect(api_stack.database_url) as conn:
            row = conn.execute(
                "SELECT s::text, s.secret FROM webhook_subscriptions s WHERE id = %s",
                (made["id"],),
            ).fetchone()
        assert row is not None and row[1].startswith(SEALED_V1)
        assert secret.removeprefix("whsec_") not in row[0]
        assert _plaintext_anywhere(api_stack.database_url, secret.removeprefix("whsec_")) == []


def test_types_must_be_known_and_granted_and_the_body_strict(
    api_client: TestClient, token_for: TokenFor
) -> None:
    token = token_for("subscriber", event_types=[SCHEDULED], allow_private_webhooks=True)
    url = "http://127.0.0.1:9/"
    other = next(t for t in EVENT_TYPES if t != SCHEDULED)
    answer = api_client.post(
        "/webhooks", json={"url": url, "types": [other]}, headers=bearer(token)
    )
    problem_of(answer, 403, "types")
    answer = api_client.post(
        "/webhooks", json={"url": url, "types": ["quickwins.no.such.v1"]}, headers=bearer(token)
    )
    problem_of(answer, 422, "types")
    answer = api_client.post("/webhooks", json={"url": url, "surprise": 1}, headers=bearer(token))
    problem_of(answer, 422, "surprise")
    answer = api_client.post(
        "/webhooks", json={"url": url, "secret": "whsec_c2hvcnQ="}, headers=bearer(token)
    )
    problem_of(answer, 422, "secret")
    assert register(api_client, token, url=url)["types"] == [SCHEDULED]  # what is granted


def test_roles_and_ownership(api_client: TestClient, token_for: TokenFor) -> None:
    assert api_client.get("/webhooks").status_code == 401
    answer = api_client.get("/webhooks", headers=bearer(token_for("auditor")))
    assert answer.status_code == 403
    alice = token_for("subscriber", allow_private_webhooks=True)
    bob = token_for("subscriber", allow_private_webhooks=True)
    admin = token_for("admin")
    hook = register(api_client, alice, url="http://127.0.0.1:9/a")["id"]
    assert api_client.get("/webhooks", headers=bearer(bob)).json() == []
    assert [w["id"] for w in api_client.get("/webhooks", headers=bearer(admin)).json()] == [hook]
    for method, path in [
        ("DELETE", f"/webhooks/{hook}"),
        ("GET", f"/webhooks/{hook}/deliveries"),
    ]:
        problem_of(api_client.request(method, path, headers=bearer(bob)), 404, "id")
    assert api_client.delete(f"/webhooks/{hook}", headers=bearer(alice)).status_code == 204
    problem_of(api_client.delete(f"/webhooks/{hook}", headers=bearer(alice)), 404, "id")
    assert api_client.get("/webhooks", headers=bearer(alice)).json() == []


def test_deliveries_are_signed_listed_dead_lettered_and_redelivered(
    api_client: TestClient, api_stack: Stack, token_for: TokenFor, delivering: WebhookDelivery
) -> None:
    token = token_for("subscriber", allow_private_webhooks=True)
    stranger = token_for("subscriber")
    down = threading.Event()
    down.set()
    with Receiver(respond=lambda _id, _n: 503 if down.is_set() else 200) as receiver:
        hook = register(api_client, token, url=receiver.url, types=[SCHEDULED])
        receiver.secret = hook["secret"]
        Walk(api_stack.app)
        path = f"/webhooks/{hook['id']}/deliveries"

        def dead() -> list[dict[str, Any]]:
            answer = api_client.get(path, params={"status": "dead"}, headers=bearer(token))
            return list(answer.json())

        eventually(lambda: len(dead()) == 1, what="the dead letter")
        (letter,) = dead()
        assert letter["attempts"] == FAST.max_attempts and letter["last_status_code"] == 503
        shown = api_client.get(f"/webhooks/deliveries/{letter['id']}", headers=bearer(token))
        assert [a["status_code"] for a in shown.json()["attempt_log"]] == [503] * 4
        redeliver = f"/webhooks/deliveries/{letter['id']}/redeliver"
        problem_of(api_client.post(redeliver, headers=bearer(stranger)), 404, "id")
        down.clear()
        again = api_client.post(redeliver, headers=bearer(token))
        assert again.status_code == 200 and again.json()["status"] == "pending"
        eventually(lambda: receiver.positions() != [], what="the redelivery")
        assert receiver.bad == []  # signed with the secret the registration returned
        (event,) = receiver.events.values()
        assert event["type"] == SCHEDULED and event["specversion"] == "1.0"
        eventually(
            lambda: api_client.get(path, headers=bearer(token)).json()[0]["status"] == "delivered"
        )
    problem_of(api_client.get("/webhooks/deliveries/" + "0" * 32, headers=bearer(token)), 404, "id")
