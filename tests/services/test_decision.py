"""Decision verification and the decision record, recomputed from the raw log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import commands as c
from domain.agenda import Criterion, PhaseKind, VotingRules
from domain.ballot import Ballot, ballot_id
from domain.errors import UnknownId, WrongPhase
from domain.meta import Meta
from domain.tally import Result
from domain.workshop import Workshop
from services.app import Workshops
from services.decision import (
    DecisionCheck,
    decision_record,
    record_html,
    record_json,
    record_markdown,
    verify_decision,
)
from services.demo import PHASE_ACTS, Room, _join_everyone, _schedule
from services.persistence import postgres_env
from services.scenario import load_scenario

from .walk import Walk, ready_to_vote

pytestmark = pytest.mark.integration

SEED_WINNER = "Regional workshop for Chief Executives and Senior Directors"


@pytest.fixture(scope="module")
def app(database_url: str) -> Iterator[Workshops]:
    application = Workshops(env=postgres_env(database_url))
    yield application
    application.close()


# ----- the seed's workshop, played without Temporal ----------------------------------


class StoryClock:
    """Scenario time that moves `step` seconds per act and never sleeps."""

    def __init__(self, start: datetime, step: float = 10) -> None:
        self.time = start
        self.step = timedelta(seconds=step)

    def now(self) -> datetime:
        self.time += self.step
        return self.time

    def real_seconds(self, scenario_minutes: float) -> float:
        return 0.0


def play_seed(app: Workshops, code: str | None = None) -> tuple[UUID, Room]:
    """The demo's workshop (the seed scenario) played phase by phase on its planned times.

    The agenda workflow's part (opening and closing phases, declaring the
    results) is done here directly: phase n opens at its planned start and
    closes at its planned end; the room acts from 10 seconds after it opens.
    """
    scenario = load_scenario(None)
    code = code or f"SW-2010-{uuid4().hex[:6]}"
    workshop = _schedule(app, scenario, code)
    start = scenario.workshop.starts_at
    room = Room(scenario, app, workshop, StoryClock(start))  # type: ignore[arg-type]
    for index, phase in enumerate(scenario.agenda.phases):
        app.open_phase(c.OpenPhase(workshop_id=workshop, index=index), _meta(start))
        room.clock = StoryClock(start)  # type: ignore[assignment]
        if not room.people:
            _join_everyone(room)
        PHASE_ACTS[phase.kind](room)
        end = start + timedelta(minutes=phase.minutes)
        if phase.kind == PhaseKind.CLOSED:
            break
        app.close_phase(c.ClosePhase(workshop_id=workshop, index=index), _meta(end))
        if phase.kind == PhaseKind.VOTE:
            app.declare_results(c.DeclareResults(workshop_id=workshop), _meta(end))
        start = end
    return workshop, room


def _meta(at: datetime, actor: str = "agenda:workflow") -> Meta:
    return Meta(actor=actor, at=at, correlation_id=uuid4(), causation_id=uuid4())


@pytest.fixture(scope="module")
def seed(app: Workshops) -> tuple[UUID, Room]:
    return play_seed(app)


def test_the_demo_workshop_recounts_to_its_declared_result(
    app: Workshops, seed: tuple[UUID, Room]
) -> None:
    workshop_id, room = seed
    check = verify_decision(app, workshop_id)
    assert check.verified, check.differences
    assert check.differences == [] and check.ignored_after_close == []
    assert check.recomputed == check.declared
    workshop = app.load(Workshop, workshop_id, "workshop_id")
    assert check.recomputed == app.recount(workshop)  # the application's own recount agrees
    assert check.recomputed.ballots_counted == 30
    titles = {t.project_id: t.title for t in check.recomputed.totals}
    assert [titles[w] for w in check.recomputed.winners] == [SEED_WINNER]
    assert verify_decision(app, check.code) == check  # by code as well as by id


def test_the_decision_record_tells_how_the_day_ran(app: Workshops, seed: tuple[UUID, Room]) -> None:
    workshop_id, room = seed
    record = decision_record(app, workshop_id)
    assert record.verified and record.winners == [SEED_WINNER]
    assert [item.kind for item in record.agenda] == [
        p.kind.value for p in room.scenario.agenda.phases
    ]
    brainstorm = record.agenda[1]
    assert brainstorm.planned_start.isoformat() == "2010-07-02T09:45:00+01:00"
    assert brainstorm.opened_at == brainstorm.planned_start
    assert brainstorm.actual_minutes == 30 and brainstorm.extensions == []
    assert record.agenda[-1].closed_at is None  # the final 'closed' phase never closes
    assert len(record.eligible) == 30 and all(v.ballot_counted for v in record.eligible)
    assert record.counts["ballots_counted"] == 30 and record.counts["projects"] == 7
    assert record.counts["ideas"] == 24 and record.counts["key_areas"] == 5
    assert record.method == "approval" and record.digest.startswith("sha256:")
    assert record.checkpoint is None and record.signature is None  # placeholders
    assert len(record.ranking) == 7 and record.ranking[0].title == SEED_WINNER

    as_json = json.loads(record_json(record))
    assert as_json["close_position"] == record.close_position
    assert as_json["winners"] == [SEED_WINNER] and as_json["checkpoint"] is None
    markdown = record_markdown(record)
    assert "## Agenda as it ran" in markdown and SEED_WINNER in markdown
    assert "verified" in markdown and record.digest in markdown
    page = record_html(record)
    assert page.startswith("<!doctype html>") and "<h2>Ranking</h2>" in page


# ----- ballots after the close ------------------------------------------------------


def _late_ballot(app: Workshops, workshop_id: UUID, voter: UUID, choices: dict[str, Any]) -> int:
    """A ballot saved straight to the store after the close, as a tampering writer would."""
    ballot = Ballot(
        id=ballot_id(workshop_id, voter),
        workshop_id=workshop_id,
        participant_id=voter,
        method="approval",
        choices=choices,
        meta=_meta(datetime.now().astimezone(), f"participant:{voter}"),
    )
    return app.record(ballot)


def _late_revision(app: Workshops, workshop_id: UUID, voter: UUID, choices: dict[str, Any]) -> int:
    ballot = app.load(Ballot, ballot_id(workshop_id, voter), "participant_id")
    ballot._revised(choices=choices, meta=_meta(datetime.now().astimezone()))  # skips the rule
    return app.record(ballot)


def test_a_ballot_recorded_after_the_close_is_shown_and_not_counted(app: Workshops) -> None:
    walk, people, projects = ready_to_vote(app, voters=3)
    first, second = (str(p) for p in projects)
    walk.vote(people[0], {first: 1})
    walk.vote(people[1], {first: 1})
    walk.to(PhaseKind.CLOSED)
    app.declare_results(c.DeclareResults(workshop_id=walk.id), walk.meta())
    before = verify_decision(app, walk.id)
    assert before.verified

    cast_at = _late_ballot(app, walk.id, people[2], {second: 1})
    revised_at = _late_revision(app, walk.id, people[0], {second: 1})

    check = verify_decision(app, walk.id)
    assert check.verified, check.differences
    assert check.recomputed == before.recomputed  # the late ballots changed nothing
    assert check.recomputed.ballots_counted == 2
    late = [(b.position, b.event, b.participant_id) for b in check.ignored_after_close]
    assert late == [(cast_at, "cast", people[2]), (revised_at, "revised", people[0])]
    assert all(b.position > check.close_position for b in check.ignored_after_close)

    record = decision_record(app, walk.id)
    assert record.counts["ballots_after_close"] == 2
    assert [v.ballot_counted for v in record.eligible] == [True, True, False]
    assert "Ballots recorded after the close (not counted)" in record_markdown(record)


# ----- a tampered declaration -----------------------------------------------------------


def _tampered(check: DecisionCheck, **changes: Any) -> Result:
    return check.declared.model_copy(update=changes, deep=True)


def test_a_tampered_declaration_is_named_field_by_field(app: Workshops) -> None:
    walk, people, projects = ready_to_vote(app, voters=3)
    first, second = (str(p) for p in projects)
    walk.vote(people[0], {first: 1})
    walk.vote(people[1], {first: 1, second: 1})
    walk.vote(people[2], {second: 1})
    walk.app.revise_ballot(
        c.ReviseBallot(workshop_id=walk.id, participant_id=people[2], choices={first: 1}),
        walk.meta(),
    )
    walk.to(PhaseKind.CLOSED)
    app.declare_results(c.DeclareResults(workshop_id=walk.id), walk.meta())
    honest = verify_decision(app, walk.id)
    assert honest.verified

    totals = [t.model_copy(update={"total": t.total + 1}) for t in honest.declared.totals]
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"digest": "sha256:" + "0" * 64}, ["digest: declared sha256:000"]),
        ({"method": "dots"}, ["method: declared dots, recomputed approval"]),
        ({"ballots_counted": 2}, ["ballots_counted: declared 2, recomputed 3"]),
        ({"counted_up_to": honest.close_position - 1}, ["counted_up_to (close position)"]),
        ({"totals": totals[:1] + honest.declared.totals[1:]}, ["totals['First'].total"]),
        ({"totals": honest.declared.totals[1:]}, ["'First'", "missing from the declaration"]),
        ({"winners": [projects[1]]}, ["winners: declared ['Second'], recomputed ['First']"]),
        (
            {"ranking": list(reversed(honest.declared.ranking))},
            ["ranking[1]: declared 2 Second (1), recomputed 1 First (3)"],
        ),
    ]
    for changes, expected in cases:
        check = verify_decision(app, walk.id, declared=_tampered(honest, **changes))
        assert not check.verified, changes
        joined = "\n".join(check.differences)
        for words in expected:
            assert words in joined, (changes, check.differences)
        assert check.recomputed == honest.recomputed


def test_nothing_to_verify_before_the_results(app: Workshops) -> None:
    walk, _, _ = ready_to_vote(app, voters=2)
    with pytest.raises(WrongPhase, match="vote has not closed"):
        verify_decision(app, walk.id)
    walk.to(PhaseKind.CLOSED)
    with pytest.raises(WrongPhase, match="no results"):
        verify_decision(app, walk.id)
    with pytest.raises(UnknownId):
        verify_decision(app, "NO-SUCH-WORKSHOP")


# ----- generated workshops ------------------------------------------------------------------

METHODS = st.sampled_from(["approval", "dots", "scores"])
CRITERIA = (Criterion(name="quick win", weight=2), Criterion(name="low cost", weight=1))


def _choices(draw: st.DrawFn, method: str, projects: list[str]) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(projects), unique=True, max_size=len(projects)))
    if method == "approval":
        return {p: 1 for p in chosen}
    if method == "dots":
        budget = 5
        marks: dict[str, Any] = {}
        for p in chosen:
            dots = draw(st.integers(0, budget))
            budget -= dots
            marks[p] = dots
        return marks
    score = st.integers(1, 5)
    return {p: {c.name: draw(score) for c in CRITERIA} for p in chosen}


@st.composite
def plans(draw: st.DrawFn) -> dict[str, Any]:
    """A vote: per voter a list of acts, each (before_close, choices); first act casts."""
    method = draw(METHODS)
    voters = draw(st.integers(1, 5))
    project_count = draw(st.integers(1, 3))
    slots = [f"p{n}" for n in range(project_count)]
    acts = []
    for _ in range(voters):
        count = draw(st.integers(0, 3))
        timing = sorted(draw(st.lists(st.booleans(), min_size=count, max_size=count)), reverse=True)
        acts.append([(before, _choices(draw, method, slots)) for before in timing])
    return {"method": method, "projects": project_count, "acts": acts}


def _expected_totals(
    method: str, ballots: dict[int, dict[str, Any]], ids: dict[str, str]
) -> dict[str, float]:
    weights = {c.name: c.weight for c in CRITERIA}
    totals = {ids[slot]: 0.0 for slot in ids}
    for choices in ballots.values():
        for slot, mark in choices.items():
            if method == "scores":
                totals[ids[slot]] += sum(weights[n] * s for n, s in mark.items())
            else:
                totals[ids[slot]] += mark
    return totals


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans())
def test_generated_workshops_recount_to_their_declared_result(
    app: Workshops, plan: dict[str, Any]
) -> None:
    method = plan["method"]
    rules = VotingRules(method=method, criteria=CRITERIA)
    walk = Walk(app, voting=rules)
    walk.to(PhaseKind.BRAINSTORM)
    people = walk.join(len(plan["acts"]))
    walk.to(PhaseKind.GROUPING)
    area = walk.area("Cloud")
    walk.to(PhaseKind.DISCUSSION)
    ids = {f"p{n}": str(walk.project(area, people[:1], f"P{n}")) for n in range(plan["projects"])}
    walk.to(PhaseKind.VOTE)

    def marks(choices: dict[str, Any]) -> dict[str, Any]:
        return {ids[slot]: mark for slot, mark in choices.items()}

    counted: dict[int, dict[str, Any]] = {}
    late_acts = []
    for n, acts in enumerate(plan["acts"]):
        for k, (_, choices) in enumerate(a for a in acts if a[0]):
            cmd_class = c.CastBallot if k == 0 else c.ReviseBallot
            app_call = app.cast_ballot if k == 0 else app.revise_ballot
            app_call(
                cmd_class(workshop_id=walk.id, participant_id=people[n], choices=marks(choices)),
                walk.meta(),
            )
            counted[n] = {s: m for s, m in choices.items() if m}
        late_acts += [(n, choices) for before, choices in acts if not before]
    walk.to(PhaseKind.CLOSED)
    app.declare_results(c.DeclareResults(workshop_id=walk.id), walk.meta())
    for n, choices in late_acts:
        exists = app.find(Ballot, ballot_id(walk.id, people[n])) is not None
        if exists:
            _late_revision(app, walk.id, people[n], marks(choices))
        else:
            ballot = Ballot(
                id=ballot_id(walk.id, people[n]),
                workshop_id=walk.id,
                participant_id=people[n],
                method=method,
                choices=marks(choices),
                meta=walk.meta(),
            )
            app.record(ballot)

    check = verify_decision(app, walk.id)
    assert check.verified, check.differences
    assert check.recomputed == check.declared
    assert len(check.ignored_after_close) == len(late_acts)
    assert check.recomputed.ballots_counted == len(counted)
    totals = {str(t.project_id): t.total for t in check.recomputed.totals}
    assert totals == pytest.approx(_expected_totals(method, counted, ids))
