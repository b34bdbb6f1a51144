"""Group commit for ballots: a room voting at once, many ballots per transaction.

The library's PostgreSQL writer takes a table lock per transaction, so one
transaction per ballot tops out near a couple of thousand a second. Here the
callers' ballots queue up; one thread takes everything waiting (up to a
batch), checks each ballot on its own (reading each workshop and project
once per batch), and saves all the good ones in one transaction. A ballot
that breaks a rule fails alone, and each caller is answered only once its
own ballot is durable.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from domain import ballot as ballots
from domain import commands as c
from domain.errors import DomainError, DuplicateBallot
from domain.meta import Meta
from domain.participant import Participant
from domain.project import Project
from domain.workshop import Workshop

from .app import Workshops


@dataclass
class _Cast:
    command: c.CastBallot
    meta: Meta
    result: Future[int] = field(default_factory=Future)
    events: list[Any] = field(default_factory=list)

    @property
    def ballot_id(self) -> UUID:
        return UUID(str(self.events[0].originator_id))


class BallotBox:
    """Casts ballots through one writer thread, many per transaction."""

    def __init__(self, app: Workshops, max_batch: int = 500) -> None:
        self.app = app
        self.max_batch = max_batch
        self.batches = 0  # transactions written, for tests and benchmarks
        self._queue: queue.Queue[_Cast | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="ballot-box", daemon=True)
        self._thread.start()

    def cast(self, command: c.CastBallot, meta: Meta, timeout: float = 30.0) -> int:
        """Cast one ballot; returns its log position once durable, or raises its own error."""
        item = _Cast(command, meta)
        self._queue.put(item)
        return item.result.result(timeout=timeout)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def __enter__(self) -> BallotBox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- the writer thread ----------------------------------------------------

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._write(batch)
                    return
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[_Cast]) -> None:
        checked = self._distinct(batch)
        try:
            positions = self._save([event for item in checked for event in item.events])
        except IntegrityError:
            # Someone voted already (outside this batch): find out who, one by one.
            for item in checked:
                self._save_alone(item)
            return
        except Exception as error:  # the database is down: every caller hears it
            for item in checked:
                item.result.set_exception(error)
            return
        for item in checked:
            item.result.set_result(positions[item.ballot_id])

    def _distinct(self, batch: list[_Cast]) -> list[_Cast]:
        """Each ballot checked on its own: a broken rule fails only its caller, and a
        person's second ballot in the same batch is a duplicate."""
        cache = _Cache(self.app)
        seen: set[UUID] = set()
        checked = []
        for item in batch:
            try:
                # Kept as events, so a batch that fails can be saved again one by one.
                item.events = list(cache.ballot(item.command, item.meta).collect_events())
            except DomainError as error:
                item.result.set_exception(error)
                continue
            if item.ballot_id in seen:
                item.result.set_exception(_duplicate())
            else:
                seen.add(item.ballot_id)
                checked.append(item)
        return checked

    def _save(self, events: list[Any]) -> dict[UUID, int]:
        if not events:
            return {}
        recordings = self.app.save(*events)
        self.batches += 1
        return {UUID(str(r.domain_event.originator_id)): r.notification.id for r in recordings}

    def _save_alone(self, item: _Cast) -> None:
        try:
            item.result.set_result(self._save(item.events)[item.ballot_id])
        except IntegrityError:
            item.result.set_exception(_duplicate())
        except Exception as error:
            item.result.set_exception(error)


def _duplicate() -> DuplicateBallot:
    return DuplicateBallot("already voted: revise the ballot instead", "participant_id")


class _Cache:
    """Within one batch, each workshop and project is read once."""

    def __init__(self, app: Workshops) -> None:
        self.app = app
        self.workshops: dict[UUID, Workshop] = {}
        self.projects: dict[UUID, Project | None] = {}

    def ballot(self, command: c.CastBallot, meta: Meta) -> ballots.Ballot:
        workshop = self.workshops.get(command.workshop_id)
        if workshop is None:
            workshop = self.app.load(Workshop, command.workshop_id, "workshop_id")
            self.workshops[workshop.id] = workshop
        voter = self.app.load(Participant, command.participant_id, "participant_id")
        # A ballot cast earlier is found by the conflict on save (then one by one):
        # reading first would cost every ballot a query for a rare case.
        return ballots.cast(workshop, voter, command.choices, self._projects(command), meta)

    def _projects(self, command: c.CastBallot) -> dict[UUID, Project | None]:
        found: dict[UUID, Project | None] = {}
        for key in command.choices:
            try:
                project_id = UUID(str(key))
            except ValueError:
                continue  # the domain names the bad key
            if project_id not in self.projects:
                self.projects[project_id] = self.app.find(Project, project_id)
            found[project_id] = self.projects[project_id]
        return found
