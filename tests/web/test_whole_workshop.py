"""A whole workshop in a real browser: a facilitator at a laptop and three participants on
phones, from joining with the code to the declared results, nothing driven behind their backs.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from playwright.sync_api import expect

from domain.workshop import key_area_id
from services.api.tokens import Role

from .conftest import Site, assert_accessible, shot, sign_in
from .facilitator_helpers import schedule
from .participant_helpers import fits_phone, join_by_page, mark_loaded, stayed

LIVE = 20_000  # ms: the workflow, the projector, the feed and the fetch, on a busy machine
PEOPLE = ("Ann", "Bob", "Cat")
IDEAS = {
    "Ann": "Move the council's servers to a shared cloud",
    "Bob": "Digital skills training for every team",
    "Cat": "Shared cloud contracts across Devon",
}


def _advance(console: Any, to: str) -> None:
    console.get_by_role("button", name="Advance to the next phase").click()
    expect(console.get_by_test_id("phase")).to_have_text(to, timeout=LIVE)


def test_a_whole_workshop_from_joining_to_results(site: Site, new_page: Any) -> None:
    wid = schedule(site.stack.app, "DAY-1", "Devon digital day")
    console = new_page("desk")
    sign_in(console, site, site.token(Role.FACILITATOR, workshops=[wid]), f"/ui/facilitate/{wid}")
    console.get_by_label("Time scale").fill("1")
    console.get_by_role("button", name="Start the agenda").click()
    expect(console.get_by_test_id("phase")).to_have_text("Briefing", timeout=LIVE)

    phones = {name: new_page("phone") for name in PEOPLE}
    for name, phone in phones.items():
        join_by_page(phone, site, "DAY-1", name)
    shot(phones["Ann"], "day-1-joined")
    expect(console.get_by_test_id("count-participants")).to_have_text("3", timeout=LIVE)

    _brainstorm(console, phones)
    areas = _group(console, wid)
    _sign_up(console, phones, areas)
    _discuss(console, phones)
    _pitch(console)
    _vote_and_declare(console, phones)


def _brainstorm(console: Any, phones: dict[str, Any]) -> None:
    _advance(console, "Brainstorm")
    for name, phone in phones.items():
        expect(phone.get_by_label("Idea", exact=True)).to_be_visible(timeout=LIVE)
        phone.get_by_label("Idea", exact=True).fill(IDEAS[name])
        phone.get_by_role("button", name="Submit idea").click()
    # Everyone's ideas reach every phone live.
    for phone in phones.values():
        for text in IDEAS.values():
            expect(phone.get_by_text(text).first).to_be_visible(timeout=LIVE)
    expect(console.get_by_test_id("count-ideas")).to_have_text("3", timeout=LIVE)
    shot(phones["Bob"], "day-1-brainstorm")
    assert_accessible(phones["Bob"])


def _group(console: Any, wid: UUID) -> dict[str, str]:
    _advance(console, "Grouping")
    for area in ("Cloud", "Skills"):
        console.get_by_label("New key area").fill(area)
        console.get_by_role("button", name="Define key area").click()
        expect(console.get_by_role("heading", name=area, exact=True)).to_be_visible()
    placement = {IDEAS["Ann"]: "Cloud", IDEAS["Cat"]: "Cloud", IDEAS["Bob"]: "Skills"}
    for text, area in placement.items():
        console.get_by_label(f"Move to key area: {text}").select_option(label=area)
        console.get_by_role("button", name=f"Move: {text}").click()
        zone = console.locator(f"[data-area-id='{key_area_id(wid, area)}']")
        expect(zone).to_contain_text(text, timeout=LIVE)
    shot(console, "day-1-grouped")
    return {"Ann": "Cloud", "Bob": "Skills", "Cat": "Cloud"}


def _sign_up(console: Any, phones: dict[str, Any], areas: dict[str, str]) -> None:
    _advance(console, "Sign-up")
    for name, phone in phones.items():
        phone.get_by_role("button", name=f"Join {areas[name]}").click(timeout=LIVE)
    expect(console.get_by_test_id("count-signed-up")).to_have_text("3", timeout=LIVE)


def _discuss(console: Any, phones: dict[str, Any]) -> None:
    _advance(console, "Group discussion")
    for name, title, idea in (
        ("Ann", "Shared cloud", IDEAS["Ann"]),
        ("Bob", "Skills academy", IDEAS["Bob"]),
    ):
        phone = phones[name]
        phone.get_by_label("Project title").fill(title, timeout=LIVE)
        phone.get_by_label(idea).check()
        phone.get_by_role("button", name="Propose project").click()
    # Cat is in Ann's group and sees the project arrive.
    expect(phones["Cat"].get_by_text("Shared cloud").first).to_be_visible(timeout=LIVE)
    shot(phones["Cat"], "day-1-discussion")


def _pitch(console: Any) -> None:
    _advance(console, "Pitches")
    for title in ("Shared cloud", "Skills academy"):
        console.get_by_role("button", name=f"Start pitch: {title}").click(timeout=LIVE)
        expect(console.get_by_test_id("pitching")).to_contain_text(title, timeout=LIVE)
        console.get_by_role("button", name="End pitch").click()


def _vote_and_declare(console: Any, phones: dict[str, Any]) -> None:
    _advance(console, "Vote")
    choices = {
        "Ann": ["Shared cloud"],
        "Bob": ["Shared cloud", "Skills academy"],
        "Cat": ["Shared cloud"],
    }
    for name, phone in phones.items():
        for title in choices[name]:
            phone.get_by_label(title).check(timeout=LIVE)
        phone.get_by_role("button", name="Cast my vote").click()
        expect(phone.get_by_role("button", name="Change my vote")).to_be_visible(timeout=LIVE)
        mark_loaded(phone)
    expect(console.get_by_test_id("count-ballots")).to_have_text("3", timeout=LIVE)
    shot(phones["Bob"], "day-1-voted")
    console.get_by_role("button", name="Declare results").click()
    expect(console.get_by_test_id("ranking")).to_contain_text("Shared cloud", timeout=LIVE)
    for phone in phones.values():
        expect(phone.get_by_role("heading", name="Results")).to_be_visible(timeout=LIVE)
        expect(phone.locator(".participant-results li").first).to_contain_text("Shared cloud")
        assert stayed(phone)  # the results arrived live, with no reload after voting
        assert fits_phone(phone)
    assert_accessible(phones["Ann"])
    shot(phones["Ann"], "day-1-results")
    shot(console, "day-1-console-results")
