"""`quickwins workshop matches` and `link`: a facilitator sees and links recurring ideas."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest

from domain.agenda import PhaseKind
from services.app import Workshops
from services.persistence import postgres_env
from tests.projections.programme_helpers import Day, Manager, day

from .cli import quickwins

pytestmark = pytest.mark.e2e


def _two_days(url: str) -> tuple[Workshops, Day, Day]:
    app = Workshops(env=postgres_env(url))
    jo = Manager(app, "Matching 2010", ["Devon", "Cornwall"], day(2010, 6, 1))
    devon = jo.workshop("DEV-M", "Devon", "Devon day", day(2010, 7, 2), day(2010, 6, 2))
    devon.to(PhaseKind.BRAINSTORM)
    devon.join("Ann")
    devon.idea("cloud", "Ann", "A shared cloud for council services in the region")
    cornwall = jo.workshop("CORN-M", "Cornwall", "Cornwall day", day(2010, 9, 1), day(2010, 6, 2))
    cornwall.to(PhaseKind.BRAINSTORM)
    cornwall.join("Ben")
    cornwall.idea("cloud", "Ben", "A shared cloud for the council services of the region")
    cornwall.idea("other", "Ben", "Mentoring for heads of ICT")
    return app, devon, cornwall


def test_facilitator_sees_and_links_an_idea_that_came_up_before(
    fresh_database_url: str, tmp_path: Path
) -> None:
    app, devon, cornwall = _two_days(fresh_database_url)
    data = tmp_path / "data"
    try:
        shown = quickwins(
            "workshop", "matches", "CORN-M", database_url=fresh_database_url, data_dir=data
        )
        assert shown.returncode == 0, shown.stderr
        assert "Devon" in shown.stdout and "Mentoring" not in shown.stdout

        ids = (str(cornwall.ideas["cloud"]), str(devon.ideas["cloud"]))
        linked = quickwins("workshop", "link", *ids, database_url=fresh_database_url, data_dir=data)
        assert linked.returncode == 0, linked.stderr

        bad = [
            (["workshop", "link", *ids], "earlier_id: already linked"),
            (["workshop", "link", "nope", ids[1]], "not an id"),
            (["workshop", "link", ids[0], str(uuid4())], "earlier_id"),
            (["workshop", "link", ids[1], ids[0]], "earlier_id"),
            (["workshop", "matches", "DEV-M"], "came up before"),
            (["workshop", "matches", "CORN-M", "--min-similarity", "2"], "min-similarity"),
        ]
        for args, says in bad:
            before = app.max_position()
            run = quickwins(*args, database_url=fresh_database_url, data_dir=data)
            assert run.returncode == 2, (args, run.stdout, run.stderr)
            lines = run.stderr.strip().splitlines()
            assert len(lines) == 1 and says in lines[0], (args, run.stderr)
            assert app.max_position() == before
    finally:
        app.close()
