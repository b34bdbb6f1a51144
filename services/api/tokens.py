"""Bearer tokens, stored only as their SHA-256 digests.

A token is 32 random bytes, so a plain digest is enough (no password
stretching needed); the token itself is shown once, when it is issued.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

CREATE = (
    """CREATE TABLE IF NOT EXISTS api_tokens (
        id uuid PRIMARY KEY,
        digest text NOT NULL UNIQUE,
        role text NOT NULL,
        name text NOT NULL,
        programmes uuid[] NOT NULL DEFAULT '{}',
        workshops uuid[] NOT NULL DEFAULT '{}',
        participant_id uuid,
        event_types text[],
        allow_private_webhooks boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz)""",
)
PREFIX = "qw_"


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "programme_manager"
    FACILITATOR = "facilitator"
    PARTICIPANT = "participant"
    AUDITOR = "auditor"
    SUBSCRIBER = "subscriber"


@dataclass(frozen=True)
class Caller:
    """Who is asking, and what their token covers."""

    token_id: UUID
    role: Role
    name: str
    programmes: frozenset[UUID] = frozenset()
    workshops: frozenset[UUID] = frozenset()
    participant_id: UUID | None = None
    event_types: frozenset[str] | None = None  # None: every type
    allow_private_webhooks: bool = False

    @property
    def actor(self) -> str:
        """How the caller appears in events' metadata (never a person's name)."""
        if self.participant_id is not None:
            return f"participant:{self.participant_id}"
        return f"{self.role.value}:{self.token_id}"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool

    def issue(
        self,
        role: Role,
        name: str,
        *,
        programmes: frozenset[UUID] = frozenset(),
        workshops: frozenset[UUID] = frozenset(),
        participant_id: UUID | None = None,
        event_types: frozenset[str] | None = None,
        allow_private_webhooks: bool = False,
    ) -> tuple[str, Caller]:
        """A new token (returned once, in the clear) and what it covers."""
        token = PREFIX + secrets.token_urlsafe(32)
        caller = Caller(
            uuid4(),
            role,
            name,
            programmes,
            workshops,
            participant_id,
            event_types,
            allow_private_webhooks,
        )
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO api_tokens (id, digest, role, name, programmes, workshops,"
                " participant_id, event_types, allow_private_webhooks)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    caller.token_id,
                    digest(token),
                    role.value,
                    name,
                    list(programmes),
                    list(workshops),
                    participant_id,
                    None if event_types is None else sorted(event_types),
                    allow_private_webhooks,
                ),
            )
        return token, caller

    def caller(self, token: str) -> Caller | None:
        if not token.startswith(PREFIX):
            return None
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                "SELECT * FROM api_tokens WHERE digest = %s AND revoked_at IS NULL",
                (digest(token),),
            ).fetchone()
        return None if row is None else _caller(row)

    def add_programme(self, token_id: UUID, programme_id: UUID) -> None:
        """A manager who launches a programme manages it from then on."""
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE api_tokens SET programmes = array_append(programmes, %s)"
                " WHERE id = %s AND NOT (%s = ANY(programmes))",
                (programme_id, token_id, programme_id),
            )

    def add_workshop(self, token_id: UUID, workshop_id: UUID) -> None:
        """A facilitator who schedules a workshop runs it."""
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE api_tokens SET workshops = array_append(workshops, %s)"
                " WHERE id = %s AND NOT (%s = ANY(workshops))",
                (workshop_id, token_id, workshop_id),
            )

    def revoke(self, token_id: UUID) -> bool:
        with self.pool.connection() as conn:
            cur = conn.execute(
                "UPDATE api_tokens SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL",
                (token_id,),
            )
            return cur.rowcount > 0


def _caller(row: dict[str, Any]) -> Caller:
    types = row["event_types"]
    return Caller(
        token_id=row["id"],
        role=Role(row["role"]),
        name=row["name"],
        programmes=frozenset(row["programmes"]),
        workshops=frozenset(row["workshops"]),
        participant_id=row["participant_id"],
        event_types=None if types is None else frozenset(types),
        allow_private_webhooks=row["allow_private_webhooks"],
    )
