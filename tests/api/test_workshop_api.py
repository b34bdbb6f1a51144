"""A workshop run through the API by a facilitator and participants, phase by phase."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from domain.agenda import SEED_AGENDA
from services.api.tokens import Role

from .conftest import TokenFor, bearer

PROBLEM = "application/problem+json"


def schedule(client: TestClient, token: str, code: str = "API-1") -> str:
    body = {
        "code": code,
        "title": "Housing strategy day",
        "region": "South West",
        "starts_at": datetime(2010, 7, 2, 9, 30, tzinfo=UTC).isoformat(),
        "agenda": SEED_AGENDA.model_dump(mode="json"),
    }
    answer = client.post("/workshops", json=body, headers=bearer(token))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def join(client: TestClient, code: str, name: str) -> dict[str, Any]:
    answer = client.post("/join", json={"code": code, "display_name": name})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_a_participant_joins_and_submits_an_idea(api_client: TestClient, token_for: TokenFor):
    admin = token_for(Role.ADMIN)
    workshop = schedule(api_client, admin)
    sam = join(api_client, "API-1", "Sam")
    assert sam["workshop_id"] == workshop
    opened = api_client.post(f"/workshops/{workshop}/phases/0/open", headers=bearer(admin))
    assert opened.status_code == 200, opened.text
    brainstorm = _index_of(api_client, admin, workshop, "brainstorm")
    _advance_to(api_client, admin, workshop, brainstorm)
    idea = api_client.post(
        f"/workshops/{workshop}/ideas",
        json={"text": "One front door"},
        headers=bearer(sam["token"]),
    )
    assert idea.status_code == 201, idea.text
    board = api_client.get(f"/workshops/{workshop}", headers=bearer(sam["token"])).json()
    assert [i["text"] for i in board["ungrouped"]] == ["One front door"]


def test_bad_input_is_a_problem_naming_the_field(api_client: TestClient, token_for: TokenFor):
    admin = token_for(Role.ADMIN)
    answer = api_client.post("/workshops", json={"code": "X", "surprise": 1}, headers=bearer(admin))
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith(PROBLEM)
    fields = {e["field"] for e in answer.json()["errors"]}
    assert "surprise" in fields and "title" in fields


def test_no_token_is_401_and_wrong_role_403(api_client: TestClient, token_for: TokenFor):
    assert api_client.post("/workshops", json={}).status_code == 401
    auditor = token_for(Role.AUDITOR)
    answer = api_client.post("/workshops", json={}, headers=bearer(auditor))
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith(PROBLEM)


def _index_of(client: TestClient, token: str, workshop: str, kind: str) -> int:
    board = client.get(f"/workshops/{workshop}", headers=bearer(token)).json()
    kinds = [p["kind"] for p in board["agenda"]["phases"]]
    return kinds.index(kind)


def _advance_to(client: TestClient, token: str, workshop: str, index: int) -> None:
    for i in range(index):
        client.post(f"/workshops/{workshop}/phases/{i}/close", headers=bearer(token))
        answer = client.post(f"/workshops/{workshop}/phases/{i + 1}/open", headers=bearer(token))
        assert answer.status_code == 200, answer.text


def test_nul_characters_are_refused_before_anything_runs(
    api_client: TestClient, token_for: TokenFor
) -> None:
    admin = bearer(token_for(Role.ADMIN))
    for answer in (
        api_client.get("/audit/trail", params={"q": "a\x00b"}, headers=admin),
        api_client.post(
            "/join",
            content=b'{"code": "X\\u0000", "display_name": "S"}',
            headers={"content-type": "application/json"},
        ),
    ):
        assert answer.status_code == 422
        assert answer.headers["content-type"].startswith(PROBLEM)
