"""A room of participants acting through the application directly (not through pages),
while the facilitator runs the workshop from the console in the browser."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

from domain import commands as c
from domain.agenda import SEED_AGENDA
from domain.meta import Meta
from services.app import Workshops


def now_meta(actor: str) -> Meta:
    return Meta(actor=actor, at=datetime.now(UTC), correlation_id=uuid4(), causation_id=uuid4())


def schedule(app: Workshops, code: str, title: str = "Housing day") -> UUID:
    cmd = c.ScheduleWorkshop(
        code=code,
        title=title,
        region="Devon",
        venue="Exeter",
        starts_at=datetime.now(UTC).replace(second=0, microsecond=0),
        agenda=SEED_AGENDA,
    )
    return app.schedule(cmd, now_meta("facilitator:test"))


class Crowd:
    """Participants of one workshop, each acting as themselves."""

    def __init__(self, app: Workshops, workshop_id: UUID) -> None:
        self.app = app
        self.id = workshop_id
        self.people: dict[str, UUID] = {}

    def join(self, name: str) -> UUID:
        cmd = c.JoinWorkshop(
            workshop_id=self.id, key=name.lower(), display_name=name, organisation="Council"
        )
        self.people[name] = self.app.join(cmd, now_meta("participant:self"))
        return self.people[name]

    def idea(self, name: str, text: str) -> UUID:
        who = self.people[name]
        idea = uuid4()
        cmd = c.SubmitIdea(workshop_id=self.id, idea_id=idea, author_id=who, text=text)
        self.app.submit_idea(cmd, now_meta(f"participant:{who}"))
        return idea

    def sign_up(self, name: str, area: UUID) -> None:
        who = self.people[name]
        cmd = c.SignUpToGroup(workshop_id=self.id, participant_id=who, key_area_id=area)
        self.app.sign_up(cmd, now_meta(f"participant:{who}"))

    def propose(self, name: str, area: UUID, title: str, ideas: list[UUID]) -> UUID:
        who = self.people[name]
        project = uuid4()
        cmd = c.ProposeProject(
            workshop_id=self.id,
            project_id=project,
            key_area_id=area,
            title=title,
            summary=f"{title}: the group's plan",
            idea_ids=ideas,
            proposer_ids=[who],
        )
        self.app.propose_project(cmd, now_meta(f"participant:{who}"))
        return project

    def vote(self, name: str, project: UUID) -> None:
        who = self.people[name]
        cmd = c.CastBallot(workshop_id=self.id, participant_id=who, choices={str(project): 1})
        self.app.cast_ballot(cmd, now_meta(f"participant:{who}"))
