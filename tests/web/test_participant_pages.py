"""The participant's page on a phone: joining, ideas, groups, projects, votes and results,
live from the event feed, in a real browser at 360 px wide."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from playwright.sync_api import expect

from domain import commands as c
from domain.agenda import PhaseKind
from domain.workshop import Workshop
from services.api.tokens import Role
from workflows.agenda import AgendaInput
from workflows.worker import start_agenda

from .conftest import Site, assert_accessible, shot, sign_in
from .participant_helpers import Day, fits_phone, join_by_page, mark_loaded, now_meta, stayed


def live(page: Any) -> None:
    """Wait until the page's live channel is open, so nothing that follows is missed."""
    expect(page.locator("[data-live-status]")).to_have_text("Live")


def notice(page: Any) -> Any:
    """The one-time message a form leaves (role status)."""
    return page.locator("main .flash[role=status]").first


def blur(page: Any) -> None:
    """Leave the field, so a live refresh may replace the part around it."""
    page.evaluate("document.activeElement && document.activeElement.blur()")


def check(page: Any, name: str) -> None:
    """Every page state: a screenshot, no serious accessibility problem, no sideways scroll."""
    shot(page, f"participant-{name}")
    assert_accessible(page)
    assert fits_phone(page), f"{name}: the page scrolls sideways at 360 px"


def test_ideas_submit_edit_withdraw_and_arrive_live(site: Site, new_page: Any) -> None:
    day = Day(site)
    day.brief("Cloud first. Share services across councils.")
    day.to(PhaseKind.BRIEFING)
    ann, bob = new_page("phone"), new_page("phone")
    join_by_page(ann, site, day.code, "Ann <b>")
    expect(ann.get_by_role("heading", level=2, name="Briefing")).to_be_visible()
    expect(ann.get_by_text("Cloud first.")).to_be_visible()
    check(ann, "briefing")
    join_by_page(bob, site, day.code, "Bob")
    live(ann)
    live(bob)

    day.to(PhaseKind.BRAINSTORM)  # the facilitator opens the brainstorm: both pages follow
    expect(ann.get_by_role("heading", name="Brainstorm")).to_be_visible()
    clock = ann.locator("[data-countdown-text]")
    expect(clock).to_have_text(re.compile(r"^(30:00|29:\d\d)$"))
    before = clock.inner_text()
    expect(clock).not_to_have_text(before)  # it ticks
    check(ann, "brainstorm-empty")

    ann.get_by_label("Idea", exact=True).fill("Shared <script>alert(1)</script> data centre")
    ann.get_by_role("button", name="Submit idea").click()
    expect(notice(ann)).to_have_text("Your idea is in.")
    live(ann)
    mark_loaded(ann)
    expect(ann.get_by_label("Your idea 1")).to_have_value(
        "Shared <script>alert(1)</script> data centre"
    )
    # Bob never reloads, yet Ann's idea arrives on his page.
    expect(bob.get_by_text("Shared <script>alert(1)</script> data centre")).to_be_visible()
    assert stayed(bob)
    expect(bob.get_by_role("heading", name="Ideas from the room (1)")).to_be_visible()
    check(bob, "brainstorm-others-idea")

    bob.get_by_label("Idea", exact=True).fill("Apprenticeships for cloud skills")
    bob.get_by_role("button", name="Submit idea").click()
    expect(ann.get_by_text("Apprenticeships for cloud skills")).to_be_visible()
    assert stayed(ann)
    check(ann, "brainstorm-two-ideas")

    ann.get_by_label("Your idea 1").fill("One shared data centre for Devon")
    ann.get_by_role("button", name="Save idea 1").click()
    expect(notice(ann)).to_have_text("Your idea is saved.")
    expect(ann.get_by_label("Your idea 1")).to_have_value("One shared data centre for Devon")
    expect(bob.get_by_text("One shared data centre for Devon")).to_be_visible()
    check(ann, "brainstorm-edited")

    ann.get_by_role("button", name="Withdraw idea 1").click()
    expect(notice(ann)).to_have_text("Your idea is withdrawn.")
    expect(ann.get_by_text("You have not submitted an idea yet.")).to_be_visible()
    expect(bob.get_by_text("One shared data centre for Devon")).to_have_count(0)
    expect(bob.get_by_role("heading", name="Ideas from the room (1)")).to_be_visible()
    check(ann, "brainstorm-withdrawn")

    # Ann is half-way through typing when Bob's next idea arrives: she sees it and
    # keeps her words, her cursor and her place (a brainstorm is spent typing).
    mark_loaded(ann)
    box = ann.get_by_label("Idea", exact=True)
    box.fill("Half a thou")
    bob.get_by_label("Idea", exact=True).fill("A cloud buying club")
    bob.get_by_role("button", name="Submit idea").click()
    expect(ann.get_by_text("A cloud buying club")).to_be_visible()
    assert stayed(ann)
    expect(box).to_be_focused()
    expect(box).to_have_value("Half a thou")
    ann.keyboard.type("ght")
    expect(box).to_have_value("Half a thought")


