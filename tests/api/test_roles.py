"""The role-by-endpoint matrix, read off the routes themselves, and the scope rules.

Every route names its action through `permit(action)`; `POLICY` says which
roles may do it. Each role (and no token at all) is sent to every route: a
role not allowed gets 403, no token gets 401, and an allowed role is never
refused for its role (it may still be refused for its scope, or for a body or
id that does not exist).
"""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from domain.agenda import PhaseKind
from services.api.auth import POLICY
from services.api.tokens import Role

from .conftest import TokenFor, bearer
from .test_workshop_api import _advance_to, _index_of, join, schedule

PUBLIC = {("POST", "/join")}
# Pages anyone may open: signing in, joining, signing out, and `/` leading there.
PUBLIC_PAGES = {"/", "/ui/login", "/ui/join", "/ui/logout"}


def _action(route: APIRoute) -> str | None:
    """The action a route's `permit` dependency checks, if any."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        name = getattr(dependency.call, "__name__", "")
        if name.startswith("permit_"):
            return next(a for a in POLICY if f"permit_{a.replace('.', '_')}" == name)
        pending.extend(dependency.dependencies)
    return None


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, including those of included routers (no prefixes are used)."""
    found: list[APIRoute] = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found.extend(_api_routes(included.routes))
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def _is_page(path: str) -> bool:
    return path == "/" or path.startswith("/ui")


def _routes(client: TestClient) -> list[tuple[str, str, str | None]]:
    """The API's routes (pages are checked by `test_every_page_asks_who_is_there`)."""
    found = []
    for route in _api_routes(client.app.routes):  # type: ignore[attr-defined]
        if _is_page(route.path):
            continue
        for method in sorted(route.methods):
            found.append((method, route.path, _action(route)))
    return found


