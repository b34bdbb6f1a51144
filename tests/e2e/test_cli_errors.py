"""Bad input to the CLI: exit status 2, one line on standard error, nothing recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.app import Workshops
from services.persistence import postgres_env

from .cli import quickwins

pytestmark = pytest.mark.e2e

BAD_SCENARIO = """
workshop: {code: X-1, title: T, region: R, starts_at: 2010-07-02T09:30:00+01:00}
agenda: {phases: [{kind: lunch, minutes: 10}]}
briefing: hi
key_areas: [{name: A}]
participants: [{name: P, group: A}]
"""


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["demo", "--time-scale", "0"], "--time-scale"),
        (["demo", "--time-scale", "fast"], "time-scale"),
        (["demo", "--scenario", "no-such-file.yaml"], "no such file"),
        (["demo", "--scenario", "{bad}"], "scenario agenda.phases.0.kind"),
        (["demo", "--scenario", "{syntax}"], "scenario"),
        (["demo", "--no-such-option"], "no-such-option"),
        (["no-such-command"], "no-such-command"),
        (["projector", "--poll", "0"], "poll"),
        (["serve", "--port", "0"], "port"),
        (["serve", "--host", "example.org"], "--host"),
        (["up", "--port", "70000"], "port"),
        (["token", "issue", "participant"], "role"),
        (["token", "issue", "auditor", "--workshop", "nope"], "--workshop"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_records_nothing(
    database_url: str, tmp_path: Path, args: list[str], says: str
) -> None:
    (tmp_path / "bad.yaml").write_text(BAD_SCENARIO)
    (tmp_path / "syntax.yaml").write_text("workshop: [unclosed\n")
    args = [a.replace("{bad}", str(tmp_path / "bad.yaml")) for a in args]
    args = [a.replace("{syntax}", str(tmp_path / "syntax.yaml")) for a in args]
    app = Workshops(env=postgres_env(database_url))
    before = app.max_position()
    run = quickwins(*args, database_url=database_url, data_dir=tmp_path / "data")
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert says in lines[0]
    assert app.max_position() == before
    app.close()


def test_a_bad_secrets_key_stops_serve_with_one_line(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUICKWINS_SECRETS_KEY", "not-a-key")
    run = quickwins("serve", "--port", "8", database_url=database_url, data_dir=tmp_path / "data")
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("quickwins: QUICKWINS_SECRETS_KEY"), run.stderr