def test_a_participant_of_another_workshop_is_refused(site: Site, new_page: Any) -> None:
    mine, other = Day(site), Day(site)
    page = new_page("phone")
    join_by_page(page, site, mine.code, "Cat")
    page.goto(f"{site.base}/ui/workshops/{other.id}")
    expect(page.get_by_role("alert")).to_have_text("Your access does not cover this page.")
    facilitator = new_page("phone")
    sign_in(facilitator, site, site.token(Role.FACILITATOR, workshops=[mine.id]))
    facilitator.goto(f"{site.base}/ui/workshops/{mine.id}")
    expect(facilitator.get_by_role("alert")).to_have_text("Your access does not cover this page.")


def test_grouping_then_sign_up_with_a_full_group_and_a_switch(site: Site, new_page: Any) -> None:
    day = Day(site)
    day.to(PhaseKind.BRAINSTORM)
    day.join("Dee")
    day.join("Eve")
    cloud_idea = day.idea("Dee", "Shared cloud hosting")
    skills_idea = day.idea("Eve", "Digital skills academy")
    ann, bob = new_page("phone"), new_page("phone")
    join_by_page(ann, site, day.code, "Ann")
    join_by_page(bob, site, day.code, "Bob")
    live(ann)

    day.to(PhaseKind.GROUPING)
    day.area("Cloud", capacity=2)
    day.area("Skills")
    day.area("Data", capacity=1)
    day.group(cloud_idea, "Cloud")
    expect(ann.get_by_role("heading", name="Grouping into key areas")).to_be_visible()
    expect(ann.get_by_role("heading", name="Not grouped yet (1)")).to_be_visible()
    assert stayed(ann)
    check(ann, "grouping")
    day.group(skills_idea, "Skills")
    expect(ann.get_by_role("heading", name="Not grouped yet")).to_have_count(0)

    day.to(PhaseKind.SIGNUP)
    day.sign_up("Dee", "Cloud")
    live(ann)
    live(bob)
    expect(ann.get_by_role("button", name="Join Cloud")).to_be_enabled()
    expect(ann.get_by_text("1 of 2 places taken")).to_be_visible()
    check(ann, "signup-open")

    bob.get_by_role("button", name="Join Cloud").click()
    expect(notice(bob)).to_have_text("You have signed up.")
    expect(bob.get_by_text("Your group: Cloud")).to_be_visible()
    check(bob, "signup-joined")
    # Cloud is now full: Ann's page says so, live, and will not let her try.
    full = ann.get_by_role("button", name="Cloud is full")
    expect(full).to_be_disabled()
    assert stayed(ann)
    check(ann, "signup-full-group")

    ann.get_by_role("button", name="Join Data").click()
    expect(ann.get_by_text("Your group: Data")).to_be_visible()
    expect(bob.get_by_role("button", name="Data is full")).to_be_disabled()
    ann.get_by_role("button", name="Switch to Skills").click()
    expect(notice(ann)).to_have_text("You have switched group.")
    expect(ann.get_by_text("Your group: Skills")).to_be_visible()
    expect(bob.get_by_role("button", name="Switch to Data")).to_be_enabled()
    check(ann, "signup-switched")