def _signs_in(route: APIRoute) -> bool:
    """The page depends on the session (page_permit_..., or current_caller)."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        name = getattr(dependency.call, "__name__", "")
        if name.startswith("page_permit_") or name == "current_caller":
            return True
        pending.extend(dependency.dependencies)
    return False


def test_every_page_asks_who_is_there(api_client: TestClient) -> None:
    pages = [r for r in _api_routes(api_client.app.routes) if _is_page(r.path)]  # type: ignore[attr-defined]
    assert len(pages) > 20
    open_pages = [r.path for r in pages if not _signs_in(r)]
    assert set(open_pages) <= PUBLIC_PAGES, open_pages
    for route in pages:
        if route.path in PUBLIC_PAGES:
            continue
        for method in route.methods:
            answer = api_client.request(
                method, _filled(route.path), follow_redirects=False, data={}
            )
            assert answer.status_code in (303, 403), (method, route.path, answer.status_code)


def _filled(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: "0" if m.group(1) == "index" else str(uuid4()), path)


def test_every_route_but_joining_names_its_action(api_client: TestClient) -> None:
    unguarded = [(m, p) for m, p, action in _routes(api_client) if action is None]
    assert set(unguarded) <= PUBLIC, unguarded


def test_the_role_matrix(api_client: TestClient, token_for: TokenFor) -> None:
    tokens = {role: token_for(role) for role in Role if role != Role.PARTICIPANT}
    tokens[Role.PARTICIPANT] = _participant_token(api_client, token_for)
    checked = 0
    for method, path, action in _routes(api_client):
        if action is None:
            continue
        url = _filled(path)
        assert _send(api_client, method, url, None).status_code == 401, (method, path)
        for role, token in tokens.items():
            status = _send(api_client, method, url, token).status_code
            allowed = role in POLICY[action]
            assert status < 500, (method, path, role, status)
            if not allowed:
                assert status == 403, (method, path, role, status)
            else:
                assert status != 401, (method, path, role, status)
            checked += 1
    assert checked >= 6 * 30


def _send(client: TestClient, method: str, url: str, token: str | None) -> Any:
    headers = bearer(token) if token else {}
    if method in ("POST", "PUT", "PATCH"):
        return client.request(method, url, json={}, headers=headers)
    if url.endswith("/stream"):
        with client.stream(method, url, headers=headers) as answer:
            return answer
    return client.request(method, url, headers=headers)


def _participant_token(client: TestClient, token_for: TokenFor) -> str:
    admin = token_for(Role.ADMIN)
    schedule(client, admin, "ROLES-0")
    return str(join(client, "ROLES-0", "Pat")["token"])


@pytest.fixture
def two_rooms(api_client: TestClient, token_for: TokenFor) -> dict[str, Any]:
    """Two workshops in brainstorm, with a participant in each."""
    admin = token_for(Role.ADMIN)
    rooms: dict[str, Any] = {"admin": admin}
    for code in ("ROOM-A", "ROOM-B"):
        workshop = schedule(api_client, admin, code)
        api_client.post(f"/workshops/{workshop}/phases/0/open", headers=bearer(admin))
        index = _index_of(api_client, admin, workshop, PhaseKind.BRAINSTORM)
        _advance_to(api_client, admin, workshop, index)
        rooms[code] = {"id": workshop, "person": join(api_client, code, f"Person {code}")}
    return rooms


def test_a_participant_cannot_touch_another_workshop(
    api_client: TestClient, two_rooms: dict[str, Any]
) -> None:
    a, b = two_rooms["ROOM-A"], two_rooms["ROOM-B"]
    mine = bearer(a["person"]["token"])
    assert api_client.get(f"/workshops/{b['id']}", headers=mine).status_code == 403
    posted = api_client.post(f"/workshops/{b['id']}/ideas", json={"text": "x"}, headers=mine)
    assert posted.status_code == 403
    ballot = api_client.post(f"/workshops/{b['id']}/ballot", json={"choices": {}}, headers=mine)
    assert ballot.status_code == 403


def test_a_participant_acts_only_as_themselves(
    api_client: TestClient, two_rooms: dict[str, Any]
) -> None:
    a = two_rooms["ROOM-A"]
    other = join(api_client, "ROOM-A", "Other")
    idea = api_client.post(
        f"/workshops/{a['id']}/ideas", json={"text": "Mine"}, headers=bearer(other["token"])
    ).json()["id"]
    me = bearer(a["person"]["token"])
    edit = api_client.post(
        f"/workshops/{a['id']}/ideas/{idea}/edit", json={"text": "Hijacked"}, headers=me
    )
    assert edit.status_code == 403
    smuggled = api_client.post(
        f"/workshops/{a['id']}/ideas",
        json={"text": "x", "author_id": other["participant_id"]},
        headers=me,
    )
    assert smuggled.status_code == 422 and smuggled.json()["field"] == "author_id"


def test_a_facilitator_runs_only_their_own_workshops(
    api_client: TestClient, token_for: TokenFor, two_rooms: dict[str, Any]
) -> None:
    a, b = two_rooms["ROOM-A"], two_rooms["ROOM-B"]
    facilitator = bearer(token_for(Role.FACILITATOR, workshops=[a["id"]]))
    ok = api_client.post(
        f"/workshops/{a['id']}/key-areas", json={"name": "Homes"}, headers=facilitator
    )
    assert ok.status_code not in (401, 403)  # in scope (the phase may still refuse it)
    refused = api_client.post(
        f"/workshops/{b['id']}/key-areas", json={"name": "Homes"}, headers=facilitator
    )
    assert refused.status_code == 403


def test_an_auditor_reads_but_never_writes(
    api_client: TestClient, token_for: TokenFor, two_rooms: dict[str, Any]
) -> None:
    a = two_rooms["ROOM-A"]
    auditor = bearer(token_for(Role.AUDITOR))
    assert api_client.get(f"/workshops/{a['id']}", headers=auditor).status_code == 200
    writes = [(m, p, act) for m, p, act in _routes(api_client) if m == "POST" and act]
    for _, path, action in writes:
        if Role.AUDITOR in POLICY[action]:
            continue
        answer = api_client.post(_filled(path), json={}, headers=auditor)
        assert answer.status_code == 403, path


def test_a_revoked_token_is_refused(api_client: TestClient, token_for: TokenFor) -> None:
    admin = bearer(token_for(Role.ADMIN))
    issued = api_client.post(
        "/tokens", json={"role": "auditor", "name": "temp"}, headers=admin
    ).json()
    assert api_client.get("/workshops", headers=bearer(issued["token"])).status_code == 200
    revoked = api_client.post(f"/tokens/{issued['token_id']}/revoke", headers=admin)
    assert revoked.status_code == 204
    assert api_client.get("/workshops", headers=bearer(issued["token"])).status_code == 401
