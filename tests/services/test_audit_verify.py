"""Tamper tests: rows of the stored events table edited, deleted, inserted and swapped in SQL.

Each test builds a small demo-like log (a workshop voted and declared, then
another scheduled), chains it, tampers with PostgreSQL directly and checks
that `verify` names the right first position and the right kind.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from domain import commands as c
from domain.agenda import PhaseKind
from services import audit, audit_offline
from services.bootstrap import Stack
from services.settings import Settings

from .walk import Walk, ready_to_vote

pytestmark = pytest.mark.integration

EVENTS = "quickwins_events"
P, Q = 6, 11  # two positions well inside the chained log


@pytest.fixture
def stack(fresh_database_url: str, tmp_path: Path) -> Iterator[Stack]:
    settings = Settings(database_url=fresh_database_url, data_dir=tmp_path / "data")
    with Stack(settings, fresh_database_url, "") as built:
        walk, people, projects = ready_to_vote(built.app)
        walk.vote(people[0], {str(projects[0]): 1})
        walk.vote(people[1], {str(projects[0]): 1})
        walk.to(PhaseKind.CLOSED)
        built.app.declare_results(c.DeclareResults(workshop_id=walk.id), walk.meta())
        Walk(built.app).to(PhaseKind.BRAINSTORM)
        first = audit.verify(built)  # chains the untouched log
        assert first.ok, first.summary()
        yield built


def sql(stack: Stack, *statements: str) -> None:
    with psycopg.connect(stack.database_url) as conn:
        for statement in statements:
            conn.execute(statement)


def move(stack: Stack, source: int, target: int) -> str:
    return f"UPDATE {EVENTS} SET notification_id = {target} WHERE notification_id = {source}"


def assert_found(stack: Stack, kind: str, position: int) -> None:
    verdict = audit.verify(stack)
    assert not verdict.ok
    assert (verdict.kind, verdict.bad_position) == (kind, position), verdict.summary()


def test_an_untouched_log_verifies(stack: Stack) -> None:
    verdict = audit.verify(stack)
    assert verdict.ok, verdict.summary()
    assert verdict.checked == stack.app.max_position() > 20
    assert verdict.checkpoints == 1 and verdict.unsigned == 0  # the results declaration
    key = audit.key_path(stack.settings.data_dir)
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert audit.verify(stack).chain == verdict.chain  # verifying changes nothing


def test_an_edited_state_is_altered(stack: Stack) -> None:
    sql(stack, f"UPDATE {EVENTS} SET state = state || '\\x20'::bytea WHERE notification_id = {P}")
    assert_found(stack, "altered", P)


def test_an_edited_topic_is_altered(stack: Stack) -> None:
    sql(stack, f"UPDATE {EVENTS} SET topic = topic || 'x' WHERE notification_id = {Q}")
    assert_found(stack, "altered", Q)


def test_a_deleted_row_is_deleted(stack: Stack) -> None:
    sql(stack, f"DELETE FROM {EVENTS} WHERE notification_id = {P}")
    assert_found(stack, "deleted", P)


def test_a_deleted_row_with_the_rest_renumbered_is_deleted(stack: Stack) -> None:
    sql(
        stack,
        f"DELETE FROM {EVENTS} WHERE notification_id = {P}",
        f"UPDATE {EVENTS} SET notification_id = -notification_id + 1 WHERE notification_id > {P}",
        f"UPDATE {EVENTS} SET notification_id = -notification_id WHERE notification_id < 0",
    )
    assert_found(stack, "deleted", P)


def test_a_row_inserted_with_the_rest_renumbered_is_inserted(stack: Stack) -> None:
    sql(
        stack,
        f"UPDATE {EVENTS} SET notification_id = -notification_id - 1 WHERE notification_id >= {P}",
        f"UPDATE {EVENTS} SET notification_id = -notification_id WHERE notification_id < 0",
        # A forged ballot: a copy of an existing event under a version never recorded.
        f"INSERT INTO {EVENTS} (originator_id, originator_version, topic, state, notification_id)"
        f" SELECT originator_id, 99, topic, state, {P} FROM {EVENTS}"
        f" WHERE notification_id = {P + 1}",
    )
    assert_found(stack, "inserted", P)


def test_a_row_inserted_into_a_gap_is_inserted(stack: Stack) -> None:
    # A gap, as rolled-back transactions leave one, then more events, all chained.
    last = stack.app.max_position()
    sql(
        stack,
        f"SELECT nextval(pg_get_serial_sequence('{EVENTS}', 'notification_id'))"
        " FROM generate_series(1, 3)",
    )
    Walk(stack.app)
    assert audit.verify(stack).ok
    sql(
        stack,
        f"INSERT INTO {EVENTS} (originator_id, originator_version, topic, state, notification_id)"
        f" SELECT originator_id, 99, topic, state, {last + 2} FROM {EVENTS}"
        f" WHERE notification_id = {P}",
    )
    assert_found(stack, "inserted", last + 2)


def test_two_swapped_rows_are_reordered_at_the_first(stack: Stack) -> None:
    sql(stack, move(stack, P, -1), move(stack, Q, P), move(stack, -1, Q))
    assert_found(stack, "reordered", P)


def test_two_swapped_states_are_altered_at_the_first(stack: Stack) -> None:
    sql(
        stack,
        f"UPDATE {EVENTS} a SET state = b.state FROM {EVENTS} b"
        f" WHERE (a.notification_id, b.notification_id) IN (({P}, {Q}), ({Q}, {P}))",
    )
    assert_found(stack, "altered", P)


def test_a_row_moved_to_the_end_is_reordered(stack: Stack) -> None:
    sql(stack, move(stack, P, stack.app.max_position() + 10))
    assert_found(stack, "reordered", P)


def test_an_edited_chain_view_is_caught(stack: Stack) -> None:
    sql(stack, f"UPDATE audit_chain_links SET chain = '\\x00'::bytea WHERE position = {Q}")
    assert_found(stack, "chain", Q)


def test_a_rebuilt_chain_over_an_edited_log_contradicts_the_checkpoints(stack: Stack) -> None:
    on_demand = audit.record_checkpoint(stack)
    sql(stack, f"UPDATE {EVENTS} SET state = state || '\\x20'::bytea WHERE notification_id = {P}")
    with audit.caught_up_chain(stack) as view:
        view.reset()  # the forger rebuilds the chain from the edited log
    verdict = audit.verify(stack)
    # The first signed checkpoint after the edit is the results declaration's, re-signed by
    # the rebuild; the one taken on demand was kept, and it no longer matches.
    assert (verdict.kind, verdict.bad_position) == ("checkpoint", on_demand.position)


def test_exported_checkpoints_verify_offline_and_fail_on_any_changed_byte(
    stack: Stack, tmp_path: Path
) -> None:
    audit.record_checkpoint(stack)
    out = tmp_path / "export"
    done = audit.export(stack, out, with_log=True)
    assert done.checkpoints == 2
    pem = (out / "public.pem").read_bytes()
    checkpoints = audit_offline.read_checkpoints(out / "checkpoints.jsonl")
    rows = out / "events.csv"
    good = audit_offline.verify_offline(audit_offline.read_csv(rows), checkpoints, pem)
    assert good.ok and good.checkpoints == 2 and good.rows == stack.app.max_position()

    # One byte of a checkpoint's chain hash: its signature no longer holds.
    forged = [dict(cp) for cp in checkpoints]
    chain = forged[0]["chain"]
    forged[0]["chain"] = ("1" if chain[0] == "0" else "0") + chain[1:]
    bad = audit_offline.verify_offline(audit_offline.read_csv(rows), forged, pem)
    assert not bad.ok and "bad signature" in (bad.bad or "")

    # One byte of one stored event in the exported log: the first checkpoint after it fails.
    lines = rows.read_text().splitlines(keepends=True)
    line = lines[P - 1]
    lines[P - 1] = line[:-3] + ("1" if line[-3] == "0" else "0") + line[-2:]
    rows.write_text("".join(lines))
    bad = audit_offline.verify_offline(audit_offline.read_csv(rows), checkpoints, pem)
    assert not bad.ok and "does not match the log" in (bad.bad or "")

    # Another key: no signature holds.
    other = audit.load_key(tmp_path / "other.key").public_pem()
    bad = audit_offline.verify_offline(audit_offline.read_csv(rows), checkpoints, other)
    assert not bad.ok and "bad signature" in (bad.bad or "")
