"""The Programme aggregate: launch, scheduled workshops, versioned criteria, closing.

Also the workshop's side of versioned criteria: a programme workshop adopts the
criteria in force when its vote opens and keeps them after.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pydantic
import pytest

from domain import ballot
from domain.agenda import SEED_CRITERIA, Criterion, PhaseKind
from domain.errors import AlreadyExists, InvalidInput, ScoreOutOfRange, UnknownId, WrongPhase
from domain.programme import (
    MAX_REGIONS,
    SEED_MEASURES,
    OutcomeMeasure,
    Programme,
    ProgrammeTerms,
    launch,
    programme_id,
)
from domain.text import NAME_MAX, TITLE_MAX

from .builders import (
    MANAGER,
    REGIONS,
    T0,
    MemoryStore,
    advance_to,
    close_vote,
    meta,
    new_programme,
    pending,
    person,
    programme_workshop,
    projects_by_id,
    rejects,
    replay,
    settled,
)
from .builders import project as new_project

NEW_CRITERIA = (Criterion(name="cheap", weight=2), Criterion(name="fast", weight=1))


def _terms(**changes: Any) -> ProgrammeTerms:
    args: dict[str, Any] = {
        "name": "South West ICT programme",
        "sponsor": "SOCITM",
        "regions": REGIONS,
        "criteria": SEED_CRITERIA,
        "measures": SEED_MEASURES,
    }
    args.update(changes)
    return ProgrammeTerms(**args)


def _launch(**changes: Any) -> Programme:
    return launch(_terms(**changes), meta(MANAGER))


# ----- launch ---------------------------------------------------------------


def test_launch_records_the_programme_with_its_terms_and_meta() -> None:
    act = meta(MANAGER, minutes=-60)
    programme = launch(_terms(name="  South West ICT programme "), act)
    [event] = programme.collect_events()
    assert type(event).__name__ == "Launched"
    assert event.meta == act
    assert programme.id == programme_id("South West ICT programme")
    assert programme.name == "South West ICT programme"
    assert programme.sponsor == "SOCITM"
    assert programme.regions == list(REGIONS)
    assert programme.criteria_version == 1
    assert programme.criteria() == SEED_CRITERIA
    assert list(programme.measures) == [m.key for m in SEED_MEASURES]
    assert programme.workshops == {} and programme.initiatives == []
    assert not programme.closed


def test_the_programme_id_is_derived_from_its_name_so_launching_twice_conflicts() -> None:
    assert _launch(name="SW programme").id == _launch(name="  sw PROGRAMME ").id
    assert _launch(name="SW programme").id != _launch(name="SE programme").id


@pytest.mark.parametrize(
    ("field", "limit"), [("name", TITLE_MAX), ("sponsor", NAME_MAX), ("regions", NAME_MAX)]
)
def test_launch_text_limits(field: str, limit: int) -> None:
    def value(text: str) -> Any:
        return (text,) if field == "regions" else text

    def stored(programme: Programme) -> str:
        return programme.regions[0] if field == "regions" else getattr(programme, field)

    assert stored(_launch(**{field: value("x" * limit)})) == "x" * limit
    assert stored(_launch(**{field: value(f" {'y' * limit}\n")})) == "y" * limit
    rejects(InvalidInput, field, lambda: _launch(**{field: value("x" * (limit + 1))}))
    rejects(InvalidInput, field, lambda: _launch(**{field: value("  ")}))


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("regions", ("South West", " south west")),
        ("criteria", (Criterion(name="Low cost"), Criterion(name="low COST", weight=2))),
        ("measures", (SEED_MEASURES[0], SEED_MEASURES[0].model_copy(update={"unit": "EUR"}))),
    ],
)
def test_regions_criteria_and_measures_are_distinct(field: str, values: tuple[Any, ...]) -> None:
    rejects(InvalidInput, field, lambda: _terms(**{field: values}))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("regions", ()),
        ("regions", tuple(f"Region {n}" for n in range(MAX_REGIONS + 1))),
        ("criteria", ()),
        ("measures", ()),
    ],
)
def test_launch_needs_regions_criteria_and_measures(field: str, value: tuple[Any, ...]) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        _terms(**{field: value})
    assert caught.value.errors()[0]["loc"] == (field,)


def test_the_most_regions_a_programme_may_have() -> None:
    regions = tuple(f"Region {n}" for n in range(MAX_REGIONS))
    assert _launch(regions=regions).regions == list(regions)


@pytest.mark.parametrize(
    "bad",
    [
        {"key": "Money", "name": "Money", "unit": "GBP"},
        {"key": "1st", "name": "First", "unit": "n"},
        {"key": "k" * 41, "name": "Long", "unit": "n"},
        {"key": "ok", "name": "", "unit": "n"},
        {"key": "ok", "name": "n" * 81, "unit": "n"},
        {"key": "ok", "name": "Ok", "unit": ""},
        {"key": "ok", "name": "Ok", "unit": "u" * 21},
        {"key": "ok", "name": "Ok", "unit": "n", "extra": 1},
    ],
)
def test_an_outcome_measure_has_a_key_a_name_and_a_unit(bad: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        OutcomeMeasure.model_validate(bad)


def test_outcome_measure_limits_at_the_boundary() -> None:
    measure = OutcomeMeasure(key="k" * 40, name="n" * 80, unit="u" * 20)
    assert _launch(measures=(measure,)).require_measure("k" * 40) == measure


def test_an_unknown_measure_is_rejected_naming_the_known_ones() -> None:
    programme = new_programme()
    assert programme.require_measure("money_saved") == SEED_MEASURES[0]
    error = rejects(InvalidInput, "measure", lambda: programme.require_measure("smiles"), programme)
    assert "smiles" in error.message
    for known in SEED_MEASURES:
        assert known.key in error.message


# ----- workshops scheduled into it ---------------------------------------------


def test_a_workshop_is_scheduled_into_the_programme_by_region_and_date() -> None:
    programme = new_programme()
    workshop, starts_at = uuid4(), T0 + timedelta(days=30)
    act = meta(MANAGER)
    programme.schedule_workshop(workshop, "  south EAST ", starts_at, act)
    [event] = programme.collect_events()
    assert type(event).__name__ == "WorkshopScheduled"
    assert event.meta == act
    assert event.region == "South East"  # the programme's spelling of the region
    assert programme.workshops[workshop].region == "South East"
    assert programme.workshops[workshop].starts_at == starts_at


def test_an_unknown_region_is_rejected_naming_the_region() -> None:
    programme = new_programme()
    error = rejects(
        InvalidInput,
        "region",
        lambda: programme.schedule_workshop(uuid4(), "Narnia", T0, meta(MANAGER)),
        programme,
    )
    assert "Narnia" in error.message
    assert programme.workshops == {}


def test_a_workshop_is_scheduled_into_a_programme_once() -> None:
    programme = new_programme()
    workshop = uuid4()
    programme.schedule_workshop(workshop, "London", T0, meta(MANAGER))
    settled(programme)
    rejects(
        AlreadyExists,
        "workshop_id",
        lambda: programme.schedule_workshop(workshop, "South West", T0, meta(MANAGER)),
        programme,
    )


def test_initiatives_are_registered_once() -> None:
    programme = new_programme()
    first, second = uuid4(), uuid4()
    act = meta(MANAGER)
    programme.register_initiative(first, act)
    programme.register_initiative(first, meta(MANAGER))
    programme.register_initiative(second, meta(MANAGER))
    events = programme.collect_events()
    assert [type(e).__name__ for e in events] == ["InitiativeRegistered"] * 2
    assert events[0].meta == act
    assert programme.initiatives == [first, second]


# ----- criteria versions -----------------------------------------------------


def test_revising_the_criteria_adds_a_version_and_keeps_the_old_ones() -> None:
    programme = new_programme()
    act = meta(MANAGER)
    assert programme.revise_criteria(NEW_CRITERIA, act) == 2
    [event] = programme.collect_events()
    assert type(event).__name__ == "CriteriaRevised"
    assert event.meta == act
    assert event.version == 2
    assert programme.criteria_version == 2
    assert programme.criteria() == NEW_CRITERIA
    assert programme.criteria(2) == NEW_CRITERIA
    assert programme.criteria(1) == SEED_CRITERIA
    third = (Criterion(name="popular"),)
    assert programme.revise_criteria(third, meta(MANAGER)) == 3
    assert [programme.criteria(v) for v in (1, 2, 3)] == [SEED_CRITERIA, NEW_CRITERIA, third]


@pytest.mark.parametrize("version", [0, -1, 2])
def test_there_is_no_criteria_version_outside_those_recorded(version: int) -> None:
    programme = new_programme()
    rejects(UnknownId, "version", lambda: programme.criteria(version), programme)


@pytest.mark.parametrize(
    "criteria",
    [(), (Criterion(name="Cheap"), Criterion(name="cheap"))],
    ids=["none", "duplicate names"],
)
def test_revised_criteria_are_at_least_one_and_distinct(criteria: tuple[Criterion, ...]) -> None:
    programme = new_programme()
    rejects(
        InvalidInput,
        "criteria",
        lambda: programme.revise_criteria(criteria, meta(MANAGER)),
        programme,
    )
    assert programme.criteria_version == 1


# ----- closing -----------------------------------------------------------------


def test_a_closed_programme_takes_no_more_workshops_or_criteria() -> None:
    programme = new_programme()
    act = meta(MANAGER)
    programme.close(act)
    [event] = programme.collect_events()
    assert type(event).__name__ == "Closed" and event.meta == act
    assert programme.closed
    for attempt in (
        lambda: programme.close(meta(MANAGER)),
        lambda: programme.schedule_workshop(uuid4(), "London", T0, meta(MANAGER)),
        lambda: programme.revise_criteria(NEW_CRITERIA, meta(MANAGER)),
        programme.require_open,
    ):
        rejects(WrongPhase, "programme_id", attempt, programme)


# ----- replay ------------------------------------------------------------------


def test_a_programme_replays_from_its_events_and_round_trips_a_store() -> None:
    programme = _launch()  # its Launched event still pending, to be stored
    workshop = uuid4()
    programme.schedule_workshop(workshop, "London", T0, meta(MANAGER))
    programme.revise_criteria(NEW_CRITERIA, meta(MANAGER))
    programme.register_initiative(initiative := uuid4(), meta(MANAGER))
    programme.close(meta(MANAGER))
    store = MemoryStore()
    store.save(programme)
    events = list(store.events.get(programme.id))
    assert all(e.meta.actor == MANAGER for e in events)
    for copy in (replay(events), store.repository.get(programme.id)):
        assert copy.version == programme.version
        assert copy.name == programme.name
        assert copy.criteria(1) == SEED_CRITERIA
        assert copy.criteria() == NEW_CRITERIA
        assert copy.workshops[workshop].region == "London"
        assert copy.initiatives == [initiative]
        assert copy.closed


# ----- a programme workshop adopts the criteria in force when its vote opens ---


def test_a_programme_workshop_starts_on_the_criteria_in_force() -> None:
    programme = new_programme()
    programme.revise_criteria(NEW_CRITERIA, meta(MANAGER))
    workshop = programme_workshop(programme, "London", days=7)
    assert workshop.programme_id == programme.id
    assert workshop.criteria_version == 2
    assert workshop.voting.criteria == NEW_CRITERIA
    assert workshop.region == "London"
    assert programme.workshops[workshop.id].starts_at == T0 + timedelta(days=7)


def test_the_workshop_adopts_a_revised_version_before_its_vote_opens() -> None:
    programme = new_programme()
    workshop = programme_workshop(programme)
    advance_to(workshop, PhaseKind.PITCHES)
    programme.revise_criteria(NEW_CRITERIA, meta(MANAGER))
    act = meta(MANAGER)
    workshop.adopt_criteria(programme.criteria_version, programme.criteria(), act)
    [event] = workshop.collect_events()
    assert type(event).__name__ == "CriteriaAdopted"
    assert event.meta == act
    assert event.version == 2
    assert workshop.criteria_version == 2
    assert workshop.voting.criteria == NEW_CRITERIA
    # The same version again is nothing new.
    workshop.adopt_criteria(2, programme.criteria(2), meta(MANAGER))
    assert pending(workshop) == 0


def test_the_criteria_are_fixed_once_the_vote_opens() -> None:
    programme = new_programme()
    workshop = programme_workshop(programme)
    advance_to(workshop, PhaseKind.VOTE)
    programme.revise_criteria(NEW_CRITERIA, meta(MANAGER))

    def adopt() -> None:
        workshop.adopt_criteria(2, NEW_CRITERIA, meta(MANAGER))

    rejects(WrongPhase, "criteria", adopt, workshop)
    close_vote(workshop)
    rejects(WrongPhase, "criteria", adopt, workshop)
    assert workshop.criteria_version == 1
    assert workshop.voting.criteria == SEED_CRITERIA


def test_scores_are_validated_against_the_adopted_criteria() -> None:
    programme = new_programme()
    workshop = programme_workshop(programme, method="scores")
    advance_to(workshop, PhaseKind.GROUPING)
    area = workshop.define_key_area("Cloud", meta())
    voter = person(workshop)
    advance_to(workshop, PhaseKind.PITCHES)
    programme.revise_criteria(NEW_CRITERIA, meta(MANAGER))
    workshop.adopt_criteria(2, programme.criteria(), meta(MANAGER))
    advance_to(workshop, PhaseKind.VOTE)
    pitched = new_project(workshop, area, [voter])
    key = str(pitched.id)
    found = projects_by_id(pitched)

    old = {key: {c.name: 3 for c in SEED_CRITERIA}}
    rejects(
        InvalidInput,
        "choices",
        lambda: ballot.cast(workshop, voter, old, found, meta()),
    )
    rejects(
        ScoreOutOfRange,
        "choices",
        lambda: ballot.cast(workshop, voter, {key: {"cheap": 6, "fast": 1}}, found, meta()),
    )
    cast = ballot.cast(workshop, voter, {key: {"fast": 2, "cheap": 5}}, found, meta())
    assert cast.choices == {key: {"cheap": 5, "fast": 2}}
