"""Drive a workshop through the application, and run the board projection beside it.

`Driver` wraps the `Workshops` commands a test needs, names things by short
keys ("Cloud", "i0", "P1"), gives every act a time in minutes after `T0`, and
remembers the log position of the last act for `runner.wait`. `seed_day`
runs a whole day in the shape of the seed story, with the awkward cases the
board must get right: a duplicate idea, a withdrawn idea, an edited idea,
a key area merged into another, a renamed area, a full group, a switch of
group, a revised project and a revised ballot.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
from eventsourcing.projection import ProjectionRunner
from psycopg import sql

from domain import commands as c
from domain.agenda import SEED_AGENDA, Agenda, VotingRules
from domain.meta import Meta
from projections.board import BOARD_TABLES, BoardProjection, BoardView
from services.app import Workshops
from services.persistence import postgres_env

T0 = datetime(2010, 7, 2, 9, 0, tzinfo=UTC)
WAIT = 20.0  # seconds a test waits for the board to catch up

# SEED_AGENDA's phases, by name.
BRIEFING, BRAINSTORM, GROUPING, SIGNUP, DISCUSSION, PITCHES, VOTE, CLOSED = range(8)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def meta(minutes: float, actor: str = "facilitator") -> Meta:
    return Meta(actor=actor, at=at(minutes), correlation_id=uuid4(), causation_id=uuid4())


class Driver:
    """One workshop, driven command by command through the application."""

    def __init__(
        self,
        app: Workshops,
        code: str | None = None,
        agenda: Agenda = SEED_AGENDA,
        voting: VotingRules | None = None,
    ) -> None:
        self.app = app
        self.code = code or f"SW-{uuid4().hex[:6]}"
        self.people: dict[str, UUID] = {}
        self.ideas: dict[str, UUID] = {}
        self.areas: dict[str, UUID] = {}
        self.projects: dict[str, UUID] = {}
        self.position = 0
        self.workshop_id = app.schedule(
            c.ScheduleWorkshop(
                code=self.code,
                title="South West ICT strategy day",
                region="South West",
                venue="Exeter",
                starts_at=T0,
                agenda=agenda,
                voting=voting or VotingRules(),
            ),
            meta(0),
        )
        self._moved()

    def _moved(self, position: int | None = None) -> int:
        self.position = position if position is not None else self.app.max_position()
        return self.position

    @property
    def w(self) -> UUID:
        return self.workshop_id

    # ----- the facilitator ---------------------------------------------------

    def open(self, index: int, minutes: float) -> int:
        return self._moved(
            self.app.open_phase(c.OpenPhase(workshop_id=self.w, index=index), meta(minutes))
        )

    def close(self, index: int, minutes: float) -> int:
        return self._moved(
            self.app.close_phase(c.ClosePhase(workshop_id=self.w, index=index), meta(minutes))
        )

    def next_phase(self, index: int, minutes: float) -> int:
        """Close phase `index - 1` and open `index`, both at `minutes`."""
        self.close(index - 1, minutes)
        return self.open(index, minutes)

    def extend(self, extra: float, minutes: float, extension_id: str = "x1") -> int:
        cmd = c.ExtendPhase(workshop_id=self.w, minutes=extra, extension_id=extension_id)
        return self._moved(self.app.extend_phase(cmd, meta(minutes)))

    def pause(self, minutes: float) -> int:
        return self._moved(self.app.pause_phase(c.PausePhase(workshop_id=self.w), meta(minutes)))

    def resume(self, minutes: float) -> int:
        return self._moved(self.app.resume_phase(c.ResumePhase(workshop_id=self.w), meta(minutes)))

    def brief(self, text: str, minutes: float) -> int:
        cmd = c.PublishBriefing(workshop_id=self.w, text=text)
        return self._moved(self.app.publish_briefing(cmd, meta(minutes)))

    def area(self, name: str, minutes: float) -> UUID:
        area = self.app.define_key_area(
            c.DefineKeyArea(workshop_id=self.w, name=name), meta(minutes)
        )
        self.areas[name] = area
        self._moved()
        return area

    def rename_area(self, name: str, new_name: str, minutes: float) -> int:
        cmd = c.RenameKeyArea(workshop_id=self.w, key_area_id=self.areas[name], name=new_name)
        return self._moved(self.app.rename_key_area(cmd, meta(minutes)))

    def merge_areas(self, source: str, target: str, minutes: float) -> int:
        cmd = c.MergeKeyAreas(
            workshop_id=self.w, source_id=self.areas[source], target_id=self.areas[target]
        )
        return self._moved(self.app.merge_key_areas(cmd, meta(minutes)))

    def capacity(self, name: str, capacity: int, minutes: float) -> int:
        cmd = c.SetGroupCapacity(
            workshop_id=self.w, key_area_id=self.areas[name], capacity=capacity
        )
        return self._moved(self.app.set_group_capacity(cmd, meta(minutes)))

    def group(self, idea: str, area: str, minutes: float) -> int:
        cmd = c.GroupIdea(idea_id=self.ideas[idea], key_area_id=self.areas[area])
        return self._moved(self.app.group_idea(cmd, meta(minutes)))

    def merge_idea(self, idea: str, target: str, minutes: float) -> int:
        cmd = c.MergeIdea(idea_id=self.ideas[idea], target_id=self.ideas[target])
        return self._moved(self.app.merge_idea(cmd, meta(minutes)))

    def pitch(self, project: str, minutes: float, length: float = 2) -> int:
        self.app.start_pitch(
            c.StartPitch(workshop_id=self.w, project_id=self.projects[project]), meta(minutes)
        )
        cmd = c.EndPitch(workshop_id=self.w, project_id=self.projects[project])
        return self._moved(self.app.end_pitch(cmd, meta(minutes + length)))

    def declare(self, minutes: float) -> dict[str, Any]:
        result = self.app.declare_results(c.DeclareResults(workshop_id=self.w), meta(minutes))
        self._moved()
        return result.model_dump(mode="json")

    # ----- the crowd -----------------------------------------------------------

    def join(self, name: str, minutes: float, organisation: str = "") -> UUID:
        cmd = c.JoinWorkshop(
            workshop_id=self.w, key=name.lower(), display_name=name, organisation=organisation
        )
        person = self.app.join(cmd, meta(minutes, name))
        self.people[name] = person
        self._moved()
        return person

    def idea(self, key: str, author: str, text: str, minutes: float) -> int:
        self.ideas[key] = uuid4()
        cmd = c.SubmitIdea(
            workshop_id=self.w, idea_id=self.ideas[key], author_id=self.people[author], text=text
        )
        return self._moved(self.app.submit_idea(cmd, meta(minutes, author)))

    def edit(self, key: str, author: str, text: str, minutes: float) -> int:
        cmd = c.EditIdea(idea_id=self.ideas[key], author_id=self.people[author], text=text)
        return self._moved(self.app.edit_idea(cmd, meta(minutes, author)))

    def withdraw(self, key: str, author: str, minutes: float) -> int:
        cmd = c.WithdrawIdea(idea_id=self.ideas[key], author_id=self.people[author])
        return self._moved(self.app.withdraw_idea(cmd, meta(minutes, author)))

    def sign_up(self, person: str, area: str, minutes: float) -> int:
        cmd = c.SignUpToGroup(
            workshop_id=self.w, participant_id=self.people[person], key_area_id=self.areas[area]
        )
        return self._moved(self.app.sign_up(cmd, meta(minutes, person)))

    def switch(self, person: str, area: str, minutes: float) -> int:
        cmd = c.SwitchGroup(
            workshop_id=self.w, participant_id=self.people[person], key_area_id=self.areas[area]
        )
        return self._moved(self.app.switch_group(cmd, meta(minutes, person)))

    def propose(
        self,
        key: str,
        area: str,
        title: str,
        ideas: list[str],
        proposers: list[str],
        minutes: float,
    ) -> int:
        self.projects[key] = uuid4()
        cmd = c.ProposeProject(
            workshop_id=self.w,
            project_id=self.projects[key],
            key_area_id=self.areas[area],
            title=title,
            summary=f"{title}: the group's plan",
            idea_ids=[self.ideas[i] for i in ideas],
            proposer_ids=[self.people[p] for p in proposers],
        )
        return self._moved(self.app.propose_project(cmd, meta(minutes, proposers[0])))

    def revise(
        self, key: str, title: str, ideas: list[str], proposers: list[str], minutes: float
    ) -> int:
        cmd = c.ReviseProject(
            project_id=self.projects[key],
            title=title,
            summary=f"{title}: the group's plan",
            idea_ids=[self.ideas[i] for i in ideas],
            proposer_ids=[self.people[p] for p in proposers],
        )
        return self._moved(self.app.revise_project(cmd, meta(minutes, proposers[0])))

    def vote(self, person: str, projects: list[str], minutes: float) -> int:
        choices = {str(self.projects[p]): 1 for p in projects}
        cmd = c.CastBallot(workshop_id=self.w, participant_id=self.people[person], choices=choices)
        return self._moved(self.app.cast_ballot(cmd, meta(minutes, person)))

    def revote(self, person: str, projects: list[str], minutes: float) -> int:
        choices = {str(self.projects[p]): 1 for p in projects}
        cmd = c.ReviseBallot(
            workshop_id=self.w, participant_id=self.people[person], choices=choices
        )
        return self._moved(self.app.revise_ballot(cmd, meta(minutes, person)))


# ----- the seed day, step by step ----------------------------------------------------


def to_brainstorm(d: Driver) -> None:
    """Briefing, five people, and the brainstorm open at +15 (30 minutes planned)."""
    d.brief("Strategy summary, recent developments, example projects.", 0)
    d.open(BRIEFING, 0)
    for n, name in enumerate(["Ann", "Bob", "Cat", "Dan", "Eve"]):
        d.join(name, 1 + n, organisation=f"Council {n}")
    d.next_phase(BRAINSTORM, 15)


def brainstorm(d: Driver) -> None:
    """Seven ideas: i5 duplicates i1, i6 is withdrawn, i3 is edited."""
    authors = ["Ann", "Bob", "Cat", "Dan", "Eve", "Ann", "Bob"]
    for n, author in enumerate(authors):
        d.idea(f"i{n}", author, f"idea {n}", 16 + n)
    d.merge_idea("i5", "i1", 24)
    d.withdraw("i6", "Bob", 25)
    d.edit("i3", "Dan", "idea 3, sharpened", 26)


def grouping(d: Driver) -> None:
    """Four areas at +52; Leadership is merged into Culture; Skills is renamed; i4 stays loose."""
    d.next_phase(GROUPING, 52)
    for n, name in enumerate(["Cloud", "Culture", "Skills", "Leadership"]):
        d.area(name, 53 + n)
    d.capacity("Cloud", 2, 57)
    d.group("i0", "Cloud", 58)
    d.group("i1", "Culture", 58)
    d.group("i2", "Skills", 59)
    d.group("i3", "Leadership", 59)
    d.merge_areas("Leadership", "Culture", 60)
    d.rename_area("Skills", "Skills and careers", 61)


def sign_ups(d: Driver) -> None:
    """Ann and Bob fill Cloud (capacity 2); Bob switches to Culture; Eve does not sign up."""
    d.next_phase(SIGNUP, 72)
    d.sign_up("Ann", "Cloud", 73)
    d.sign_up("Bob", "Cloud", 74)
    d.sign_up("Cat", "Culture", 75)
    d.sign_up("Dan", "Skills", 76)
    d.switch("Bob", "Culture", 77)


def discussion(d: Driver) -> None:
    d.next_phase(DISCUSSION, 117)
    d.propose("A", "Cloud", "Shared cloud", ["i0"], ["Ann"], 120)
    d.propose("B", "Culture", "CEO workshop", ["i1", "i3"], ["Bob", "Cat"], 125)
    d.propose("C", "Skills", "Mentoring", ["i2"], ["Dan"], 130)
    d.revise("C", "Mentoring scheme", ["i2"], ["Dan", "Eve"], 135)


def pitches(d: Driver) -> None:
    """B pitches first, then A, then C."""
    d.next_phase(PITCHES, 157)
    d.pitch("B", 158)
    d.pitch("A", 161)
    d.pitch("C", 164)


def vote(d: Driver) -> dict[str, Any]:
    d.next_phase(VOTE, 177)
    for person in ["Ann", "Bob", "Cat", "Dan"]:
        d.vote(person, ["B"], 178)
    d.vote("Eve", ["A"], 179)
    d.revote("Eve", ["A", "B"], 180)
    d.close(VOTE, 187)
    results = d.declare(188)
    d.open(CLOSED, 189)
    return results


def seed_day(d: Driver) -> dict[str, Any]:
    """The whole day; returns the declared results."""
    to_brainstorm(d)
    brainstorm(d)
    grouping(d)
    sign_ups(d)
    discussion(d)
    pitches(d)
    return vote(d)


# ----- infrastructure ------------------------------------------------------------------


@contextmanager
def application(url: str) -> Iterator[Workshops]:
    app = Workshops(env=postgres_env(url))
    try:
        yield app
    finally:
        app.close()


@contextmanager
def board_runner(url: str) -> Iterator[ProjectionRunner[Workshops, BoardView]]:
    """A running board projection on the database at `url`; stopped and closed after."""
    runner = ProjectionRunner(
        application_class=Workshops,
        projection_class=BoardProjection,
        view_class=BoardView,
        env=postgres_env(url),
    )
    try:
        with runner:
            yield runner
    finally:
        runner.view.close()


def dump_tables(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every board table (and the board's tracking), in a stable order."""
    dump: dict[str, list[tuple[Any, ...]]] = {}
    with psycopg.connect(url) as conn:
        for table in (*BOARD_TABLES, "board_tracking"):
            rows = conn.execute(
                sql.SQL("SELECT * FROM {} t ORDER BY t::text").format(sql.Identifier(table))
            ).fetchall()
            dump[table] = rows
    return dump
