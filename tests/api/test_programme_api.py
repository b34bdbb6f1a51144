"""Programmes and initiatives through the API: a manager's whole flow, scope, bad input."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from domain.agenda import SEED_AGENDA, PhaseKind
from services.api import routes_programmes
from services.api.tokens import Role
from services.app import Workshops

from ..services.walk import Walk
from .conftest import TokenFor, bearer

PROBLEM = "application/problem+json"
STARTS = datetime(2010, 7, 2, 9, 30, tzinfo=UTC)


def app_of(client: TestClient) -> Workshops:
    return client.app.state.stack.app  # type: ignore[attr-defined,no-any-return]


def ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def launch(client: TestClient, token: str, name: str = "SW 2010") -> str:
    body = {"name": name, "sponsor": "Socitm", "regions": ["South West", "Wales"]}
    return str(ok(client.post("/programmes", json=body, headers=bearer(token)), 201)["id"])


def schedule(client: TestClient, token: str, programme: str, code: str = "SW-API") -> str:
    body = {
        "code": code,
        "title": "South West strategy day",
        "region": "south west",
        "starts_at": STARTS.isoformat(),
        "agenda": SEED_AGENDA.model_dump(mode="json"),
    }
    answer = client.post(f"/programmes/{programme}/workshops", json=body, headers=bearer(token))
    return str(ok(answer, 201)["id"])


class WalkOf(Walk):
    """A Walk over a workshop that is already scheduled (through the API)."""

    def __init__(self, app: Workshops, workshop_id: UUID) -> None:
        self.app = app
        self.minute = 0
        self.id = workshop_id


def run_to_results(client: TestClient, admin: str, workshop: str) -> list[UUID]:
    """Run the workshop through its phases in the app, then declare over the API.

    Returns the projects: the first is the winner.
    """
    walk = WalkOf(app_of(client), UUID(workshop))
    walk.to(PhaseKind.BRAINSTORM)
    people = walk.join(3)
    walk.to(PhaseKind.GROUPING)
    area = walk.area("Cloud")
    walk.to(PhaseKind.DISCUSSION)
    projects = [
        walk.project(area, people[:1], "Regional CEO workshop"),
        walk.project(area, people[1:2], "Shared service desk"),
    ]
    walk.to(PhaseKind.VOTE)
    walk.vote(people[0], {str(projects[0]): True})
    walk.vote(people[1], {str(projects[0]): True})
    walk.vote(people[2], {str(projects[1]): True})
    walk.to(PhaseKind.CLOSED)
    result = ok(client.post(f"/workshops/{workshop}/results", headers=bearer(admin)))
    assert result["winners"] == [str(projects[0])]
    return projects


def adopted(client: TestClient, token: str) -> tuple[str, str, str]:
    """A programme whose decided workshop's winner is adopted: (programme, workshop, initiative)."""
    programme = launch(client, token)
    workshop = schedule(client, token, programme)
    run_to_results(client, launch_admin(client), workshop)
    answer = client.post(
        f"/programmes/{programme}/workshops/{workshop}/adopt", headers=bearer(token)
    )
    return programme, workshop, ok(answer)["initiatives"][0]


def launch_admin(client: TestClient) -> str:
    tokens = client.app.state.tokens  # type: ignore[attr-defined]
    token, _ = tokens.issue(Role.ADMIN, "test admin")
    return str(token)


def deliver(client: TestClient, token: str, initiative: str) -> None:
    """Give the initiative an owner and take it into delivery."""
    act(client, token, f"/initiatives/{initiative}/owner", {"owner": "Ann Carew"})
    for stage in ("approved", "in_delivery"):
        act(client, token, f"/initiatives/{initiative}/stage", {"stage": stage})


def act(client: TestClient, token: str, path: str, body: Any = None, status: int = 200) -> Any:
    return ok(client.post(path, json=body, headers=bearer(token)), status)


# ----- the flow -----------------------------------------------------------------------------


