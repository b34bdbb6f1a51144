"""The programme manager's commands as a user runs them, and their bad input."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path
from uuid import uuid4

import pytest

from services.app import Workshops
from services.persistence import postgres_env

from .cli import quickwins

pytestmark = pytest.mark.e2e


class Manager:
    def __init__(self, url: str, data: Path) -> None:
        self.url, self.data = url, data

    def __call__(self, *args: str) -> str:
        run = quickwins(*args, database_url=self.url, data_dir=self.data)
        assert run.returncode == 0, run.stderr
        return run.stdout


@pytest.fixture
def manager(fresh_database_url: str, tmp_path: Path) -> Manager:
    return Manager(fresh_database_url, tmp_path / "data")


def _initiative(manager: Manager, programme: str) -> str:
    manager(
        "programme",
        "create",
        "--name",
        programme,
        "--sponsor",
        "Socitm",
        "--region",
        "Devon",
        "--region",
        "Cornwall",
    )
    added = manager(
        "initiative",
        "add",
        "--programme",
        programme,
        "--title",
        "Shared cloud",
        "--region",
        "Devon",
        "--reason",
        "Asked for by the board",
    )
    return added.split()[1]


def test_a_manager_tracks_an_initiative_and_writes_the_report(
    manager: Manager, tmp_path: Path
) -> None:
    initiative = _initiative(manager, "Devon and Cornwall 2010")
    manager("initiative", "owner", initiative, "Ann Carew <ann@example.org>")
    manager("initiative", "move", initiative, "approved")
    manager("initiative", "move", initiative, "in_delivery")
    milestone = manager(
        "initiative", "milestone", initiative, "--title", "Pilot live", "--due", "2010-09-01"
    ).split()[1]
    manager(
        "initiative",
        "progress",
        initiative,
        "--percent",
        "60",
        "--status",
        "amber",
        "--note",
        "One council late",
    )
    manager("initiative", "complete", initiative, milestone)
    manager(
        "initiative",
        "benefit",
        initiative,
        "--measure",
        "money_saved",
        "--amount",
        "2500",
        "--evidence",
        "Licences not renewed",
    )

    listed = manager("initiative", "list", "--programme", "Devon and Cornwall 2010")
    assert "Shared cloud" in listed and "60% amber" in listed
    shown = manager("initiative", "show", initiative)
    for expected in (
        "Owner: Ann Carew",
        "Progress: 60%",
        "Milestone completed",
        "Benefit recorded",
    ):
        assert expected in shown, shown

    out = tmp_path / "report"
    manager("programme", "report", "--programme", "Devon and Cornwall 2010", "--out", str(out))
    report = (out / "report.md").read_text()
    assert "# Devon and Cornwall 2010" in report
    assert "| Money saved | 2,500.00 | GBP | 1 |" in report
    assert "Shared cloud" in (out / "initiatives.csv").read_text()
    for chart in ("pipeline.svg", "benefits.svg"):
        assert ElementTree.parse(out / chart).getroot().tag.endswith("svg")


def test_an_owner_is_erased_by_the_text_assigned_or_by_id(manager: Manager) -> None:
    initiative = _initiative(manager, "Erasure 2010")
    manager("initiative", "owner", initiative, "Jane Owner <jane.owner@example.org>")
    shown = manager("initiative", "show", initiative)
    assert "owner Jane Owner (id " in shown and "Owner: Jane Owner" in shown
    erased = manager("programme", "erase-owner", "Erasure 2010", "jane.owner@EXAMPLE.org")
    assert "owner erased" in erased and "Jane" not in erased
    shown = manager("initiative", "show", initiative)
    assert "owner erased owner (id " in shown and "Owner: erased owner" in shown
    assert "Jane" not in shown
    assert "erased owner" in manager("initiative", "list", "--programme", "Erasure 2010")

    # A second owner, erased by the id `show` prints.
    manager("initiative", "owner", initiative, "Sam Smith")
    shown = manager("initiative", "show", initiative)
    owner_id = shown.split("owner Sam Smith (id ")[1].split(")")[0]
    assert "Owner: Sam Smith (was erased owner)" in shown
    manager("programme", "erase-owner", "Erasure 2010", owner_id)
    assert "Sam Smith" not in manager("initiative", "show", initiative)


BAD = [
    (["programme", "create", "--name", "X", "--sponsor", "S"], "region"),
    (["programme", "create", "--name", " ", "--sponsor", "S", "--region", "Devon"], "name"),
    (
        [
            "programme",
            "schedule",
            "--programme",
            "{p}",
            "--code",
            "D1",
            "--title",
            "T",
            "--region",
            "Mars",
            "--starts-at",
            "2010-09-01",
        ],
        "region",
    ),
    (
        [
            "programme",
            "schedule",
            "--programme",
            "{p}",
            "--code",
            "D1",
            "--title",
            "T",
            "--region",
            "Devon",
            "--starts-at",
            "someday",
        ],
        "--starts-at",
    ),
    (
        [
            "programme",
            "schedule",
            "--programme",
            "No such",
            "--code",
            "D1",
            "--title",
            "T",
            "--region",
            "Devon",
            "--starts-at",
            "2010-09-01",
        ],
        "no programme",
    ),
    (["initiative", "owner", "not-an-id", "Ann"], "not an id"),
    (["initiative", "owner", "{i}", " "], "owner"),
    (["initiative", "move", "{i}", "finished"], "stage"),
    (["initiative", "move", "{i}", "delivered"], "cannot move"),
    (["initiative", "move", "{i}", "dropped"], "reason"),
    (["initiative", "milestone", "{i}", "--title", "M", "--due", "soon"], "--due"),
    (["initiative", "progress", "{i}", "--percent", "101", "--status", "green"], "percent"),
    (["initiative", "progress", "{i}", "--percent", "10", "--status", "purple"], "status"),
    (
        [
            "initiative",
            "benefit",
            "{i}",
            "--measure",
            "happiness",
            "--amount",
            "1",
            "--evidence",
            "e",
        ],
        "stage: benefits are recorded from delivery on",
    ),
    (["initiative", "complete", "{i}", str(uuid4())], "milestone"),
    (["initiative", "show", str(uuid4())], "no initiative"),
    (["programme", "report", "--programme", "No such"], "no programme"),
    (["programme", "erase-owner", "{p}", "Nobody"], "owner: no such owner"),
    (["programme", "erase-owner", "{p}", str(uuid4())], "owner_id: no such owner"),
    (["programme", "erase-owner", "No such", "Ann"], "owner: no such owner"),
    (["programme", "erase-owner", "{p}", " "], "owner"),
    (["programme", "erase-owner", "{p}", "o" * 81], "owner: owner must be at most"),
    (["programme", "erase-owner", "{p}"], "Missing argument 'owner'"),
]


@pytest.mark.parametrize(("args", "says"), BAD, ids=[" ".join(a[:2]) + f" {s}" for a, s in BAD])
def test_bad_input_exits_2_with_one_line_and_records_nothing(
    manager: Manager, fresh_database_url: str, args: list[str], says: str
) -> None:
    initiative = _initiative(manager, "Bad input 2010")
    args = [a.replace("{p}", "Bad input 2010").replace("{i}", initiative) for a in args]
    app = Workshops(env=postgres_env(fresh_database_url))
    before = app.max_position()
    run = quickwins(*args, database_url=manager.url, data_dir=manager.data)
    after = app.max_position()
    app.close()
    assert run.returncode == 2, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], run.stderr
    assert after == before
