"""`quickwins audit trail` as a user runs it: filters, exports, and bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import pytest

from domain.workshop import workshop_id
from services.app import Workshops
from services.persistence import postgres_env
from tests.projections.programme_helpers import Story, application, south_west

pytestmark = pytest.mark.e2e

# `quickwins`, with `trail` mounted under `quickwins audit` as the CLI does, mounting it
# here when the CLI does not (yet).
RUN = """
import typer
from services import cli
from services.cli_audit_trail import register

groups = {group.name: group.typer_instance for group in cli.cli.registered_groups}
audit = groups.get("audit")
if audit is None:
    audit = typer.Typer(help="The audit trail.", no_args_is_help=True)
    cli.cli.add_typer(audit, name="audit")
if not any(command.name == "trail" for command in audit.registered_commands):
    register(audit)
cli.main()
"""


def audit(*args: str, url: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "QUICKWINS_DATABASE_URL": url,
        "QUICKWINS_DATA_DIR": str(data),
        "COLUMNS": "200",
    }
    env.pop("QUICKWINS_TEMPORAL_ADDRESS", None)
    command = [sys.executable, "-c", RUN, "audit", "trail", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)


@dataclass
class Logged:
    url: str
    data: Path
    story: Story

    def ok(self, *args: str) -> str:
        run = audit(*args, url=self.url, data=self.data)
        assert run.returncode == 0, run.stderr
        return run.stdout


@pytest.fixture(scope="module")
def logged(postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logged]:
    from tests.conftest import fresh_database

    with fresh_database(postgres_server_url) as url, application(url) as app:
        story = south_west(app)
        yield Logged(url, tmp_path_factory.mktemp("data"), story)


def test_a_workshop_trail_as_a_table_and_paged(logged: Logged) -> None:
    shown = logged.ok("--workshop", "SW-DEVON", "--limit", "5")
    assert "Audit trail" in shown and "Workshop scheduled: SW-DEVON" in shown
    assert "manager:jo" in shown
    last = shown.strip().splitlines()[-1]
    assert last.startswith("5 rows; next page: --after ")
    after = last.rsplit(" ", 1)[-1]
    more = logged.ok("--workshop", "sw-devon", "--limit", "5", "--after", after)
    assert "Workshop scheduled" not in more and "5 rows" in more
    by_id = logged.ok("--workshop", str(logged.story.devon.id), "--limit", "5")
    assert by_id == shown


def test_csv_export_of_a_workshop(logged: Logged) -> None:
    out = logged.ok("--workshop", "SW-DEVON", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 57
    assert {r["workshop_id"] for r in rows} == {str(workshop_id("SW-DEVON"))}
    everything = logged.ok("--programme", "South West ICT", "--format", "csv")
    # more than a table's page of 100: exports stream every row
    assert len(list(csv.DictReader(io.StringIO(everything)))) > 100
    assert [r["kind"] for r in rows[:2]] == ["Workshop.Scheduled", "Programme.WorkshopScheduled"]
    positions = [int(r["position"]) for r in rows]
    assert positions == sorted(positions)


def test_jsonl_to_a_file_with_filters(logged: Logged, tmp_path: Path) -> None:
    s = logged.story
    target = tmp_path / "i1.jsonl"
    run = audit(
        "--initiative",
        str(s.initiatives["I1"]),
        "--programme",
        "South West ICT",
        "--actor",
        "manager:jo",
        "--search",
        "money",
        "--since",
        "2011-01-01",
        "--until",
        "2011-01-20",
        "--format",
        "jsonl",
        "--out",
        str(target),
        url=logged.url,
        data=logged.data,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "" and "1 rows written" in run.stderr
    (row,) = [json.loads(line) for line in target.read_text().splitlines()]
    assert row["kind"] == "Initiative.BenefitRecorded"
    assert row["summary"] == (
        "Initiative benefit recorded: 12000 GBP money_saved: Two data centres closed"
    )
    assert list(tmp_path.iterdir()) == [target]  # no part file left behind


def test_participant_key_area_and_correlation(logged: Logged) -> None:
    s = logged.story
    ann = logged.ok("--participant", str(s.devon.people["Ann"]), "--format", "jsonl")
    kinds = [json.loads(line)["kind"] for line in ann.splitlines()]
    assert kinds[0] == "Participant.Joined" and "Ballot.Cast" in kinds
    area = logged.ok("--key-area", str(s.devon.areas["Cloud"]), "--format", "jsonl")
    first = json.loads(area.splitlines()[0])
    assert first["summary"] == 'Workshop key area defined: "Cloud"'
    together = logged.ok("--correlation", first["correlation_id"], "--format", "jsonl")
    assert [json.loads(line)["position"] for line in together.splitlines()] == [first["position"]]
    nothing = logged.ok("--search", "zebra")
    assert "no rows" in nothing


BAD = [
    (["--participant", "not-an-id"], "--participant: 'not-an-id' is not an id"),
    (["--initiative", "123"], "--initiative"),
    (["--correlation", "x"], "--correlation"),
    (["--since", "yesterday"], "--since: 'yesterday' is not an ISO date"),
    (["--until", "2010-13-01"], "--until"),
    (["--since", "2011-01-02", "--until", "2011-01-01"], "--since: must be before --until"),
    (["--format", "xml"], "xml"),
    (["--limit", "0"], "--limit"),
    (["--out", "/no/such/folder/x.csv"], "--out"),
]


@pytest.mark.parametrize(("args", "says"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_exits_2_with_one_line_and_records_nothing(
    logged: Logged, args: list[str], says: str
) -> None:
    app = Workshops(env=postgres_env(logged.url))
    before = app.max_position()
    run = audit(*args, url=logged.url, data=logged.data)
    after = app.max_position()
    app.close()
    assert run.returncode == 2, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], run.stderr
    assert after == before
    assert run.stdout == ""


def test_an_unknown_workshop_has_an_empty_trail(logged: Logged) -> None:
    assert "no rows" in logged.ok("--workshop", f"NOPE-{uuid4().hex[:6]}")