def test_a_manager_runs_a_programme_from_launch_to_benefits(
    api_client: TestClient, token_for: TokenFor
) -> None:
    manager = token_for(Role.MANAGER)
    programme, workshop, initiative = adopted(api_client, manager)
    listed = ok(api_client.get("/programmes", headers=bearer(manager)))
    assert [p["id"] for p in listed] == [programme]  # the launch added it to the token
    again = act(api_client, manager, f"/programmes/{programme}/workshops/{workshop}/adopt")
    assert again["initiatives"] == [initiative]  # adopting again adds nothing

    base = f"/initiatives/{initiative}"
    act(api_client, manager, f"{base}/owner", {"owner": "Ann Carew <ann@example.org>"})
    act(api_client, manager, f"{base}/stage", {"stage": "approved"})
    act(api_client, manager, f"{base}/stage", {"stage": "in_delivery"})
    pilot = act(
        api_client, manager, f"{base}/milestones", {"title": "Pilot", "due": "2010-09-01"}, 201
    )["id"]
    act(
        api_client,
        manager,
        f"{base}/milestones/{pilot}/reschedule",
        {"due": "2010-09-15T09:00:00Z", "reason": "summer"},
    )
    act(api_client, manager, f"{base}/milestones/{pilot}/complete")
    late = act(
        api_client, manager, f"{base}/milestones", {"title": "Roll-out", "due": "2010-10-01"}, 201
    )["id"]
    act(api_client, manager, f"{base}/progress", {"percent": 40, "status": "amber", "note": "ok"})
    benefit = {"measure": "money_saved", "amount": 2500, "evidence": "licences not renewed"}
    act(api_client, manager, f"{base}/benefits", benefit, 201)
    act(api_client, manager, f"{base}/regions", {"region": "wales"})
    act(api_client, manager, f"{base}/follow-ups", {"workshop_id": workshop})

    shown = ok(api_client.get(base, headers=bearer(manager)))
    row = shown["initiative"]
    assert row["owner"] and row["owner"].startswith("Ann Carew")
    assert row["stage"] == "in_delivery" and row["regions"] == ["South West", "Wales"]
    assert [m["completed_at"] is not None for m in row["milestones"]] == [True, False]
    assert row["progress"]["percent"] == 40 and len(row["benefits"]) == 1
    kinds = [e["kind"] for e in shown["trail"]]
    for kind in ("project_proposed", "results_declared", "adopted", "owner_assigned"):
        assert kind in kinds
    assert kinds[-1] == "follow_up_linked"

    summary = ok(
        api_client.get(
            f"/programmes/{programme}/pipeline",
            params={"at": "2011-01-01T00:00:00Z"},
            headers=bearer(manager),
        )
    )
    assert summary["by_stage"]["in_delivery"] == 1
    assert [o["milestone_id"] for o in summary["overdue"]] == [late]
    money = next(b for b in summary["benefits"] if b["measure"] == "money_saved")
    assert money["total"] == 2500


def test_the_report_downloads_with_its_media_types(
    api_client: TestClient, token_for: TokenFor
) -> None:
    manager = token_for(Role.MANAGER)
    programme, _, initiative = adopted(api_client, manager)
    deliver(api_client, manager, initiative)
    act(
        api_client,
        manager,
        f"/initiatives/{initiative}/benefits",
        {"measure": "money_saved", "amount": 100, "evidence": "invoice"},
        201,
    )
    expected = {
        "report.md": ("text/markdown", "SW 2010"),
        "initiatives.csv": ("text/csv", "id,title,stage"),
        "pipeline.svg": ("image/svg+xml", "<svg"),
        "benefits.svg": ("image/svg+xml", "<svg"),
    }
    for name, (media_type, text) in expected.items():
        answer = api_client.get(f"/programmes/{programme}/report/{name}", headers=bearer(manager))
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith(media_type)
        assert text in answer.text
    missing = api_client.get(f"/programmes/{programme}/report/x.pdf", headers=bearer(manager))
    assert missing.status_code == 422 and missing.json()["field"] == "name"


