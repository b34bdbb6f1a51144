"""A small world for the event feed's tests: a programme workshop, a workshop on its own.

People have names and organisations nobody else uses, so a test can search
the feed's JSON for them: they must never appear. Participants act as
`participant:<id>` (or `participant:self` when joining), as the application's
own callers do; the facilitator and manager act under role names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from domain import commands as c
from domain import programme_commands as pc
from domain.agenda import SEED_AGENDA, PhaseKind, VotingRules
from domain.meta import Meta
from domain.workshop import Workshop
from services.app import Workshops
from services.programmes import Programmes

START = datetime(2010, 7, 2, 9, 30, tzinfo=UTC)

# Names and organisations found nowhere else in the log.
PEOPLE = {
    "Zebedee Quartermaine": "Xylofax Borough Council",
    "Ottoline Vanderpump": "Quillfeather Health Trust",
    "Barnabus Wintergreen": "Plumtree Fire Service",
}
OWNER = "Hepzibah Mulgrave <hepzibah.mulgrave@example.org>"
SECRETS = (*PEOPLE, *PEOPLE.values(), "Hepzibah", "Mulgrave", "hepzibah.mulgrave")


def meta(at: datetime, actor: str) -> Meta:
    return Meta(actor=actor, at=at, correlation_id=uuid4(), causation_id=uuid4())


class Room:
    """One workshop driven through its agenda, one act a minute."""

    def __init__(self, app: Workshops, workshop_id: UUID) -> None:
        self.app = app
        self.id = workshop_id
        self.minute = 0
        self.people: dict[str, UUID] = {}
        self.areas: dict[str, UUID] = {}
        self.ideas: list[UUID] = []
        self.projects: list[UUID] = []

    def meta(self, actor: str = "facilitator:test") -> Meta:
        self.minute += 1
        return meta(START + timedelta(minutes=self.minute), actor)

    def to(self, kind: PhaseKind) -> None:
        while True:
            w = self.app.load(Workshop, self.id, "workshop_id")
            if w.phase_open and w.current_kind == kind:
                return
            if w.phase_open:
                self.app.close_phase(
                    c.ClosePhase(workshop_id=self.id, index=w.phase_index), self.meta()
                )
            self.app.open_phase(
                c.OpenPhase(workshop_id=self.id, index=w.phase_index + 1), self.meta()
            )

    def join(self, name: str, organisation: str) -> UUID:
        cmd = c.JoinWorkshop(
            workshop_id=self.id, key=name.lower(), display_name=name, organisation=organisation
        )
        self.people[name] = self.app.join(cmd, self.meta("participant:self"))
        return self.people[name]

    def idea(self, author: str, text: str) -> UUID:
        idea = uuid4()
        person = self.people[author]
        cmd = c.SubmitIdea(workshop_id=self.id, idea_id=idea, author_id=person, text=text)
        self.app.submit_idea(cmd, self.meta(f"participant:{person}"))
        self.ideas.append(idea)
        return idea

    def area(self, name: str, capacity: int | None = None) -> UUID:
        area = self.app.define_key_area(
            c.DefineKeyArea(workshop_id=self.id, name=name), self.meta()
        )
        if capacity is not None:
            cmd = c.SetGroupCapacity(workshop_id=self.id, key_area_id=area, capacity=capacity)
            self.app.set_group_capacity(cmd, self.meta())
        self.areas[name] = area
        return area

    def group(self, idea: UUID, area: str) -> None:
        self.app.group_idea(c.GroupIdea(idea_id=idea, key_area_id=self.areas[area]), self.meta())

    def sign_up(self, person: str, area: str) -> None:
        who = self.people[person]
        cmd = c.SignUpToGroup(workshop_id=self.id, participant_id=who, key_area_id=self.areas[area])
        self.app.sign_up(cmd, self.meta(f"participant:{who}"))

    def propose(self, area: str, title: str, proposer: str) -> UUID:
        project = uuid4()
        who = self.people[proposer]
        cmd = c.ProposeProject(
            workshop_id=self.id,
            project_id=project,
            key_area_id=self.areas[area],
            title=title,
            summary=f"{title}: the group's plan",
            idea_ids=self.ideas[:1],
            proposer_ids=[who],
        )
        self.app.propose_project(cmd, self.meta(f"participant:{who}"))
        self.projects.append(project)
        return project

    def pitch(self, project: UUID) -> None:
        self.app.start_pitch(c.StartPitch(workshop_id=self.id, project_id=project), self.meta())
        self.app.end_pitch(c.EndPitch(workshop_id=self.id, project_id=project), self.meta())

    def vote(self, person: str, project: UUID) -> None:
        who = self.people[person]
        choices: dict[str, Any] = {str(project): 1}
        cmd = c.CastBallot(workshop_id=self.id, participant_id=who, choices=choices)
        self.app.cast_ballot(cmd, self.meta(f"participant:{who}"))

    def declare(self) -> None:
        self.to(PhaseKind.CLOSED)
        self.app.declare_results(c.DeclareResults(workshop_id=self.id), self.meta())


@dataclass
class World:
    programme_id: UUID
    programme_room: Room
    lone_room: Room
    initiative_id: UUID
    people: dict[str, UUID] = field(default_factory=dict)


def run_day(room: Room) -> None:
    """Every person joins, has an idea, signs up (a capped group: seats), proposes and votes."""
    room.app.publish_briefing(c.PublishBriefing(workshop_id=room.id, text="The plan."), room.meta())
    room.to(PhaseKind.BRAINSTORM)
    for name, organisation in PEOPLE.items():
        room.join(name, organisation)
        room.idea(name, f"an idea from the room ({len(room.ideas)})")
    room.to(PhaseKind.GROUPING)
    room.area("Cloud", capacity=2)
    room.area("Skills")
    for idea in room.ideas:
        room.group(idea, "Cloud")
    room.to(PhaseKind.SIGNUP)
    names = list(PEOPLE)
    room.sign_up(names[0], "Cloud")
    room.sign_up(names[1], "Cloud")
    room.sign_up(names[2], "Skills")
    room.to(PhaseKind.DISCUSSION)
    project = room.propose("Cloud", "Shared cloud", names[0])
    room.to(PhaseKind.PITCHES)
    room.pitch(project)
    room.to(PhaseKind.VOTE)
    for name in names:
        room.vote(name, project)
    room.declare()


def lone_workshop(app: Workshops) -> Room:
    cmd = c.ScheduleWorkshop(
        code=f"LONE-{uuid4().hex[:6]}",
        title="A workshop on its own",
        region="Wales",
        venue="Cardiff",
        starts_at=START,
        agenda=SEED_AGENDA,
        voting=VotingRules(),
    )
    return Room(app, app.schedule(cmd, meta(START, "facilitator:test")))


def build_world(app: Workshops) -> World:
    """A programme with a workshop run to its results and an initiative with an owner,
    and a workshop outside any programme, briefly under way."""
    programmes = Programmes(app)
    manager = "manager:test"
    programme_id = programmes.launch(
        pc.LaunchProgramme(name=f"Feed {uuid4().hex[:6]}", sponsor="Board", regions=["Devon"]),
        meta(START, manager),
    )
    workshop_id = programmes.schedule_workshop(
        pc.ScheduleProgrammeWorkshop(
            programme_id=programme_id,
            code=f"DEV-{uuid4().hex[:6]}",
            title="Devon day",
            region="Devon",
            venue="Exeter",
            starts_at=START,
            agenda=SEED_AGENDA,
        ),
        meta(START, manager),
    )
    lone = lone_workshop(app)
    room = Room(app, workshop_id)
    run_day(room)
    lone.app.publish_briefing(c.PublishBriefing(workshop_id=lone.id, text="Hello."), lone.meta())
    lone.to(PhaseKind.BRAINSTORM)
    initiative_id = programmes.add_initiative(
        pc.AddInitiative(
            programme_id=programme_id,
            initiative_id=uuid4(),
            title="Shared cloud",
            region="Devon",
            reason="Board request",
        ),
        meta(START, manager),
    )
    programmes.assign_owner(
        pc.AssignOwner(initiative_id=initiative_id, owner=OWNER), meta(START, manager)
    )
    return World(programme_id, room, lone, initiative_id, dict(room.people))
