"""Right to erasure on an immutable log: the key goes, the log and the tally stay."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import psycopg
import pytest

from domain import commands as c
from domain.agenda import PhaseKind
from domain.participant import Participant
from domain.personal import ERASED_NAME
from domain.workshop import Workshop
from services.app import Workshops
from services.persistence import postgres_env
from tests.e2e.cli import quickwins
from tests.projections.helpers import board_runner

from .walk import Walk

pytestmark = pytest.mark.integration

NAME, ORGANISATION = "Zebediah Quartermaine", "Frobisher Borough Council"


def _plaintext_anywhere(url: str, needle: str) -> list[str]:
    """Every table and column in the database holding `needle`, as text or as bytes."""
    found = []
    with psycopg.connect(url) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'public'"
        ).fetchall()
        for table, column, kind in columns:
            if kind == "bytea":
                test = f"position(convert_to(%s, 'UTF8') in \"{column}\") > 0"
            else:
                test = f"\"{column}\"::text ILIKE '%%' || %s || '%%'"
            hits = conn.execute(f'SELECT count(*) FROM "{table}" WHERE {test}', (needle,))
            if hits.fetchone()[0]:  # type: ignore[index]
                found.append(f"{table}.{column}")
    return found


def test_erasing_a_participant_leaves_no_plaintext_and_changes_no_tally(
    fresh_database_url: str, tmp_path: Path
) -> None:
    app = Workshops(env=postgres_env(fresh_database_url))
    try:
        walk = Walk(app)
        walk.to(PhaseKind.BRAINSTORM)
        zeb = app.join(
            c.JoinWorkshop(
                workshop_id=walk.id, key="zeb", display_name=NAME, organisation=ORGANISATION
            ),
            walk.meta("participant:self"),
        )
        (other,) = walk.join(1)
        walk.idea(zeb, "Shared data centres")
        walk.to(PhaseKind.GROUPING)
        area = walk.area("Cloud")
        walk.to(PhaseKind.DISCUSSION)
        project = walk.project(area, [zeb])
        walk.to(PhaseKind.VOTE)
        walk.vote(zeb, {str(project): 1})
        walk.vote(other, {str(project): 1})
        walk.to(PhaseKind.CLOSED)
        before = app.recount(app.load(Workshop, walk.id, "workshop_id"))

        with board_runner(fresh_database_url) as runner:
            runner.wait(app.max_position(), timeout=30)
        assert app.load(Participant, zeb, "participant_id").display_name == NAME
        # Encrypted from the start: only read models hold the name until erasure.
        assert _plaintext_anywhere(fresh_database_url, NAME) == ["board_participants.display_name"]

        run = quickwins(
            "participant", "erase", str(zeb), database_url=fresh_database_url, data_dir=tmp_path
        )
        assert run.returncode == 0, run.stderr
        with board_runner(fresh_database_url) as runner:
            runner.wait(app.max_position(), timeout=30)
            board = runner.view.board(walk.id)

        for needle in (NAME, ORGANISATION, "Zebediah", "Frobisher"):
            assert _plaintext_anywhere(fresh_database_url, needle) == [], needle
        assert app.load(Participant, zeb, "participant_id").display_name == ERASED_NAME
        assert (
            board is not None and board.participants == 3 - 1
        )  # two joined; erasure keeps the place
        after = app.recount(app.load(Workshop, walk.id, "workshop_id"))
        assert after == before  # the tally and its digest are unchanged
        verify = quickwins("audit", "verify", database_url=fresh_database_url, data_dir=tmp_path)
        assert verify.returncode == 0, verify.stdout + verify.stderr  # the log is intact
    finally:
        app.close()


def test_erasing_bad_input_exits_2_and_records_nothing(
    fresh_database_url: str, tmp_path: Path
) -> None:
    app = Workshops(env=postgres_env(fresh_database_url))
    try:
        Walk(app)
        position = app.max_position()
        for args, says in (
            (["participant", "erase", "nope"], "not an id"),
            (["participant", "erase", str(uuid4())], "participant_id"),
        ):
            run = quickwins(*args, database_url=fresh_database_url, data_dir=tmp_path)
            assert run.returncode == 2 and says in run.stderr.strip(), run.stderr
            assert len(run.stderr.strip().splitlines()) == 1
        assert app.max_position() == position
    finally:
        app.close()
