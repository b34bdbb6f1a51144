"""`quickwins audit state|decision|record` as an auditor runs them: real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from cryptography.hazmat.primitives import serialization

from domain import commands as c
from domain.agenda import PhaseKind
from domain.meta import Meta
from domain.tally import Result
from domain.workshop import Workshop
from projections.audit_chain import checkpoint_message
from services.app import Workshops
from services.persistence import postgres_env
from tests.services.test_decision import _late_ballot, play_seed
from tests.services.walk import ready_to_vote

pytestmark = pytest.mark.e2e

SEED_WINNER = "Regional workshop for Chief Executives and Senior Directors"

# Runs the real `main`; mounts the audit commands as `audit` if the CLI does not yet.
RUN = """
import sys
from services import cli
if not any(group.name == "audit" for group in cli.cli.registered_groups):
    import typer
    from services.cli_audit_decisions import register
    audit = typer.Typer(no_args_is_help=True)
    register(audit)
    cli.cli.add_typer(audit, name="audit")
cli.main(sys.argv[1:])
"""


def quickwins(*args: str, database_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "QUICKWINS_DATABASE_URL": database_url,
        "QUICKWINS_DATA_DIR": str(data_dir),
        "COLUMNS": "160",
    }
    command = [sys.executable, "-c", RUN, *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


class Log:
    """A log with three workshops: the seed's, one with a late ballot, one with a false result."""

    def __init__(self, url: str) -> None:
        self.app = Workshops(env=postgres_env(url))
        seed_id, _ = play_seed(self.app)
        self.seed = self.app.load(Workshop, seed_id, "workshop_id").code
        walk, people, projects = ready_to_vote(self.app, voters=3)
        walk.vote(people[0], {str(projects[0]): 1})
        walk.to(PhaseKind.CLOSED)
        self.app.declare_results(c.DeclareResults(workshop_id=walk.id), walk.meta())
        self.late_at = _late_ballot(self.app, walk.id, people[1], {str(projects[1]): 1})
        self.late = str(walk.id)
        self.false = self._false_declaration()

    def _false_declaration(self) -> str:
        """Results declared by a writer that skipped the recount and claimed a different winner."""
        walk, people, projects = ready_to_vote(self.app, voters=3)
        walk.vote(people[0], {str(projects[0]): 1})
        walk.vote(people[1], {str(projects[0]): 1})
        walk.to(PhaseKind.CLOSED)
        workshop = walk.workshop
        honest = self.app.recount(workshop)
        forged = honest.model_copy(update={"winners": [projects[1]]})
        meta = Meta(
            actor="facilitator:forger",
            at=datetime.now(UTC),
            correlation_id=uuid4(),
            causation_id=uuid4(),
        )
        workshop.declare_results(Result.model_validate(forged).model_dump(mode="json"), meta)
        self.app.record(workshop)
        return workshop.code


@pytest.fixture(scope="module")
def log(postgres_server_url: str) -> Iterator[tuple[Log, str]]:
    from tests.conftest import fresh_database

    with fresh_database(postgres_server_url) as url:
        built = Log(url)
        try:
            yield built, url
        finally:
            built.app.close()


