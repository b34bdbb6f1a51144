"""Small builders for domain tests: pure, in memory, no database and no clock.

A test asks for a workshop at a given phase (with key areas and capacities
defined on the way), people who joined it, ideas and projects, and a Meta
for each act. Every builder clears the pending events of what it returns,
so a test sees only the events of the act it is about.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import JSONTranscoder, Transcoding

from domain.agenda import (
    SEED_AGENDA,
    SEED_CRITERIA,
    Agenda,
    Criterion,
    Method,
    PhaseKind,
    VotingRules,
)
from domain.errors import DomainError
from domain.idea import Idea
from domain.initiative import Initiative, Stage, add_by_manager
from domain.meta import Meta
from domain.owner import Owner, register
from domain.participant import Participant, join
from domain.programme import SEED_MEASURES, OutcomeMeasure, Programme, ProgrammeTerms, launch
from domain.project import Project
from domain.workshop import Workshop, schedule

# The seed's day: 2 July 2010, 09:00 UTC. Every act's time is given, never read.
T0 = datetime(2010, 7, 2, 9, 0, tzinfo=UTC)
FACILITATOR = "facilitator"

A = TypeVar("A", bound=Aggregate)


def meta(
    actor: str = FACILITATOR,
    minutes: float = 0,
    *,
    correlation_id: UUID | None = None,
    causation_id: UUID | None = None,
) -> Meta:
    """A Meta for one act, `minutes` after the start of the seed's day."""
    return Meta(
        actor=actor,
        at=T0 + timedelta(minutes=minutes),
        correlation_id=correlation_id or uuid4(),
        causation_id=causation_id or uuid4(),
    )


def settled(aggregate: A) -> A:
    """Drop the aggregate's pending events, as if they had been recorded."""
    aggregate.collect_events()
    return aggregate


def pending(aggregate: Aggregate) -> int:
    """How many events the aggregate holds unrecorded (without collecting them)."""
    return len(aggregate.pending_events)


def rejects(
    error: type[DomainError], field: str | None, act: Callable[[], object], *watched: Aggregate
) -> DomainError:
    """`act` raises exactly `error` naming `field`, and no watched aggregate records anything."""
    before = [(a.version, pending(a)) for a in watched]
    with pytest.raises(DomainError) as caught:
        act()
    assert type(caught.value) is error, f"expected {error.__name__}, got {caught.value!r}"
    assert caught.value.field == field
    assert caught.value.message
    assert [(a.version, pending(a)) for a in watched] == before, "a failed act recorded events"
    return caught.value


# ----- workshops ------------------------------------------------------------


def new_workshop(
    *,
    code: str | None = None,
    agenda: Agenda = SEED_AGENDA,
    voting: VotingRules | None = None,
    title: str = "South West ICT strategy day",
) -> Workshop:
    """A scheduled workshop with no phase opened yet, its events cleared."""
    workshop = schedule(
        code=code or f"SW-{uuid4().hex[:8]}",
        title=title,
        region="South West",
        venue="Exeter",
        starts_at=T0,
        agenda=agenda,
        voting=voting or VotingRules(),
        meta=meta(),
    )
    return settled(workshop)


def advance_to(workshop: Workshop, kind: PhaseKind) -> Workshop:
    """Close and open phases in agenda order until a phase of `kind` is open."""
    kinds = [p.kind for p in workshop.agenda.phases]
    if kind not in kinds[workshop.phase_index + (0 if workshop.phase_open else 1) :]:
        raise ValueError(f"no {kind.value} phase ahead in this agenda")
    while workshop.current_kind != kind:
        if workshop.phase_open:
            workshop.close_phase(workshop.phase_index, meta())
        workshop.open_phase(workshop.phase_index + 1, meta())
    return settled(workshop)


def workshop_at(
    kind: PhaseKind | None = None,
    *,
    areas: dict[str, int | None] | None = None,
    voting: VotingRules | None = None,
    agenda: Agenda = SEED_AGENDA,
    code: str | None = None,
) -> Workshop:
    """A workshop with `kind` open (None: scheduled, nothing open).

    `areas` maps key area names to capacities (None: uncapped); they are
    defined while grouping is open, so `kind` must not come before grouping.
    """
    workshop = new_workshop(code=code, agenda=agenda, voting=voting)
    if areas:
        advance_to(workshop, PhaseKind.GROUPING)
        for name, capacity in areas.items():
            area = workshop.define_key_area(name, meta())
            if capacity is not None:
                workshop.set_group_capacity(area, capacity, meta())
    if kind is not None:
        advance_to(workshop, kind)
    return settled(workshop)


def area_named(workshop: Workshop, name: str) -> UUID:
    """The id of the (unmerged) key area called `name`."""
    for area_id, area in workshop.key_areas.items():
        if area.name == name and area.merged_into is None:
            return area_id
    raise KeyError(name)


def close_vote(workshop: Workshop) -> Workshop:
    """Close the open vote phase (the tally's cut-off)."""
    if workshop.current_kind != PhaseKind.VOTE:
        advance_to(workshop, PhaseKind.VOTE)
    workshop.close_phase(workshop.phase_index, meta())
    return settled(workshop)


# ----- people, ideas, projects ----------------------------------------------


