"""`Idempotency-Key` on every POST: a retry gets the first answer, nothing is done twice.

The first request with a key claims it (a row with no answer yet), runs, and
stores its answer; a repeat with the same key and the same request waits for
that answer and returns it; the same key with a different request is refused
(422). Keys are scoped to the credential that sent them, so two callers can
never see each other's answers. A server error releases the key, so a retry
can try again; a claim left by a crashed process expires after `STALE`.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

from psycopg_pool import ConnectionPool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response

from .problems import problem

CREATE = (
    """CREATE TABLE IF NOT EXISTS api_idempotency (
        scope text NOT NULL,
        key text NOT NULL,
        fingerprint text NOT NULL,
        status integer,
        content_type text,
        body bytea,
        claimed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope, key))""",
)
HEADER = "idempotency-key"
MAX_KEY = 255
STALE = "60 seconds"
WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class Stored:
    status: int
    content_type: str
    body: bytes


class Claim:
    """What claiming a key found: ours to run, a stored answer, busy, or a mismatch."""

    OURS, BUSY, MISMATCH = "ours", "busy", "mismatch"


class IdempotencyStore:
    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool

    def claim(self, scope: str, key: str, fingerprint: str) -> str | Stored:
        with self.pool.connection() as conn:
            inserted = conn.execute(
                "INSERT INTO api_idempotency (scope, key, fingerprint) VALUES (%s, %s, %s)"
                " ON CONFLICT (scope, key) DO UPDATE SET claimed_at = now()"
                f" WHERE api_idempotency.status IS NULL"
                f" AND api_idempotency.claimed_at < now() - interval '{STALE}'"
                " AND api_idempotency.fingerprint = EXCLUDED.fingerprint"
                " RETURNING 1",
                (scope, key, fingerprint),
            ).fetchone()
            if inserted:
                return Claim.OURS
            row = conn.execute(
                "SELECT fingerprint, status, content_type, body FROM api_idempotency"
                " WHERE scope = %s AND key = %s",
                (scope, key),
            ).fetchone()
        if row is None:  # released in between: try again
            return self.claim(scope, key, fingerprint)
        if row[0] != fingerprint:
            return Claim.MISMATCH
        if row[1] is None:
            return Claim.BUSY
        return Stored(row[1], row[2], bytes(row[3]))

    def complete(self, scope: str, key: str, answer: Stored) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE api_idempotency SET status = %s, content_type = %s, body = %s"
                " WHERE scope = %s AND key = %s",
                (answer.status, answer.content_type, answer.body, scope, key),
            )

    def release(self, scope: str, key: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "DELETE FROM api_idempotency WHERE scope = %s AND key = %s AND status IS NULL",
                (scope, key),
            )


def _sha(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


class IdempotencyMiddleware(BaseHTTPMiddleware):
    """Wraps every POST; the store comes from the API context opened at start-up."""

    store: IdempotencyStore

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None:
            return await call_next(request)
        if not 1 <= len(key) <= MAX_KEY or not key.isprintable():
            return problem(
                400,
                "Invalid input",
                f"Idempotency-Key: 1 to {MAX_KEY} printable characters",
                "Idempotency-Key",
            )
        self.store = request.app.state.ctx.idempotency
        body = await request.body()
        scope = _sha(request.headers.get("authorization", "").encode())
        fingerprint = _sha(request.url.path.encode(), request.url.query.encode(), body)
        found = await self._claim(scope, key, fingerprint)
        if isinstance(found, Stored):
            return _replay(found)
        if found == Claim.MISMATCH:
            return problem(
                422,
                "Idempotency key reused",
                "this Idempotency-Key was used for a different request",
                "Idempotency-Key",
            )
        if found == Claim.BUSY:
            return problem(
                409,
                "Request in progress",
                "a request with this Idempotency-Key is still running; retry",
                "Idempotency-Key",
                headers={"Retry-After": "1"},
            )
        return await self._run(request, call_next, scope, key)

    async def _claim(self, scope: str, key: str, fingerprint: str) -> str | Stored:
        """Claim the key, waiting while another request with it is running."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_SECONDS
        while True:
            found = await asyncio.to_thread(self.store.claim, scope, key, fingerprint)
            if found != Claim.BUSY or loop.time() > deadline:
                return found
            await asyncio.sleep(0.05)

    async def _run(
        self, request: Request, call_next: RequestResponseEndpoint, scope: str, key: str
    ) -> Response:
        try:
            response = await call_next(request)
            chunks = [chunk async for chunk in response.body_iterator]  # type: ignore[attr-defined]
        except BaseException:
            await asyncio.to_thread(self.store.release, scope, key)
            raise
        body = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
        if response.status_code >= 500:
            await asyncio.to_thread(self.store.release, scope, key)
        else:
            answer = Stored(
                response.status_code,
                response.media_type or response.headers.get("content-type", "application/json"),
                body,
            )
            await asyncio.to_thread(self.store.complete, scope, key, answer)
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return Response(body, response.status_code, headers=headers)


def _replay(stored: Stored) -> Response:
    return Response(
        stored.body,
        stored.status,
        media_type=stored.content_type,
        headers={"Idempotent-Replayed": "true"},
    )
