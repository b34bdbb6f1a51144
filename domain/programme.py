"""A programme: several regional workshops judged by shared criteria and outcomes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .agenda import Criterion
from .errors import AlreadyExists, InvalidInput, UnknownId, WrongPhase
from .meta import Meta, derive_id
from .text import NAME_MAX, TITLE_MAX, require_text

MAX_REGIONS = 50


class OutcomeMeasure(BaseModel):
    """How "better" is measured: money saved, staff time saved, and so on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    name: str = Field(min_length=1, max_length=80)
    unit: str = Field(min_length=1, max_length=20)


SEED_MEASURES: tuple[OutcomeMeasure, ...] = (
    OutcomeMeasure(key="money_saved", name="Money saved", unit="GBP"),
    OutcomeMeasure(key="staff_time_saved", name="Staff time saved", unit="hours"),
    OutcomeMeasure(key="service_quality", name="Service quality", unit="points"),
    OutcomeMeasure(key="people_involved", name="People involved", unit="people"),
)


class ProgrammeTerms(BaseModel):
    """What a programme is launched with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    sponsor: str
    regions: tuple[str, ...] = Field(min_length=1, max_length=MAX_REGIONS)
    criteria: tuple[Criterion, ...] = Field(min_length=1)
    measures: tuple[OutcomeMeasure, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> ProgrammeTerms:
        for label, values in (
            ("regions", [r.strip().lower() for r in self.regions]),
            ("criteria", [c.name.lower() for c in self.criteria]),
            ("measures", [m.key for m in self.measures]),
        ):
            if len(set(values)) != len(values):
                # A rule, not a shape: a typed error naming the field (pydantic lets it through).
                raise InvalidInput(f"{label} must be distinct", label)
        return self


def programme_id(name: str) -> UUID:
    return derive_id("programme", name.strip().lower())


class Programme(Aggregate):
    @event("Launched")
    def __init__(
        self,
        id: UUID,  # noqa: A002
        name: str,
        sponsor: str,
        regions: list[str],
        criteria: list[dict[str, Any]],
        measures: list[dict[str, Any]],
        meta: Meta,
    ) -> None:
        self.name = name
        self.sponsor = sponsor
        self.regions = list(regions)
        self.criteria_versions: list[list[dict[str, Any]]] = [list(criteria)]
        self.measures = {m["key"]: OutcomeMeasure.model_validate(m) for m in measures}
        self.workshops: dict[UUID, ScheduledWorkshop] = {}
        self.initiatives: list[UUID] = []
        self.closed = False

    @property
    def criteria_version(self) -> int:
        return len(self.criteria_versions)

    def criteria(self, version: int | None = None) -> tuple[Criterion, ...]:
        version = self.criteria_version if version is None else version
        if not 1 <= version <= self.criteria_version:
            raise UnknownId(f"no criteria version {version}", "version")
        chosen = self.criteria_versions[version - 1]
        return tuple(Criterion.model_validate(c) for c in chosen)

    def require_open(self) -> None:
        if self.closed:
            raise WrongPhase("the programme is closed", "programme_id")

    def require_region(self, region: str) -> str:
        for known in self.regions:
            if known.lower() == region.strip().lower():
                return known
        raise InvalidInput(f"{region!r} is not a region of this programme", "region")

    def require_measure(self, key: str) -> OutcomeMeasure:
        if key not in self.measures:
            known = ", ".join(self.measures)
            raise InvalidInput(f"no outcome measure {key!r} (known: {known})", "measure")
        return self.measures[key]

    def schedule_workshop(
        self, workshop_id: UUID, region: str, starts_at: datetime, meta: Meta
    ) -> None:
        self.require_open()
        if workshop_id in self.workshops:
            raise AlreadyExists("that workshop is in the programme already", "workshop_id")
        self._workshop_scheduled(
            workshop_id=workshop_id,
            region=self.require_region(region),
            starts_at=starts_at,
            meta=meta,
        )

    @event("WorkshopScheduled")
    def _workshop_scheduled(
        self, workshop_id: UUID, region: str, starts_at: datetime, meta: Meta
    ) -> None:
        self.workshops[workshop_id] = ScheduledWorkshop(region, starts_at)

    def register_initiative(self, initiative_id: UUID, meta: Meta) -> None:
        """The programme's index of its initiatives (few, so no hot stream)."""
        if initiative_id not in self.initiatives:
            self._initiative_registered(initiative_id=initiative_id, meta=meta)

    @event("InitiativeRegistered")
    def _initiative_registered(self, initiative_id: UUID, meta: Meta) -> None:
        self.initiatives.append(initiative_id)

    def revise_criteria(self, criteria: tuple[Criterion, ...], meta: Meta) -> int:
        """A new version; workshops whose vote opened keep the version they voted on."""
        self.require_open()
        if not criteria:
            raise InvalidInput("at least one criterion", "criteria")
        names = [c.name.lower() for c in criteria]
        if len(set(names)) != len(names):
            raise InvalidInput("criteria names must be distinct", "criteria")
        self._criteria_revised(
            version=self.criteria_version + 1,
            criteria=[c.model_dump(mode="json") for c in criteria],
            meta=meta,
        )
        return self.criteria_version

    @event("CriteriaRevised")
    def _criteria_revised(self, version: int, criteria: list[dict[str, Any]], meta: Meta) -> None:
        self.criteria_versions.append(list(criteria))

    def close(self, meta: Meta) -> None:
        self.require_open()
        self._closed(meta=meta)

    @event("Closed")
    def _closed(self, meta: Meta) -> None:
        self.closed = True


class ScheduledWorkshop:
    def __init__(self, region: str, starts_at: datetime) -> None:
        self.region = region
        self.starts_at = starts_at


def launch(terms: ProgrammeTerms, meta: Meta) -> Programme:
    name = require_text("name", terms.name, TITLE_MAX)
    return Programme(
        id=programme_id(name),
        name=name,
        sponsor=require_text("sponsor", terms.sponsor, NAME_MAX),
        regions=[require_text("regions", r, NAME_MAX) for r in terms.regions],
        criteria=[c.model_dump(mode="json") for c in terms.criteria],
        measures=[m.model_dump(mode="json") for m in terms.measures],
        meta=meta,
    )