def test_propose_and_revise_the_groups_project(site: Site, new_page: Any) -> None:
    day = Day(site)
    day.to(PhaseKind.BRAINSTORM)
    day.join("Dee")
    first = day.idea("Dee", "Apprenticeships with councils")
    day.idea("Dee", "Coding clubs in libraries")
    day.to(PhaseKind.GROUPING)
    day.area("Skills")
    day.area("Cloud")
    day.group(first, "Skills")
    ann, bob = new_page("phone"), new_page("phone")
    join_by_page(ann, site, day.code, "Ann")
    join_by_page(bob, site, day.code, "Bob")
    day.to(PhaseKind.SIGNUP)
    for page in (ann, bob):
        page.reload()  # the page was loaded before sign-up opened: that is fine either way
        page.get_by_role("button", name="Join Skills").click()
        expect(page.get_by_text("Your group: Skills")).to_be_visible()
    live(ann)
    live(bob)
    mark_loaded(bob)

    day.to(PhaseKind.DISCUSSION)
    expect(ann.get_by_role("heading", name="Propose your group's project")).to_be_visible()
    check(ann, "discussion-no-project")
    ann.get_by_label("Project title").fill("Skills passport")
    ann.get_by_label("Summary").fill("A record of digital skills that moves between councils.")
    ann.get_by_label("Apprenticeships with councils").check()
    ann.get_by_role("button", name="Propose project").click()
    expect(notice(ann)).to_have_text("Your project is proposed.")
    expect(ann.get_by_role("heading", name="Skills passport")).to_be_visible()
    check(ann, "discussion-proposed")

    # Bob sees the project arrive without a reload; he is not a proposer.
    expect(bob.get_by_role("heading", name="Skills passport")).to_be_visible()
    expect(bob.get_by_text("Only its proposers can edit it")).to_be_visible()
    assert stayed(bob)
    check(bob, "discussion-member")

    ann.get_by_text("Edit Skills passport").click()
    ann.get_by_label("Project title").first.fill("Digital skills passport")
    ann.get_by_role("button", name="Save project").click()
    expect(notice(ann)).to_have_text("The project is saved.")
    expect(ann.get_by_role("heading", name="Digital skills passport")).to_be_visible()
    expect(bob.get_by_role("heading", name="Digital skills passport")).to_be_visible()
    check(ann, "discussion-revised")


def _to_vote(day: Day, ann: Any, site: Site) -> tuple[Any, Any]:
    """Two projects pitched; Ann joins by page; returns the project ids."""
    day.to(PhaseKind.BRAINSTORM)
    day.join("Dee")
    day.join("Eve")
    idea = day.idea("Dee", "Shared cloud hosting")
    day.to(PhaseKind.GROUPING)
    day.area("Cloud")
    day.area("Skills")
    day.group(idea, "Cloud")
    day.to(PhaseKind.SIGNUP)
    day.sign_up("Dee", "Cloud")
    day.sign_up("Eve", "Skills")
    day.to(PhaseKind.DISCUSSION)
    cloud = day.propose("Dee", "Cloud", "Shared cloud", [idea])
    skills = day.propose("Eve", "Skills", "Skills passport", [])
    join_by_page(ann, site, day.code, "Ann")
    day.to(PhaseKind.PITCHES)
    day.start_pitch(cloud)
    return cloud, skills


