"""Programmes, their workshops and initiatives, driven through the real application.

`Day` walks one programme workshop through its agenda (the way
`tests.services.walk.Walk` does), naming people, ideas, areas and projects by
short keys and giving every act a time: one minute after the previous one,
from the workshop's start. `Manager` launches a programme and acts on its
initiatives at given times. `south_west` tells a whole story with both:

- programme "South West ICT" (Devon, Cornwall, Somerset):
  - Devon day, 2 July 2010: seven ideas (one edited, one merged into i0 as a
    duplicate, one withdrawn), three projects; "Regional CEO workshop"
    (built on i0 and i6) wins with 4 of 5 ballots and becomes initiative I1;
  - Cornwall day, 10 September 2010: four ideas, three of them like Devon's;
    a tie, so two winners: "Open data portal" (I2) and "Mentoring network" (I3);
  - a manager's own initiative in Somerset (I4);
  - I1 is delivered on 14 January 2011 after milestones met (one late,
    flagged, rescheduled), adopted in Cornwall too, with benefits recorded
    after delivery; I2 is flagged stale, then reports and is delivered;
    I3 is in delivery, stale, with two milestones past due (one flagged);
- programme "North East digital" (another programme), a Northumberland day on
  1 August 2010 with an idea identical to Devon's i0: it must never match.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

import psycopg
from eventsourcing.domain import Aggregate
from eventsourcing.projection import Projection, ProjectionRunner
from psycopg import sql

import domain
from domain import commands as c
from domain import programme_commands as pc
from domain.agenda import SEED_AGENDA, PhaseKind
from domain.initiative import Rag, Stage, adopted_id
from domain.meta import Meta
from domain.tally import Result
from domain.workshop import Workshop
from projections.tracking import TrackedView
from services.app import Workshops
from services.persistence import postgres_env
from services.programmes import Programmes

WAIT = 30.0  # seconds a test waits for a view to catch up

V = TypeVar("V", bound=TrackedView)


def day(year: int, month: int, date: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(year, month, date, hour, minute, tzinfo=UTC)


def meta_at(at: datetime, actor: str) -> Meta:
    return Meta(actor=actor, at=at, correlation_id=uuid4(), causation_id=uuid4())


# ----- every domain event, for the handled-or-ignored tests -------------------------------


def domain_event_classes() -> dict[str, type]:
    """Every event class of every aggregate in `domain`, as "Aggregate.Event".

    Found by importing every module of the package, so a new aggregate is
    found too. The library's default `Created` classes are left out: each
    aggregate names its own creation event, so they are never recorded.
    """
    for module in pkgutil.iter_modules(domain.__path__):
        importlib.import_module(f"domain.{module.name}")
    found: dict[str, type] = {}
    pending: list[type[Aggregate]] = [Aggregate]
    aggregates: list[type[Aggregate]] = []
    while pending:
        subclasses: list[type[Aggregate]] = pending.pop().__subclasses__()
        pending.extend(subclasses)
        aggregates.extend(s for s in subclasses if s.__module__.startswith("domain."))
    for aggregate in aggregates:
        for name, value in vars(aggregate).items():
            if (
                isinstance(value, type)
                and issubclass(value, aggregate.Event)
                and name not in ("Event", "Created")
            ):
                found[f"{aggregate.__name__}.{name}"] = value
    return found


def check_handled_or_ignored(
    projection: type[Projection[Any]], handled: Sequence[type], ignored: set[str]
) -> None:
    """Every domain event is handled (its own handler) or knowingly ignored (the fallback)."""
    events = domain_event_classes()
    names = {name for name, cls in events.items() if cls in handled}
    assert len(names) == len(handled), "a handled event is not a domain event"
    assert names | ignored == set(events), sorted(set(events) - names - ignored)
    assert not names & ignored, sorted(names & ignored)
    dispatcher = projection.__dict__["process_event"].dispatcher
    fallback = dispatcher.dispatch(object)
    for cls in handled:
        assert dispatcher.dispatch(cls) is not fallback, cls
    for name in ignored:
        assert dispatcher.dispatch(events[name]) is fallback, name


# ----- one programme workshop, phase by phase -------------------------------------------


class Day:
    """A programme workshop driven through its agenda, one act a minute from its start."""

    def __init__(
        self,
        app: Workshops,
        programmes: Programmes,
        programme_id: UUID,
        *,
        code: str,
        region: str,
        title: str,
        starts_at: datetime,
        scheduled_at: datetime,
    ) -> None:
        self.app = app
        self.starts_at = starts_at
        self.minute = 0
        self.actor = f"facilitator:{code.lower()}"
        self.people: dict[str, UUID] = {}
        self.ideas: dict[str, UUID] = {}
        self.submitted: dict[str, datetime] = {}
        self.areas: dict[str, UUID] = {}
        self.projects: dict[str, UUID] = {}
        self.id = programmes.schedule_workshop(
            pc.ScheduleProgrammeWorkshop(
                programme_id=programme_id,
                code=code,
                title=title,
                region=region,
                venue="Town hall",
                starts_at=starts_at,
                agenda=SEED_AGENDA,
            ),
            meta_at(scheduled_at, "manager:jo"),
        )

    def meta(self, actor: str | None = None) -> Meta:
        self.minute += 1
        return meta_at(self.starts_at + timedelta(minutes=self.minute), actor or self.actor)

    def person(self, name: str) -> str:
        return f"participant:{name.lower()}"

    @property
    def workshop(self) -> Workshop:
        return self.app.load(Workshop, self.id, "workshop_id")

    def to(self, kind: PhaseKind) -> None:
        """Close the open phase and open the next ones until `kind` is open."""
        while True:
            w = self.workshop
            if w.phase_open and w.current_kind == kind:
                return
            if w.phase_open:
                self.app.close_phase(
                    c.ClosePhase(workshop_id=self.id, index=w.phase_index), self.meta()
                )
            self.app.open_phase(
                c.OpenPhase(workshop_id=self.id, index=w.phase_index + 1), self.meta()
            )

    def join(self, *names: str) -> None:
        for name in names:
            self.people[name] = self.app.join(
                c.JoinWorkshop(workshop_id=self.id, key=name.lower(), display_name=name),
                self.meta(self.person(name)),
            )

    def idea(self, key: str, author: str, text: str) -> None:
        self.ideas[key] = uuid4()
        meta = self.meta(self.person(author))
        self.submitted[key] = meta.at
        self.app.submit_idea(
            c.SubmitIdea(
                workshop_id=self.id,
                idea_id=self.ideas[key],
                author_id=self.people[author],
                text=text,
            ),
            meta,
        )

    def edit(self, key: str, author: str, text: str) -> None:
        cmd = c.EditIdea(idea_id=self.ideas[key], author_id=self.people[author], text=text)
        self.app.edit_idea(cmd, self.meta(self.person(author)))

    def withdraw(self, key: str, author: str) -> None:
        cmd = c.WithdrawIdea(idea_id=self.ideas[key], author_id=self.people[author])
        self.app.withdraw_idea(cmd, self.meta(self.person(author)))

    def merge(self, key: str, target: str) -> None:
        cmd = c.MergeIdea(idea_id=self.ideas[key], target_id=self.ideas[target])
        self.app.merge_idea(cmd, self.meta())

    def area(self, name: str, *ideas: str) -> None:
        self.areas[name] = self.app.define_key_area(
            c.DefineKeyArea(workshop_id=self.id, name=name), self.meta()
        )
        for key in ideas:
            cmd = c.GroupIdea(idea_id=self.ideas[key], key_area_id=self.areas[name])
            self.app.group_idea(cmd, self.meta())

    def propose(
        self, key: str, area: str, title: str, ideas: list[str], proposers: list[str]
    ) -> None:
        self.projects[key] = uuid4()
        self.app.propose_project(
            c.ProposeProject(
                workshop_id=self.id,
                project_id=self.projects[key],
                key_area_id=self.areas[area],
                title=title,
                summary=f"{title}: the group's plan",
                idea_ids=[self.ideas[i] for i in ideas],
                proposer_ids=[self.people[p] for p in proposers],
            ),
            self.meta(self.person(proposers[0])),
        )

    def revise(self, key: str, title: str, ideas: list[str], proposers: list[str]) -> None:
        self.app.revise_project(
            c.ReviseProject(
                project_id=self.projects[key],
                title=title,
                summary=f"{title}: the group's plan",
                idea_ids=[self.ideas[i] for i in ideas],
                proposer_ids=[self.people[p] for p in proposers],
            ),
            self.meta(self.person(proposers[0])),
        )

    def pitch(self, *keys: str) -> None:
        for key in keys:
            project = self.projects[key]
            self.app.start_pitch(c.StartPitch(workshop_id=self.id, project_id=project), self.meta())
            self.minute += 1
            self.app.end_pitch(c.EndPitch(workshop_id=self.id, project_id=project), self.meta())

    def vote(self, person: str, *projects: str) -> None:
        choices: dict[str, Any] = {str(self.projects[p]): 1 for p in projects}
        self.app.cast_ballot(
            c.CastBallot(workshop_id=self.id, participant_id=self.people[person], choices=choices),
            self.meta(self.person(person)),
        )

    def declare(self) -> Result:
        """Close the vote, open the closing phase and declare the results."""
        self.to(PhaseKind.CLOSED)
        return self.app.declare_results(c.DeclareResults(workshop_id=self.id), self.meta())


# ----- a programme manager ----------------------------------------------------------------


class Manager:
    """A programme, launched, and acts on its initiatives at given times."""

    def __init__(
        self,
        app: Workshops,
        name: str,
        regions: Sequence[str],
        launched_at: datetime,
        actor: str = "manager:jo",
    ) -> None:
        self.app = app
        self.programmes = Programmes(app)
        self.actor = actor
        self.id = self.programmes.launch(
            pc.LaunchProgramme(name=name, sponsor=f"{name} board", regions=list(regions)),
            meta_at(launched_at, actor),
        )

    def meta(self, at: datetime, actor: str | None = None) -> Meta:
        return meta_at(at, actor or self.actor)

    def workshop(
        self, code: str, region: str, title: str, starts_at: datetime, scheduled_at: datetime
    ) -> Day:
        return Day(
            self.app,
            self.programmes,
            self.id,
            code=code,
            region=region,
            title=title,
            starts_at=starts_at,
            scheduled_at=scheduled_at,
        )

    def adopt(self, workshop: Day, at: datetime) -> list[UUID]:
        return self.programmes.adopt_winners(
            pc.AdoptWinners(workshop_id=workshop.id), self.meta(at)
        )

    def add(self, title: str, region: str, reason: str, at: datetime) -> UUID:
        return self.programmes.add_initiative(
            pc.AddInitiative(
                programme_id=self.id,
                initiative_id=uuid4(),
                title=title,
                region=region,
                reason=reason,
            ),
            self.meta(at),
        )

    def owner(self, i: UUID, owner: str, at: datetime) -> None:
        self.programmes.assign_owner(pc.AssignOwner(initiative_id=i, owner=owner), self.meta(at))

    def move(self, i: UUID, stage: Stage, at: datetime, reason: str = "") -> None:
        cmd = pc.MoveInitiative(initiative_id=i, stage=stage, reason=reason)
        self.programmes.move(cmd, self.meta(at))

    def plan(self, i: UUID, title: str, due: datetime, at: datetime) -> UUID:
        milestone = uuid4()
        cmd = pc.PlanMilestone(initiative_id=i, milestone_id=milestone, title=title, due=due)
        self.programmes.plan_milestone(cmd, self.meta(at))
        return milestone

    def reschedule(self, i: UUID, m: UUID, due: datetime, reason: str, at: datetime) -> None:
        cmd = pc.RescheduleMilestone(initiative_id=i, milestone_id=m, due=due, reason=reason)
        self.programmes.reschedule_milestone(cmd, self.meta(at))

    def complete(self, i: UUID, m: UUID, at: datetime) -> None:
        cmd = pc.CompleteMilestone(initiative_id=i, milestone_id=m)
        self.programmes.complete_milestone(cmd, self.meta(at, "owner"))

    def progress(self, i: UUID, percent: int, status: Rag, note: str, at: datetime) -> None:
        cmd = pc.ReportProgress(initiative_id=i, percent=percent, status=status, note=note)
        self.programmes.report_progress(cmd, self.meta(at, "owner"))

    def overdue(self, i: UUID, m: UUID, at: datetime) -> None:
        cmd = pc.FlagOverdue(initiative_id=i, milestone_id=m)
        self.programmes.flag_overdue(cmd, self.meta(at, "workflow:reminders"))

    def stale(self, i: UUID, since: datetime, at: datetime) -> None:
        cmd = pc.FlagStale(initiative_id=i, since=since)
        self.programmes.flag_stale(cmd, self.meta(at, "workflow:reminders"))

    def remind(self, i: UUID, kind: str, about: str, at: datetime) -> None:
        cmd = pc.RecordReminder(initiative_id=i, kind=kind, about=about)
        self.programmes.record_reminder(cmd, self.meta(at, "workflow:reminders"))

    def review(self, i: UUID, due: datetime, at: datetime) -> None:
        cmd = pc.ScheduleBenefitsReview(initiative_id=i, due=due)
        self.programmes.schedule_benefits_review(cmd, self.meta(at))

    def benefit(self, i: UUID, measure: str, amount: float, evidence: str, at: datetime) -> None:
        cmd = pc.RecordBenefit(initiative_id=i, measure=measure, amount=amount, evidence=evidence)
        self.programmes.record_benefit(cmd, self.meta(at))

    def follow_up(self, i: UUID, workshop: Day, at: datetime) -> None:
        cmd = pc.LinkFollowUp(initiative_id=i, workshop_id=workshop.id)
        self.programmes.link_follow_up(cmd, self.meta(at))

    def region(self, i: UUID, region: str, at: datetime) -> None:
        cmd = pc.AdoptInRegion(initiative_id=i, region=region)
        self.programmes.adopt_in_region(cmd, self.meta(at))


# ----- the story ----------------------------------------------------------------------------


@dataclass
class Story:
    """What `south_west` did, by name."""

    south_west: Manager
    north_east: Manager
    devon: Day
    cornwall: Day
    northumberland: Day
    initiatives: dict[str, UUID] = field(default_factory=dict)
    milestones: dict[str, UUID] = field(default_factory=dict)
    results: dict[str, Result] = field(default_factory=dict)
    position: int = 0  # the log position after the last act


def devon_day(sw: Manager) -> tuple[Day, Result]:
    d = sw.workshop(
        "SW-DEVON", "devon", "Devon ICT strategy day", day(2010, 7, 2, 9, 30), day(2010, 6, 2)
    )
    d.to(PhaseKind.BRAINSTORM)
    d.join("Ann", "Bob", "Cat", "Dan", "Eve")
    d.idea("i0", "Ann", "Regional workshop for chief executives on shared ICT")
    d.idea("i1", "Bob", "Shared cloud hosting for council websites")
    d.idea("i2", "Cat", "Mentoring scheme for junior ICT staff")
    d.idea("i3", "Dan", "Open data protal")
    d.idea("i4", "Eve", "Chief executives' away day")
    d.idea("i5", "Ann", "Mentoring circle for junior staff")
    d.idea("i6", "Bob", "CEO roundtable on digital leadership")
    d.edit("i3", "Dan", "Open data portal for the region")
    d.merge("i4", "i0")
    d.withdraw("i5", "Ann")
    d.to(PhaseKind.GROUPING)
    d.area("Leadership", "i0", "i6")
    d.area("Cloud", "i1", "i3")
    d.area("Skills", "i2")
    d.to(PhaseKind.DISCUSSION)
    d.propose("A", "Leadership", "CEO workshop", ["i0"], ["Ann", "Bob"])
    d.propose("B", "Cloud", "Shared cloud", ["i1", "i3"], ["Bob"])
    d.propose("C", "Skills", "Mentoring scheme", ["i2"], ["Cat"])
    d.revise("A", "Regional CEO workshop", ["i0", "i6"], ["Ann", "Bob"])
    d.to(PhaseKind.PITCHES)
    d.pitch("A", "B", "C")
    d.to(PhaseKind.VOTE)
    for person in ("Ann", "Bob", "Cat", "Dan"):
        d.vote(person, "A")
    d.vote("Eve", "B")
    return d, d.declare()


def northumberland_day(ne: Manager) -> Day:
    """Another programme's workshop: the same words as Devon's i0, earlier than Cornwall's."""
    d = ne.workshop(
        "NE-NORTHUMBERLAND",
        "Northumberland",
        "Northumberland digital day",
        day(2010, 8, 1, 9, 30),
        day(2010, 7, 1),
    )
    d.to(PhaseKind.BRAINSTORM)
    d.join("Nia", "Ned")
    d.idea("n0", "Nia", "Regional workshop for chief executives on shared ICT")
    d.idea("n1", "Ned", "Open data portal for the county")
    return d


