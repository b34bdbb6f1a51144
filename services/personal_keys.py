"""A key per person, so erasing a person is deleting one key (crypto-shredding).

Personal fields are stored encrypted (AES-GCM) with their subject's key; the
keys live in one small table beside the events. Deleting a key leaves the
events unchanged (the log and its hash chain stay intact) and makes the
person's fields unreadable for good.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from typing import Any
from uuid import UUID

import psycopg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Transcoding

from domain.personal import Personal

CREATE = """CREATE TABLE IF NOT EXISTS person_keys (
    subject_id uuid PRIMARY KEY,
    key bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)"""


class PersonKeys:
    """The key table. One connection, used under a lock (keys are read rarely)."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.conninfo, autocommit=True)
            self._conn.execute(CREATE)
        return self._conn

    def key(self, subject: UUID, create: bool) -> bytes | None:
        try:
            return self._key(subject, create)
        except psycopg.OperationalError:  # a dropped connection: one fresh try
            self._conn = None
            return self._key(subject, create)

    def _key(self, subject: UUID, create: bool) -> bytes | None:
        with self._lock:
            conn = self._connection()
            if create:
                conn.execute(
                    "INSERT INTO person_keys (subject_id, key) VALUES (%s, %s)"
                    " ON CONFLICT (subject_id) DO NOTHING",
                    (subject, AESGCM.generate_key(bit_length=256)),
                )
            row = conn.execute(
                "SELECT key FROM person_keys WHERE subject_id = %s", (subject,)
            ).fetchone()
        return bytes(row[0]) if row else None

    def forget(self, subject: UUID) -> bool:
        """Delete the person's key; True if there was one."""
        with self._lock:
            cur = self._connection().execute(
                "DELETE FROM person_keys WHERE subject_id = %s", (subject,)
            )
            return cur.rowcount > 0

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


class PersonalCipher(Transcoding):
    """Stores a `Personal` value encrypted with its subject's key."""

    type = Personal
    name = "personal"

    def __init__(self, keys: PersonKeys) -> None:
        self.keys = keys

    def encode(self, obj: Personal) -> dict[str, Any]:
        if obj.erased:
            return {"s": str(obj.subject_id), "erased": True}
        key = self.keys.key(obj.subject_id, create=True)
        assert key is not None
        nonce = os.urandom(12)
        plain = json.dumps(dict(obj.fields), sort_keys=True).encode()
        sealed = AESGCM(key).encrypt(nonce, plain, obj.subject_id.bytes)
        return {"s": str(obj.subject_id), "n": _b64(nonce), "c": _b64(sealed)}

    def decode(self, data: dict[str, Any]) -> Personal:
        subject = UUID(data["s"])
        key = None if data.get("erased") else self.keys.key(subject, create=False)
        if key is None:
            return Personal(subject, erased=True)
        plain = AESGCM(key).decrypt(_unb64(data["n"]), _unb64(data["c"]), subject.bytes)
        return Personal(subject, json.loads(plain))


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)
