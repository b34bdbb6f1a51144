"""The tally: a pure function of the recorded ballots up to the vote's close.

Anyone holding the log can recompute it: the result names the position it
stopped at and a digest of exactly the ballots it counted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from .agenda import VotingRules


class BallotRecord(BaseModel):
    """A ballot event as the log holds it: its position and the voter's full marks."""

    model_config = ConfigDict(frozen=True)

    position: int
    ballot_id: UUID
    participant_id: UUID
    choices: dict[str, Any]


class ProjectEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    project_id: UUID
    title: str


class ProjectTotal(BaseModel):
    project_id: UUID
    title: str
    total: float
    supporters: int
    share: float


class RankEntry(BaseModel):
    rank: int
    project_ids: list[UUID]
    total: float
    tied: bool


class Result(BaseModel):
    method: str
    counted_up_to: int
    ballots_counted: int
    ballots_ignored: int
    digest: str
    totals: list[ProjectTotal]
    ranking: list[RankEntry]
    winners: list[UUID]

    @property
    def ties(self) -> list[list[UUID]]:
        return [entry.project_ids for entry in self.ranking if entry.tied]


def tally(
    rules: VotingRules,
    projects: Iterable[ProjectEntry],
    ballots: Iterable[BallotRecord],
    close_position: int,
) -> Result:
    """Count the latest version of each ballot recorded at or before `close_position`."""
    records = list(ballots)
    counted = latest_ballots(records, close_position)
    entries = sorted(projects, key=lambda p: (p.title.lower(), str(p.project_id)))
    totals = [_project_total(rules, entry, counted) for entry in entries]
    ranking = rank(totals)
    return Result(
        method=rules.method,
        counted_up_to=close_position,
        ballots_counted=len(counted),
        ballots_ignored=sum(1 for r in records if r.position > close_position),
        digest=digest(counted),
        totals=totals,
        ranking=ranking,
        winners=ranking[0].project_ids if ranking and ranking[0].total > 0 else [],
    )


def latest_ballots(records: Iterable[BallotRecord], close_position: int) -> list[BallotRecord]:
    """The last recorded version of each ballot up to the cut-off, in ballot id order."""
    latest: dict[UUID, BallotRecord] = {}
    for record in sorted(records, key=lambda r: r.position):
        if record.position <= close_position:
            latest[record.ballot_id] = record
    return [latest[key] for key in sorted(latest, key=str)]


def digest(counted: list[BallotRecord]) -> str:
    """SHA-256 of the counted ballots in a canonical JSON form."""
    canonical = [[str(r.ballot_id), r.position, r.choices] for r in counted]
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _project_total(
    rules: VotingRules, entry: ProjectEntry, counted: list[BallotRecord]
) -> ProjectTotal:
    key = str(entry.project_id)
    marks = [r.choices[key] for r in counted if key in r.choices]
    total = sum(_points(rules, mark) for mark in marks)
    return ProjectTotal(
        project_id=entry.project_id,
        title=entry.title,
        total=round(total, 6),
        supporters=len(marks),
        share=round(len(marks) / len(counted), 6) if counted else 0.0,
    )


def _points(rules: VotingRules, mark: Any) -> float:
    if rules.method == "scores":
        weights = {c.name: c.weight for c in rules.criteria}
        return float(sum(weights[name] * score for name, score in mark.items()))
    return float(mark)


def rank(totals: list[ProjectTotal]) -> list[RankEntry]:
    """Highest total first; equal totals share a rank and are marked as tied."""
    ordered = sorted(totals, key=lambda t: -t.total)
    ranking: list[RankEntry] = []
    for total in ordered:
        if ranking and ranking[-1].total == total.total:
            ranking[-1].project_ids.append(total.project_id)
            ranking[-1].tied = True
            continue
        place = 1 + sum(len(entry.project_ids) for entry in ranking)
        ranking.append(
            RankEntry(rank=place, project_ids=[total.project_id], total=total.total, tied=False)
        )
    return ranking
