"""An idea that came up at an earlier workshop: found by matching, linked, on the trail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest

from domain import commands as c
from domain.agenda import PhaseKind
from domain.errors import AlreadyExists, InvalidInput, UnknownId, WrongPhase
from projections.matching import MatchingProjection, MatchingView
from projections.pipeline import PipelineProjection, PipelineView
from services.app import Workshops
from services.persistence import postgres_env

from .programme_helpers import Manager, day, runner_of

pytestmark = pytest.mark.integration


def rejected(app: Workshops, error: type[Exception], act: Callable[[], Any]) -> None:
    before = app.max_position()
    with pytest.raises(error):
        act()
    assert app.max_position() == before


def test_a_recurring_idea_is_matched_linked_and_shown_on_its_trail(
    fresh_database_url: str,
) -> None:
    app = Workshops(env=postgres_env(fresh_database_url))
    try:
        jo = Manager(app, "Recurring 2010", ["Devon", "Cornwall"], day(2010, 6, 1))
        devon = jo.workshop("DEV-R", "Devon", "Devon day", day(2010, 7, 2), day(2010, 6, 2))
        devon.to(PhaseKind.BRAINSTORM)
        devon.join("Ann")
        devon.idea("cloud", "Ann", "A shared cloud for council services in the region")
        cornwall = jo.workshop(
            "CORN-R", "Cornwall", "Cornwall day", day(2010, 9, 1), day(2010, 6, 2)
        )
        cornwall.to(PhaseKind.BRAINSTORM)
        cornwall.join("Ben")
        cornwall.idea("cloud", "Ben", "A shared cloud for the council services of the region")

        with runner_of(fresh_database_url, MatchingProjection, MatchingView) as runner:
            runner.wait(app.max_position(), timeout=30)
            (match,) = runner.view.similar(cornwall.ideas["cloud"])
        assert match.idea_id == devon.ideas["cloud"] and match.region == "Devon"

        link = c.LinkToEarlierIdea(idea_id=cornwall.ideas["cloud"], earlier_id=match.idea_id)
        app.link_to_earlier(link, cornwall.meta())
        rejected(app, AlreadyExists, lambda: app.link_to_earlier(link, cornwall.meta()))
        backwards = c.LinkToEarlierIdea(idea_id=devon.ideas["cloud"], earlier_id=match.idea_id)
        rejected(app, InvalidInput, lambda: app.link_to_earlier(backwards, devon.meta()))
        unknown = c.LinkToEarlierIdea(idea_id=cornwall.ideas["cloud"], earlier_id=uuid4())
        rejected(app, UnknownId, lambda: app.link_to_earlier(unknown, cornwall.meta()))

        with runner_of(fresh_database_url, PipelineProjection, PipelineView) as runner:
            runner.wait(app.max_position(), timeout=30)
            assert runner.view.trail(cornwall.ideas["cloud"]) == []  # trails are per initiative
            rows = runner.view.idea_trail(cornwall.ideas["cloud"])
        assert any("Came up before, in Devon" in row.text for row in rows)
    finally:
        app.close()


def test_linking_outside_the_brainstorm_or_grouping_is_refused(fresh_database_url: str) -> None:
    app = Workshops(env=postgres_env(fresh_database_url))
    try:
        jo = Manager(app, "Recurring 2011", ["Devon", "Cornwall"], day(2011, 6, 1))
        devon = jo.workshop("DEV-S", "Devon", "Devon day", day(2011, 7, 2), day(2011, 6, 2))
        devon.to(PhaseKind.BRAINSTORM)
        devon.join("Ann")
        devon.idea("x", "Ann", "Shared data centres")
        cornwall = jo.workshop(
            "CORN-S", "Cornwall", "Cornwall day", day(2011, 9, 1), day(2011, 6, 2)
        )
        cornwall.to(PhaseKind.BRAINSTORM)
        cornwall.join("Ben")
        cornwall.idea("x", "Ben", "Shared data centres for all")
        cornwall.to(PhaseKind.SIGNUP)
        link = c.LinkToEarlierIdea(idea_id=cornwall.ideas["x"], earlier_id=devon.ideas["x"])
        rejected(app, WrongPhase, lambda: app.link_to_earlier(link, cornwall.meta()))
    finally:
        app.close()
