"""Idempotency-Key: a retried POST returns the first answer and records nothing twice."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi.testclient import TestClient

from domain.agenda import PhaseKind
from services.api.app import create_api
from services.api.tokens import Role
from services.bootstrap import Stack

from .conftest import TokenFor, bearer
from .live import live_server
from .test_workshop_api import _advance_to, _index_of, join, schedule


def _brainstorming(client: TestClient, token_for: TokenFor) -> tuple[str, str]:
    admin = token_for(Role.ADMIN)
    workshop = schedule(client, admin, "IDEM-1")
    client.post(f"/workshops/{workshop}/phases/0/open", headers=bearer(admin))
    _advance_to(client, admin, workshop, _index_of(client, admin, workshop, PhaseKind.BRAINSTORM))
    return workshop, join(client, "IDEM-1", "Sam")["token"]


def test_a_hundred_concurrent_retries_record_one_idea(
    api_client: TestClient, api_stack: Stack, token_for: TokenFor
) -> None:
    workshop, sam = _brainstorming(api_client, token_for)
    before = api_stack.app.max_position()
    with live_server(create_api(api_stack)) as base:
        answers = asyncio.run(_post_many(base, f"/workshops/{workshop}/ideas", sam, 100))
    assert {a[0] for a in answers} == {201}
    assert len({str(a[1]) for a in answers}) == 1  # every caller got the first answer
    assert api_stack.app.max_position() == before + 1  # one IdeaSubmitted, nothing else


async def _post_many(base: str, path: str, token: str, n: int) -> list[tuple[int, Any]]:
    headers = {**bearer(token), "Idempotency-Key": "same-key-1"}
    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def post() -> tuple[int, Any]:
            answer = await client.post(path, json={"text": "One front door"}, headers=headers)
            return answer.status_code, answer.json()

        return list(await asyncio.gather(*(post() for _ in range(n))))


def test_a_retry_replays_and_a_changed_body_is_refused(
    api_client: TestClient, api_stack: Stack, token_for: TokenFor
) -> None:
    workshop, sam = _brainstorming(api_client, token_for)
    headers = {**bearer(sam), "Idempotency-Key": "k-2"}
    path = f"/workshops/{workshop}/ideas"
    first = api_client.post(path, json={"text": "Shared vans"}, headers=headers)
    position = api_stack.app.max_position()
    again = api_client.post(path, json={"text": "Shared vans"}, headers=headers)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    changed = api_client.post(path, json={"text": "Other"}, headers=headers)
    assert changed.status_code == 422
    assert changed.json()["field"] == "Idempotency-Key"
    assert api_stack.app.max_position() == position


def test_a_refused_request_is_replayed_as_refused(
    api_client: TestClient, api_stack: Stack, token_for: TokenFor
) -> None:
    workshop, sam = _brainstorming(api_client, token_for)
    headers = {**bearer(sam), "Idempotency-Key": "k-3"}
    path = f"/workshops/{workshop}/ideas"
    first = api_client.post(path, json={"text": ""}, headers=headers)
    again = api_client.post(path, json={"text": ""}, headers=headers)
    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()


def test_keys_are_private_to_each_token(
    api_client: TestClient, api_stack: Stack, token_for: TokenFor
) -> None:
    workshop, sam = _brainstorming(api_client, token_for)
    ann = join(api_client, "IDEM-1", "Ann")["token"]
    path = f"/workshops/{workshop}/ideas"
    one = api_client.post(path, json={"text": "A"}, headers={**bearer(sam), "Idempotency-Key": "k"})
    two = api_client.post(path, json={"text": "A"}, headers={**bearer(ann), "Idempotency-Key": "k"})
    assert one.status_code == two.status_code == 201
    assert one.json()["id"] != two.json()["id"]


def test_an_unusable_key_is_a_problem(api_client: TestClient, token_for: TokenFor) -> None:
    admin = token_for(Role.ADMIN)
    answer = api_client.post(
        "/workshops", json={}, headers={**bearer(admin), "Idempotency-Key": "x" * 300}
    )
    assert answer.status_code == 400
    assert answer.json()["field"] == "Idempotency-Key"