def person(workshop: Workshop, key: str | None = None, name: str = "Pat") -> Participant:
    """Someone who joined `workshop`."""
    key = key or uuid4().hex
    return settled(join(workshop, key, name, "Devon County Council", meta(actor=key)))


def people(workshop: Workshop, count: int) -> list[Participant]:
    return [person(workshop, f"p{n}", f"Person {n}") for n in range(count)]


def idea(workshop: Workshop, author: Participant, text: str = "Run a CIO forum") -> Idea:
    """An idea as the log holds it after a brainstorm, whatever phase is open now."""
    return settled(
        Idea(id=uuid4(), workshop_id=workshop.id, author_id=author.id, text=text, meta=meta())
    )


def project(
    workshop: Workshop,
    area: UUID,
    proposers: Sequence[Participant],
    title: str = "Regional CEO workshop",
    ideas: Iterable[Idea] = (),
) -> Project:
    """A project as the log holds it after discussion, whatever phase is open now."""
    return settled(
        Project(
            id=uuid4(),
            workshop_id=workshop.id,
            key_area_id=area,
            title=title,
            summary="",
            idea_ids=[i.id for i in ideas],
            proposer_ids=[p.id for p in proposers],
            meta=meta(),
        )
    )


def projects_by_id(*found: Project) -> dict[UUID, Project | None]:
    return {p.id: p for p in found}


# ----- replay and an in-memory store ----------------------------------------


def replay(events: Sequence[Any]) -> Any:
    """Rebuild an aggregate from its events, as a repository would."""
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class _MetaAsDict(Transcoding):
    type = Meta
    name = "meta"

    def encode(self, obj: Meta) -> dict[str, str]:
        return obj.model_dump(mode="json")

    def decode(self, data: dict[str, str]) -> Meta:
        return Meta.model_validate(data)


class MemoryStore(Application[UUID]):
    """The library's in-memory (POPO) event store: streams and version conflicts, no I/O."""

    name = "quickwins-test"

    def __init__(self) -> None:
        super().__init__(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(_MetaAsDict())


# ----- programmes and initiatives -------------------------------------------

MANAGER = "manager"
REGIONS = ("South West", "South East", "London")


def new_programme(
    name: str = "South West ICT programme",
    *,
    regions: Sequence[str] = REGIONS,
    criteria: Sequence[Criterion] = SEED_CRITERIA,
    measures: Sequence[OutcomeMeasure] = SEED_MEASURES,
) -> Programme:
    """A launched programme, its events cleared."""
    terms = ProgrammeTerms(
        name=name,
        sponsor="SOCITM",
        regions=tuple(regions),
        criteria=tuple(criteria),
        measures=tuple(measures),
    )
    return settled(launch(terms, meta(MANAGER)))


def programme_workshop(
    programme: Programme,
    region: str = "South West",
    *,
    days: int = 0,
    code: str | None = None,
    title: str = "South West ICT strategy day",
    method: Method = "approval",
) -> Workshop:
    """A workshop scheduled into `programme` on its criteria in force, as the service does."""
    starts_at = T0 + timedelta(days=days)
    voting = VotingRules(method=method, criteria=programme.criteria())
    workshop = schedule(
        code=code or f"P-{uuid4().hex[:8]}",
        title=title,
        region=programme.require_region(region),
        venue="",
        starts_at=starts_at,
        agenda=SEED_AGENDA,
        voting=voting,
        meta=meta(MANAGER),
        programme_id=programme.id,
        criteria_version=programme.criteria_version,
    )
    programme.schedule_workshop(workshop.id, region, starts_at, meta(MANAGER))
    settled(programme)
    return settled(workshop)


# How an initiative gets to each stage from `proposed` (paused from proposed).
STAGE_PATHS: dict[Stage, tuple[Stage, ...]] = {
    Stage.PROPOSED: (),
    Stage.APPROVED: (Stage.APPROVED,),
    Stage.IN_DELIVERY: (Stage.APPROVED, Stage.IN_DELIVERY),
    Stage.DELIVERED: (Stage.APPROVED, Stage.IN_DELIVERY, Stage.DELIVERED),
    Stage.EVALUATED: (Stage.APPROVED, Stage.IN_DELIVERY, Stage.DELIVERED, Stage.EVALUATED),
    Stage.PAUSED: (Stage.PAUSED,),
    Stage.DROPPED: (Stage.DROPPED,),
}


def new_owner(programme: Programme, text: str = "Alex Owner") -> Owner:
    """An owner registered in the programme, its events cleared."""
    return settled(register(programme.id, text, meta(MANAGER)))


def new_initiative(
    programme: Programme | None = None,
    *,
    stage: Stage = Stage.PROPOSED,
    owner: str | None = "Alex Owner",
    title: str = "Regional CEO workshop",
    region: str = "South West",
) -> Initiative:
    """An initiative added by a manager and moved to `stage`, its events cleared.

    `owner` is assigned first (None: no owner); moves into delivery need one.
    """
    programme = programme or new_programme()
    initiative = add_by_manager(
        uuid4(), programme, title, "", region, "the board asked for it", meta(MANAGER)
    )
    if owner is not None:
        initiative.assign_owner(new_owner(programme, owner), meta(MANAGER))
    for step in STAGE_PATHS[stage]:
        initiative.move(step, "on the way", meta(MANAGER))
    return settled(initiative)
