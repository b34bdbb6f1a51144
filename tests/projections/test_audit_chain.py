"""The audit chain projection: links every stored row, checkpoints at results, rebuilds the same."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from uuid import UUID

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import Tracking
from eventsourcing.projection import ProjectionRunner

from domain import commands as c
from domain.agenda import PhaseKind
from domain.workshop import Workshop
from projections.audit_chain import (
    GENESIS,
    AuditChainProjection,
    AuditChainView,
    audit_chain_view,
    chain_hash,
    checkpoint_message,
    leaf_hash,
)
from services import audit_offline
from services.app import Workshops
from services.persistence import postgres_env
from tests.services.walk import Walk, ready_to_vote

pytestmark = pytest.mark.integration

WAIT = 30.0


def test_leaf_encoding_is_pinned() -> None:
    """The documented byte encoding, spelled out by hand (docs/audit.md)."""
    oid = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
    expected = hashlib.sha256(
        b"\x00"
        + (7).to_bytes(8, "big")
        + (2).to_bytes(8, "big")
        + len(oid).to_bytes(4, "big")
        + (5).to_bytes(4, "big")
        + (3).to_bytes(4, "big")
        + oid.encode()
        + b"a:b.C"
        + b"{1}"
    ).digest()
    assert leaf_hash(7, oid, 2, "a:b.C", b"{1}") == expected
    assert audit_offline.leaf((7, oid, 2, "a:b.C", b"{1}")) == expected
    assert chain_hash(GENESIS, expected) == hashlib.sha256(b"\x01" + bytes(32) + expected).digest()
    # NULL topic and state are encoded as empty fields.
    assert leaf_hash(7, oid, 2, None, None) == leaf_hash(7, oid, 2, "", b"")


@pytest.fixture
def app(fresh_database_url: str) -> Iterator[Workshops]:
    application = Workshops(env=postgres_env(fresh_database_url))
    yield application
    application.close()


def _runner(
    url: str, projection: type[AuditChainProjection] = AuditChainProjection
) -> ProjectionRunner[Workshops, AuditChainView]:
    return ProjectionRunner(
        application_class=Workshops,
        projection_class=projection,
        view_class=AuditChainView,
        env=postgres_env(url),
    )


def _declared(app: Workshops) -> UUID:
    walk, people, projects = ready_to_vote(app)
    walk.vote(people[0], {str(projects[0]): 1})
    walk.to(PhaseKind.CLOSED)
    app.declare_results(c.DeclareResults(workshop_id=walk.id), walk.meta())
    return walk.id


def _stored_rows(url: str) -> list[audit_offline.Row]:
    with psycopg.connect(url) as conn:
        return [
            (r[0], r[1], r[2], r[3], bytes(r[4]))
            for r in conn.execute(
                "SELECT notification_id, originator_id::text, originator_version, topic, state"
                " FROM quickwins_events ORDER BY notification_id"
            )
        ]


def test_every_stored_row_is_chained_and_results_are_checkpointed(
    app: Workshops, fresh_database_url: str
) -> None:
    workshop = _declared(app)
    # A gap in the positions (as a rolled-back transaction leaves), then more events.
    with psycopg.connect(fresh_database_url) as conn:
        conn.execute(
            "SELECT nextval(pg_get_serial_sequence('quickwins_events', 'notification_id'))"
            " FROM generate_series(1, 3)"
        )
    Walk(app)
    key = Ed25519PrivateKey.generate()
    with _runner(fresh_database_url, AuditChainProjection.with_signer(key.sign)) as runner:
        runner.wait(app.max_position(), timeout=WAIT)
        head = runner.view.head()
        checkpoints = runner.view.checkpoints()
        verdict = runner.view.verify("quickwins")
    rows = _stored_rows(fresh_database_url)
    assert rows[-1][0] == app.max_position() > len(rows)  # the gap is there
    # The projection's chain is the one an independent implementation computes.
    chain = bytes(32)
    for row in rows:
        chain = hashlib.sha256(b"\x01" + chain + audit_offline.leaf(row)).digest()
    assert head == (rows[-1][0], len(rows), chain)
    assert verdict.ok and verdict.checked == len(rows) and verdict.not_chained == 0
    [results] = checkpoints
    assert results.reason == f"results {workshop}"
    assert results.position == app.position_of(workshop, app.load(Workshop, workshop, "w").version)
    assert results.signature is not None
    key.public_key().verify(results.signature, results.message())


def test_a_rebuild_records_the_same_chain_and_checkpoints(
    app: Workshops, fresh_database_url: str
) -> None:
    _declared(app)
    key = Ed25519PrivateKey.generate()
    projection = AuditChainProjection.with_signer(key.sign)
    with _runner(fresh_database_url, projection) as runner:
        runner.wait(app.max_position(), timeout=WAIT)
        before = (runner.view.head(), runner.view.checkpoints())
        runner.view.add_checkpoint(before[1][0].at, key.sign)
        runner.view.reset()
    with _runner(fresh_database_url, projection) as runner:
        runner.wait(app.max_position(), timeout=WAIT)
        after = runner.view.head(), runner.view.checkpoints()
    assert after[0] == before[0]
    # The results checkpoint is recorded again, identically; the one taken on demand is kept.
    assert sorted(cp.reason for cp in after[1]) == ["on demand", before[1][0].reason]
    assert before[1][0] in after[1]


def test_unsigned_checkpoints_are_signed_later(app: Workshops, fresh_database_url: str) -> None:
    _declared(app)
    key = Ed25519PrivateKey.generate()
    with _runner(fresh_database_url) as runner:
        runner.wait(app.max_position(), timeout=WAIT)
        [pending] = runner.view.checkpoints()
        assert pending.signature is None
        assert runner.view.verify("quickwins").unsigned == 1
        assert runner.view.sign_pending(key.sign) == 1
        assert runner.view.sign_pending(key.sign) == 0
        [signed] = runner.view.checkpoints()
    assert signed.signature is not None
    key.public_key().verify(
        signed.signature,
        checkpoint_message(signed.position, signed.count, signed.chain, signed.at, signed.reason),
    )


def test_an_event_chained_by_another_runner_is_skipped(
    app: Workshops, fresh_database_url: str
) -> None:
    _declared(app)
    view = audit_chain_view(postgres_env(fresh_database_url))
    try:
        projection = AuditChainProjection(view)
        for notification in app.recorder.select_notifications(1, 5):
            event = app.mapper.to_domain_event(notification)
            tracking = Tracking("quickwins", notification.id)
            projection.process_event(event, tracking)
            projection.process_event(event, tracking)  # as a second runner would
        assert view.head()[:2] == (5, 5)
        with _runner(fresh_database_url) as one, _runner(fresh_database_url) as two:
            one.wait(app.max_position(), timeout=WAIT)
            two.wait(app.max_position(), timeout=WAIT)
        assert view.verify("quickwins").ok
    finally:
        view.close()
