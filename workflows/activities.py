"""The agenda's activities: each records one act on a workshop through the application.

The activities are methods on `AgendaActivities`, which holds the application
object it was given (anything that satisfies `AgendaCommands`; the services
layer passes its `Workshops`). The library is synchronous, so they are plain
`def`s that the worker runs on a thread pool. Each takes one pydantic model.

Every application method used here is idempotent (opening an open phase,
closing a closed one, an extension whose id was seen, pausing a paused phase,
declaring declared results: each records nothing), so an activity retried
after a crash or a lost completion never records anything twice.

A broken domain rule is not going to mend itself on a retry: it becomes a
non-retryable `ApplicationError` whose type is the rule's code (for example
``wrong-phase``). Anything else (the database is down) is retried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from temporalio import activity

from domain import commands as c
from domain.errors import DomainError
from domain.meta import Meta
from domain.tally import Result
from workflows.errors import rule_broken


class AgendaCommands(Protocol):
    """What the agenda needs of the workshop application (`services.app.Workshops`)."""

    def open_phase(self, cmd: c.OpenPhase, meta: Meta) -> int: ...

    def close_phase(self, cmd: c.ClosePhase, meta: Meta) -> int: ...

    def extend_phase(self, cmd: c.ExtendPhase, meta: Meta) -> int: ...

    def pause_phase(self, cmd: c.PausePhase, meta: Meta) -> int: ...

    def resume_phase(self, cmd: c.ResumePhase, meta: Meta) -> int: ...

    def declare_results(self, cmd: c.DeclareResults, meta: Meta) -> Result: ...


# ----- inputs: one pydantic model per activity, a command and its Meta ---------


class _Act(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    meta: Meta


class OpenPhaseAct(_Act):
    command: c.OpenPhase


class ClosePhaseAct(_Act):
    command: c.ClosePhase


class ExtendPhaseAct(_Act):
    command: c.ExtendPhase


class PausePhaseAct(_Act):
    command: c.PausePhase


class ResumePhaseAct(_Act):
    command: c.ResumePhase


class DeclareResultsAct(_Act):
    command: c.DeclareResults


class AgendaActivities:
    """The agenda's activities, bound to one application object."""

    def __init__(self, app: AgendaCommands) -> None:
        self.app = app

    @activity.defn(name="agenda.open_phase")
    def open_phase(self, act: OpenPhaseAct) -> int:
        """Open a phase; returns the log position (nothing new if it opened already)."""
        try:
            return self.app.open_phase(act.command, act.meta)
        except DomainError as error:
            raise rule_broken(error) from error

    @activity.defn(name="agenda.close_phase")
    def close_phase(self, act: ClosePhaseAct) -> int:
        try:
            return self.app.close_phase(act.command, act.meta)
        except DomainError as error:
            raise rule_broken(error) from error

    @activity.defn(name="agenda.extend_phase")
    def extend_phase(self, act: ExtendPhaseAct) -> int:
        try:
            return self.app.extend_phase(act.command, act.meta)
        except DomainError as error:
            raise rule_broken(error) from error

    @activity.defn(name="agenda.pause_phase")
    def pause_phase(self, act: PausePhaseAct) -> int:
        try:
            return self.app.pause_phase(act.command, act.meta)
        except DomainError as error:
            raise rule_broken(error) from error

    @activity.defn(name="agenda.resume_phase")
    def resume_phase(self, act: ResumePhaseAct) -> int:
        try:
            return self.app.resume_phase(act.command, act.meta)
        except DomainError as error:
            raise rule_broken(error) from error

    @activity.defn(name="agenda.declare_results")
    def declare_results(self, act: DeclareResultsAct) -> Result:
        """Declare the vote's results (or return the ones declared already)."""
        try:
            return self.app.declare_results(act.command, act.meta)
        except DomainError as error:
            raise rule_broken(error) from error

    def all(self) -> list[Callable[..., Any]]:
        """The bound activity methods, for `Worker(activities=...)`."""
        return [
            self.open_phase,
            self.close_phase,
            self.extend_phase,
            self.pause_phase,
            self.resume_phase,
            self.declare_results,
        ]
