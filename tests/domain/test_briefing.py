"""Briefing drafts: the pure drafting function, and the workshop recording a draft."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.agenda import PhaseKind
from domain.briefing import EarlierWorkshop, InitiativeLine, draft_briefing
from domain.errors import InvalidInput, WrongPhase
from domain.text import BRIEFING_MAX

from .builders import (
    T0,
    advance_to,
    meta,
    new_initiative,
    new_programme,
    programme_workshop,
    rejects,
    settled,
)

LATER = T0 + timedelta(days=60)  # Tuesday 31 August 2010

SOUTH_WEST = EarlierWorkshop(
    title="South West ICT strategy day",
    region="South West",
    starts_at=T0,
    key_areas=["Shared services", "Skills", "Cloud"],
    winners=["Regional CEO workshop"],
)
SOUTH_EAST = EarlierWorkshop(
    title="South East ICT strategy day",
    region="South East",
    starts_at=T0 + timedelta(days=30),
    key_areas=["Procurement"],
    winners=["Joint buying club", "Open data portal"],
)
NOTHING_YET = EarlierWorkshop(
    title="London ICT strategy day",
    region="London",
    starts_at=T0 + timedelta(days=40),
    key_areas=[],
    winners=[],
)


def _line(title: str, stage: str = "proposed", **changes: object) -> InitiativeLine:
    args: dict[str, object] = {
        "title": title,
        "stage": stage,
        "regions": ["South West"],
        "has_owner": False,
        "status": None,
    }
    args.update(changes)
    return InitiativeLine.model_validate(args)


# ----- the draft ---------------------------------------------------------------


def test_the_first_workshop_of_a_programme_says_so() -> None:
    text = draft_briefing("South West ICT programme", "South West", T0, [], [])
    lines = text.splitlines()
    assert lines[0] == "Briefing for the South West workshop of South West ICT programme, " + (
        "Friday 02 July 2010."
    )
    assert "This is the programme's first workshop." in lines
    assert "earlier workshops" not in text
    assert "Initiatives" not in text
    assert "vote" in lines[-1]  # how the day runs closes every draft


def test_a_later_workshop_lists_earlier_key_areas_and_winners_in_date_order() -> None:
    text = draft_briefing("Programme", "London", LATER, [SOUTH_EAST, SOUTH_WEST], [])
    assert "first workshop" not in text
    lines = text.splitlines()
    assert lines[0].startswith("Briefing for the London workshop of Programme, Tuesday 31 August")
    start = lines.index("What earlier workshops found:")
    assert lines[start + 1 : start + 7] == [
        "- South West ICT strategy day (South West, 02 July 2010)",
        "  key areas: Shared services; Skills; Cloud",
        "  winning projects: Regional CEO workshop",
        "- South East ICT strategy day (South East, 01 August 2010)",
        "  key areas: Procurement",
        "  winning projects: Joint buying club; Open data portal",
    ]


def test_an_earlier_workshop_without_key_areas_or_winners_is_listed_alone() -> None:
    text = draft_briefing("Programme", "London", LATER, [NOTHING_YET], [])
    lines = text.splitlines()
    at = lines.index("- London ICT strategy day (London, 11 August 2010)")
    assert lines[at + 1] == ""
    assert "key areas:" not in text and "winning projects:" not in text


def test_initiatives_are_listed_by_title_with_stage_status_owner_and_regions() -> None:
    lines_in = [
        _line(
            "shared service desk",
            "in_delivery",
            has_owner=True,
            status="amber",
            regions=["South West", "London"],
        ),
        _line("Regional CEO workshop", "approved", has_owner=True, status=None),
        _line("Open data portal"),
    ]
    text = draft_briefing("Programme", "London", LATER, [SOUTH_WEST], lines_in)
    lines = text.splitlines()
    start = lines.index("Initiatives carried forward so far:")
    assert lines[start + 1 : start + 4] == [
        "- Open data portal: proposed, no owner yet (South West)",
        "- Regional CEO workshop: approved, owner assigned (South West)",
        "- shared service desk: in delivery, amber, owner assigned (South West, London)",
    ]
    # Earlier workshops come before the initiatives.
    assert lines.index("What earlier workshops found:") < start


def test_the_draft_of_a_real_programme_fits_a_briefing() -> None:
    programme = new_programme()
    initiatives = [new_initiative(programme, title=f"Initiative {n}") for n in range(50)]
    earlier = [SOUTH_WEST, SOUTH_EAST, NOTHING_YET]
    lines_in = [
        InitiativeLine(
            title=i.title,
            stage=i.stage.value,
            regions=i.regions,
            has_owner=i.owner_id is not None,
            status=None,
        )
        for i in initiatives
    ]
    text = draft_briefing(programme.name, "London", LATER, earlier, lines_in)
    assert len(text) <= BRIEFING_MAX
    assert all(f"- Initiative {n}: proposed, owner assigned" in text for n in range(50))
    assert "Alex Owner" not in text  # the draft is recorded: it names no one


# ----- the workshop records the draft -------------------------------------------


def test_a_programme_workshop_records_a_draft_before_it_starts() -> None:
    workshop = programme_workshop(new_programme())
    act = meta("manager")
    workshop.draft_briefing("  Welcome. ", act)
    [event] = workshop.collect_events()
    assert type(event).__name__ == "BriefingDrafted"
    assert event.meta == act and event.text == "Welcome."
    assert workshop.briefing_draft == "Welcome."
    assert workshop.briefing is None  # a draft is not the published note
    workshop.draft_briefing("Welcome again.", meta())
    assert workshop.briefing_draft == "Welcome again."


def test_briefing_draft_text_limits() -> None:
    workshop = programme_workshop(new_programme())
    for bad in ("", "  ", "x" * (BRIEFING_MAX + 1)):
        rejects(InvalidInput, "text", lambda b=bad: workshop.draft_briefing(b, meta()), workshop)
    workshop.draft_briefing("x" * BRIEFING_MAX, meta())
    assert workshop.briefing_draft == "x" * BRIEFING_MAX


@pytest.mark.parametrize("kind", [PhaseKind.BRIEFING, PhaseKind.BRAINSTORM, PhaseKind.CLOSED])
def test_no_draft_once_the_workshop_has_started(kind: PhaseKind) -> None:
    workshop = programme_workshop(new_programme())
    advance_to(workshop, kind)
    rejects(WrongPhase, "phase", lambda: workshop.draft_briefing("Late", meta()), workshop)
    if workshop.phase_open and kind != PhaseKind.CLOSED:
        workshop.close_phase(workshop.phase_index, meta())
        settled(workshop)
        rejects(WrongPhase, "phase", lambda: workshop.draft_briefing("Late", meta()), workshop)
