"""The programme manager's pages in a real browser: pipeline, attention, benefits, charts,
one initiative's trail, the report's files, live updates, and scope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.api.tokens import Role

from .conftest import SHOTS, Site, assert_accessible, shot, sign_in
from .manager_helpers import erase_owner, programme_story, record_benefit

expect = pytest.importorskip("playwright.sync_api").expect
LIVE_MS = 10_000


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


def test_a_manager_sees_the_pipeline_attention_benefits_and_charts_live(
    site: Site, new_page: Any
) -> None:
    story = programme_story(site)
    programme = story.south_west.id
    manager = site.token(Role.MANAGER, programmes=[programme])
    page = new_page("desk")
    sign_in(page, site, manager, then=f"/ui/programmes/{programme}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Programme: South West ICT")

    # The board: initiatives by stage.
    expect(page.get_by_role("region", name="Delivered")).to_contain_text("Regional CEO workshop")
    expect(page.get_by_role("region", name="Delivered")).to_contain_text("Open data portal")
    expect(page.get_by_role("region", name="In delivery")).to_contain_text("Mentoring network")
    expect(page.get_by_role("region", name="Proposed")).to_contain_text("Shared service desk")
    regions = page.get_by_role("table", name="Initiatives by region")
    expect(regions.get_by_role("row", name="Somerset")).to_contain_text("1")

    # Needs attention: two overdue milestones and a stale initiative, all Mentoring network's.
    overdue = page.get_by_role("table", name="Overdue milestones")
    expect(overdue.get_by_role("row", name="Match mentors")).to_contain_text("Mentoring network")
    expect(overdue.get_by_role("row", name="Launch event")).to_contain_text("Lou Grant")
    stale = page.get_by_role("table", name="Stale initiatives")
    expect(stale.get_by_role("row")).to_have_count(2)
    expect(stale).to_contain_text("Mentoring network")

    # Benefit totals per outcome measure.
    benefits = page.get_by_role("table", name="Is it better? Benefits per outcome measure")
    expect(benefits.get_by_role("row", name="Money saved")).to_contain_text("20,000.50")
    expect(benefits.get_by_role("row", name="Staff time saved")).to_contain_text("300")

    # The three charts, inline SVG with titles.
    titles = page.locator("figure svg > title").evaluate_all("els => els.map(e => e.textContent)")
    assert titles == [
        "Pipeline: initiatives by stage",
        "Milestones over time",
        "Benefits recorded per outcome measure, by initiative",
    ]
    assert "Oct 2010: 3 due, 1 done, 2 overdue." in (
        page.locator("figure svg desc").text_content() or ""
    )
    assert_accessible(page)
    shot(page, "manager-programme-desk")

    # A new benefit arrives live: the totals change without a reload.
    page.evaluate("window.__notReloaded = true")
    record_benefit(site, story.initiatives["I2"], "money_saved", 100)
    expect(benefits.get_by_role("row", name="Money saved")).to_contain_text(
        "20,100.50", timeout=LIVE_MS
    )
    assert page.evaluate("window.__notReloaded === true")

    # Filter the board by region.
    page.get_by_label("Region", exact=True).select_option("Somerset")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**region=Somerset")
    expect(page.get_by_text("Showing initiatives in Somerset.")).to_be_visible()
    expect(page.get_by_role("region", name="Proposed")).to_contain_text("Shared service desk")
    expect(page.get_by_role("region", name="Delivered")).to_contain_text("None.")
    assert_accessible(page)
    shot(page, "manager-programme-somerset")


def test_the_report_downloads_and_the_page_fits_a_phone(site: Site, new_page: Any) -> None:
    story = programme_story(site)
    programme = story.south_west.id
    page = new_page("phone")
    sign_in(
        page, site, site.token(Role.MANAGER, programmes=[programme]), f"/ui/programmes/{programme}"
    )
    _no_sideways_scroll(page)
    assert_accessible(page)
    shot(page, "manager-programme-phone")
    page.locator(".manager-charts").screenshot(path=str(SHOTS / "manager-charts-phone.png"))

    files = {
        "Report (Markdown)": ("report.md", "# South West ICT"),
        "Initiatives (CSV spreadsheet)": ("initiatives.csv", "Regional CEO workshop"),
        "Pipeline chart (SVG)": ("pipeline.svg", "<title>Pipeline: initiatives by stage</title>"),
        "Benefits chart (SVG)": ("benefits.svg", "Money saved"),
    }
    for link, (name, content) in files.items():
        with page.expect_download() as info:
            page.get_by_role("link", name=link).click()
        download = info.value
        assert download.suggested_filename == name
        text = Path(download.path()).read_text(encoding="utf-8")
        assert content in text, (name, text[:200])
    markdown = page.request.get(f"{site.base}/ui/programmes/{programme}/report/report.md")
    assert "attachment" in markdown.headers["content-disposition"]
    assert "## Needs attention" in markdown.text()
    assert page.request.get(f"{site.base}/ui/programmes/{programme}/report/x.md").status == 404


def test_one_initiatives_trail_from_first_idea_to_latest_benefit(site: Site, new_page: Any) -> None:
    story = programme_story(site)
    programme = story.south_west.id
    page = new_page("desk")
    sign_in(
        page, site, site.token(Role.MANAGER, programmes=[programme]), f"/ui/programmes/{programme}"
    )
    page.get_by_role("region", name="Delivered").get_by_role(
        "link", name="Regional CEO workshop"
    ).click()
    page.wait_for_url(f"**/ui/initiatives/{story.initiatives['I1']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Initiative: Regional CEO workshop")
    facts = page.get_by_role("region", name="At a glance")
    expect(facts).to_contain_text("Jo Bloggs")
    expect(facts).to_contain_text("the winning project of Devon ICT strategy day")
    expect(facts).to_contain_text("Devon, Cornwall")
    expect(facts).to_contain_text("Progress 90% (green)")
    milestones = page.get_by_role("table", name="Milestones")
    expect(milestones.get_by_role("row", name="Hold the CEO workshop")).to_contain_text("Done")

    trail = page.get_by_role("region", name="The whole trail").get_by_role("listitem")
    first, last = trail.first, trail.last
    expect(first).to_contain_text("Idea")
    expect(first).to_contain_text("Regional workshop for chief executives on shared ICT")
    expect(last).to_contain_text("Licences pooled")
    assert trail.count() > 20
    assert_accessible(page)
    shot(page, "manager-initiative")

    # A new benefit shows live at the end of the trail; an erased owner is named as such.
    record_benefit(site, story.initiatives["I1"], "staff_time_saved", 40)
    expect(trail.last).to_contain_text("Printer contract", timeout=LIVE_MS)
    erase_owner(site, programme, "Jo Bloggs")
    expect(facts).to_contain_text("erased owner", timeout=LIVE_MS)
    expect(facts).not_to_contain_text("Jo Bloggs")

    phone = new_page("phone")
    sign_in(
        phone,
        site,
        site.token(Role.MANAGER, programmes=[programme]),
        f"/ui/initiatives/{story.initiatives['I3']}",
    )
    expect(phone.get_by_role("table", name="Milestones")).to_contain_text("Overdue")
    _no_sideways_scroll(phone)
    assert_accessible(phone)
    shot(phone, "manager-initiative-phone")


def test_a_manager_of_another_programme_is_refused(site: Site, new_page: Any) -> None:
    story = programme_story(site)
    south_west, north_east = story.south_west.id, story.north_east.id
    page = new_page("desk")
    sign_in(
        page,
        site,
        site.token(Role.MANAGER, programmes=[north_east]),
        f"/ui/programmes/{north_east}",
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Programme: North East digital")
    for path in (
        f"/ui/programmes/{south_west}",
        f"/ui/programmes/{south_west}/part/pipeline",
        f"/ui/programmes/{south_west}/report/report.md",
        f"/ui/initiatives/{story.initiatives['I1']}",
    ):
        answer = page.goto(f"{site.base}{path}")
        assert answer.status == 403, path
        expect(page.get_by_role("alert")).to_have_text("Your access does not cover this page.")
    assert_accessible(page)
    shot(page, "manager-forbidden")