def test_programme_acts_without_a_workshop(api_client: TestClient, token_for: TokenFor) -> None:
    admin = token_for(Role.ADMIN)
    programme = launch(api_client, admin)
    workshop = schedule(api_client, admin, programme)
    draft = act(api_client, admin, f"/programmes/{programme}/workshops/{workshop}/briefing-draft")
    assert "SW 2010" in draft["text"]
    criteria = {"criteria": [{"name": "Quick win", "weight": 2}, {"name": "Low cost"}]}
    act(api_client, admin, f"/programmes/{programme}/criteria", criteria)
    added = act(
        api_client,
        admin,
        f"/programmes/{programme}/initiatives",
        {"title": "Shared cloud", "region": "Wales", "reason": "Board request"},
        201,
    )
    rows = ok(
        api_client.get(
            f"/programmes/{programme}/initiatives",
            params={"region": "wales"},
            headers=bearer(admin),
        )
    )
    assert [r["id"] for r in rows] == [added["id"]]
    act(api_client, admin, f"/programmes/{programme}/close")
    shown = ok(api_client.get(f"/programmes/{programme}", headers=bearer(admin)))
    assert shown["closed"] is True and [w["id"] for w in shown["workshops"]] == [workshop]
    closed = api_client.post(
        f"/programmes/{programme}/initiatives",
        json={"title": "Late", "region": "Wales", "reason": "x"},
        headers=bearer(admin),
    )
    assert closed.status_code == 409 and closed.headers["content-type"] == PROBLEM


def test_an_admin_erases_an_owner(api_client: TestClient, token_for: TokenFor) -> None:
    manager = token_for(Role.MANAGER)
    programme, _, initiative = adopted(api_client, manager)
    act(api_client, manager, f"/initiatives/{initiative}/owner", {"owner": "Ann Carew"})
    erase = f"/programmes/{programme}/owners/erase"
    refused = api_client.post(erase, json={"owner": "Ann Carew"}, headers=bearer(manager))
    assert refused.status_code == 403
    admin = token_for(Role.ADMIN)
    both = api_client.post(
        erase, json={"owner": "Ann Carew", "owner_id": str(uuid4())}, headers=bearer(admin)
    )
    assert both.status_code == 422 and both.json()["field"] == "owner"
    act(api_client, admin, erase, {"owner": "Ann Carew"})
    row = ok(api_client.get(f"/initiatives/{initiative}", headers=bearer(admin)))["initiative"]
    assert row["owner_id"] is not None and "Ann" not in (row["owner"] or "")


# ----- scope --------------------------------------------------------------------------------


def test_a_manager_of_another_programme_is_refused(
    api_client: TestClient, token_for: TokenFor
) -> None:
    mine = token_for(Role.MANAGER)
    programme, workshop, initiative = adopted(api_client, mine)
    other = token_for(Role.MANAGER, programmes=[uuid4()])
    app = app_of(api_client)
    before = app.max_position()
    refused = [
        api_client.get(f"/programmes/{programme}", headers=bearer(other)),
        api_client.get(f"/programmes/{programme}/pipeline", headers=bearer(other)),
        api_client.get(f"/programmes/{programme}/report/report.md", headers=bearer(other)),
        api_client.get(f"/initiatives/{initiative}", headers=bearer(other)),
        api_client.post(f"/programmes/{programme}/close", headers=bearer(other)),
        api_client.post(
            f"/programmes/{programme}/workshops/{workshop}/adopt", headers=bearer(other)
        ),
        api_client.post(
            f"/initiatives/{initiative}/progress",
            json={"percent": 1, "status": "red"},
            headers=bearer(other),
        ),
    ]
    for answer in refused:
        assert answer.status_code == 403, answer.text
        assert answer.headers["content-type"] == PROBLEM
    assert ok(api_client.get("/programmes", headers=bearer(other))) == []
    assert app.max_position() == before


def every_post() -> list[APIRoute]:
    """The programme router's writes (the app mounts routers whole, so ask the router)."""
    return [
        r
        for r in routes_programmes.router.routes
        if isinstance(r, APIRoute) and "POST" in (r.methods or set())
    ]


def filled(route: APIRoute, value: str) -> str:
    path = route.path
    for param in route.dependant.path_params:
        path = path.replace("{" + param.name + "}", value)
    return path


def test_an_auditor_reads_every_programme_and_writes_nothing(
    api_client: TestClient, token_for: TokenFor
) -> None:
    manager = token_for(Role.MANAGER)
    programme, _, initiative = adopted(api_client, manager)
    auditor = token_for(Role.AUDITOR)
    before = app_of(api_client).max_position()
    routes = every_post()
    assert len(routes) == 17
    for route in routes:
        path = filled(route, programme if "programme" in route.path else initiative)
        answer = api_client.post(path, json={}, headers=bearer(auditor))
        assert answer.status_code == 403, (route.path, answer.text)
    assert app_of(api_client).max_position() == before
    assert [p["id"] for p in ok(api_client.get("/programmes", headers=bearer(auditor)))] == [
        programme
    ]
    ok(api_client.get(f"/initiatives/{initiative}", headers=bearer(auditor)))


