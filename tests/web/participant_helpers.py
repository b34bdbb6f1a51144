"""A workshop driven through the application at real time, for the participant's page tests.

The facilitator's acts (phases, key areas, pitches, results) and other people's
acts go straight to the application with a Meta, as the API would record them;
the participant under test uses the pages.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from domain import commands as c
from domain.agenda import SEED_AGENDA, PhaseKind, VotingRules
from domain.meta import Meta
from domain.workshop import Workshop
from services.app import Workshops

from .conftest import Site


def now_meta(actor: str = "facilitator:test") -> Meta:
    return Meta(actor=actor, at=datetime.now(UTC), correlation_id=uuid4(), causation_id=uuid4())


class Day:
    """One workshop, moved through its agenda by hand at the real time."""

    def __init__(self, site: Site, method: str = "approval", budget: int = 5) -> None:
        self.app: Workshops = site.stack.app
        self.code = f"P-{uuid4().hex[:6].upper()}"
        cmd = c.ScheduleWorkshop(
            code=self.code,
            title="Devon digital day",
            region="Devon",
            venue="Exeter",
            starts_at=datetime.now(UTC),
            agenda=SEED_AGENDA,
            voting=VotingRules(method=method, dots_budget=budget),  # type: ignore[arg-type]
        )
        self.id = self.app.schedule(cmd, now_meta())
        self.people: dict[str, UUID] = {}
        self.areas: dict[str, UUID] = {}

    def brief(self, text: str) -> None:
        self.app.publish_briefing(c.PublishBriefing(workshop_id=self.id, text=text), now_meta())

    def to(self, kind: PhaseKind) -> None:
        while True:
            w = self.app.load(Workshop, self.id, "workshop_id")
            if w.phase_open and w.current_kind == kind:
                return
            if w.phase_open:
                self.app.close_phase(
                    c.ClosePhase(workshop_id=self.id, index=w.phase_index), now_meta()
                )
            self.app.open_phase(
                c.OpenPhase(workshop_id=self.id, index=w.phase_index + 1), now_meta()
            )

    def join(self, name: str) -> UUID:
        cmd = c.JoinWorkshop(workshop_id=self.id, key=uuid4().hex, display_name=name)
        self.people[name] = self.app.join(cmd, now_meta("participant:self"))
        return self.people[name]

    def idea(self, who: str, text: str) -> UUID:
        idea, person = uuid4(), self.people[who]
        cmd = c.SubmitIdea(workshop_id=self.id, idea_id=idea, author_id=person, text=text)
        self.app.submit_idea(cmd, now_meta(f"participant:{person}"))
        return idea

    def area(self, name: str, capacity: int | None = None) -> UUID:
        area = self.app.define_key_area(c.DefineKeyArea(workshop_id=self.id, name=name), now_meta())
        if capacity is not None:
            cmd = c.SetGroupCapacity(workshop_id=self.id, key_area_id=area, capacity=capacity)
            self.app.set_group_capacity(cmd, now_meta())
        self.areas[name] = area
        return area

    def group(self, idea: UUID, area: str) -> None:
        self.app.group_idea(c.GroupIdea(idea_id=idea, key_area_id=self.areas[area]), now_meta())

    def sign_up(self, who: str, area: str) -> None:
        person = self.people[who]
        cmd = c.SignUpToGroup(
            workshop_id=self.id, participant_id=person, key_area_id=self.areas[area]
        )
        self.app.sign_up(cmd, now_meta(f"participant:{person}"))

    def propose(self, who: str, area: str, title: str, ideas: list[UUID]) -> UUID:
        project, person = uuid4(), self.people[who]
        cmd = c.ProposeProject(
            workshop_id=self.id,
            project_id=project,
            key_area_id=self.areas[area],
            title=title,
            summary=f"{title}: the group's plan",
            idea_ids=ideas,
            proposer_ids=[person],
        )
        self.app.propose_project(cmd, now_meta(f"participant:{person}"))
        return project

    def start_pitch(self, project: UUID) -> None:
        self.app.start_pitch(c.StartPitch(workshop_id=self.id, project_id=project), now_meta())

    def end_pitch(self, project: UUID) -> None:
        self.app.end_pitch(c.EndPitch(workshop_id=self.id, project_id=project), now_meta())

    def vote(self, who: str, choices: dict[str, Any]) -> None:
        person = self.people[who]
        cmd = c.CastBallot(workshop_id=self.id, participant_id=person, choices=choices)
        self.app.cast_ballot(cmd, now_meta(f"participant:{person}"))

    def declare(self) -> None:
        self.to(PhaseKind.CLOSED)
        self.app.declare_results(c.DeclareResults(workshop_id=self.id), now_meta())


def join_by_page(page: Any, site: Site, code: str, name: str) -> None:
    """Join through the join page, as a participant with a phone does."""
    page.goto(f"{site.base}/ui/join?code={code}")
    page.get_by_label("Your display name").fill(name)
    page.get_by_role("button", name="Join").click(no_wait_after=True)
    page.wait_for_url("**/ui/workshops/*", timeout=30_000)  # a busy machine can be slow here
    page.evaluate("window.__stayed = true")  # gone if the page ever reloads


def stayed(page: Any) -> bool:
    """The page has not reloaded since joining (or since the marker was last set)."""
    return bool(page.evaluate("window.__stayed === true"))


def fits_phone(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= 360"))


def mark_loaded(page: Any) -> None:
    page.evaluate("window.__stayed = true")
