"""The Initiative aggregate: adoption, owner, stages, milestones, progress, benefits, regions."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.errors import AlreadyExists, InvalidInput, UnknownId, WrongPhase
from domain.initiative import (
    ACTIVE,
    EVIDENCE_MAX,
    MAX_BENEFIT,
    MOVES,
    NEEDS_REASON,
    NOTE_MAX,
    Initiative,
    Rag,
    Stage,
    add_by_manager,
    adopt_project,
    adopted_id,
)
from domain.programme import SEED_MEASURES, Programme
from domain.text import SUMMARY_MAX, TITLE_MAX

from .builders import (
    MANAGER,
    STAGE_PATHS,
    T0,
    MemoryStore,
    meta,
    new_initiative,
    new_owner,
    new_programme,
    pending,
    programme_workshop,
    rejects,
    replay,
    settled,
)

OWNER = "owner:alex"
HOUR = 60  # minutes


def _adopt(programme: Programme, **changes: Any) -> Initiative:
    workshop = (
        changes.pop("workshop_id", None)
        or next(iter(programme.workshops), None)
        or programme_workshop(programme, "London").id
    )
    args: dict[str, Any] = {
        "project_id": uuid4(),
        "workshop_id": workshop,
        "title": "Regional CEO workshop",
        "summary": "A workshop for chief executives",
        "idea_ids": [],
        "meta": meta(MANAGER),
    }
    args.update(changes)
    return adopt_project(programme, **args)


def _add(programme: Programme, **changes: Any) -> Initiative:
    args: dict[str, Any] = {
        "initiative_id": uuid4(),
        "title": "Shared service desk",
        "summary": "",
        "region": "South West",
        "reason": "the board asked for it",
        "meta": meta(MANAGER),
    }
    args.update(changes)
    return add_by_manager(programme=programme, **args)


def _milestone(initiative: Initiative, due_minutes: float = 7 * 24 * HOUR) -> UUID:
    milestone = uuid4()
    initiative.plan_milestone(
        milestone, "Invite the chief executives", T0 + _m(due_minutes), meta()
    )
    settled(initiative)
    return milestone


def _m(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


def _only_event(initiative: Initiative, name: str) -> Any:
    [event] = initiative.collect_events()
    assert type(event).__name__ == name
    return event


CLOSED_STAGES = (Stage.DROPPED, Stage.EVALUATED)


# ----- adoption --------------------------------------------------------------


def test_a_winning_project_is_adopted_into_its_workshops_region() -> None:
    programme = new_programme()
    workshop = programme_workshop(programme, "south east")
    project, ideas = uuid4(), [uuid4(), uuid4()]
    act = meta(MANAGER)
    initiative = _adopt(
        programme, project_id=project, workshop_id=workshop.id, idea_ids=ideas, meta=act
    )
    event = _only_event(initiative, "Adopted")
    assert event.meta == act
    assert initiative.id == adopted_id(project)
    assert initiative.programme_id == programme.id
    assert initiative.title == "Regional CEO workshop"
    assert initiative.regions == ["South East"]
    assert initiative.origin == {
        "kind": "project",
        "project_id": str(project),
        "workshop_id": str(workshop.id),
        "idea_ids": [str(i) for i in ideas],
    }
    assert initiative.stage == Stage.PROPOSED
    assert initiative.owner_id is None
    assert initiative.adopted_at == act.at
    assert pending(programme) == 0  # the service registers it on the programme


def test_adopting_the_same_project_again_names_the_same_initiative() -> None:
    programme = new_programme()
    project = uuid4()
    assert adopted_id(project) == adopted_id(project)
    assert _adopt(programme, project_id=project).id == _adopt(programme, project_id=project).id
    assert adopted_id(project) != adopted_id(uuid4())


def test_only_a_workshop_of_the_programme_has_winners_to_adopt() -> None:
    programme = new_programme()
    rejects(UnknownId, "workshop_id", lambda: _adopt(programme, workshop_id=uuid4()), programme)
    other = new_programme("Another programme")
    elsewhere = programme_workshop(other)
    rejects(
        UnknownId, "workshop_id", lambda: _adopt(programme, workshop_id=elsewhere.id), programme
    )


def test_nothing_is_adopted_into_a_closed_programme() -> None:
    programme = new_programme()
    workshop = programme_workshop(programme)
    programme.close(meta(MANAGER))
    settled(programme)
    rejects(
        WrongPhase, "programme_id", lambda: _adopt(programme, workshop_id=workshop.id), programme
    )
    rejects(WrongPhase, "programme_id", lambda: _add(programme), programme)


@pytest.mark.parametrize(
    ("field", "limit", "allow_empty"),
    [("title", TITLE_MAX, False), ("summary", SUMMARY_MAX, True)],
)
@pytest.mark.parametrize("build", [_adopt, _add], ids=["adopted", "added"])
def test_adoption_text_limits(build: Any, field: str, limit: int, allow_empty: bool) -> None:
    programme = new_programme()
    assert getattr(build(programme, **{field: f" {'x' * limit} "}), field) == "x" * limit
    rejects(InvalidInput, field, lambda: build(programme, **{field: "x" * (limit + 1)}), programme)
    if allow_empty:
        assert getattr(build(programme, **{field: "  "}), field) == ""
    else:
        rejects(InvalidInput, field, lambda: build(programme, **{field: "  "}), programme)


def test_a_manager_adds_an_initiative_with_a_reason() -> None:
    programme = new_programme()
    initiative_id, act = uuid4(), meta(MANAGER)
    initiative = _add(
        programme, initiative_id=initiative_id, region=" LONDON", reason=" asked for ", meta=act
    )
    event = _only_event(initiative, "Adopted")
    assert event.meta == act
    assert initiative.id == initiative_id
    assert initiative.regions == ["London"]
    assert initiative.origin == {"kind": "manual", "reason": "asked for"}
    assert initiative.stage == Stage.PROPOSED


def test_a_manager_must_give_a_reason_within_limits_and_a_known_region() -> None:
    programme = new_programme()
    assert _add(programme, reason="r" * NOTE_MAX).origin["reason"] == "r" * NOTE_MAX
    for reason in ("", "   ", "r" * (NOTE_MAX + 1)):
        rejects(InvalidInput, "reason", lambda r=reason: _add(programme, reason=r), programme)
    rejects(InvalidInput, "region", lambda: _add(programme, region="Narnia"), programme)


# ----- owner -----------------------------------------------------------------


def test_an_owner_is_assigned_and_changed_by_id_only() -> None:
    programme = new_programme()
    initiative = new_initiative(programme, owner=None)
    alex, sam = new_owner(programme, OWNER), new_owner(programme, "Sam <sam@example.org>")
    act = meta(MANAGER)
    initiative.assign_owner(alex, act)
    event = _only_event(initiative, "OwnerAssigned")
    assert event.meta == act
    assert (event.owner_id, event.previous_id) == (alex.id, None)
    assert "owner" not in vars(event) and "sam" not in str(vars(event)).lower()
    assert initiative.owner_id == alex.id
    initiative.assign_owner(alex, meta(MANAGER))  # the same owner: nothing new
    assert pending(initiative) == 0
    initiative.assign_owner(sam, meta(MANAGER))
    event = _only_event(initiative, "OwnerAssigned")
    assert (event.owner_id, event.previous_id) == (sam.id, alex.id)


def test_an_owner_of_another_programme_or_erased_is_refused() -> None:
    programme = new_programme()
    initiative = new_initiative(programme, owner=None)
    stranger = new_owner(new_programme("Elsewhere"), OWNER)
    rejects(InvalidInput, "owner", lambda: initiative.assign_owner(stranger, meta()), initiative)
    gone = new_owner(programme, OWNER)
    gone.erase(meta())
    rejects(WrongPhase, "owner", lambda: initiative.assign_owner(gone, meta()), initiative)


@pytest.mark.parametrize("stage", CLOSED_STAGES)
def test_no_owner_change_once_dropped_or_evaluated(stage: Stage) -> None:
    programme = new_programme()
    initiative = new_initiative(programme, stage=stage)
    someone = new_owner(programme, "someone")
    rejects(WrongPhase, "stage", lambda: initiative.assign_owner(someone, meta()), initiative)


# ----- stages ----------------------------------------------------------------


def test_the_moves_table_covers_every_stage() -> None:
    assert set(MOVES) == set(Stage)
    assert {Stage.PAUSED, Stage.DROPPED} == NEEDS_REASON
    assert {Stage.PROPOSED, Stage.APPROVED, Stage.IN_DELIVERY} == ACTIVE
    assert MOVES[Stage.EVALUATED] == MOVES[Stage.DROPPED] == frozenset()


def _allowed(start: Stage) -> frozenset[Stage]:
    """What the table allows from `start`; the paused builder paused from proposed."""
    resume = {Stage.PROPOSED} if start == Stage.PAUSED else set()
    return MOVES[start] | resume


@pytest.mark.parametrize("to", list(Stage), ids=str)
@pytest.mark.parametrize("start", list(Stage), ids=str)
def test_every_stage_move_is_either_allowed_or_wrong_phase(start: Stage, to: Stage) -> None:
    initiative = new_initiative(stage=start)
    assert initiative.stage == start
    if to in _allowed(start):
        act = meta(MANAGER)
        initiative.move(to, " because ", act)
        event = _only_event(initiative, "StageChanged")
        assert event.meta == act
        assert (event.stage, event.previous, event.reason) == (to.value, start.value, "because")
        assert initiative.stage == to
    else:
        error = rejects(
            WrongPhase, "stage", lambda: initiative.move(to, "because", meta()), initiative
        )
        assert start.value in error.message and to.value in error.message
        assert initiative.stage == start


def test_the_happy_path_runs_from_proposed_to_evaluated() -> None:
    initiative = new_initiative()
    path = STAGE_PATHS[Stage.EVALUATED]
    for step in path:
        initiative.move(step, "", meta())
    events = initiative.collect_events()
    assert [e.stage for e in events] == [s.value for s in path]
    assert [e.reason for e in events] == [""] * len(path)


@pytest.mark.parametrize("before", sorted(ACTIVE), ids=str)
def test_resume_returns_to_the_stage_before_the_pause(before: Stage) -> None:
    initiative = new_initiative(stage=before)
    initiative.move(Stage.PAUSED, "waiting for funding", meta())
    assert initiative.stage_before_pause == before
    settled(initiative)
    for other in ACTIVE - {before}:
        rejects(WrongPhase, "stage", lambda o=other: initiative.move(o, "", meta()), initiative)
    rejects(WrongPhase, "stage", lambda: initiative.move(Stage.PAUSED, "again", meta()), initiative)
    initiative.move(before, "", meta())
    event = _only_event(initiative, "StageChanged")
    assert (event.stage, event.previous) == (before.value, Stage.PAUSED.value)
    assert initiative.stage == before
    assert initiative.stage_before_pause is None


def test_a_paused_initiative_may_be_dropped() -> None:
    initiative = new_initiative(stage=Stage.PAUSED)
    initiative.move(Stage.DROPPED, "no funding", meta())
    assert initiative.stage == Stage.DROPPED
    assert initiative.stage_before_pause is None
    rejects(WrongPhase, "stage", lambda: initiative.move(Stage.PROPOSED, "", meta()), initiative)


@pytest.mark.parametrize("to", sorted(NEEDS_REASON), ids=str)
def test_pausing_and_dropping_need_a_reason_within_limits(to: Stage) -> None:
    initiative = new_initiative(stage=Stage.APPROVED)
    for bad in ("", "   ", "r" * (NOTE_MAX + 1)):
        rejects(InvalidInput, "reason", lambda b=bad: initiative.move(to, b, meta()), initiative)
    initiative.move(to, "r" * NOTE_MAX, meta())
    assert _only_event(initiative, "StageChanged").reason == "r" * NOTE_MAX


def test_other_moves_take_an_optional_reason_within_limits() -> None:
    initiative = new_initiative()
    rejects(
        InvalidInput,
        "reason",
        lambda: initiative.move(Stage.APPROVED, "r" * (NOTE_MAX + 1), meta()),
        initiative,
    )
    initiative.move(Stage.APPROVED, "  ", meta())
    assert _only_event(initiative, "StageChanged").reason == ""


def test_an_owner_is_needed_before_delivery() -> None:
    programme = new_programme()
    initiative = new_initiative(programme, stage=Stage.APPROVED, owner=None)
    rejects(
        InvalidInput, "owner", lambda: initiative.move(Stage.IN_DELIVERY, "", meta()), initiative
    )
    initiative.assign_owner(new_owner(programme, OWNER), meta())
    initiative.move(Stage.IN_DELIVERY, "", meta())
    assert initiative.stage == Stage.IN_DELIVERY


def test_delivery_is_dated_by_the_act() -> None:
    initiative = new_initiative(stage=Stage.IN_DELIVERY)
    act = meta(minutes=90 * 24 * HOUR)
    initiative.move(Stage.DELIVERED, "", act)
    assert initiative.delivered_at == act.at


# ----- milestones -------------------------------------------------------------


def test_a_milestone_is_planned_with_a_due_date() -> None:
    initiative = new_initiative()
    milestone, due, act = uuid4(), T0 + timedelta(days=30), meta()
    initiative.plan_milestone(milestone, "  Book the venue ", due, act)
    event = _only_event(initiative, "MilestonePlanned")
    assert event.meta == act
    assert (event.milestone_id, event.title, event.due) == (milestone, "Book the venue", due)
    assert initiative.milestones[milestone].due == due
    assert initiative.milestones[milestone].completed_at is None


def test_milestone_rules_on_planning() -> None:
    initiative = new_initiative()
    milestone = _milestone(initiative)
    rejects(
        AlreadyExists,
        "milestone_id",
        lambda: initiative.plan_milestone(milestone, "Again", T0, meta()),
        initiative,
    )
    for bad in ("", " ", "t" * (TITLE_MAX + 1)):
        rejects(
            InvalidInput,
            "title",
            lambda b=bad: initiative.plan_milestone(uuid4(), b, T0, meta()),
            initiative,
        )
    initiative.plan_milestone(uuid4(), "t" * TITLE_MAX, T0, meta())
    assert pending(initiative) == 1


def test_a_milestone_is_rescheduled_with_a_reason() -> None:
    initiative = new_initiative()
    milestone = _milestone(initiative)
    later, act = T0 + timedelta(days=60), meta()
    initiative.reschedule_milestone(milestone, later, " venue closed ", act)
    event = _only_event(initiative, "MilestoneRescheduled")
    assert event.meta == act
    assert (event.due, event.reason) == (later, "venue closed")
    assert initiative.milestones[milestone].due == later
    # The same due date again is nothing new, with or without a reason.
    initiative.reschedule_milestone(milestone, later, "", meta())
    assert pending(initiative) == 0


def test_milestone_rules_on_rescheduling() -> None:
    initiative = new_initiative()
    milestone = _milestone(initiative)
    later = T0 + timedelta(days=60)
    for bad in ("", " ", "r" * (NOTE_MAX + 1)):
        rejects(
            InvalidInput,
            "reason",
            lambda b=bad: initiative.reschedule_milestone(milestone, later, b, meta()),
            initiative,
        )
    rejects(
        UnknownId,
        "milestone_id",
        lambda: initiative.reschedule_milestone(uuid4(), later, "why", meta()),
        initiative,
    )
    initiative.complete_milestone(milestone, meta())
    settled(initiative)
    rejects(
        WrongPhase,
        "milestone_id",
        lambda: initiative.reschedule_milestone(milestone, later, "why", meta()),
        initiative,
    )


def test_a_milestone_is_completed_once() -> None:
    initiative = new_initiative(stage=Stage.IN_DELIVERY)
    milestone = _milestone(initiative)
    act = meta(minutes=HOUR)
    initiative.complete_milestone(milestone, act)
    event = _only_event(initiative, "MilestoneCompleted")
    assert event.meta == act and event.milestone_id == milestone
    assert initiative.milestones[milestone].completed_at == act.at
    rejects(
        WrongPhase,
        "milestone_id",
        lambda: initiative.complete_milestone(milestone, meta()),
        initiative,
    )
    rejects(
        UnknownId,
        "milestone_id",
        lambda: initiative.complete_milestone(uuid4(), meta()),
        initiative,
    )


@pytest.mark.parametrize("stage", CLOSED_STAGES)
def test_no_milestones_planned_or_moved_once_closed(stage: Stage) -> None:
    initiative = new_initiative(stage=Stage.APPROVED)
    milestone = _milestone(initiative)
    if stage == Stage.DROPPED:
        initiative.move(stage, "closing", meta())
    else:
        _evaluate(initiative)
    settled(initiative)
    rejects(
        WrongPhase,
        "stage",
        lambda: initiative.plan_milestone(uuid4(), "More", T0, meta()),
        initiative,
    )
    rejects(
        WrongPhase,
        "stage",
        lambda: initiative.reschedule_milestone(milestone, T0, "why", meta()),
        initiative,
    )


def _evaluate(initiative: Initiative) -> None:
    for step in (Stage.IN_DELIVERY, Stage.DELIVERED, Stage.EVALUATED):
        initiative.move(step, "", meta())


def test_overdue_is_flagged_once_per_due_date() -> None:
    initiative = new_initiative(stage=Stage.IN_DELIVERY)
    milestone = _milestone(initiative, due_minutes=24 * HOUR)
    due = initiative.milestones[milestone].due
    assert not initiative.flag_overdue(milestone, meta(minutes=24 * HOUR - 1))
    assert pending(initiative) == 0
    act = meta(minutes=24 * HOUR)  # due now
    assert initiative.flag_overdue(milestone, act)
    event = _only_event(initiative, "MilestoneOverdue")
    assert event.meta == act
    assert (event.milestone_id, event.due) == (milestone, due)
    assert not initiative.flag_overdue(milestone, meta(minutes=48 * HOUR))
    assert pending(initiative) == 0
    # A new due date: not overdue until it passes, then flagged once more.
    initiative.reschedule_milestone(milestone, due + timedelta(days=7), "slipped", meta())
    settled(initiative)
    assert not initiative.flag_overdue(milestone, meta(minutes=48 * HOUR))
    assert initiative.flag_overdue(milestone, meta(minutes=9 * 24 * HOUR))
    assert _only_event(initiative, "MilestoneOverdue").due == due + timedelta(days=7)
    assert not initiative.flag_overdue(milestone, meta(minutes=10 * 24 * HOUR))


def test_a_completed_milestone_is_never_overdue() -> None:
    initiative = new_initiative()
    milestone = _milestone(initiative, due_minutes=HOUR)
    initiative.complete_milestone(milestone, meta(minutes=2 * HOUR))
    settled(initiative)
    assert not initiative.flag_overdue(milestone, meta(minutes=3 * HOUR))
    assert pending(initiative) == 0
    rejects(UnknownId, "milestone_id", lambda: initiative.flag_overdue(uuid4(), meta()), initiative)


# ----- progress and staleness ---------------------------------------------------


@pytest.mark.parametrize("percent", [0, 55, 100])
@pytest.mark.parametrize("status", list(Rag), ids=str)
def test_progress_is_reported_as_percent_and_rag_with_a_note(percent: int, status: Rag) -> None:
    initiative = new_initiative(stage=Stage.IN_DELIVERY)
    act = meta(minutes=HOUR)
    initiative.report_progress(percent, status, " on track ", act)
    event = _only_event(initiative, "ProgressReported")
    assert event.meta == act
    assert (event.percent, event.status, event.note) == (percent, status.value, "on track")
    assert initiative.progress == {
        "percent": percent,
        "status": status.value,
        "note": "on track",
        "at": act.at,
    }
    assert initiative.last_report_at == act.at


@pytest.mark.parametrize("percent", [-1, 101, math.nan])
def test_progress_percent_runs_from_0_to_100(percent: float) -> None:
    initiative = new_initiative()
    rejects(
        InvalidInput,
        "percent",
        lambda: initiative.report_progress(percent, Rag.GREEN, "", meta()),  # type: ignore[arg-type]
        initiative,
    )


def test_progress_status_is_red_amber_or_green() -> None:
    initiative = new_initiative()
    rejects(
        InvalidInput,
        "status",
        lambda: initiative.report_progress(50, "purple", "", meta()),  # type: ignore[arg-type]
        initiative,
    )
    initiative.report_progress(50, "amber", "", meta())  # type: ignore[arg-type]
    assert initiative.progress is not None and initiative.progress["status"] == "amber"


def test_progress_note_limits() -> None:
    initiative = new_initiative()
    rejects(
        InvalidInput,
        "note",
        lambda: initiative.report_progress(5, Rag.RED, "n" * (NOTE_MAX + 1), meta()),
        initiative,
    )
    initiative.report_progress(5, Rag.RED, "n" * NOTE_MAX, meta())
    initiative.report_progress(6, Rag.RED, "   ", meta())
    assert initiative.progress is not None and initiative.progress["note"] == ""


@pytest.mark.parametrize("stage", CLOSED_STAGES)
def test_no_progress_once_dropped_or_evaluated(stage: Stage) -> None:
    initiative = new_initiative(stage=stage)
    rejects(
        WrongPhase, "stage", lambda: initiative.report_progress(5, Rag.RED, "", meta()), initiative
    )


def test_stale_is_flagged_once_until_the_next_report() -> None:
    initiative = new_initiative()  # adopted at T0
    assert not initiative.flag_stale(T0 - _m(1), meta(minutes=HOUR))  # adopted since then
    act = meta(minutes=HOUR)
    assert initiative.flag_stale(T0, act)
    event = _only_event(initiative, "FlaggedStale")
    assert event.meta == act and event.last_report_at is None
    assert initiative.stale
    assert not initiative.flag_stale(T0 + _m(HOUR), meta(minutes=2 * HOUR))
    assert pending(initiative) == 0
    report = meta(minutes=3 * HOUR)
    initiative.report_progress(10, Rag.GREEN, "", report)
    assert not initiative.stale
    settled(initiative)
    assert not initiative.flag_stale(report.at - _m(1), meta(minutes=4 * HOUR))
    assert initiative.flag_stale(report.at, meta(minutes=4 * HOUR))
    assert _only_event(initiative, "FlaggedStale").last_report_at == report.at
    assert not initiative.flag_stale(report.at + _m(HOUR), meta(minutes=5 * HOUR))


@pytest.mark.parametrize("stage", sorted(set(Stage) - ACTIVE), ids=str)
def test_only_active_initiatives_go_stale(stage: Stage) -> None:
    initiative = new_initiative(stage=stage)
    assert not initiative.flag_stale(T0 + timedelta(days=365), meta())
    assert pending(initiative) == 0


def test_a_reminder_is_part_of_the_trail() -> None:
    initiative = new_initiative(owner=OWNER)
    act = meta("timer")
    initiative.record_reminder("overdue", "Book the venue", act)
    event = _only_event(initiative, "ReminderSent")
    assert event.meta == act
    assert (event.kind, event.about) == ("overdue", "Book the venue")
    assert event.owner_id == initiative.owner_id is not None


# ----- benefits --------------------------------------------------------------


@pytest.mark.parametrize("stage", [Stage.IN_DELIVERY, Stage.DELIVERED, Stage.EVALUATED], ids=str)
def test_benefits_are_recorded_from_delivery_on(stage: Stage) -> None:
    programme = new_programme()
    initiative = new_initiative(programme, stage=stage)
    act = meta(OWNER)
    initiative.record_benefit(programme, "staff_time_saved", 37.5, " timesheets ", act)
    event = _only_event(initiative, "BenefitRecorded")
    assert event.meta == act
    assert (event.measure, event.amount, event.unit, event.evidence) == (
        "staff_time_saved",
        37.5,
        "hours",
        "timesheets",
    )
    assert initiative.benefits == [
        {"measure": "staff_time_saved", "amount": 37.5, "unit": "hours", "at": act.at}
    ]


@pytest.mark.parametrize(
    "stage", [Stage.PROPOSED, Stage.APPROVED, Stage.PAUSED, Stage.DROPPED], ids=str
)
def test_no_benefit_before_delivery_or_once_dropped(stage: Stage) -> None:
    programme = new_programme()
    initiative = new_initiative(programme, stage=stage)
    rejects(
        WrongPhase,
        "stage",
        lambda: initiative.record_benefit(programme, "money_saved", 1, "invoice", meta()),
        initiative,
    )


def test_a_benefit_names_a_measure_of_the_programme() -> None:
    programme = new_programme()
    initiative = new_initiative(programme, stage=Stage.IN_DELIVERY)
    error = rejects(
        InvalidInput,
        "measure",
        lambda: initiative.record_benefit(programme, "happiness", 1, "survey", meta()),
        initiative,
    )
    assert "happiness" in error.message
    assert all(m.key in error.message for m in SEED_MEASURES)


@pytest.mark.parametrize(
    "amount",
    [math.nan, math.inf, -math.inf, MAX_BENEFIT * 1.0001, -MAX_BENEFIT * 1.0001, 1e300],
    ids=["nan", "inf", "-inf", "just over", "just under", "huge"],
)
def test_a_benefit_amount_is_a_number_in_range(amount: float) -> None:
    programme = new_programme()
    initiative = new_initiative(programme, stage=Stage.IN_DELIVERY)
    rejects(
        InvalidInput,
        "amount",
        lambda: initiative.record_benefit(programme, "money_saved", amount, "invoice", meta()),
        initiative,
    )


def test_benefit_amount_and_evidence_limits() -> None:
    programme = new_programme()
    initiative = new_initiative(programme, stage=Stage.IN_DELIVERY)
    for amount in (MAX_BENEFIT, -MAX_BENEFIT, 0):
        initiative.record_benefit(programme, "money_saved", amount, "e" * EVIDENCE_MAX, meta())
    assert [b["amount"] for b in initiative.benefits] == [MAX_BENEFIT, -MAX_BENEFIT, 0]
    settled(initiative)
    for evidence in ("", "  ", "e" * (EVIDENCE_MAX + 1)):
        rejects(
            InvalidInput,
            "evidence",
            lambda e=evidence: initiative.record_benefit(programme, "money_saved", 1, e, meta()),
            initiative,
        )


def test_a_benefits_review_follows_delivery() -> None:
    initiative = new_initiative(stage=Stage.IN_DELIVERY)
    due = T0 + timedelta(days=180)
    rejects(
        WrongPhase, "stage", lambda: initiative.schedule_benefits_review(due, meta()), initiative
    )
    initiative.move(Stage.DELIVERED, "", meta())
    settled(initiative)
    act = meta()
    initiative.schedule_benefits_review(due, act)
    event = _only_event(initiative, "BenefitsReviewScheduled")
    assert event.meta == act and event.due == due
    assert initiative.review_due == due
    initiative.schedule_benefits_review(due, meta())  # the same date: nothing new
    assert pending(initiative) == 0
    initiative.move(Stage.EVALUATED, "", meta())
    settled(initiative)
    rejects(
        WrongPhase, "stage", lambda: initiative.schedule_benefits_review(due, meta()), initiative
    )


# ----- follow-up workshops and regions -------------------------------------------


def test_follow_up_workshops_are_linked_once() -> None:
    initiative = new_initiative()
    workshop, act = uuid4(), meta()
    initiative.link_follow_up(workshop, act)
    event = _only_event(initiative, "FollowUpLinked")
    assert event.meta == act and event.workshop_id == workshop
    rejects(
        AlreadyExists,
        "workshop_id",
        lambda: initiative.link_follow_up(workshop, meta()),
        initiative,
    )
    initiative.link_follow_up(second := uuid4(), meta())
    assert initiative.follow_ups == [workshop, second]


def test_another_region_adopts_the_same_initiative() -> None:
    programme = new_programme()
    initiative = new_initiative(programme, region="South West")
    act = meta(MANAGER)
    initiative.adopt_in_region(programme, " london ", act)
    event = _only_event(initiative, "AdoptedInRegion")
    assert event.meta == act and event.region == "London"
    assert initiative.regions == ["South West", "London"]
    for region in ("South West", "LONDON"):
        rejects(
            AlreadyExists,
            "region",
            lambda r=region: initiative.adopt_in_region(programme, r, meta()),
            initiative,
        )
    rejects(
        InvalidInput,
        "region",
        lambda: initiative.adopt_in_region(programme, "Narnia", meta()),
        initiative,
    )


@pytest.mark.parametrize("stage", CLOSED_STAGES)
def test_no_follow_ups_or_regions_once_closed(stage: Stage) -> None:
    programme = new_programme()
    initiative = new_initiative(programme, stage=stage)
    rejects(WrongPhase, "stage", lambda: initiative.link_follow_up(uuid4(), meta()), initiative)
    rejects(
        WrongPhase,
        "stage",
        lambda: initiative.adopt_in_region(programme, "London", meta()),
        initiative,
    )


# ----- the whole trail -----------------------------------------------------------


def test_an_initiatives_whole_trail_replays_and_round_trips_a_store() -> None:
    programme = new_programme()
    minute = 0

    def act(actor: str = MANAGER) -> Any:
        nonlocal minute
        minute += 1
        return meta(actor, minutes=minute)

    initiative = _adopt(programme, meta=act())  # the Adopted event still pending
    milestone = uuid4()
    owner = new_owner(programme, OWNER)
    initiative.assign_owner(owner, act())
    initiative.move(Stage.APPROVED, "", act())
    initiative.plan_milestone(milestone, "Invite", T0 + timedelta(days=7), act())
    initiative.move(Stage.IN_DELIVERY, "", act())
    initiative.report_progress(40, Rag.AMBER, "slow start", act(OWNER))
    initiative.reschedule_milestone(milestone, T0 + timedelta(days=14), "late", act(OWNER))
    initiative.flag_overdue(milestone, meta("timer", minutes=15 * 24 * HOUR))
    initiative.complete_milestone(milestone, act(OWNER))
    initiative.record_benefit(programme, "money_saved", 1200.0, "invoice", act(OWNER))
    initiative.move(Stage.PAUSED, "budget freeze", act())
    initiative.move(Stage.IN_DELIVERY, "", act())
    initiative.move(Stage.DELIVERED, "", act())
    initiative.schedule_benefits_review(T0 + timedelta(days=180), act())
    initiative.link_follow_up(follow_up := uuid4(), act())
    initiative.adopt_in_region(programme, "South West", act())
    initiative.move(Stage.EVALUATED, "", act())

    store = MemoryStore()
    store.save(initiative)
    events = list(store.events.get(initiative.id))
    assert len(events) == 17
    assert all(e.meta.actor in (MANAGER, OWNER, "timer") for e in events)
    for copy in (replay(events), store.repository.get(initiative.id)):
        assert copy.version == initiative.version
        assert copy.stage == Stage.EVALUATED
        assert copy.owner_id == owner.id
        assert copy.regions == ["London", "South West"]
        assert copy.milestones[milestone].completed_at is not None
        assert copy.milestones[milestone].flagged_overdue_for == T0 + timedelta(days=14)
        assert copy.progress["status"] == "amber"
        assert copy.benefits == initiative.benefits
        assert copy.follow_ups == [follow_up]
        assert copy.review_due == T0 + timedelta(days=180)
        assert copy.delivered_at == initiative.delivered_at


def test_a_keyed_reminder_is_recorded_once_however_often_it_is_retried() -> None:
    initiative = new_initiative()
    initiative.collect_events()
    initiative.record_reminder("milestone-reminder", "Pilot", meta(), key="m1@2010-08-01")
    initiative.record_reminder("milestone-reminder", "Pilot", meta(), key="m1@2010-08-01")
    initiative.record_reminder("progress-request", "", meta())
    initiative.record_reminder("progress-request", "", meta())
    kinds = [type(e).__name__ for e in initiative.collect_events()]
    assert kinds == ["ReminderSent", "ReminderSent", "ReminderSent"]