@pytest.mark.parametrize("method", ["approval", "dots", "scores"])
def test_vote_with_each_method_then_see_results(site: Site, new_page: Any, method: str) -> None:
    day = Day(site, method=method, budget=5)
    ann = new_page("phone")
    cloud, skills = _to_vote(day, ann, site)
    ann.reload()
    live(ann)
    expect(ann.get_by_role("status").filter(has_text="Now pitching: Shared cloud")).to_be_visible()
    check(ann, f"pitches-{method}")
    day.end_pitch(cloud)
    day.start_pitch(skills)
    expect(ann.get_by_text("Now pitching: Skills passport")).to_be_visible()
    day.end_pitch(skills)
    mark_loaded(ann)

    day.to(PhaseKind.VOTE)
    expect(ann.get_by_role("heading", name="Your vote")).to_be_visible()
    assert stayed(ann)
    if method == "approval":
        ann.get_by_label("Shared cloud").check()
        blur(ann)
        day.vote("Dee", {str(cloud): 1})  # others vote meanwhile: Ann's tick survives the refresh
        expect(ann.get_by_text("Ballots cast so far: 1")).to_be_visible()
        expect(ann.get_by_label("Shared cloud")).to_be_checked()
    elif method == "dots":
        left = ann.locator("[data-dots-left]")
        expect(left).to_have_text("5")
        ann.get_by_label("Shared cloud").fill("4")
        expect(left).to_have_text("1")
        ann.get_by_label("Skills passport").fill("3")
        expect(left).to_have_text("-2")
        check(ann, "vote-dots-over-budget")
        ann.get_by_role("button", name="Cast my vote").click()
        expect(ann.get_by_role("alert")).to_have_text("7 dots placed but the budget is 5")
        ann.get_by_label("Shared cloud").fill("3")
        ann.get_by_label("Skills passport").fill("2")
        expect(left).to_have_text("0")
        blur(ann)
        day.vote("Dee", {str(cloud): 5})  # a refresh keeps what Ann typed, and her budget
        expect(ann.get_by_text("Ballots cast so far: 1")).to_be_visible()
        expect(ann.get_by_label("Shared cloud")).to_have_value("3")
        expect(left).to_have_text("0")
    else:
        fieldset = ann.get_by_role("group", name="Shared cloud")
        for criterion in (
            "quick to implement",
            "minimal resources",
            "easy to manage",
            "quick win",
            "low cost",
            "supports the profession",
        ):
            fieldset.get_by_label(criterion).select_option("5")
    check(ann, f"vote-{method}-marked")
    ann.get_by_role("button", name="Cast my vote").click()
    expect(notice(ann)).to_have_text("Your vote is in.")
    expect(ann.get_by_role("button", name="Change my vote")).to_be_visible()
    check(ann, f"vote-{method}-cast")
    ann.get_by_role("button", name="Change my vote").click()
    expect(notice(ann)).to_have_text("Your vote is changed.")
    live(ann)
    mark_loaded(ann)

    day.declare()  # the facilitator closes the vote and declares: Ann's page shows the results
    expect(ann.get_by_role("heading", name="Results")).to_be_visible()
    expect(ann.get_by_text("Your ballot was counted.")).to_be_visible()
    expect(ann.locator(".participant-results li").first).to_contain_text("Shared cloud")
    assert stayed(ann)
    check(ann, f"results-{method}")


def test_the_countdown_pauses_and_follows_a_fast_agenda(site: Site, new_page: Any) -> None:
    day = Day(site)
    day.to(PhaseKind.BRAINSTORM)
    ann = new_page("phone")
    join_by_page(ann, site, day.code, "Ann")
    live(ann)
    day.app.pause_phase(c.PausePhase(workshop_id=day.id), now_meta())
    expect(ann.get_by_text("Paused")).to_be_visible()
    frozen = ann.locator(".participant-clock .countdown")
    expect(frozen).to_have_text(re.compile(r"^(30:00|29:\d\d)$"))
    assert stayed(ann)
    check(ann, "brainstorm-paused")

    # A workshop run by its agenda at 120 times real speed: the countdown runs in
    # scenario time, about two minutes per real second.
    fast = Day(site)
    bob = new_page("phone")
    join_by_page(bob, site, fast.code, "Bob")
    live(bob)

    async def start() -> None:
        client = await site.stack.temporal_client()
        phases = list(fast.app.load(Workshop, fast.id, "workshop_id").agenda.phases)
        agenda = AgendaInput(workshop_id=fast.id, phases=phases, time_scale=120)
        await start_agenda(client, agenda, site.stack.settings.task_queue)

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's loop
        pool.submit(asyncio.run, start()).result(timeout=30)
    expect(bob.get_by_role("heading", name="Briefing")).to_be_visible()
    clock = bob.locator("[data-countdown-text]")
    expect(clock).to_have_text(re.compile(r"^1[0-5]:\d\d$"))
    first = _seconds(clock.inner_text())
    bob.wait_for_timeout(1500)
    assert first - _seconds(clock.inner_text()) >= 60
    expect(bob.get_by_role("heading", name="Brainstorm")).to_be_visible(timeout=15_000)
    assert stayed(bob)


def _seconds(text: str) -> int:
    minutes, seconds = text.split(":")
    return int(minutes) * 60 + int(seconds)


def test_a_form_without_its_csrf_token_is_refused(site: Site, new_page: Any) -> None:
    day = Day(site)
    day.to(PhaseKind.BRAINSTORM)
    page = new_page("phone")
    join_by_page(page, site, day.code, "Fay")
    answer = page.request.post(
        f"{site.base}/ui/workshops/{day.id}/ideas", form={"text": "Sneaky idea"}
    )
    assert answer.status == 403
    page.reload()
    expect(page.get_by_text("Sneaky idea")).to_have_count(0)
