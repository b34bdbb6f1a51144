"""Programmes and initiatives through the application service on a real PostgreSQL."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pydantic
import pytest

from domain import commands as c
from domain import programme_commands as pc
from domain.agenda import SEED_AGENDA, SEED_CRITERIA, Criterion, PhaseKind, VotingRules
from domain.errors import AlreadyExists, InvalidInput, UnknownId, WrongPhase
from domain.initiative import Initiative, Rag, Stage, adopted_id
from domain.meta import Meta
from domain.programme import Programme, programme_id
from domain.tally import Result
from domain.workshop import Workshop
from services.app import Workshops
from services.persistence import postgres_env
from services.programmes import Programmes

from .test_app import rejected
from .walk import START, Walk

pytestmark = pytest.mark.integration

NAME = "South West ICT programme"
REGIONS = ["South West", "South East", "London"]
MANAGER = "manager:pat"
OWNER = "Alex Owner"
V2 = (Criterion(name="cheap", weight=2), Criterion(name="fast", weight=1))
V3 = (Criterion(name="popular"),)


@pytest.fixture
def app(fresh_database_url: str) -> Iterator[Workshops]:
    application = Workshops(env=postgres_env(fresh_database_url))
    yield application
    application.close()


@pytest.fixture
def service(app: Workshops) -> Programmes:
    return Programmes(app)


def act(actor: str = MANAGER, at: datetime = START) -> Meta:
    return Meta(actor=actor, at=at, correlation_id=uuid4(), causation_id=uuid4())


def launch(service: Programmes, name: str = NAME, **changes: Any) -> UUID:
    args: dict[str, Any] = {"name": name, "sponsor": "SOCITM", "regions": REGIONS}
    args.update(changes)
    return service.launch(pc.LaunchProgramme(**args), act())


def event_names(app: Workshops, stream: UUID) -> list[str]:
    return [type(e).__name__ for e in app.events.get(stream)]


class ProgrammeWalk(Walk):
    """A Walk over a workshop scheduled into a programme through the service."""

    def __init__(
        self,
        service: Programmes,
        programme: UUID,
        *,
        region: str = "South West",
        starts_at: datetime = START,
        title: str = "South West ICT strategy day",
        voting: VotingRules | None = None,
    ) -> None:
        self.app = service.app
        self.minute = 0
        self.id = service.schedule_workshop(
            pc.ScheduleProgrammeWorkshop(
                programme_id=programme,
                code=f"P-{uuid4().hex[:8]}",
                title=title,
                region=region,
                starts_at=starts_at,
                agenda=SEED_AGENDA,
                voting=voting or VotingRules(),
            ),
            self.meta(MANAGER),
        )


def decided(
    service: Programmes, programme: UUID, *, tie: bool = False, **where: Any
) -> tuple[ProgrammeWalk, list[UUID], Result]:
    """A programme workshop run to declared results: 'Regional CEO workshop' wins."""
    walk = ProgrammeWalk(service, programme, **where)
    walk.to(PhaseKind.BRAINSTORM)
    people = walk.join(3)
    walk.to(PhaseKind.GROUPING)
    cloud = walk.area("Cloud")
    walk.area("Skills")
    walk.to(PhaseKind.DISCUSSION)
    projects = [
        walk.project(cloud, people[:1], "Regional CEO workshop"),
        walk.project(cloud, people[1:2], "Shared service desk"),
    ]
    walk.to(PhaseKind.VOTE)
    walk.vote(people[0], {str(projects[0]): 1})
    walk.vote(people[1], {str(projects[1 if tie else 0]): 1})
    walk.to(PhaseKind.CLOSED)
    result = service.app.declare_results(c.DeclareResults(workshop_id=walk.id), walk.meta())
    return walk, projects, result


# ----- launching and scheduling --------------------------------------------------


def test_a_programme_is_launched_once_per_name(app: Workshops, service: Programmes) -> None:
    pid = launch(service)
    assert pid == programme_id(NAME)
    programme = service.programme(pid)
    assert (programme.name, programme.sponsor, programme.regions) == (NAME, "SOCITM", REGIONS)
    assert programme.criteria() == SEED_CRITERIA and programme.criteria_version == 1
    assert event_names(app, pid) == ["Launched"]
    rejected(app, AlreadyExists, "name", lambda: launch(service, " south west ICT PROGRAMME "))
    rejected(app, InvalidInput, "name", lambda: launch(service, "   "))
    rejected(
        app,
        InvalidInput,
        "regions",
        lambda: launch(service, "Other", regions=["London", " london"]),
    )
    rejected(app, UnknownId, "programme_id", lambda: service.programme(uuid4()))


def test_a_workshop_is_scheduled_into_a_programme_on_its_criteria(
    app: Workshops, service: Programmes
) -> None:
    pid = launch(service)

    def schedule(region: str, code: str = "SW-1", programme: UUID = pid) -> UUID:
        cmd = pc.ScheduleProgrammeWorkshop(
            programme_id=programme,
            code=code,
            title="South West ICT strategy day",
            region=region,
            starts_at=START,
            agenda=SEED_AGENDA,
            voting=VotingRules(criteria=(Criterion(name="my own"),)),
        )
        return service.schedule_workshop(cmd, act())

    rejected(app, InvalidInput, "region", lambda: schedule("Narnia"))
    rejected(app, UnknownId, "programme_id", lambda: schedule("London", programme=uuid4()))
    rejected(app, InvalidInput, "code", lambda: schedule("London", code="bad code"))
    workshop_id = schedule(" south WEST")
    workshop = app.load(Workshop, workshop_id, "workshop_id")
    assert workshop.programme_id == pid
    assert workshop.criteria_version == 1
    assert workshop.voting.criteria == SEED_CRITERIA  # the programme's, not the command's
    assert workshop.region == "South West"  # the programme's spelling
    scheduled = service.programme(pid).workshops[workshop_id]
    assert (scheduled.region, scheduled.starts_at) == ("South West", START)
    assert event_names(app, pid) == ["Launched", "WorkshopScheduled"]
    # The same code again: neither the workshop nor the programme records anything.
    rejected(app, AlreadyExists, "code", lambda: schedule("London"))
    assert list(service.programme(pid).workshops) == [workshop_id]
    other = launch(service, "Another programme")
    rejected(app, AlreadyExists, "code", lambda: schedule("London", programme=other))
    assert service.programme(other).workshops == {}
    service.close(pc.CloseProgramme(programme_id=pid), act())
    rejected(app, WrongPhase, "programme_id", lambda: schedule("London", code="SW-2"))
    rejected(
        app,
        WrongPhase,
        "programme_id",
        lambda: service.close(pc.CloseProgramme(programme_id=pid), act()),
    )


# ----- criteria versions -----------------------------------------------------------


def test_a_workshop_scores_ballots_on_the_criteria_in_force_when_its_vote_opened(
    app: Workshops, service: Programmes
) -> None:
    pid = launch(service)
    walk = ProgrammeWalk(service, pid, voting=VotingRules(method="scores"))
    walk.to(PhaseKind.BRAINSTORM)
    people = walk.join(3)
    # Revised after scheduling, before the vote: the workshop still holds version 1.
    revise = pc.ReviseCriteria(programme_id=pid, criteria=list(V2))
    service.revise_criteria(revise, act())
    assert service.programme(pid).criteria_version == 2
    assert walk.workshop.criteria_version == 1
    bad = pc.ReviseCriteria(programme_id=pid, criteria=[Criterion(name="A"), Criterion(name="a")])
    rejected(app, InvalidInput, "criteria", lambda: service.revise_criteria(bad, act()))
    walk.to(PhaseKind.GROUPING)
    area = walk.area("Cloud")
    walk.to(PhaseKind.DISCUSSION)
    first = walk.project(area, people[:1], "First")
    second = walk.project(area, people[1:2], "Second")
    walk.to(PhaseKind.PITCHES)
    assert "CriteriaAdopted" not in event_names(app, walk.id)

    walk.to(PhaseKind.VOTE)
    names = event_names(app, walk.id)
    assert names.count("CriteriaAdopted") == 1
    assert names[-2:] == ["CriteriaAdopted", "PhaseOpened"]  # adopted as the vote opened
    [adopted] = [e for e in app.events.get(walk.id) if type(e).__name__ == "CriteriaAdopted"]
    assert adopted.version == 2
    workshop = walk.workshop
    assert workshop.criteria_version == 2 and workshop.voting.criteria == V2

    def marks(criteria: tuple[Criterion, ...], score: int = 3) -> dict[str, object]:
        return {str(first): {cr.name: score for cr in criteria}}

    rejected(app, InvalidInput, "choices", lambda: walk.vote(people[0], marks(SEED_CRITERIA)))
    walk.vote(
        people[0], {str(first): {"cheap": 5, "fast": 1}, str(second): {"cheap": 1, "fast": 5}}
    )

    # Revised again once the vote is open: the workshop keeps version 2.
    service.revise_criteria(pc.ReviseCriteria(programme_id=pid, criteria=list(V3)), act())
    assert service.programme(pid).criteria_version == 3
    assert service.programme(pid).criteria(2) == V2
    rejected(app, InvalidInput, "choices", lambda: walk.vote(people[1], marks(V3)))
    walk.vote(people[1], marks(V2, 2))
    walk.to(PhaseKind.CLOSED)
    workshop = walk.workshop
    assert workshop.criteria_version == 2 and workshop.voting.criteria == V2
    assert event_names(app, walk.id).count("CriteriaAdopted") == 1

    result = app.declare_results(c.DeclareResults(workshop_id=walk.id), walk.meta())
    totals = {t.project_id: t.total for t in result.totals}
    # Weighted on version 2: cheap x2, fast x1.
    assert totals == {first: (5 * 2 + 1) + (2 * 2 + 2), second: 1 * 2 + 5}
    assert result.winners == [first]


def test_a_vote_opening_on_the_version_it_was_scheduled_with_adopts_nothing(
    app: Workshops, service: Programmes
) -> None:
    pid = launch(service)
    walk = ProgrammeWalk(service, pid)
    walk.to(PhaseKind.VOTE)
    assert "CriteriaAdopted" not in event_names(app, walk.id)
    assert walk.workshop.criteria_version == 1


# ----- briefing drafts -----------------------------------------------------------


def test_a_later_workshops_draft_tells_what_earlier_ones_found(
    app: Workshops, service: Programmes
) -> None:
    pid = launch(service)
    first_walk = ProgrammeWalk(service, pid)
    first_draft = service.draft_briefing(pc.DraftBriefing(workshop_id=first_walk.id), act())
    assert "This is the programme's first workshop." in first_draft
    assert first_draft.startswith(f"Briefing for the South West workshop of {NAME}")

    walk, _, _ = decided(service, pid, starts_at=START + timedelta(days=1))
    [initiative] = service.adopt_winners(pc.AdoptWinners(workshop_id=walk.id), act())
    service.assign_owner(pc.AssignOwner(initiative_id=initiative, owner=OWNER), act())
    service.move(pc.MoveInitiative(initiative_id=initiative, stage=Stage.APPROVED), act())
    service.report_progress(
        pc.ReportProgress(initiative_id=initiative, percent=10, status=Rag.AMBER), act()
    )

    later = ProgrammeWalk(
        service, pid, region="London", starts_at=START + timedelta(days=30), title="London day"
    )
    draft = pc.DraftBriefing(workshop_id=later.id)
    text = service.draft_briefing(draft, act())
    assert text.startswith(f"Briefing for the London workshop of {NAME}, Sunday 01 August 2010.")
    assert "first workshop" not in text
    assert "- South West ICT strategy day (South West, 03 July 2010)" in text
    assert "  key areas: Cloud; Skills" in text
    assert "  winning projects: Regional CEO workshop" in text
    # Whether it has an owner, not who: the draft is recorded, and a name there could
    # never be erased.
    assert "- Regional CEO workshop: approved, amber, owner assigned (South West)" in text
    assert OWNER not in text
    # A workshop scheduled but not yet run adds a line with nothing found yet.
    assert "- South West ICT strategy day (South West, 02 July 2010)" in text
    assert later.workshop.briefing_draft == text

    # Drafting again returns the same draft and records nothing.
    before = app.max_position()
    assert service.draft_briefing(draft, act()) == text
    assert app.max_position() == before
    assert event_names(app, later.id).count("BriefingDrafted") == 1


def test_only_a_programme_workshop_gets_a_drafted_briefing(
    app: Workshops, service: Programmes
) -> None:
    plain = Walk(app)
    rejected(
        app,
        WrongPhase,
        "workshop_id",
        lambda: service.draft_briefing(pc.DraftBriefing(workshop_id=plain.id), act()),
    )
    rejected(
        app,
        UnknownId,
        "workshop_id",
        lambda: service.draft_briefing(pc.DraftBriefing(workshop_id=uuid4()), act()),
    )


# ----- adopting winners ---------------------------------------------------------------


def test_winners_are_adopted_once_each_and_registered_on_the_programme(
    app: Workshops, service: Programmes
) -> None:
    pid = launch(service)
    pending = ProgrammeWalk(service, pid)
    pending.to(PhaseKind.VOTE)
    adopt_pending = pc.AdoptWinners(workshop_id=pending.id)
    rejected(app, WrongPhase, "workshop_id", lambda: service.adopt_winners(adopt_pending, act()))

    walk, projects, result = decided(service, pid, tie=True, region="london")
    assert sorted(result.winners) == sorted(projects)
    adopt = pc.AdoptWinners(workshop_id=walk.id)
    ids = service.adopt_winners(adopt, act())
    assert ids == [adopted_id(p) for p in result.winners]
    assert service.programme(pid).initiatives == ids
    for project, initiative_id in zip(result.winners, ids, strict=True):
        initiative = service.initiative(initiative_id)
        assert initiative.programme_id == pid
        assert initiative.regions == ["London"]
        assert initiative.stage == Stage.PROPOSED
        assert initiative.origin["project_id"] == str(project)
        assert initiative.origin["workshop_id"] == str(walk.id)
    titles = {service.initiative(i).title for i in ids}
    assert titles == {"Regional CEO workshop", "Shared service desk"}

    # Adopting again: the same ids, nothing recorded.
    before = app.max_position()
    assert service.adopt_winners(adopt, act()) == ids
    assert app.max_position() == before
    assert event_names(app, pid).count("InitiativeRegistered") == 2


def test_only_a_programme_workshop_with_results_has_winners_to_adopt(
    app: Workshops, service: Programmes
) -> None:
    plain = Walk(app)
    plain.to(PhaseKind.BRAINSTORM)
    people = plain.join(1)
    plain.to(PhaseKind.GROUPING)
    area = plain.area("Cloud")
    plain.to(PhaseKind.DISCUSSION)
    project = plain.project(area, people)
    plain.to(PhaseKind.VOTE)
    plain.vote(people[0], {str(project): 1})
    plain.to(PhaseKind.CLOSED)
    app.declare_results(c.DeclareResults(workshop_id=plain.id), plain.meta())
    rejected(
        app,
        WrongPhase,
        "workshop_id",
        lambda: service.adopt_winners(pc.AdoptWinners(workshop_id=plain.id), act()),
    )
    rejected(
        app,
        UnknownId,
        "workshop_id",
        lambda: service.adopt_winners(pc.AdoptWinners(workshop_id=uuid4()), act()),
    )


def test_a_manager_adds_an_initiative_with_a_reason(app: Workshops, service: Programmes) -> None:
    pid = launch(service)

    def add(initiative_id: UUID, **changes: Any) -> UUID:
        args: dict[str, Any] = {
            "programme_id": pid,
            "initiative_id": initiative_id,
            "title": "Shared service desk",
            "region": "South East",
            "reason": "the board asked for it",
        }
        args.update(changes)
        return service.add_initiative(pc.AddInitiative(**args), act())

    new = uuid4()
    rejected(app, InvalidInput, "reason", lambda: add(new, reason=" "))
    rejected(app, InvalidInput, "region", lambda: add(new, region="Narnia"))
    rejected(app, InvalidInput, "title", lambda: add(new, title="t" * 121))
    rejected(app, UnknownId, "programme_id", lambda: add(new, programme_id=uuid4()))
    assert add(new) == new
    initiative = service.initiative(new)
    assert initiative.origin == {"kind": "manual", "reason": "the board asked for it"}
    assert initiative.regions == ["South East"]
    assert service.programme(pid).initiatives == [new]
    rejected(app, AlreadyExists, "initiative_id", lambda: add(new, title="Again"))
    # An owner is needed before delivery.
    service.move(pc.MoveInitiative(initiative_id=new, stage=Stage.APPROVED), act())
    to_delivery = pc.MoveInitiative(initiative_id=new, stage=Stage.IN_DELIVERY)
    rejected(app, InvalidInput, "owner", lambda: service.move(to_delivery, act()))
    service.close(pc.CloseProgramme(programme_id=pid), act())
    rejected(app, WrongPhase, "programme_id", lambda: add(uuid4()))


# ----- an initiative's whole life --------------------------------------------------


def test_an_initiatives_whole_life_and_bad_input_at_each_step(
    app: Workshops, service: Programmes
) -> None:
    pid = launch(service)
    walk, _, _ = decided(service, pid)
    [iid] = service.adopt_winners(pc.AdoptWinners(workshop_id=walk.id), act())
    day = START + timedelta(days=1)

    def at(days: float, actor: str = MANAGER) -> Meta:
        return act(actor, day + timedelta(days=days))

    def move(stage: Stage, reason: str = "") -> int:
        return service.move(pc.MoveInitiative(initiative_id=iid, stage=stage, reason=reason), at(0))

    # Owner.
    def assign(owner: str, initiative_id: UUID = iid) -> int:
        return service.assign_owner(pc.AssignOwner(initiative_id=initiative_id, owner=owner), at(0))

    rejected(app, InvalidInput, "owner", lambda: assign("  "))
    rejected(app, InvalidInput, "owner", lambda: assign("o" * 81))
    rejected(app, UnknownId, "initiative_id", lambda: assign(OWNER, uuid4()))
    assign(OWNER)

    # Approve.
    rejected(app, WrongPhase, "stage", lambda: move(Stage.DELIVERED))
    rejected(app, InvalidInput, "reason", lambda: move(Stage.PAUSED))
    move(Stage.APPROVED)

    # Plan milestones (and reschedule one).
    first, second = uuid4(), uuid4()

    def plan(milestone: UUID, title: str, days: float) -> int:
        cmd = pc.PlanMilestone(
            initiative_id=iid, milestone_id=milestone, title=title, due=day + timedelta(days=days)
        )
        return service.plan_milestone(cmd, at(1))

    rejected(app, InvalidInput, "title", lambda: plan(first, " ", 10))
    plan(first, "Invite the chief executives", 10)
    plan(second, "Hold the workshop", 40)
    rejected(app, AlreadyExists, "milestone_id", lambda: plan(first, "Again", 12))

    def reschedule(reason: str) -> int:
        cmd = pc.RescheduleMilestone(
            initiative_id=iid, milestone_id=second, due=day + timedelta(days=50), reason=reason
        )
        return service.reschedule_milestone(cmd, at(2))

    rejected(app, InvalidInput, "reason", lambda: reschedule(""))
    reschedule("the venue is booked")

    # No benefit before delivery; then into delivery.
    def benefit(measure: str, amount: float, evidence: str) -> int:
        cmd = pc.RecordBenefit(initiative_id=iid, measure=measure, amount=amount, evidence=evidence)
        return service.record_benefit(cmd, at(30, OWNER))

    rejected(app, WrongPhase, "stage", lambda: benefit("money_saved", 100, "invoice"))
    move(Stage.IN_DELIVERY)

    # Progress.
    def report(percent: int, note: str = "") -> int:
        cmd = pc.ReportProgress(initiative_id=iid, percent=percent, status=Rag.GREEN, note=note)
        return service.report_progress(cmd, at(5, OWNER))

    with pytest.raises(pydantic.ValidationError):
        report(101)
    rejected(app, InvalidInput, "note", lambda: report(40, "n" * 2001))
    report(40, "invitations out")

    # Complete a milestone.
    def complete(milestone: UUID) -> int:
        cmd = pc.CompleteMilestone(initiative_id=iid, milestone_id=milestone)
        return service.complete_milestone(cmd, at(9, OWNER))

    rejected(app, UnknownId, "milestone_id", lambda: complete(uuid4()))
    complete(first)
    rejected(app, WrongPhase, "milestone_id", lambda: complete(first))

    # Record a benefit.
    rejected(app, InvalidInput, "measure", lambda: benefit("smiles", 1, "survey"))
    rejected(app, InvalidInput, "amount", lambda: benefit("money_saved", math.nan, "invoice"))
    rejected(app, InvalidInput, "amount", lambda: benefit("money_saved", 1e13, "invoice"))
    rejected(app, InvalidInput, "evidence", lambda: benefit("money_saved", 100, " "))
    benefit("money_saved", 1200.5, "invoice 42")

    # Delivered, then a benefits review.
    def review(days: float) -> int:
        cmd = pc.ScheduleBenefitsReview(initiative_id=iid, due=day + timedelta(days=days))
        return service.schedule_benefits_review(cmd, at(60))

    rejected(app, WrongPhase, "stage", lambda: review(180))
    rejected(app, WrongPhase, "stage", lambda: move(Stage.EVALUATED))
    complete(second)
    move(Stage.DELIVERED)
    review(180)
    before = app.max_position()
    review(180)  # the same date: nothing new
    assert app.max_position() == before

    # Evaluated: the initiative is closed to change.
    rejected(app, WrongPhase, "stage", lambda: move(Stage.DROPPED, "too late"))
    move(Stage.EVALUATED)
    rejected(app, WrongPhase, "stage", lambda: assign("Someone else"))
    rejected(app, WrongPhase, "stage", lambda: report(100))
    rejected(app, WrongPhase, "stage", lambda: plan(uuid4(), "More", 90))

    initiative = service.initiative(iid)
    assert initiative.stage == Stage.EVALUATED
    assert service.owner_name(initiative.owner_id) == OWNER
    assert all(m.completed_at is not None for m in initiative.milestones.values())
    assert initiative.milestones[second].due == day + timedelta(days=50)
    assert initiative.benefits == [
        {"measure": "money_saved", "amount": 1200.5, "unit": "GBP", "at": day + timedelta(30)}
    ]
    assert initiative.progress is not None and initiative.progress["percent"] == 40
    assert initiative.review_due == day + timedelta(days=180)
    assert initiative.delivered_at == day
    assert event_names(app, iid) == [
        "Adopted",
        "OwnerAssigned",
        "StageChanged",
        "MilestonePlanned",
        "MilestonePlanned",
        "MilestoneRescheduled",
        "StageChanged",
        "ProgressReported",
        "MilestoneCompleted",
        "BenefitRecorded",
        "MilestoneCompleted",
        "StageChanged",
        "BenefitsReviewScheduled",
        "StageChanged",
    ]
    assert all(e.meta.actor in (MANAGER, OWNER) for e in app.events.get(iid))


def test_follow_ups_regions_pauses_and_flags_through_the_service(
    app: Workshops, service: Programmes
) -> None:
    pid = launch(service)
    iid = uuid4()
    service.add_initiative(
        pc.AddInitiative(
            programme_id=pid,
            initiative_id=iid,
            title="Shared service desk",
            region="South West",
            reason="asked for",
        ),
        act(),
    )
    follow_up = ProgrammeWalk(service, pid, region="London", starts_at=START + timedelta(days=9))
    link = pc.LinkFollowUp(initiative_id=iid, workshop_id=follow_up.id)
    rejected(
        app,
        UnknownId,
        "workshop_id",
        lambda: service.link_follow_up(link.model_copy(update={"workshop_id": uuid4()}), act()),
    )
    service.link_follow_up(link, act())
    rejected(app, AlreadyExists, "workshop_id", lambda: service.link_follow_up(link, act()))

    region = pc.AdoptInRegion(initiative_id=iid, region="london")
    service.adopt_in_region(region, act())
    rejected(app, AlreadyExists, "region", lambda: service.adopt_in_region(region, act()))
    narnia = pc.AdoptInRegion(initiative_id=iid, region="Narnia")
    rejected(app, InvalidInput, "region", lambda: service.adopt_in_region(narnia, act()))

    pause = pc.MoveInitiative(initiative_id=iid, stage=Stage.PAUSED, reason="budget freeze")
    service.move(pause, act())
    rejected(
        app,
        WrongPhase,
        "stage",
        lambda: service.move(pc.MoveInitiative(initiative_id=iid, stage=Stage.APPROVED), act()),
    )
    service.move(pc.MoveInitiative(initiative_id=iid, stage=Stage.PROPOSED), act())  # resume

    milestone = uuid4()
    due = START + timedelta(days=5)
    service.plan_milestone(
        pc.PlanMilestone(initiative_id=iid, milestone_id=milestone, title="Scope", due=due), act()
    )
    overdue = pc.FlagOverdue(initiative_id=iid, milestone_id=milestone)
    for when in (due - timedelta(minutes=1), due, due + timedelta(days=1)):
        service.flag_overdue(overdue, act("timer", when))
    stale = pc.FlagStale(initiative_id=iid, since=START + timedelta(days=1))
    for days in (5, 6):
        service.flag_stale(stale, act("timer", START + timedelta(days=days)))
    service.record_reminder(
        pc.RecordReminder(initiative_id=iid, kind="overdue", about="Scope"), act("timer")
    )
    rejected(
        app,
        UnknownId,
        "milestone_id",
        lambda: service.flag_overdue(
            pc.FlagOverdue(initiative_id=iid, milestone_id=uuid4()), act("timer")
        ),
    )

    initiative: Initiative = service.initiative(iid)
    assert initiative.follow_ups == [follow_up.id]
    assert initiative.regions == ["South West", "London"]
    assert initiative.stage == Stage.PROPOSED and initiative.stale
    names = event_names(app, iid)
    assert names.count("MilestoneOverdue") == 1
    assert names.count("FlaggedStale") == 1
    assert names[-1] == "ReminderSent"
    programme: Programme = service.programme(pid)
    assert programme.initiatives == [iid]