# ----- bad input ----------------------------------------------------------------------------


def test_every_write_names_the_field_at_fault_and_records_nothing(
    api_client: TestClient, token_for: TokenFor
) -> None:
    admin = token_for(Role.ADMIN)
    before = app_of(api_client).max_position()
    for route in every_post():
        if route.body_field is not None:  # an unknown field in the body
            answer = api_client.post(
                filled(route, str(uuid4())), json={"surprise": 1}, headers=bearer(admin)
            )
            assert answer.status_code == 422, (route.path, answer.text)
            assert "surprise" in {e["field"] for e in answer.json()["errors"]}, route.path
        if route.dependant.path_params:  # an id that is not one
            answer = api_client.post(filled(route, "not-an-id"), json={}, headers=bearer(admin))
            assert answer.status_code == 422, (route.path, answer.text)
            assert answer.headers["content-type"] == PROBLEM
            assert answer.json()["field"] in {p.name for p in route.dependant.path_params}
    assert app_of(api_client).max_position() == before


def test_bad_values_are_refused_naming_the_field(
    api_client: TestClient, token_for: TokenFor
) -> None:
    manager = token_for(Role.MANAGER)
    programme, _, initiative = adopted(api_client, manager)
    deliver(api_client, manager, initiative)
    base = f"/initiatives/{initiative}"
    cases: list[tuple[str, Any, str]] = [
        ("/programmes", {"name": "X", "sponsor": "Y", "regions": []}, "regions"),
        (f"/programmes/{programme}/criteria", {"criteria": []}, "criteria"),
        (f"/programmes/{programme}/workshops", {"code": "Z"}, "title"),
        (
            f"/programmes/{programme}/initiatives",
            {"title": "", "region": "Wales", "reason": "r"},
            "title",
        ),
        (f"{base}/owner", {"owner": ""}, "owner"),
        (f"{base}/stage", {"stage": "finished"}, "stage"),
        (f"{base}/milestones", {"title": "M", "due": "soon"}, "due"),
        (f"{base}/milestones/{uuid4()}/reschedule", {"due": "2011-01-01"}, "reason"),
        (f"{base}/progress", {"percent": 101, "status": "green"}, "percent"),
        (f"{base}/progress", {"percent": 10, "status": "blue"}, "status"),
        (f"{base}/benefits", {"measure": "m", "amount": "lots", "evidence": "e"}, "amount"),
        (f"{base}/follow-ups", {"workshop_id": "w"}, "workshop_id"),
        (f"{base}/regions", {"region": ""}, "region"),
    ]
    app = app_of(api_client)
    before = app.max_position()
    for path, body, field in cases:
        answer = api_client.post(path, json=body, headers=bearer(manager))
        assert answer.status_code == 422, (path, answer.text)
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["field"] == field, (path, answer.json())
    # Well formed, but against the domain's rules: still a problem naming the field.
    ruled: list[tuple[str, Any, int, str]] = [
        (f"{base}/benefits", {"measure": "smiles", "amount": 1, "evidence": "e"}, 422, "measure"),
        (f"{base}/regions", {"region": "Mars"}, 422, "region"),
        (f"{base}/stage", {"stage": "evaluated"}, 409, "stage"),
        (f"{base}/milestones/{uuid4()}/complete", None, 404, "milestone_id"),
        (f"/initiatives/{uuid4()}/progress", {"percent": 1, "status": "red"}, 404, "initiative_id"),
    ]
    for path, body, status, field in ruled:
        answer = api_client.post(path, json=body, headers=bearer(manager))
        assert answer.status_code == status, (path, answer.text)
        assert answer.json().get("field") == field, (path, answer.json())
    assert app.max_position() == before


def test_no_token_is_401(api_client: TestClient) -> None:
    assert api_client.get("/programmes").status_code == 401
    assert api_client.post("/programmes", json={}).status_code == 401
