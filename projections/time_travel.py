"""Time travel: a workshop's board as it was at a past time or log position.

The board view (`projections.board`) keeps only the present, in SQL. This
module folds the log itself, in memory, up to a cut-off: it keeps the same
rows the view's tables would hold, changed the way the view's statements
change them, and assembles them with the view's own `_assemble`, so a board
from the past is the board the room would have seen then. Nothing here reads
a stored view or snapshot: give it the log's events and it needs nothing
else.

`workshop_events` picks one workshop's events out of the log (ideas,
participants, sign-ups, projects and ballots name their workshop in their
creation event; later events are matched by stream id), and `board_at`
folds them up to a position or a time (the `meta.at` of each act).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from .board import (
    BALLOT_CAST,
    BRIEFING_PUBLISHED,
    CRITERIA_ADOPTED,
    GROUP_CAPACITY_SET,
    IDEA_EDITED,
    IDEA_GROUPED,
    IDEA_MERGED,
    IDEA_SUBMITTED,
    IDEA_WITHDRAWN,
    JOINED,
    KEY_AREA_DEFINED,
    KEY_AREA_RENAMED,
    KEY_AREAS_MERGED,
    MERGED,
    PHASE_CLOSED,
    PHASE_EXTENDED,
    PHASE_OPENED,
    PHASE_PAUSED,
    PHASE_RESUMED,
    PITCH_ENDED,
    PITCH_STARTED,
    PROJECT_PROPOSED,
    PROJECT_REVISED,
    RESULTS_DECLARED,
    SCHEDULED,
    SIGNED_UP,
    SWITCHED_GROUP,
    WITHDRAWN,
    _assemble,
)
from .board_models import Board

__all__ = ["PositionedEvent", "board_at", "cut", "workshop_events"]

PositionedEvent = tuple[int, Any]  # (log position, domain event)

# Events that start a stream belonging to a workshop named in the event.
_MEMBER_CREATIONS: tuple[type[Any], ...] = (
    JOINED,
    IDEA_SUBMITTED,
    SIGNED_UP,
    PROJECT_PROPOSED,
    BALLOT_CAST,
)


def workshop_events(workshop_id: UUID, events: Iterable[PositionedEvent]) -> list[PositionedEvent]:
    """The events of one workshop's streams (its own, its crowd's), in log order.

    `events` is the log (or any part of it from its start) in position order.
    """
    members: set[UUID] = {workshop_id}
    found: list[PositionedEvent] = []
    for position, event in events:
        if isinstance(event, _MEMBER_CREATIONS) and event.workshop_id == workshop_id:
            members.add(event.originator_id)
        if event.originator_id in members:
            found.append((position, event))
    return found


def cut(
    events: Iterable[PositionedEvent], *, position: int | None = None, at: datetime | None = None
) -> list[PositionedEvent]:
    """The events recorded at or before `position`, or acted at or before `at`."""
    if position is not None and at is not None:
        raise ValueError("cut at a position or at a time, not both")
    if position is not None:
        return [(p, e) for p, e in events if p <= position]
    if at is not None:
        return [(p, e) for p, e in events if e.meta.at <= at]
    return list(events)


def board_at(
    workshop_id: UUID,
    events: Iterable[PositionedEvent],
    *,
    position: int | None = None,
    at: datetime | None = None,
) -> Board | None:
    """The board of `workshop_id` after the log's events up to the cut-off.

    None when the workshop was not scheduled yet. The board's `position` is
    the log position of the last of this workshop's events it reflects (the
    view's is the last event of the whole log it has read).
    """
    fold = _Fold(workshop_id)
    for pos, event in cut(workshop_events(workshop_id, events), position=position, at=at):
        fold.apply(pos, event)
    return fold.board()


class _Fold:
    """The board view's rows for one workshop, kept in memory."""

    def __init__(self, workshop_id: UUID) -> None:
        self.workshop_id = workshop_id
        self.workshop: dict[str, Any] | None = None
        self.areas: dict[UUID, dict[str, Any]] = {}
        self.ideas: dict[UUID, dict[str, Any]] = {}
        self.signups: dict[UUID, UUID] = {}  # sign-up id -> key area
        self.projects: dict[UUID, dict[str, Any]] = {}
        self.participants: set[UUID] = set()
        self.ballots: set[UUID] = set()
        self.position: int | None = None
        self.handlers: dict[type[Any], Callable[[int, Any], None]] = {
            SCHEDULED: self._scheduled,
            PHASE_OPENED: self._phase_opened,
            PHASE_CLOSED: self._phase_closed,
            PHASE_EXTENDED: self._phase_extended,
            CRITERIA_ADOPTED: self._criteria_adopted,
            PHASE_PAUSED: self._paused,
            PHASE_RESUMED: self._resumed,
            BRIEFING_PUBLISHED: self._briefing,
            KEY_AREA_DEFINED: self._area_defined,
            KEY_AREA_RENAMED: self._area_renamed,
            KEY_AREAS_MERGED: self._areas_merged,
            GROUP_CAPACITY_SET: self._capacity,
            PITCH_STARTED: self._pitch_started,
            PITCH_ENDED: self._pitch_ended,
            RESULTS_DECLARED: self._results,
            JOINED: self._joined,
            IDEA_SUBMITTED: self._idea_submitted,
            IDEA_EDITED: self._idea_edited,
            IDEA_WITHDRAWN: self._idea_withdrawn,
            IDEA_GROUPED: self._idea_grouped,
            IDEA_MERGED: self._idea_merged,
            SIGNED_UP: self._signed_up,
            SWITCHED_GROUP: self._switched,
            PROJECT_PROPOSED: self._proposed,
            PROJECT_REVISED: self._revised,
            BALLOT_CAST: self._ballot_cast,
        }

    def apply(self, position: int, event: Any) -> None:
        handler = self.handlers.get(type(event))
        if handler is None:
            return  # an event the board does not show (a revised ballot, a seat...)
        if self.workshop is None and type(event) is not SCHEDULED:
            return  # nothing of a workshop shows before it is scheduled
        handler(position, event)
        self.position = position

    def board(self) -> Board | None:
        if self.workshop is None:
            return None
        order = sorted(self.projects.values(), key=_pitch_then_position)
        counts: dict[UUID, int] = {}
        for area in self.signups.values():
            counts[area] = counts.get(area, 0) + 1
        return _assemble(
            self.workshop,
            sorted(self.areas.values(), key=_by_position),
            sorted(self.ideas.values(), key=_by_position),
            counts,
            order,
            {"people": len(self.participants), "ballots": len(self.ballots)},
            self.position,
        )

    @property
    def w(self) -> dict[str, Any]:
        assert self.workshop is not None
        return self.workshop

    # ----- the workshop (as the view's statements do it) ------------------------

    def _scheduled(self, position: int, e: Any) -> None:
        self.workshop = {
            "id": e.originator_id,
            "code": e.code,
            "title": e.title,
            "region": e.region,
            "venue": e.venue,
            "starts_at": e.starts_at,
            "agenda": dict(e.agenda),
            "voting": dict(e.voting),
            "phase_index": -1,
            "phase_kind": None,
            "phase_open": False,
            "phase_opened_at": None,
            "phase_minutes": 0.0,
            "paused_at": None,
            "briefing": None,
            "pitching": None,
            "results": None,
        }

    def _phase_opened(self, position: int, e: Any) -> None:
        self.w.update(
            phase_index=e.index,
            phase_kind=e.kind,
            phase_open=True,
            phase_opened_at=e.meta.at,
            phase_minutes=e.minutes,
            paused_at=None,
        )

    def _phase_closed(self, position: int, e: Any) -> None:
        self.w.update(phase_open=False, pitching=None)

    def _phase_extended(self, position: int, e: Any) -> None:
        self.w["phase_minutes"] += e.minutes

    def _criteria_adopted(self, position: int, e: Any) -> None:
        self.w["voting"] = {**self.w["voting"], "criteria": list(e.criteria)}

    def _paused(self, position: int, e: Any) -> None:
        self.w["paused_at"] = e.meta.at

    def _resumed(self, position: int, e: Any) -> None:
        paused_at = self.w["paused_at"]
        if paused_at is None:
            return
        minutes = self.w["phase_minutes"] + (e.meta.at - paused_at).total_seconds() / 60
        self.w.update(phase_minutes=minutes, paused_at=None)

    def _briefing(self, position: int, e: Any) -> None:
        self.w["briefing"] = e.text

    def _area_defined(self, position: int, e: Any) -> None:
        self.areas.setdefault(
            e.key_area_id,
            {
                "id": e.key_area_id,
                "name": e.name,
                "capacity": None,
                "merged_into": None,
                "position": position,
            },
        )

    def _area_renamed(self, position: int, e: Any) -> None:
        if e.key_area_id in self.areas:
            self.areas[e.key_area_id]["name"] = e.name

    def _areas_merged(self, position: int, e: Any) -> None:
        if e.source_id in self.areas:
            self.areas[e.source_id]["merged_into"] = e.target_id

    def _capacity(self, position: int, e: Any) -> None:
        if e.key_area_id in self.areas:
            self.areas[e.key_area_id]["capacity"] = e.capacity

    def _pitch_started(self, position: int, e: Any) -> None:
        self.w["pitching"] = e.project_id
        project = self.projects.get(e.project_id)
        if project is not None and project["pitch_order"] is None:
            pitched = sum(1 for p in self.projects.values() if p["pitch_order"] is not None)
            project.update(pitch_order=1 + pitched, pitched_at=e.meta.at)

    def _pitch_ended(self, position: int, e: Any) -> None:
        if self.w["pitching"] == e.project_id:
            self.w["pitching"] = None

    def _results(self, position: int, e: Any) -> None:
        self.w["results"] = dict(e.results)

    # ----- the crowd ------------------------------------------------------------

    def _joined(self, position: int, e: Any) -> None:
        self.participants.add(e.originator_id)

    def _idea_submitted(self, position: int, e: Any) -> None:
        self.ideas.setdefault(
            e.originator_id,
            {
                "id": e.originator_id,
                "author_id": e.author_id,
                "text": e.text,
                "key_area_id": None,
                "status": "active",
                "merged_into": None,
                "submitted_at": e.meta.at,
                "position": position,
            },
        )

    def _idea(self, e: Any) -> dict[str, Any]:
        return self.ideas.get(e.originator_id, {})

    def _idea_edited(self, position: int, e: Any) -> None:
        self._idea(e)["text"] = e.text

    def _idea_withdrawn(self, position: int, e: Any) -> None:
        self._idea(e)["status"] = WITHDRAWN

    def _idea_grouped(self, position: int, e: Any) -> None:
        self._idea(e)["key_area_id"] = e.key_area_id

    def _idea_merged(self, position: int, e: Any) -> None:
        self._idea(e).update(status=MERGED, merged_into=e.target_id)

    def _signed_up(self, position: int, e: Any) -> None:
        self.signups.setdefault(e.originator_id, e.key_area_id)

    def _switched(self, position: int, e: Any) -> None:
        if e.originator_id in self.signups:
            self.signups[e.originator_id] = e.key_area_id

    def _proposed(self, position: int, e: Any) -> None:
        self.projects.setdefault(
            e.originator_id,
            {
                "id": e.originator_id,
                "key_area_id": e.key_area_id,
                "title": e.title,
                "summary": e.summary,
                "idea_ids": list(e.idea_ids),
                "proposer_ids": list(e.proposer_ids),
                "pitch_order": None,
                "pitched_at": None,
                "position": position,
            },
        )

    def _revised(self, position: int, e: Any) -> None:
        project = self.projects.get(e.originator_id)
        if project is not None:
            project.update(
                title=e.title,
                summary=e.summary,
                idea_ids=list(e.idea_ids),
                proposer_ids=list(e.proposer_ids),
            )

    def _ballot_cast(self, position: int, e: Any) -> None:
        self.ballots.add(e.originator_id)


def _by_position(row: dict[str, Any]) -> tuple[int, str]:
    return (row["position"], str(row["id"]))


def _pitch_then_position(row: dict[str, Any]) -> tuple[bool, int, int, str]:
    order = row["pitch_order"]
    return (order is None, order or 0, row["position"], str(row["id"]))
