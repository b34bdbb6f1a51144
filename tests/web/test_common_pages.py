"""Signing in, joining, and the start page, in a real browser."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain import commands as c
from domain.agenda import SEED_AGENDA
from domain.meta import Meta
from services.api.tokens import Role

from .conftest import Site, assert_accessible, shot, sign_in


def _schedule(site: Site, code: str) -> None:
    meta = Meta(
        actor="facilitator:test",
        at=datetime.now(UTC),
        correlation_id=__import__("uuid").uuid4(),
        causation_id=__import__("uuid").uuid4(),
    )
    site.stack.app.schedule(
        c.ScheduleWorkshop(
            code=code,
            title="Housing day",
            region="Devon",
            starts_at=datetime(2010, 7, 2, 9, 30, tzinfo=UTC),
            agenda=SEED_AGENDA,
        ),
        meta,
    )


def test_sign_in_with_a_token_and_out_again(site: Site, new_page: Any) -> None:
    _schedule(site, "HOME-1")
    page = new_page("desk")
    page.goto(f"{site.base}/ui")
    assert "/ui/login" in page.url
    assert_accessible(page)
    shot(page, "login")
    sign_in(page, site, site.token(Role.ADMIN))
    assert page.get_by_role("heading", level=1).inner_text() == "Your workshops and programmes"
    assert page.get_by_role("link", name="Housing day").is_visible()
    assert_accessible(page)
    shot(page, "home-admin")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/ui/login")


def test_a_wrong_token_is_refused_politely(site: Site, new_page: Any) -> None:
    page = new_page("phone")
    page.goto(f"{site.base}/ui/login")
    page.get_by_label("Access token").fill("qw_not-a-token")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "That token is unknown or has been revoked."


def test_joining_with_a_bad_code_says_what_is_wrong(site: Site, new_page: Any) -> None:
    page = new_page("phone")
    page.goto(f"{site.base}/ui/join")
    assert_accessible(page)
    page.get_by_label("Workshop code").fill("NO-SUCH")
    page.get_by_label("Your display name").fill("<b>Sam</b>")
    page.get_by_role("button", name="Join").click()
    assert "no workshop" in page.get_by_role("alert").inner_text()
    shot(page, "join-bad-code")
