"""Turns a database URL into the eventsourcing library's persistence settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

import psycopg


def postgres_env(database_url: str) -> dict[str, str]:
    """The library reads its settings from a mapping; build it from one URL."""
    parts = urlsplit(database_url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {parts.scheme}://...")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        # Several processes (API, workers, projectors) share one database.
        "CREATE_TABLE": "y",
        # Pools start small and grow on demand: a projector holds one application
        # and one view per read model, and PostgreSQL's connections are few.
        "POSTGRES_POOL_SIZE": "2",
        "POSTGRES_MAX_OVERFLOW": "8",
    }


# One key for "creating the event store and read model tables": processes that
# start together on a new database would otherwise race to create the same
# types and functions (PostgreSQL's DDL is not safe to repeat concurrently).
SCHEMA_LOCK_KEY = 7_215_402_881


@contextmanager
def schema_lock(database_url: str) -> Iterator[None]:
    """Hold a session advisory lock while tables are created."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))