def cornwall_day(d: Day) -> Result:
    d.to(PhaseKind.BRAINSTORM)
    d.join("Fay", "Gus", "Hal", "Ida")
    d.idea("j0", "Fay", "A regional workshop for council chief executives")
    d.idea("j1", "Gus", "Open data portal for the county")
    d.idea("j2", "Hal", "Mentoring for junior ICT staff across councils")
    d.idea("j3", "Ida", "Text message reminders for bin collections")
    d.to(PhaseKind.GROUPING)
    d.area("Data", "j1")
    d.area("Skills", "j2")
    d.to(PhaseKind.DISCUSSION)
    d.propose("D", "Data", "Open data portal", ["j1"], ["Gus"])
    d.propose("E", "Skills", "Mentoring network", ["j2"], ["Hal"])
    d.to(PhaseKind.PITCHES)
    d.pitch("D", "E")
    d.to(PhaseKind.VOTE)
    d.vote("Fay", "D")
    d.vote("Gus", "D")
    d.vote("Hal", "E")
    d.vote("Ida", "E")
    return d.declare()


def south_west(app: Workshops, i1_owner: str = "Jo Bloggs") -> Story:
    """The whole story, in the order things happened (see the module's docstring).

    `i1_owner` is the text the manager types for the first initiative's owner.
    """
    sw = Manager(app, "South West ICT", ["Devon", "Cornwall", "Somerset"], day(2010, 6, 1))
    ne = Manager(app, "North East digital", ["Northumberland", "Durham"], day(2010, 6, 1, 10))
    devon, devon_result = devon_day(sw)

    (i1,) = sw.adopt(devon, day(2010, 7, 5))
    sw.owner(i1, i1_owner, day(2010, 7, 6))
    sw.move(i1, Stage.APPROVED, day(2010, 7, 7))
    m1 = sw.plan(i1, "Book the venue", day(2010, 8, 1), day(2010, 7, 7, 10))
    m2 = sw.plan(i1, "Hold the CEO workshop", day(2010, 9, 30), day(2010, 7, 7, 11))
    m3 = sw.plan(i1, "Write up outcomes", day(2010, 12, 1), day(2010, 7, 7, 12))
    sw.move(i1, Stage.IN_DELIVERY, day(2010, 7, 8))
    sw.complete(i1, m1, day(2010, 7, 28))

    northumberland = northumberland_day(ne)

    sw.progress(i1, 30, Rag.GREEN, "Venue booked", day(2010, 8, 2))
    cornwall = sw.workshop(
        "SW-CORNWALL",
        "Cornwall",
        "Cornwall ICT strategy day",
        day(2010, 9, 10, 9, 30),
        day(2010, 8, 10),
    )
    sw.follow_up(i1, cornwall, day(2010, 8, 10, 10))
    cornwall_result = cornwall_day(cornwall)

    adopted = sw.adopt(cornwall, day(2010, 9, 13))  # the tied winners, by title
    i2, i3 = (adopted_id(cornwall.projects[key]) for key in ("D", "E"))
    assert adopted == [i3, i2]
    sw.owner(i2, "Kim Lee", day(2010, 9, 14))
    sw.owner(i3, "Lou Grant", day(2010, 9, 14, 10))
    sw.move(i2, Stage.APPROVED, day(2010, 9, 15))
    sw.move(i3, Stage.APPROVED, day(2010, 9, 15, 10))
    sw.move(i3, Stage.IN_DELIVERY, day(2010, 9, 16))
    n1 = sw.plan(i3, "Match mentors", day(2010, 10, 15), day(2010, 9, 16, 10))
    n2 = sw.plan(i3, "Launch event", day(2010, 10, 25), day(2010, 9, 16, 11))
    i4 = sw.add(
        "Shared service desk", "Somerset", "Carried over from the 2009 plan", day(2010, 9, 20)
    )
    sw.move(i2, Stage.IN_DELIVERY, day(2010, 9, 20, 10))

    sw.overdue(i1, m2, day(2010, 10, 1))
    sw.remind(i1, "milestone_overdue", "Hold the CEO workshop", day(2010, 10, 1, 9, 5))
    sw.reschedule(i1, m2, day(2010, 10, 29), "Venue moved to Truro", day(2010, 10, 2))
    sw.overdue(i3, n1, day(2010, 10, 16))
    sw.stale(i2, day(2010, 10, 5), day(2010, 10, 20))
    sw.stale(i3, day(2010, 10, 1), day(2010, 10, 20, 9, 1))
    sw.remind(i3, "stale", "", day(2010, 10, 20, 9, 2))
    sw.progress(i2, 50, Rag.AMBER, "Data cleaning is slower than planned", day(2010, 10, 25))
    sw.complete(i1, m2, day(2010, 10, 28))
    sw.region(i1, "cornwall", day(2010, 10, 30))
    sw.progress(i1, 90, Rag.GREEN, "Workshop held in Truro", day(2010, 11, 15))
    sw.move(i2, Stage.DELIVERED, day(2010, 12, 1))
    sw.benefit(i2, "money_saved", 5000, "Hosting costs cut", day(2010, 12, 5))
    sw.complete(i1, m3, day(2010, 12, 10))
    sw.benefit(i1, "staff_time_saved", 300, "Shared service desk timesheets", day(2010, 12, 10, 10))
    sw.move(i1, Stage.DELIVERED, day(2011, 1, 14, 12))
    sw.review(i1, day(2011, 7, 1), day(2011, 1, 15))
    sw.benefit(i1, "money_saved", 12000, "Two data centres closed", day(2011, 1, 20))
    sw.benefit(i1, "money_saved", 3000.5, "Licences pooled", day(2011, 2, 1))

    return Story(
        south_west=sw,
        north_east=ne,
        devon=devon,
        cornwall=cornwall,
        northumberland=northumberland,
        initiatives={"I1": i1, "I2": i2, "I3": i3, "I4": i4},
        milestones={"M1": m1, "M2": m2, "M3": m3, "N1": n1, "N2": n2},
        results={"devon": devon_result, "cornwall": cornwall_result},
        position=app.max_position(),
    )


# ----- infrastructure -----------------------------------------------------------------------


@contextmanager
def application(url: str) -> Iterator[Workshops]:
    app = Workshops(env=postgres_env(url))
    try:
        yield app
    finally:
        app.close()


@contextmanager
def runner_of(
    url: str, projection: type[Projection[V]], view: type[V]
) -> Iterator[ProjectionRunner[Workshops, V]]:
    """A running projection on the database at `url`; stopped and its view closed after."""
    runner = ProjectionRunner(
        application_class=Workshops,
        projection_class=projection,
        view_class=view,
        env=postgres_env(url),
    )
    try:
        with runner:
            yield runner
    finally:
        runner.view.close()


def dump_tables(url: str, tables: Sequence[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the given tables, in a stable order."""
    dump: dict[str, list[tuple[Any, ...]]] = {}
    with psycopg.connect(url) as conn:
        for table in tables:
            dump[table] = conn.execute(
                sql.SQL("SELECT * FROM {} t ORDER BY t::text").format(sql.Identifier(table))
            ).fetchall()
    return dump
