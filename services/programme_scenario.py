"""A programme scenario: several workshop scenarios and what happens after them.

Used by `quickwins demo --programme`; the format is in the README.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.initiative import Rag

from .scenario import Scenario, load_scenario

SEED_PROGRAMME = Path(__file__).parent / "scenarios" / "programme_2010.yaml"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProgrammeDetails(Strict):
    name: str
    sponsor: str
    regions: list[str] = Field(min_length=1)
    starts_at: datetime


class WorkshopEntry(Strict):
    scenario: Path
    follow_up_of: str | None = Field(default=None, description="an initiative's title")


class MilestonePlan(Strict):
    title: str
    due_day: float = Field(ge=0)
    done_day: float | None = Field(default=None, ge=0)


class ProgressPlan(Strict):
    day: float = Field(ge=0)
    percent: int = Field(ge=0, le=100)
    status: Rag
    note: str = ""


class BenefitPlan(Strict):
    day: float = Field(ge=0)
    measure: str
    amount: float
    evidence: str


class RegionPlan(Strict):
    day: float = Field(ge=0)
    region: str


class DeliveryPlan(Strict):
    initiative: str
    owner: str
    approve_day: float = 1
    start_day: float = 2
    milestones: list[MilestonePlan] = []
    progress: list[ProgressPlan] = []
    delivered_day: float | None = None
    benefits: list[BenefitPlan] = []
    adopted_in: list[RegionPlan] = Field(default=[], description="other regions taking it up")


class ProgrammeScenario(Strict):
    programme: ProgrammeDetails
    workshops: list[WorkshopEntry] = Field(min_length=1)
    delivery: list[DeliveryPlan] = []
    # Filled in by `load_programme` from the workshop files.
    scenarios: list[Scenario] = []

    @model_validator(mode="after")
    def _regions_known(self) -> ProgrammeScenario:
        regions = {r.lower() for r in self.programme.regions}
        for scenario in self.scenarios:
            if scenario.workshop.region.lower() not in regions:
                code = scenario.workshop.code
                raise ValueError(f"workshop {code}: its region is not in the programme")
        return self


def load_programme(path: Path | None = None) -> ProgrammeScenario:
    """Read a programme file and the workshop scenario files it names (relative to it)."""
    path = path or SEED_PROGRAMME
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    plan = ProgrammeScenario.model_validate(data)
    scenarios = [load_scenario(path.parent / entry.scenario) for entry in plan.workshops]
    return ProgrammeScenario.model_validate({**plan.model_dump(), "scenarios": scenarios})
