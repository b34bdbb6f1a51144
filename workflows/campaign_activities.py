"""The campaign's activities: briefing drafts, adoption, and where a workshop has got to.

The activities are methods on `CampaignActivities`, which holds the
programme service it was given (anything that satisfies `CampaignCommands`;
the services layer passes its `services.programmes.Programmes`). The library
is synchronous, so they are plain `def`s that the worker runs on a thread
pool. Each takes one pydantic model: a command and the Meta the workflow
built for it (actor, scenario time, causal chain).

Every one is idempotent: drafting a briefing that was drafted already (or
whose workshop has started) returns the text there is and records nothing;
adopting winners that were adopted returns the same initiative ids (they are
derived from the winning projects); reading a workshop's progress records
nothing at all. So a retry after a crash or a lost completion never records
anything twice.

A broken domain rule is not going to mend itself on a retry: it becomes a
non-retryable `ApplicationError` whose type is the rule's code (for example
``wrong-phase``). Anything else (the database is down) is retried.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain import programme_commands as pc
from domain.agenda import Phase, PhaseKind
from domain.errors import DomainError
from domain.meta import Meta
from domain.workshop import Workshop
from workflows.errors import rule_broken


class WorkshopLoader(Protocol):
    """Loads a workshop from the event store (`services.app.Workshops.load`)."""

    def load(self, cls: type[Workshop], aggregate_id: UUID, field: str) -> Workshop: ...


class CampaignCommands(Protocol):
    """What the campaign needs of the programme service (`services.programmes.Programmes`)."""

    @property
    def app(self) -> WorkshopLoader: ...

    def draft_briefing(self, cmd: pc.DraftBriefing, meta: Meta) -> str: ...

    def adopt_winners(self, cmd: pc.AdoptWinners, meta: Meta) -> list[UUID]: ...


# ----- inputs and outputs: one pydantic model per activity ---------------------


class DraftBriefingAct(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    command: pc.DraftBriefing
    meta: Meta


class AdoptWinnersAct(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    command: pc.AdoptWinners
    meta: Meta


class ProgressQuery(BaseModel):
    """Which workshop to look at, and the programme it must belong to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workshop_id: UUID
    programme_id: UUID


class WorkshopProgress(BaseModel):
    """Where a workshop has got to, and what it was scheduled with, as its stream says."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    starts_at: datetime
    agenda: list[Phase]
    phase_index: int = Field(description="the latest phase opened; -1 before the start")
    phase_open: bool
    phases: int = Field(description="how many phases its agenda has")
    results_declared: bool
    done: bool = Field(
        description="nothing is left to run: the closed phase opened, or the last phase closed"
    )
    resume_index: int = Field(description="the phase an agenda run taking over should start from")


def progress_of(workshop: Workshop) -> WorkshopProgress:
    """A workshop's progress; pure, so the rules can be tested without Temporal."""
    phases = len(workshop.agenda.phases)
    index = workshop.phase_index
    declared = workshop.results is not None
    # The last phase is reached and over (a closed phase is always the last).
    done = index == phases - 1 and (
        not workshop.phase_open or workshop.current_kind == PhaseKind.CLOSED
    )
    if index < 0:
        resume = 0
    elif workshop.phase_open:
        resume = index  # re-timed in full: opening it again records nothing
    elif workshop.agenda.phases[index].kind == PhaseKind.VOTE and not declared:
        resume = index  # the vote closed but its results were never declared
    else:
        resume = index + 1
    starts_at = workshop.starts_at
    if starts_at.tzinfo is None:
        starts_at = starts_at.replace(tzinfo=UTC)
    return WorkshopProgress(
        starts_at=starts_at,
        agenda=list(workshop.agenda.phases),
        phase_index=index,
        phase_open=workshop.phase_open,
        phases=phases,
        results_declared=declared,
        done=done,
        resume_index=min(resume, phases - 1),
    )


class CampaignActivities:
    """The campaign's activities, bound to one programme service."""

    def __init__(self, programmes: CampaignCommands) -> None:
        self.programmes = programmes

    @activity.defn(name="campaign.draft_briefing")
    def draft_briefing(self, act: DraftBriefingAct) -> str:
        """Draft the workshop's briefing note from the programme so far; returns its text."""
        try:
            return self.programmes.draft_briefing(act.command, act.meta)
        except DomainError as error:
            raise rule_broken(error) from error

    @activity.defn(name="campaign.adopt_winners")
    def adopt_winners(self, act: AdoptWinnersAct) -> list[UUID]:
        """Carry the workshop's winners forward as initiatives; returns their ids."""
        try:
            return self.programmes.adopt_winners(act.command, act.meta)
        except DomainError as error:
            raise rule_broken(error) from error

    @activity.defn(name="campaign.workshop_progress")
    def workshop_progress(self, query: ProgressQuery) -> WorkshopProgress:
        """Where the workshop has got to; refuses a workshop of another programme."""
        try:
            workshop = self.programmes.app.load(Workshop, query.workshop_id, "workshop_id")
        except DomainError as error:
            raise rule_broken(error) from error
        if workshop.programme_id != query.programme_id:
            raise ApplicationError(
                f"workshop {query.workshop_id} is not part of programme {query.programme_id}",
                {"code": "unknown-id", "field": "workshop_id"},
                type="unknown-id",
                non_retryable=True,
            )
        return progress_of(workshop)

    def all(self) -> list[Callable[..., Any]]:
        """The bound activity methods, for `Worker(activities=...)`."""
        return [self.draft_briefing, self.adopt_winners, self.workshop_progress]
