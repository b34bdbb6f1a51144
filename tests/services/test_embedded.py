"""The embedded servers start for real, serve, keep their data and stop by pid."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest
from temporalio.client import Client

from services.embedded import EmbeddedPostgres, TemporalDevServer, pid_alive

pytestmark = pytest.mark.integration


def test_postgres_serves_pg_trgm_and_stops(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path)
    url = server.start()
    pid = server.pid
    try:
        assert url.startswith("postgresql://postgres@127.0.0.1:")
        assert url.endswith("/quickwins")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            row = conn.execute("SELECT similarity('devon', 'devonn')").fetchone()
        assert row is not None and row[0] > 0
    finally:
        server.stop()
    assert pid is not None and not pid_alive(pid)
    assert server.pid is None


def test_postgres_keeps_data_and_address_across_restart(tmp_path: Path) -> None:
    with EmbeddedPostgres(tmp_path) as first, psycopg.connect(first.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (name text)")
        conn.execute("INSERT INTO kept VALUES ('devon')")
    with EmbeddedPostgres(tmp_path) as second, psycopg.connect(second.url) as conn:
        assert second.url == first.url
        assert conn.execute("SELECT name FROM kept").fetchall() == [("devon",)]


def test_postgres_start_reuses_a_running_server(tmp_path: Path) -> None:
    with EmbeddedPostgres(tmp_path) as first:
        again = EmbeddedPostgres(tmp_path)
        assert again.start() == first.url
        assert again.pid == first.pid


def test_session_databases_are_separate_and_have_pg_trgm(
    database_url: str, fresh_database_url: str
) -> None:
    assert database_url != fresh_database_url
    for url in (database_url, fresh_database_url):
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT similarity('devon', 'devonn')").fetchone()
            assert row is not None and row[0] > 0


async def _count_workflows(address: str) -> int:
    client = await Client.connect(address)
    return (await client.count_workflows()).count


def test_temporal_dev_server_accepts_a_client_and_stops(tmp_path: Path) -> None:
    server = TemporalDevServer(tmp_path)
    server.start()
    pid = server.pid
    try:
        assert server.address.startswith("127.0.0.1:")
        assert asyncio.run(_count_workflows(server.address)) == 0
        # A second handle on the same folder reuses the server instead of starting another.
        again = TemporalDevServer(tmp_path)
        assert again.start() == server.address
        assert again.pid == pid
    finally:
        server.stop()
    assert pid is not None and not pid_alive(pid)
    assert server.pid is None