def test_the_room_at_half_past_eleven(log: tuple[Log, str], tmp_path: Path) -> None:
    built, url = log
    run = quickwins(
        "audit", "state", "--workshop", built.seed, "--at", "2010-07-02T11:30",
        database_url=url, data_dir=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "As it was at 2010-07-02T11:30:00+01:00" in out
    assert "phase: discussion (open)" in out and "participants 30" in out
    assert "signed up 30" in out and "ballots 0" in out
    assert "discussion: 30 min left on the clock" in out

    at_start = quickwins(
        "audit", "state", "--workshop", built.seed, "--position", "1",
        database_url=url, data_dir=tmp_path,
    )  # fmt: skip
    assert at_start.returncode == 0, at_start.stderr
    assert "phase: not started" in at_start.stdout and "participants 0" in at_start.stdout

    now = quickwins("audit", "state", "--workshop", built.seed, database_url=url, data_dir=tmp_path)
    assert now.returncode == 0, now.stderr
    assert f"results declared: winner {SEED_WINNER}" in now.stdout


def test_decisions_are_verified_or_their_differences_named(
    log: tuple[Log, str], tmp_path: Path
) -> None:
    built, url = log
    seed = quickwins(
        "audit", "decision", "--workshop", built.seed, database_url=url, data_dir=tmp_path
    )
    assert seed.returncode == 0, seed.stderr
    assert "verified" in seed.stdout and "ballots counted 30" in seed.stdout

    late = quickwins(
        "audit", "decision", "--workshop", built.late, database_url=url, data_dir=tmp_path
    )
    assert late.returncode == 0, late.stderr
    assert "verified" in late.stdout and "ballots counted 1" in late.stdout
    assert f"cast at log position {built.late_at}" in late.stdout and "not counted" in late.stdout

    false = quickwins(
        "audit", "decision", "--workshop", built.false, database_url=url, data_dir=tmp_path
    )
    assert false.returncode == 1, (false.stdout, false.stderr)
    assert "differs" in false.stdout
    assert "winners: declared ['Second'], recomputed ['First']" in false.stdout


def test_the_decision_record_as_json_markdown_and_html(
    log: tuple[Log, str], tmp_path: Path
) -> None:
    built, url = log
    as_json = quickwins(
        "audit", "record", "--workshop", built.seed, database_url=url, data_dir=tmp_path
    )
    assert as_json.returncode == 0, as_json.stderr
    record = json.loads(as_json.stdout)
    assert record["winners"] == [SEED_WINNER] and record["verified"] is True
    assert record["counts"]["ballots_counted"] == 30 and len(record["eligible"]) == 30
    # The record carries the checkpoint signed when the results were declared.
    checkpoint = record["checkpoint"]
    assert checkpoint["reason"] == f"results {record['workshop_id']}"
    exported = quickwins(
        "audit", "export", "--out", str(tmp_path / "keys"), database_url=url, data_dir=tmp_path
    )
    assert exported.returncode == 0, exported.stderr
    public = serialization.load_pem_public_key((tmp_path / "keys" / "public.pem").read_bytes())
    message = checkpoint_message(
        checkpoint["position"], checkpoint["count"], bytes.fromhex(checkpoint["chain"]),
        datetime.fromisoformat(checkpoint["at"]), checkpoint["reason"],
    )  # fmt: skip
    public.verify(bytes.fromhex(record["signature"]), message)  # type: ignore[union-attr]
    assert record["agenda"][3]["kind"] == "signup"

    for fmt, marker in (("md", "## Agenda as it ran"), ("html", "<h2>Agenda as it ran</h2>")):
        out = tmp_path / f"record.{fmt}"
        run = quickwins(
            "audit", "record", "--workshop", built.late, "--format", fmt, "--out", str(out),
            database_url=url, data_dir=tmp_path,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        text = out.read_text(encoding="utf-8")
        assert marker in text and "after the close" in text and str(built.late_at) in text


def test_bad_input_is_one_line_exit_2_and_records_nothing(
    log: tuple[Log, str], tmp_path: Path
) -> None:
    built, url = log
    bad = [
        (["state", "--workshop", "NO-SUCH"], "--workshop: no workshop 'NO-SUCH'"),
        (["state", "--workshop", built.seed, "--at", "half past eleven"], "--at:"),
        (["state", "--workshop", built.seed, "--at", "2010-07-02T11:30", "--position", "9"],
         "not both"),
        (["state", "--workshop", built.seed, "--position", "-1"], "--position"),
        (["state", "--workshop", built.seed, "--at", "2001-01-01"], "not scheduled yet"),
        (["decision", "--workshop", str(UUID(int=7))], "no workshop"),
        (["record", "--workshop", built.seed, "--format", "xml"], "--format"),
        (["record", "--workshop", built.seed, "--out", str(tmp_path / "no" / "x.md")], "--out"),
    ]  # fmt: skip
    for args, says in bad:
        before = built.app.max_position()
        run = quickwins("audit", *args, database_url=url, data_dir=tmp_path)
        assert run.returncode == 2, (args, run.stdout, run.stderr)
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and says in lines[0], (args, run.stderr)
        assert built.app.max_position() == before


def test_any_aggregate_as_it_was(log: tuple[Log, str], tmp_path: Path) -> None:
    built, url = log
    record = json.loads(
        quickwins("audit", "record", "--workshop", built.seed, database_url=url,
                  data_dir=tmp_path).stdout
    )  # fmt: skip
    workshop = record["workshop_id"]
    first = quickwins("audit", "aggregate", workshop, "--position", "1", database_url=url,
                      data_dir=tmp_path)  # fmt: skip
    now = quickwins("audit", "aggregate", workshop, database_url=url, data_dir=tmp_path)
    assert first.returncode == 0 and now.returncode == 0, first.stderr + now.stderr
    then, latest = json.loads(first.stdout), json.loads(now.stdout)
    assert then["type"] == "Workshop" and then["version"] == 1 and then["phase_index"] == -1
    assert latest["version"] > 1 and latest["results"] is not None
    for args, says in (
        (["nope"], "not an id"),
        ([workshop, "--at", "2010-07-02", "--position", "3"], "not both"),
        ([str(uuid4())], "no aggregate"),
        ([workshop, "--position", "-2"], "--position"),
    ):
        run = quickwins("audit", "aggregate", *args, database_url=url, data_dir=tmp_path)
        assert run.returncode == 2 and says in run.stderr, run.stderr
        assert len(run.stderr.strip().splitlines()) == 1
