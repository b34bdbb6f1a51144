"""`quickwins demo` end to end: the seed's workshop through the real workflow."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import pytest

from domain.workshop import Workshop
from services.app import Workshops
from services.persistence import postgres_env

from .cli import quickwins

pytestmark = pytest.mark.e2e

WINNER = "Regional workshop for Chief Executives and Senior Directors"


def test_demo_replays_the_seed_and_its_decision_can_be_recomputed(
    fresh_database_url: str, tmp_path: Path
) -> None:
    run = quickwins("demo", "--json", database_url=fresh_database_url, data_dir=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    record = json.loads(run.stdout)

    assert record["method"] == "approval"
    assert record["eligible_voters"] == 30
    assert record["ballots_counted"] == 30
    assert record["winners"] == [WINNER]
    top = record["ranking"][0]
    assert not top["tied"] and top["projects"][0]["share"] >= 0.9
    assert len([p for entry in record["ranking"] for p in entry["projects"]]) == 7
    assert record["ballots_digest"].startswith("sha256:")

    app = Workshops(env=postgres_env(fresh_database_url))
    try:
        workshop = app.load(Workshop, UUID(record["workshop"]["id"]), "workshop_id")
        assert len(workshop.key_areas) == 5
        assert workshop.results is not None
        again = app.recount(workshop)
        assert again.digest == record["ballots_digest"]
        assert again.counted_up_to == record["counted_up_to_position"]
        # The acts happened on the story's day, though the demo runs today.
        events = list(app.events.get(workshop.id))
        assert {event.meta.at.date().isoformat() for event in events} == {"2010-07-02"}
    finally:
        app.close()


def test_demo_prints_the_board_and_the_decision_record(
    fresh_database_url: str, tmp_path: Path
) -> None:
    run = quickwins("demo", database_url=fresh_database_url, data_dir=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    for expected in ("Key areas", "Projects, in pitch order", "Decision record", "Ranking", WINNER):
        assert expected in run.stdout
    assert "results declared" in run.stderr  # the progress bar over the agenda
    status = quickwins("status", database_url=fresh_database_url, data_dir=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "SW-2010-" in status.stdout and "declared" in status.stdout
