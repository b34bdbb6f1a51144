"""The auditor's pages in a real browser: the decision record, the board over time, the
trail with its filters and exports, live updates, and the door closed to other roles."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any
from uuid import uuid4

from playwright.sync_api import expect

from domain.workshop import Workshop
from services.api.tokens import Role
from tests.api.feed_helpers import lone_workshop, run_day

from .auditor_helpers import FIRST_PERSON, declared_workshop
from .conftest import Site, assert_accessible, shot, sign_in

HEX_RE = re.compile(r"^\s*[0-9a-f]{128}\s*$")


def _mark(page: Any) -> None:
    """A flag in the window: gone if the page ever reloads."""
    page.evaluate("window.__same_page = true")


def _same_page(page: Any) -> bool:
    return bool(page.evaluate("window.__same_page === true"))


def test_the_decision_record_is_signed_and_verified(site: Site, new_page: Any) -> None:
    day = declared_workshop(site.stack.app)
    page = new_page("desk")
    sign_in(page, site, site.token(Role.AUDITOR), then="/ui/audit")
    expect(page.get_by_role("heading", name="Hash chain")).to_contain_text("verified")
    assert_accessible(page)
    shot(page, "auditor-overview")

    page.get_by_role("link", name="A workshop on its own", exact=True).click()
    page.wait_for_url(f"**/ui/audit/workshops/{day.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Decision record: A workshop on its own"
    )
    expect(page.locator("[data-verdict]")).to_have_text("verified")
    expect(page.locator("[data-checkpoint]")).to_contain_text("Position")
    signature = page.locator("[data-signature]").inner_text().strip()
    assert len(signature) == 128 and int(signature, 16) >= 0  # Ed25519: 64 bytes
    expect(page.locator("[data-eligible]")).to_have_text("3")
    expect(page.get_by_role("cell", name="Shared cloud")).to_be_visible()
    assert_accessible(page)
    shot(page, "auditor-record")

    # The downloads are the API's record, served to the cookie.
    answer = page.request.get(f"{site.base}/ui/audit/workshops/{day.id}/record.json")
    record = json.loads(answer.text())
    assert record["signature"] == signature and record["verified"] is True
    assert record["checkpoint"]["reason"] == f"results {day.id}"
    for fmt, start in (("md", "# Decision record"), ("html", "<!doctype html>")):
        link = page.get_by_role("link", name={"md": "Markdown", "html": "HTML"}[fmt])
        with page.expect_download() as download:
            link.click()
        assert Path(download.value.path()).read_text().startswith(start)

    phone = new_page("phone")
    sign_in(phone, site, site.token(Role.AUDITOR), then=f"/ui/audit/workshops/{day.id}")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert_accessible(phone)
    shot(phone, "auditor-record-phone")


def test_the_slider_shows_the_board_as_it_was_without_a_reload(site: Site, new_page: Any) -> None:
    day = declared_workshop(site.stack.app)
    page = new_page("desk")
    sign_in(page, site, site.token(Role.AUDITOR), then=f"/ui/audit/workshops/{day.id}/board")
    board = page.locator("[data-board]")
    expect(page.locator("[data-phase]")).to_have_text("Closed")
    expect(page.locator("[data-idea-count]")).to_have_text("3")
    assert_accessible(page)
    shot(page, "auditor-board-latest")
    _mark(page)

    # Drag the slider back to the start: the board before any phase opened.
    slider = page.get_by_role("slider", name="Moment in the workshop's log")
    slider.fill("0")
    expect(board).to_have_attribute("data-step", "0")
    expect(page.locator("[data-phase]")).to_have_text("Not started")
    expect(page.locator("[data-idea-count]")).to_have_text("0")

    # The keyboard on the slider: each arrow is one recorded event of the workshop.
    second_idea = day.position_of("Idea.Submitted", 2)
    steps = [p for p, _ in day.events].index(second_idea)
    slider.focus()
    for _ in range(steps):
        page.keyboard.press("ArrowRight")
    expect(board).to_have_attribute("data-position", str(second_idea))
    expect(page.locator("[data-phase]")).to_have_text("Brainstorm")
    expect(page.locator("[data-idea-count]")).to_have_text("2")
    assert str(second_idea) in page.locator("output").inner_text()
    assert _same_page(page)
    assert_accessible(page)
    shot(page, "auditor-board-brainstorm")

    # The keyboard alternative: a log position typed in, then a time.
    first_idea = day.position_of("Idea.Submitted", 1)
    field = page.get_by_label("Log position")
    field.fill(str(first_idea))
    field.press("Enter")
    expect(board).to_have_attribute("data-position", str(first_idea))
    expect(page.locator("[data-idea-count]")).to_have_text("1")
    assert slider.input_value() == str(steps - 2)  # the slider follows (a join came between)
    area_at = next(
        e.meta.at for p, e in day.events if p == day.position_of("Workshop.KeyAreaDefined")
    )
    time = page.get_by_label("Time (the room's clock)")
    time.fill(area_at.strftime("%Y-%m-%dT%H:%M:%S"))
    time.press("Enter")
    expect(page.locator("[data-phase]")).to_have_text("Grouping")
    expect(page.get_by_role("heading", name="Cloud", level=3)).to_be_visible()
    assert _same_page(page)
    assert f"position={board.get_attribute('data-position')}" in page.url

    # Without JavaScript the same is a plain GET: the server draws the chosen moment.
    phone = new_page("phone")
    sign_in(phone, site, site.token(Role.AUDITOR), then="/ui/audit")
    phone.goto(f"{site.base}/ui/audit/workshops/{day.id}/board?position={first_idea}")
    expect(phone.locator("[data-idea-count]")).to_have_text("1")
    phone.goto(f"{site.base}/ui/audit/workshops/{day.id}/board?step=0")
    expect(phone.locator("[data-phase]")).to_have_text("Not started")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert_accessible(phone)
    shot(phone, "auditor-board-phone")


def test_the_trail_filters_and_exports(site: Site, new_page: Any) -> None:
    day = declared_workshop(site.stack.app)
    person = day.room.people[FIRST_PERSON]
    page = new_page("desk")
    sign_in(page, site, site.token(Role.AUDITOR), then="/ui/audit/trail")
    expect(page.get_by_role("table")).to_be_visible()
    assert_accessible(page)

    page.get_by_label("Workshop").select_option(str(day.id))
    page.get_by_label("Participant id").fill(str(person))
    page.get_by_label("Event kind").fill("Ballot")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**kind=Ballot*")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Ballot.Cast")
    expect(rows.first).to_contain_text(f"participant:{person}")
    assert_accessible(page)
    shot(page, "auditor-trail-filtered")

    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    exported = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [row["kind"] for row in exported] == ["Ballot.Cast"]
    assert exported[0]["participant_id"] == str(person)
    lines = (
        page.request.get(f"{site.base}/ui/audit/trail.jsonl?workshop={day.id}&kind=Idea.Submitted")
        .text()
        .splitlines()
    )
    assert len(lines) == 3 and all(json.loads(x)["kind"] == "Idea.Submitted" for x in lines)

    page.get_by_label("Participant id").fill("not-an-id")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("alert")).to_contain_text("Participant id")
    assert_accessible(page)

    phone = new_page("phone")
    sign_in(phone, site, site.token(Role.AUDITOR), then=f"/ui/audit/trail?workshop={day.id}")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert_accessible(phone)
    shot(phone, "auditor-trail-phone")


def test_the_pages_update_live(site: Site, new_page: Any) -> None:
    room = lone_workshop(site.stack.app)
    page = new_page("desk")
    sign_in(page, site, site.token(Role.AUDITOR), then=f"/ui/audit/workshops/{room.id}")
    expect(page.get_by_role("status").filter(has_text="No decision yet")).to_be_visible()
    expect(page.locator("[data-live-status]")).to_have_text("Live")
    _mark(page)
    trail = new_page("desk")
    sign_in(trail, site, site.token(Role.AUDITOR), then=f"/ui/audit/trail?workshop={room.id}")
    expect(trail.locator("[data-live-status]")).to_have_text("Live")
    _mark(trail)

    overview = new_page("desk")
    sign_in(overview, site, site.token(Role.AUDITOR), then="/ui/audit")
    expect(overview.locator("[data-live-status]")).to_have_text("Live")
    _mark(overview)

    run_day(room)  # the whole day, recorded while the pages are open
    later = lone_workshop(site.stack.app)

    expect(page.locator("[data-verdict]")).to_have_text("verified", timeout=30_000)
    expect(page.locator("[data-signature]")).to_have_text(HEX_RE)
    expect(trail.get_by_role("cell", name="Ballot.Cast").first).to_be_visible()
    expect(overview.get_by_text(later.app.load(Workshop, later.id, "w").code)).to_be_visible()
    expect(overview.get_by_role("cell", name=f"results {room.id}")).to_be_visible()
    expect(overview.get_by_role("heading", name="Hash chain")).to_contain_text("verified")
    assert _same_page(page) and _same_page(trail) and _same_page(overview)
    shot(page, "auditor-record-live")


def test_other_roles_get_the_403_page(site: Site, new_page: Any) -> None:
    room = lone_workshop(site.stack.app)
    page = new_page("phone")
    facilitator = site.token(Role.FACILITATOR, workshops=[room.id])
    sign_in(page, site, facilitator, then="/ui")
    for path in ("/ui/audit", f"/ui/audit/workshops/{room.id}", "/ui/audit/trail.csv"):
        answer = page.goto(f"{site.base}{path}")
        assert answer is not None and answer.status == 403
        expect(page.get_by_role("alert")).to_have_text("Your access does not cover this page.")
    assert_accessible(page)
    shot(page, "auditor-forbidden")
    participant = new_page("phone")
    joined = site.token(Role.PARTICIPANT, workshops=[room.id], participant_id=uuid4())
    sign_in(participant, site, joined, then="/ui/audit/trail")
    expect(participant.get_by_role("alert")).to_have_text("Your access does not cover this page.")
    answer = participant.goto(f"{site.base}/ui/audit/workshops/{room.id}/board")
    assert answer is not None and answer.status == 403
