"""`quickwins demo --programme` end to end: three regions, a follow-up, delivery, report."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from .cli import quickwins

pytestmark = pytest.mark.e2e

WINNERS = (
    "Regional workshop for Chief Executives and Senior Directors",
    "Shared data centre for South Wales",
    "Chief executives' ICT briefing",
    "Chief executive sponsors for shared services",
)


def test_programme_demo_carries_winners_from_idea_to_benefit(
    fresh_database_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    run = quickwins(
        "demo",
        "--programme",
        "--day-seconds",
        "0.2",
        "--time-scale",
        "1200",
        "--out",
        str(out),
        database_url=fresh_database_url,
        data_dir=tmp_path / "data",
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    report = (out / "report.md").read_text()

    for title in WINNERS:
        assert title in report
    for region in ("South West", "Wales", "North West"):
        assert f"| {region} |" in report
    # One milestone was never completed: it is overdue and was flagged by the workflow.
    assert "Overdue: Migration plan agreed (Shared data centre for South Wales)" in report
    assert "(flagged)" in report
    assert "| Money saved | 4,500.00 | GBP | 1 |" in report
    assert "| People involved | 18.00 | people | 1 |" in report
    assert "Median:" in report  # lead time from first idea to delivery

    trail = report.split("## Initiative: Regional workshop for Chief Executives")[1]
    trail = trail.split("## Initiative:")[0]
    steps = (
        "Idea submitted",
        "Project proposed",
        "Results declared",
        "Adopted as an initiative",
        "Milestone completed",
        "Adopted in North West",
        "Benefit recorded",
    )
    positions = [trail.index(step) for step in steps]
    assert positions == sorted(positions), "the trail runs from the first idea to the benefit"
    assert "Follow-up workshop linked" in trail
    assert "Reminder (milestone-reminder)" in report or "Reminder (progress-request)" in report

    rows = list(csv.DictReader(io.StringIO((out / "initiatives.csv").read_text())))
    assert {row["title"] for row in rows} == set(WINNERS)
    stages = {row["title"]: row["stage"] for row in rows}
    assert stages[WINNERS[0]] == "delivered" and stages[WINNERS[2]] == "delivered"
    assert stages[WINNERS[1]] == "in_delivery"
    for chart in ("pipeline.svg", "benefits.svg"):
        assert (out / chart).read_text().startswith("<svg")
    assert "notices sent:" in run.stdout and "milestone-overdue" in run.stdout
