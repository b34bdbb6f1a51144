"""Walk a workshop through the real application, phase by phase, for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from domain import commands as c
from domain.agenda import SEED_AGENDA, Agenda, PhaseKind, VotingRules
from domain.meta import Meta
from domain.workshop import Workshop
from services.app import Workshops

START = datetime(2010, 7, 2, 9, 30, tzinfo=UTC)


class Walk:
    def __init__(
        self, app: Workshops, agenda: Agenda = SEED_AGENDA, voting: VotingRules | None = None
    ) -> None:
        self.app = app
        self.minute = 0
        self.id = app.schedule(
            c.ScheduleWorkshop(
                code=f"T-{uuid4().hex[:8]}",
                title="Test workshop",
                region="South West",
                venue="Exeter",
                starts_at=START,
                agenda=agenda,
                voting=voting or VotingRules(),
            ),
            self.meta(),
        )

    def meta(self, actor: str = "facilitator:test") -> Meta:
        self.minute += 1
        return Meta(
            actor=actor,
            at=START + timedelta(minutes=self.minute),
            correlation_id=uuid4(),
            causation_id=uuid4(),
        )

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

    def join(self, count: int) -> list[UUID]:
        return [
            self.app.join(
                c.JoinWorkshop(workshop_id=self.id, key=uuid4().hex, display_name=f"Person {n}"),
                self.meta("participant:self"),
            )
            for n in range(count)
        ]

    def idea(self, author: UUID, text: str = "An idea") -> UUID:
        idea_id = uuid4()
        self.app.submit_idea(
            c.SubmitIdea(workshop_id=self.id, idea_id=idea_id, author_id=author, text=text),
            self.meta(f"participant:{author}"),
        )
        return idea_id

    def area(self, name: str, capacity: int | None = None) -> UUID:
        area = self.app.define_key_area(
            c.DefineKeyArea(workshop_id=self.id, name=name), self.meta()
        )
        if capacity is not None:
            self.app.set_group_capacity(
                c.SetGroupCapacity(workshop_id=self.id, key_area_id=area, capacity=capacity),
                self.meta(),
            )
        return area

    def project(self, area: UUID, proposers: list[UUID], title: str = "A project") -> UUID:
        project_id = uuid4()
        self.app.propose_project(
            c.ProposeProject(
                workshop_id=self.id,
                project_id=project_id,
                key_area_id=area,
                title=title,
                proposer_ids=proposers,
            ),
            self.meta(),
        )
        return project_id

    def vote(self, voter: UUID, choices: dict[str, object]) -> int:
        return self.app.cast_ballot(
            c.CastBallot(workshop_id=self.id, participant_id=voter, choices=choices),
            self.meta(f"participant:{voter}"),
        )


def ready_to_vote(
    app: Workshops, voting: VotingRules | None = None, voters: int = 3
) -> tuple[Walk, list[UUID], list[UUID]]:
    """A workshop in its vote phase with `voters` participants and two projects."""
    walk = Walk(app, voting=voting)
    walk.to(PhaseKind.BRAINSTORM)
    people = walk.join(voters)
    walk.to(PhaseKind.GROUPING)
    area = walk.area("Cloud")
    walk.to(PhaseKind.DISCUSSION)
    projects = [walk.project(area, people[:1], "First"), walk.project(area, people[1:2], "Second")]
    walk.to(PhaseKind.VOTE)
    return walk, people, projects
