"""Tamper evidence: a hash chain over the stored rows of the notification log.

The chain is computed from the rows as PostgreSQL stores them (not from the
decoded domain events), so a verifier re-reads exactly what is stored. For
each stored row, in notification order (positions may have gaps: the
library's notification ids skip numbers after a rolled-back transaction):

    leaf  h_i = SHA-256(0x00 || i64(notification_id) || i64(originator_version)
                        || u32(len(O)) || u32(len(T)) || u32(len(S)) || O || T || S)
    chain c_i = SHA-256(0x01 || c_{i-1} || h_i),   c_0 = 32 zero bytes

where i64(n) is n as 8 bytes big-endian two's complement, u32(n) 4 bytes
big-endian, O the UTF-8 of originator_id's canonical text (a uuid as
PostgreSQL prints it: lower case, hyphenated), T the UTF-8 of topic, S the
stored state bytes; NULL is encoded as empty. The lengths come first so the
fixed-size part is packed at once. `docs/audit.md` repeats this for auditors.

`AuditChainView` keeps one link per chained row (position, count, stream
key, leaf, chain) and the checkpoints: {position, count, chain, at, reason}
signed with Ed25519 (the signature is NULL until someone holding the key
signs it). `AuditChainProjection` chains each event's stored row as the event
arrives and records a checkpoint at every `Workshop.ResultsDeclared` (its
time is the event's own, so a rebuild records the same checkpoint). It signs
as it goes when it is given a signer (`with_signer`); projections never see
the key otherwise.

`AuditChainView.verify` streams the stored rows and the links side by side
(server-side cursors, flat memory) and names the first bad position and its
kind: altered, deleted, inserted or reordered (`Verdict`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.projection import Projection
from psycopg import Cursor
from psycopg.rows import DictRow, TupleRow, tuple_row
from psycopg.sql import SQL, Composed, Identifier

from domain.events import (
    RESULTS_DECLARED,
)

from .tracking import STREAMS_DDL, TrackedView, construct_view, transient

__all__ = [
    "AUDIT_CHAIN_TABLES",
    "GENESIS",
    "AuditChainProjection",
    "AuditChainView",
    "Checkpoint",
    "Signer",
    "Verdict",
    "audit_chain_view",
    "chain_hash",
    "checkpoint_message",
    "leaf_hash",
]

GENESIS = bytes(32)
ON_DEMAND = "on demand"
# Rows read per round trip by the streaming cursors.
ITERSIZE = 10_000

# Signs a checkpoint's message; returns the 64-byte Ed25519 signature.
Signer = Callable[[bytes], bytes]
# (message, signature) -> whether the signature is good.
SignatureCheck = Callable[[bytes, bytes], bool]

_HEADER = struct.Struct(">qqIII")  # position, version, then the three lengths


def leaf_hash(
    position: int, originator_id: str, version: int, topic: str | None, state: bytes | None
) -> bytes:
    """h_i of one stored row (see the module's docstring for the encoding)."""
    o = originator_id.encode()
    t = (topic or "").encode()
    st = bytes(state or b"")
    return hashlib.sha256(
        b"\x00" + _HEADER.pack(position, version, len(o), len(t), len(st)) + o + t + st
    ).digest()


def chain_hash(previous: bytes, leaf: bytes) -> bytes:
    """c_i from c_{i-1} and h_i."""
    return hashlib.sha256(b"\x01" + previous + leaf).digest()


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: the chain had `count` links, ending at `position` with `chain`."""

    position: int
    count: int
    chain: bytes
    at: datetime
    reason: str
    signature: bytes | None = None

    def message(self) -> bytes:
        return checkpoint_message(self.position, self.count, self.chain, self.at, self.reason)

    def as_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "count": self.count,
            "chain": self.chain.hex(),
            "at": _utc(self.at),
            "reason": self.reason,
            "signature": self.signature.hex() if self.signature else None,
        }


def checkpoint_message(position: int, count: int, chain: bytes, at: datetime, reason: str) -> bytes:
    """The bytes a checkpoint's signature covers: canonical JSON (sorted keys, no spaces)."""
    body = {
        "at": _utc(at),
        "chain": chain.hex(),
        "count": count,
        "position": position,
        "reason": reason,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _utc(at: datetime) -> str:
    """ISO 8601 in UTC, so the message does not depend on the session's time zone."""
    return at.astimezone(UTC).isoformat()


@dataclass
class Verdict:
    """What `verify` found. `ok` when no bad position and every checkpoint holds."""

    checked: int = 0  # stored rows compared with the chain
    position: int | None = None  # the chain's last position (None: nothing chained)
    chain: bytes = GENESIS
    bad_position: int | None = None
    kind: str | None = None  # altered | deleted | inserted | reordered | chain | checkpoint
    detail: str = ""
    checkpoints: int = 0  # checkpoints verified (signature and chain)
    unsigned: int = 0  # checkpoints not signed yet (not counted as verified)
    not_chained: int = 0  # stored rows after the chain's last position
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.bad_position is None and not self.problems

    def summary(self) -> str:
        if self.bad_position is not None:
            return f"{self.kind} at position {self.bad_position}: {self.detail}"
        if self.problems:
            return self.problems[0]
        return (
            f"ok: {self.checked} events up to position {self.position or 0} match the chain"
            f" {self.chain.hex()[:16]}; {self.checkpoints} signed checkpoints hold"
        )


AUDIT_CHAIN_TABLES = ("audit_chain_streams", "audit_chain_links", "audit_chain_checkpoints")

_DDL = (
    # Unused by the chain (its writes are guarded by tracking alone); TrackedView needs it.
    STREAMS_DDL,
    """CREATE TABLE IF NOT EXISTS {links} (
        position bigint PRIMARY KEY,
        count bigint NOT NULL UNIQUE,
        originator_id text NOT NULL,
        originator_version bigint NOT NULL,
        leaf bytea NOT NULL,
        chain bytea NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS audit_chain_links_key ON {links}"
    " (originator_id, originator_version)",
    """CREATE TABLE IF NOT EXISTS {checkpoints} (
        id bigserial PRIMARY KEY,
        position bigint NOT NULL,
        count bigint NOT NULL,
        chain bytea NOT NULL,
        at timestamptz NOT NULL,
        reason text NOT NULL,
        signature bytea)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS audit_chain_checkpoints_once ON {checkpoints}"
    " (position, reason) WHERE reason <> 'on demand'",
)

_HEAD = "SELECT position, count, chain FROM {links} ORDER BY count DESC LIMIT 1"


class AuditChainView(TrackedView):
    """The chain's links and checkpoints (`audit_chain_*`), written with tracking."""

    prefix = "audit_chain_"
    tables = AUDIT_CHAIN_TABLES
    ddl = _DDL

    def events_table(self, application_name: str) -> Composed:
        """The application's stored events table, as the library names it."""
        table = Identifier(self.datastore.schema, application_name.lower() + "_events")
        return SQL("{}").format(table)

    # ----- the write path ---------------------------------------------------

    @transient
    def extend(
        self,
        application_name: str,
        upto: int,
        tracking: Tracking | None = None,
        checkpoint: tuple[datetime, str] | None = None,
        signer: Signer | None = None,
    ) -> tuple[int, int, bytes]:
        """Chain every stored row after the chain's last position up to `upto`.

        One transaction: the tracking record (when given), the new links and,
        when `checkpoint` = (at, reason) is given, a checkpoint at the new head,
        signed when a `signer` is given. Returns the head: (position, count, chain).
        """
        rows_sql = SQL(
            "SELECT notification_id, originator_id::text, originator_version, topic, state"
            " FROM {} WHERE notification_id > %s AND notification_id <= %s"
            " ORDER BY notification_id"
        ).format(self.events_table(application_name))
        with self.datastore.transaction(commit=True) as curs:
            if tracking is not None:
                self._insert_tracking(curs, tracking)
            position, count, chain = self._head(curs)
            with curs.connection.cursor(row_factory=tuple_row) as rows:
                rows.execute(rows_sql, (position, upto))
                links = []
                for pos, oid, version, topic, state in rows:
                    leaf = leaf_hash(pos, oid, version, topic, state)
                    chain = chain_hash(chain, leaf)
                    count += 1
                    position = pos
                    links.append((pos, count, oid, version, leaf, chain))
            if links:
                copy_sql = self._q(
                    "COPY {links} (position, count, originator_id, originator_version, leaf,"
                    " chain) FROM STDIN"
                )
                with curs.copy(copy_sql) as copy:
                    for link in links:
                        copy.write_row(link)
            if checkpoint is not None and count:
                at, reason = checkpoint
                signature = None
                if signer is not None:
                    signature = signer(checkpoint_message(position, count, chain, at, reason))
                curs.execute(
                    self._q(
                        "INSERT INTO {checkpoints} (position, count, chain, at, reason, signature)"
                        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
                    ),
                    (position, count, chain, at, reason, signature),
                )
            return position, count, chain

    def _head(self, curs: Cursor[DictRow]) -> tuple[int, int, bytes]:
        row = self._fetch(curs, _HEAD, {})
        if row is None:
            return 0, 0, GENESIS
        return int(row["position"]), int(row["count"]), bytes(row["chain"])

    @transient
    def add_checkpoint(self, at: datetime, signer: Signer, reason: str = ON_DEMAND) -> Checkpoint:
        """A signed checkpoint at the chain's current head (the head must exist)."""
        with self.datastore.transaction(commit=True) as curs:
            position, count, chain = self._head(curs)
            if not count:
                raise LookupError("the chain is empty: nothing to sign")
            signature = signer(checkpoint_message(position, count, chain, at, reason))
            curs.execute(
                self._q(
                    "INSERT INTO {checkpoints} (position, count, chain, at, reason, signature)"
                    " VALUES (%s, %s, %s, %s, %s, %s)"
                ),
                (position, count, chain, at, reason, signature),
            )
        return Checkpoint(position, count, chain, at, reason, signature)

    @transient
    def sign_pending(self, signer: Signer) -> int:
        """Sign every checkpoint recorded without a signature; returns how many."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                self._q(
                    "SELECT id, position, count, chain, at, reason FROM {checkpoints}"
                    " WHERE signature IS NULL ORDER BY id FOR UPDATE"
                )
            )
            pending = curs.fetchall()
            for row in pending:
                message = checkpoint_message(
                    row["position"], row["count"], bytes(row["chain"]), row["at"], row["reason"]
                )
                curs.execute(
                    self._q("UPDATE {checkpoints} SET signature = %s WHERE id = %s"),
                    (signer(message), row["id"]),
                )
            return len(pending)

    @transient
    def reset(self) -> None:
        """Forget the chain so a runner rebuilds it; keep checkpoints taken on demand.

        Checkpoints at results declarations are recorded again by the rebuild
        (same time, same signature); those taken on demand cannot be, and they
        are what a rebuild over an altered log would contradict.
        """
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._q("DELETE FROM {links}"))
            curs.execute(self._q("DELETE FROM {streams}"))
            curs.execute(
                self._q("DELETE FROM {checkpoints} WHERE reason <> %(on_demand)s"),
                {"on_demand": ON_DEMAND},
            )
            curs.execute(
                self._q("DELETE FROM {tracking} WHERE application_name <> %(migration)s"),
                {"migration": self.table_migration_identifier},
            )

    # ----- the read path ------------------------------------------------------

    @transient
    def head(self) -> tuple[int, int, bytes]:
        """(position, count, chain) of the chain's last link; (0, 0, GENESIS) when empty."""
        with self._snapshot() as curs:
            return self._head(curs)

    @transient
    def checkpoints(self) -> list[Checkpoint]:
        with self._snapshot() as curs:
            curs.execute(
                self._q(
                    "SELECT position, count, chain, at, reason, signature FROM {checkpoints}"
                    " ORDER BY position, id"
                )
            )
            return [
                Checkpoint(
                    r["position"],
                    r["count"],
                    bytes(r["chain"]),
                    r["at"],
                    r["reason"],
                    None if r["signature"] is None else bytes(r["signature"]),
                )
                for r in curs.fetchall()
            ]

    def export_rows(self, application_name: str, write: Callable[[bytes], Any]) -> None:
        """The stored rows as CSV, exactly as `psql \\copy (...) TO FILE CSV` writes them."""
        statement = SQL(
            "COPY (SELECT notification_id, originator_id, originator_version, topic, state"
            " FROM {} ORDER BY notification_id) TO STDOUT WITH (FORMAT csv)"
        ).format(self.events_table(application_name))
        with self.datastore.transaction(commit=False) as curs, curs.copy(statement) as copy:
            for block in copy:
                write(bytes(block))

    @transient
    def verify(self, application_name: str, check: SignatureCheck | None = None) -> Verdict:
        """Re-read every stored row and compare it with the chain; name the first bad position.

        One REPEATABLE READ snapshot; rows and links stream through two
        server-side cursors, so memory does not grow with the log. Checkpoints
        are checked against the recomputed chain and, with `check`, their
        signatures. Rows after the chain's head are counted as not chained yet.
        """
        verdict = Verdict()
        events = self.events_table(application_name)
        with self._snapshot() as curs:
            checkpoints = self._checkpoints_by_position(curs, check, verdict)
            conn = curs.connection
            stored = _stream(
                conn.cursor("audit_rows", row_factory=tuple_row),
                SQL(
                    "SELECT notification_id, originator_id::text, originator_version, topic,"
                    " state FROM {} ORDER BY notification_id"
                ).format(events),
            )
            chained = _stream(
                conn.cursor("audit_links", row_factory=tuple_row, binary=True),
                self._q("SELECT position, chain FROM {links} ORDER BY position"),
            )
            self._compare(curs, events, stored, chained, checkpoints, verdict)
        if verdict.bad_position is None:
            beyond = [p for p in checkpoints if p > (verdict.position or 0)]
            if beyond:
                verdict.problems.append(f"checkpoint at position {min(beyond)} is beyond the chain")
        return verdict

    def _checkpoints_by_position(
        self, curs: Cursor[DictRow], check: SignatureCheck | None, verdict: Verdict
    ) -> dict[int, list[tuple[int, bytes]]]:
        by_position: dict[int, list[tuple[int, bytes]]] = {}
        curs.execute(
            self._q("SELECT position, count, chain, at, reason, signature FROM {checkpoints}")
        )
        for r in curs.fetchall():
            chain = bytes(r["chain"])
            if r["signature"] is None:
                verdict.unsigned += 1
            elif check is not None:
                message = checkpoint_message(r["position"], r["count"], chain, r["at"], r["reason"])
                if not check(message, bytes(r["signature"])):
                    verdict.problems.append(
                        f"checkpoint at position {r['position']}: the signature does not match"
                    )
                    continue
                verdict.checkpoints += 1
            by_position.setdefault(r["position"], []).append((r["count"], chain))
        return by_position

    def _compare(
        self,
        curs: Cursor[DictRow],
        events: Composed,
        stored: Any,
        chained: Any,
        checkpoints: dict[int, list[tuple[int, bytes]]],
        verdict: Verdict,
    ) -> None:
        """Merge the two ordered streams, recomputing the chain from the stored rows.

        The hot loop: `leaf_hash` and `chain_hash` are inlined (same bytes).
        """
        chain, count, last = GENESIS, 0, None
        sha256, header = hashlib.sha256, _HEADER.pack
        rows: list[TupleRow] = stored.fetchmany(ITERSIZE)
        links: list[TupleRow] = []
        ri = li = 0
        try:
            while True:
                if li == len(links):
                    links, li = chained.fetchmany(ITERSIZE), 0
                    if not links:
                        break
                if ri == len(rows):
                    rows, ri = stored.fetchmany(ITERSIZE), 0
                link_position, link_chain = links[li]
                if ri == len(rows) or rows[ri][0] > link_position:
                    self._blame(curs, events, verdict, link_position, None, "missing")
                    return
                row = rows[ri]
                pos, oid, version, topic, state = row
                if pos < link_position:
                    self._blame(curs, events, verdict, pos, row, "unchained")
                    return
                o = oid.encode()
                t = topic.encode() if topic else b""
                st = state or b""
                leaf = sha256(
                    b"\x00" + header(pos, version, len(o), len(t), len(st)) + o + t + st
                ).digest()
                next_chain = sha256(b"\x01" + chain + leaf).digest()
                if next_chain != link_chain:
                    self._blame(curs, events, verdict, pos, row, "mismatch", leaf)
                    return
                chain, count, last = next_chain, count + 1, pos
                if pos in checkpoints:
                    for cp_count, cp_chain in checkpoints[pos]:
                        if (cp_count, cp_chain) != (count, chain):
                            verdict.bad_position, verdict.kind = pos, "checkpoint"
                            verdict.detail = "a signed checkpoint disagrees with the chain here"
                            return
                ri += 1
                li += 1
            verdict.not_chained = len(rows) - ri
            while batch := stored.fetchmany(ITERSIZE):
                verdict.not_chained += len(batch)
        finally:
            verdict.checked, verdict.position, verdict.chain = count, last, chain

    def _blame(
        self,
        curs: Cursor[DictRow],
        events: Composed,
        verdict: Verdict,
        position: int,
        row: TupleRow | None,
        found: str,
        leaf: bytes | None = None,
    ) -> None:
        """Name the kind of damage at the first bad position (lookups only here)."""
        verdict.bad_position = position
        link = self._fetch(
            curs,
            "SELECT originator_id, originator_version, leaf FROM {links} WHERE position = %(p)s",
            {"p": position},
        )
        row_key = None if row is None else (row[1], row[2])
        row_chained_at = None if row_key is None else self._chained_at(curs, row_key)
        if found == "missing":  # chained here, no stored row here
            assert link is not None
            elsewhere = self._stored_at(
                curs, events, (link["originator_id"], link["originator_version"])
            )
            verdict.kind = "deleted" if elsewhere is None else "reordered"
            verdict.detail = (
                "a chained event is no longer stored"
                if elsewhere is None
                else f"the event chained here is stored at position {elsewhere}"
            )
        elif found == "unchained":  # stored here, never chained here
            verdict.kind = "inserted" if row_chained_at is None else "reordered"
            verdict.detail = (
                "a stored event that was never chained"
                if row_chained_at is None
                else f"the event stored here was chained at position {row_chained_at}"
            )
        else:
            assert link is not None and row_key is not None
            link_key = (link["originator_id"], link["originator_version"])
            if row_key == link_key:
                if leaf is not None and leaf == bytes(link["leaf"]):
                    verdict.kind, verdict.detail = "chain", "the chain view's stored hash is wrong"
                else:
                    verdict.kind, verdict.detail = "altered", "the stored event was changed"
                return
            link_stored_at = self._stored_at(curs, events, link_key)
            if link_stored_at is None:
                verdict.kind = "altered" if row_chained_at is None else "deleted"
            else:
                verdict.kind = "inserted" if row_chained_at is None else "reordered"
            verdict.detail = {
                "altered": "another event replaced the one chained here",
                "deleted": "the event chained here is no longer stored",
                "inserted": "an event that was never chained is stored here",
                "reordered": f"the event chained here is now stored at position {link_stored_at}",
            }[verdict.kind]

    def _chained_at(self, curs: Cursor[DictRow], key: tuple[str, int]) -> int | None:
        row = self._fetch(
            curs,
            "SELECT position FROM {links}"
            " WHERE originator_id = %(o)s AND originator_version = %(v)s",
            {"o": key[0], "v": key[1]},
        )
        return None if row is None else int(row["position"])

    def _stored_at(
        self, curs: Cursor[DictRow], events: Composed, key: tuple[str, int]
    ) -> int | None:
        statement = SQL(
            "SELECT notification_id FROM {} WHERE originator_id::text = %s"
            " AND originator_version = %s"
        ).format(events)
        curs.execute(statement, key)
        row = curs.fetchone()
        return None if row is None else int(row["notification_id"])


def _stream(cursor: Any, statement: Composed) -> Any:
    """A server-side cursor, executed: read it with `fetchmany(ITERSIZE)`."""
    cursor.itersize = ITERSIZE
    cursor.execute(statement)
    return cursor


class AuditChainProjection(Projection[AuditChainView]):
    """Chains each event's stored row; a checkpoint at every results declaration."""

    name = "audit_chain"
    topics: tuple[str, ...] = ()  # every event is chained
    # Set by `with_signer` (the services layer holds the key); None: checkpoints
    # are recorded unsigned and signed later (`AuditChainView.sign_pending`).
    signer: ClassVar[Signer | None] = None

    @classmethod
    def with_signer(cls, signer: Signer) -> type[AuditChainProjection]:
        """This projection (same name, same view) signing its checkpoints as it goes."""
        return type(cls.__name__, (cls,), {"signer": signer, "name": cls.name})

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self._extend(tracking)

    @process_event.register(RESULTS_DECLARED)
    def _results(self, e: Any, tracking: Tracking) -> None:
        self._extend(tracking, (e.meta.at, f"results {e.originator_id}"))

    def _extend(self, tracking: Tracking, checkpoint: tuple[datetime, str] | None = None) -> None:
        # Another runner of this view (a projector beside a CLI command) chained this
        # position first: its tracking or link conflicts, and nothing is left to do.
        with contextlib.suppress(IntegrityError):
            self.view.extend(
                tracking.application_name,
                tracking.notification_id,
                tracking,
                checkpoint=checkpoint,
                signer=type(self).signer,
            )


def audit_chain_view(env: dict[str, str]) -> AuditChainView:
    """The view as `ProjectionRunner` builds it, for readers that run no projection."""
    return construct_view(AuditChainView, AuditChainProjection.name, env)
