"""What an auditor does over HTTP, on a workshop whose results are declared."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi.testclient import TestClient

from projections.audit_chain import checkpoint_message
from services.api.tokens import Role

from .conftest import TokenFor, bearer
from .test_programme_api import PROBLEM, app_of, launch, ok, run_to_results, schedule


def declared(client: TestClient, token_for: TokenFor) -> tuple[str, list[UUID]]:
    """A programme workshop run to declared results: (workshop, projects)."""
    admin = token_for(Role.ADMIN)
    programme = launch(client, admin)
    workshop = schedule(client, admin, programme)
    return workshop, run_to_results(client, admin, workshop)


def get(client: TestClient, token: str, path: str, **params: Any) -> Any:
    return client.get(path, params=params, headers=bearer(token))


def test_the_decision_verifies_and_its_record_is_signed(
    api_client: TestClient, token_for: TokenFor
) -> None:
    workshop, projects = declared(api_client, token_for)
    auditor = token_for(Role.AUDITOR)
    check = ok(get(api_client, auditor, f"/audit/workshops/{workshop}/decision"))
    assert check["verified"] is True and check["differences"] == []
    assert check["recomputed"]["winners"] == [str(projects[0])]

    record = ok(get(api_client, auditor, f"/audit/workshops/{workshop}/record"))
    assert record["checkpoint"]["reason"] == f"results {workshop}"
    assert record["signature"]
    assert record["winners"] and record["verified"] is True
    for fmt, media_type, text in (
        ("md", "text/markdown", "# Decision record"),
        ("html", "text/html", "<h1>"),
    ):
        answer = get(api_client, auditor, f"/audit/workshops/{workshop}/record", format=fmt)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith(media_type)
        assert text in answer.text

    # A copy of the result someone handed over, with the winner swapped, is caught.
    copy = {**check["declared"], "winners": [str(projects[1])]}
    caught = ok(
        api_client.post(f"/audit/workshops/{workshop}/decision", json=copy, headers=bearer(auditor))
    )
    assert caught["verified"] is False and caught["differences"]


def test_the_state_at_a_past_position_is_what_the_board_showed(
    api_client: TestClient, token_for: TokenFor
) -> None:
    admin = token_for(Role.ADMIN)
    programme = launch(api_client, admin)
    workshop = schedule(api_client, admin, programme)
    api_client.post(f"/workshops/{workshop}/phases/0/open", headers=bearer(admin))
    then = app_of(api_client).max_position()
    shown = ok(api_client.get(f"/workshops/{workshop}", headers=bearer(admin)))
    run_to_results(api_client, admin, workshop)
    auditor = token_for(Role.AUDITOR)
    past = ok(get(api_client, auditor, f"/audit/workshops/{workshop}/state", position=then))
    # The view's position is the last event of the whole log it read; the fold's is the
    # workshop's own last event. Everything the room saw is the same.
    assert {**past, "position": None} == {**shown, "position": None}
    now = ok(get(api_client, auditor, f"/audit/workshops/{workshop}/state"))
    assert now["results"] is not None and past["results"] is None
    early = get(api_client, auditor, f"/audit/workshops/{workshop}/state", at="2000-01-01")
    assert early.status_code == 404 and early.json()["field"] == "at"


def test_the_chain_verifies_and_checkpoints_are_signed(
    api_client: TestClient, token_for: TokenFor
) -> None:
    workshop, _ = declared(api_client, token_for)
    auditor = token_for(Role.AUDITOR)
    app = app_of(api_client)
    before = app.max_position()
    verdict = ok(get(api_client, auditor, "/audit/chain"))
    assert verdict["ok"] is True and verdict["bad_position"] is None
    assert verdict["checked"] + verdict["not_chained"] == before
    taken = ok(api_client.post("/audit/checkpoints", headers=bearer(auditor)), 201)
    assert taken["reason"] == "on demand" and taken["signature"]
    assert app.max_position() == before  # a checkpoint is not an event: the log is untouched
    found = ok(get(api_client, auditor, "/audit/checkpoints"))
    assert {c["reason"] for c in found} == {"on demand", f"results {workshop}"}

    pem = get(api_client, auditor, "/audit/public-key")
    assert pem.headers["content-type"].startswith("application/x-pem-file")
    key = load_pem_public_key(pem.content)
    assert isinstance(key, Ed25519PublicKey)
    for c in found:
        message = checkpoint_message(
            c["position"],
            c["count"],
            bytes.fromhex(c["chain"]),
            datetime.fromisoformat(c["at"]),
            c["reason"],
        )
        key.verify(bytes.fromhex(c["signature"]), message)  # raises if it does not hold


def test_the_trail_filters_pages_and_exports(api_client: TestClient, token_for: TokenFor) -> None:
    workshop, _ = declared(api_client, token_for)
    auditor = token_for(Role.AUDITOR)
    rows = ok(get(api_client, auditor, "/audit/trail", workshop_id=workshop, limit=10_000))["rows"]
    assert rows and all(r["workshop_id"] == workshop for r in rows)
    first = ok(get(api_client, auditor, "/audit/trail", workshop_id=workshop, limit=3))
    assert len(first["rows"]) == 3 and first["next_after"] == first["rows"][-1]["position"]
    rest = ok(
        get(
            api_client,
            auditor,
            "/audit/trail",
            workshop_id=workshop,
            after=first["next_after"],
            limit=10_000,
        )
    )
    assert [r["position"] for r in first["rows"] + rest["rows"]] == [r["position"] for r in rows]

    csv = get(api_client, auditor, "/audit/trail", workshop_id=workshop, format="csv")
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().split("\n")
    assert lines[0].startswith("position,") and len(lines) == len(rows) + 1
    jsonl = get(api_client, auditor, "/audit/trail", workshop_id=workshop, format="jsonl")
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    assert len(jsonl.text.strip().split("\n")) == len(rows)
    empty = get(api_client, auditor, "/audit/trail", actor="nobody", format="csv")
    assert empty.text.startswith("position,") and empty.text.count("\n") == 1


def test_ballots_and_aggregates_from_the_log(api_client: TestClient, token_for: TokenFor) -> None:
    workshop, projects = declared(api_client, token_for)
    auditor = token_for(Role.AUDITOR)
    log = ok(get(api_client, auditor, f"/workshops/{workshop}/ballots"))
    assert len(log["ballots"]) == 3 and all(b["counted"] for b in log["ballots"])
    assert log["close_position"] > max(b["position"] for b in log["ballots"])
    first = log["ballots"][0]
    ballot = ok(
        get(
            api_client,
            auditor,
            f"/audit/aggregates/{first['ballot_id']}",
            position=first["position"],
        )
    )
    assert ballot["type"] == "Ballot" and ballot["version"] == 1
    assert ballot["choices"] == {str(projects[0]): True}
    for role in (Role.MANAGER, Role.FACILITATOR):
        answer = get(
            api_client,
            token_for(role, workshops=[UUID(workshop)]),
            f"/workshops/{workshop}/ballots",
        )
        assert answer.status_code == 403


def test_auditors_never_write_and_bad_input_is_a_problem(
    api_client: TestClient, token_for: TokenFor
) -> None:
    workshop, _ = declared(api_client, token_for)
    auditor = token_for(Role.AUDITOR)
    app = app_of(api_client)
    before = app.max_position()
    for path in (
        f"/workshops/{workshop}/results",
        f"/workshops/{workshop}/phases/0/open",
        "/programmes",
        "/workshops",
    ):
        assert api_client.post(path, json={}, headers=bearer(auditor)).status_code == 403
    bad: list[tuple[str, dict[str, Any], str]] = [
        (f"/audit/workshops/{workshop}/state", {"at": "2010-07-02", "position": 1}, "at"),
        (f"/audit/workshops/{workshop}/state", {"position": -1}, "position"),
        (f"/audit/workshops/{workshop}/state", {"at": "teatime"}, "at"),
        (f"/audit/workshops/{workshop}/record", {"format": "pdf"}, "format"),
        ("/audit/trail", {"since": "2011-01-02", "until": "2011-01-01"}, "since"),
        ("/audit/trail", {"limit": 0}, "limit"),
        ("/audit/trail", {"workshop_id": "w"}, "workshop_id"),
        (f"/audit/aggregates/{uuid4()}", {}, "aggregate_id"),
        (f"/audit/workshops/{uuid4()}/decision", {}, "workshop"),
    ]
    for path, params, field in bad:
        answer = get(api_client, auditor, path, **params)
        assert answer.status_code in (404, 422), (path, answer.text)
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["field"] == field, (path, answer.json())
    subscriber = token_for(Role.SUBSCRIBER)
    assert get(api_client, subscriber, "/audit/chain").status_code == 403
    assert (
        api_client.post("/audit/checkpoints", headers=bearer(token_for(Role.MANAGER))).status_code
        == 403
    )
    assert app.max_position() == before
