"""`quickwins audit verify | checkpoint | export` and the offline verifier, as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from domain import commands as c
from domain.agenda import PhaseKind
from services.app import Workshops
from services.persistence import postgres_env
from tests.services.walk import ready_to_vote

pytestmark = pytest.mark.integration

# Registers the chain's commands when `quickwins audit` does not have them yet, then runs it.
RUN = """
import typer
from services import cli
from services.cli_audit_chain import register
groups = [g.typer_instance for g in cli.cli.registered_groups if g.name == "audit"]
if not groups:
    groups = [typer.Typer(no_args_is_help=True)]
    cli.cli.add_typer(groups[0], name="audit")
if not any(c.name == "verify" for c in groups[0].registered_commands):
    register(groups[0])
cli.main()
"""


def quickwins(*args: str, url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QUICKWINS_DATABASE_URL": url, "QUICKWINS_DATA_DIR": str(data_dir)}
    env["COLUMNS"] = "200"
    command = [sys.executable, "-c", RUN, "audit", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def offline(folder: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "services.audit_offline",
        "--log",
        str(folder / "events.csv"),
        "--checkpoints",
        str(folder / "checkpoints.jsonl"),
        "--public-key",
        str(folder / "public.pem"),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def one_line_error(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_verify_checkpoint_export_then_tamper(fresh_database_url: str, tmp_path: Path) -> None:
    app = Workshops(env=postgres_env(fresh_database_url))
    walk, people, projects = ready_to_vote(app)
    walk.vote(people[0], {str(projects[0]): 1})
    walk.to(PhaseKind.CLOSED)
    app.declare_results(c.DeclareResults(workshop_id=walk.id), walk.meta())
    last = app.max_position()
    app.close()
    data = tmp_path / "data"

    done = quickwins("verify", url=fresh_database_url, data_dir=data)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"ok: {last} events up to position {last}")

    done = quickwins("checkpoint", url=fresh_database_url, data_dir=data)
    assert done.returncode == 0, done.stderr
    recorded = json.loads(done.stdout)
    assert recorded["position"] == recorded["count"] == last
    assert recorded["reason"] == "on demand"

    out = tmp_path / "export"
    done = quickwins("export", "--out", str(out), "--log", url=fresh_database_url, data_dir=data)
    assert done.returncode == 0, done.stderr
    assert len((out / "checkpoints.jsonl").read_text().splitlines()) == 2
    done = offline(out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"ok: {last} events; 2 signed checkpoints hold")

    with psycopg.connect(fresh_database_url) as conn:
        conn.execute(
            "UPDATE quickwins_events SET state = state || '\\x20'::bytea WHERE notification_id = 7"
        )
    done = quickwins("verify", "--json", url=fresh_database_url, data_dir=data)
    assert done.returncode == 1
    verdict = json.loads(done.stdout)
    assert (verdict["ok"], verdict["kind"], verdict["bad_position"]) == (False, "altered", 7)
    done = quickwins("verify", url=fresh_database_url, data_dir=data)
    assert done.returncode == 1
    assert done.stdout.startswith("TAMPERED: altered at position 7")

    # The checkpoints exported before the edit catch it in a fresh export of the log.
    fresh = tmp_path / "after"
    done = quickwins("export", "--out", str(fresh), "--log", url=fresh_database_url, data_dir=data)
    assert done.returncode == 0, done.stderr
    (fresh / "checkpoints.jsonl").write_text((out / "checkpoints.jsonl").read_text())
    done = offline(fresh)
    assert done.returncode == 1
    assert done.stdout.startswith("TAMPERED: checkpoint at position")


def test_bad_input_is_one_line_and_records_nothing(fresh_database_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = quickwins("checkpoint", url=fresh_database_url, data_dir=data)
    one_line_error(done)
    assert "the log is empty" in done.stderr
    assert not (data / "audit").exists()  # no key made either

    a_file = tmp_path / "a-file"
    a_file.write_text("keep")
    done = quickwins("export", "--out", str(a_file), url=fresh_database_url, data_dir=data)
    one_line_error(done)
    assert a_file.read_text() == "keep"

    one_line_error(quickwins("verify", "--bogus", url=fresh_database_url, data_dir=data))
    one_line_error(quickwins("export", url=fresh_database_url, data_dir=data))  # --out missing

    with psycopg.connect(fresh_database_url) as conn:
        found = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'audit_chain_%'"
        ).fetchone()
    assert found == (0,)  # nothing recorded, not even the chain's tables

    done = offline(tmp_path / "nowhere")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
