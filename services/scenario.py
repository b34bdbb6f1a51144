"""A workshop scenario: the whole day as data, replayed by `quickwins demo`.

The format is documented in the README; `scenarios/south_west_2010.yaml` is
the seed's workshop. A facilitator can write their own to rehearse a day.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.agenda import Agenda, VotingRules

SEED = Path(__file__).parent / "scenarios" / "south_west_2010.yaml"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorkshopDetails(Strict):
    code: str
    title: str
    region: str
    venue: str = ""
    starts_at: datetime
    facilitator: str = "facilitator"


class Person(Strict):
    name: str
    organisation: str = ""
    group: str = Field(description="the key area this person signs up to")


class IdeaSpec(Strict):
    author: str
    text: str
    area: str


class AreaSpec(Strict):
    name: str
    capacity: int | None = None


class ProjectSpec(Strict):
    title: str
    summary: str = ""
    area: str
    ideas: list[int] = Field(default=[], description="1-based numbers of the ideas it builds on")
    supporters: int | None = Field(
        default=None, description="approval shorthand: how many people support it"
    )


class BallotSpec(Strict):
    voter: str
    choices: dict[str, Any] = Field(description="project title -> mark (1, dots or scores)")


class Scenario(Strict):
    workshop: WorkshopDetails
    agenda: Agenda
    voting: VotingRules = VotingRules()
    briefing: str
    participants: list[Person] = Field(min_length=1)
    ideas: list[IdeaSpec] = []
    key_areas: list[AreaSpec] = Field(min_length=1)
    projects: list[ProjectSpec] = []
    ballots: list[BallotSpec] = []

    @model_validator(mode="after")
    def _references_resolve(self) -> Scenario:
        areas = {a.name for a in self.key_areas}
        people = {p.name for p in self.participants}
        titles = {p.title for p in self.projects}
        _require(len(people) == len(self.participants), "participant names must be unique")
        _require(
            all(p.group in areas for p in self.participants),
            "a participant's group is not a key area",
        )
        _require(all(i.area in areas for i in self.ideas), "an idea's area is not a key area")
        _require(
            all(i.author in people for i in self.ideas), "an idea's author is not a participant"
        )
        _require(all(p.area in areas for p in self.projects), "a project's area is not a key area")
        _require(
            all(1 <= n <= len(self.ideas) for p in self.projects for n in p.ideas),
            "a project names an idea number that does not exist",
        )
        _require(
            all(b.voter in people for b in self.ballots), "a ballot's voter is not a participant"
        )
        _require(
            all(t in titles for b in self.ballots for t in b.choices),
            "a ballot names a project that is not in the scenario",
        )
        return self

    def all_ballots(self) -> list[BallotSpec]:
        """Explicit ballots, plus those the approval shorthand `supporters` stands for."""
        marks: dict[str, dict[str, Any]] = {b.voter: dict(b.choices) for b in self.ballots}
        names = [p.name for p in self.participants]
        for offset, project in enumerate(self.projects):
            for n in range(project.supporters or 0):
                # Spread each project's supporters round the room, differently per project.
                voter = names[(n + offset * 7) % len(names)]
                marks.setdefault(voter, {})[project.title] = 1
        return [BallotSpec(voter=v, choices=c) for v, c in marks.items()]


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def load_scenario(path: Path | None = None) -> Scenario:
    """Read a scenario from YAML or JSON (by the file's ending)."""
    path = path or SEED
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    return Scenario.model_validate(data)
