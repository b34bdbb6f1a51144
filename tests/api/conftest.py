"""API fixtures: the real application on a fresh database, a projector thread, real tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from services.api.app import create_api
from services.api.tokens import Role
from services.bootstrap import Stack, bootstrap
from services.settings import Settings

TokenFor = Callable[..., str]


@pytest.fixture
def api_stack(fresh_database_url: str, tmp_path: Path) -> Iterator[Stack]:
    settings = Settings(database_url=fresh_database_url, data_dir=tmp_path / "data")
    with bootstrap(settings, temporal=False) as stack:
        yield stack


@pytest.fixture
def api_client(api_stack: Stack) -> Iterator[TestClient]:
    with TestClient(create_api(api_stack, projector=True)) as client:
        yield client


@pytest.fixture
def token_for(api_client: TestClient) -> TokenFor:
    """A bearer token for `role`, scoped as given (programmes=..., workshops=..., ...)."""

    def issue(role: Role | str, **scope: Any) -> str:
        tokens = api_client.app.state.tokens  # type: ignore[attr-defined]
        frozen = {
            k: frozenset(v) if isinstance(v, list | set | tuple) else v for k, v in scope.items()
        }
        token, _ = tokens.issue(Role(role), f"test {role}", **frozen)
        return str(token)

    return issue


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ids(*values: str) -> list[UUID]:
    return [UUID(v) for v in values]
