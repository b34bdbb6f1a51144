"""The Workshop aggregate: agenda, phases, key areas, pitches and results."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from .agenda import MAX_EXTENSION_MINUTES, Agenda, Criterion, Phase, PhaseKind, VotingRules
from .errors import ForeignProject, InvalidInput, UnknownId, WrongPhase
from .meta import Meta, derive_id
from .text import BRIEFING_MAX, NAME_MAX, TITLE_MAX, VENUE_MAX, require_text

MAX_CAPACITY = 1000


def workshop_id(code: str) -> UUID:
    """A workshop's id is derived from its code, so scheduling twice conflicts."""
    return derive_id("workshop", code.strip().lower())


def key_area_id(workshop: UUID, name: str) -> UUID:
    return derive_id("key-area", workshop, name.strip().lower())


class Workshop(Aggregate):
    """One strategy day. Its stream holds the facilitator's acts, not the crowd's."""

    @event("Scheduled")
    def __init__(
        self,
        id: UUID,  # noqa: A002 - the library's name for the stream id
        code: str,
        title: str,
        region: str,
        venue: str,
        starts_at: datetime,
        agenda: dict[str, Any],
        voting: dict[str, Any],
        meta: Meta,
        programme_id: UUID | None = None,
        criteria_version: int | None = None,
    ) -> None:
        self.code = code
        self.programme_id = programme_id
        self.criteria_version = criteria_version
        self.title = title
        self.region = region
        self.venue = venue
        self.starts_at = starts_at
        self.agenda = Agenda.model_validate(agenda)
        self.voting = VotingRules.model_validate(voting)
        self.scheduled_by = meta.actor
        self.phase_index = -1
        self.phase_open = False
        self.phase_opened_at: datetime | None = None
        self.phase_minutes = 0.0
        self.paused_at: datetime | None = None
        self.extension_ids: set[str] = set()
        self.briefing: str | None = None
        self.briefing_draft: str | None = None
        self.key_areas: dict[UUID, KeyArea] = {}
        self.pitched: list[UUID] = []
        self.pitching: UUID | None = None
        self.vote_closed_version: int | None = None
        self.results: dict[str, Any] | None = None

    # ----- queries -------------------------------------------------------

    @property
    def current_phase(self) -> Phase | None:
        """The open phase, or None between phases and before the start."""
        if not self.phase_open:
            return None
        return self.agenda.phases[self.phase_index]

    @property
    def finished(self) -> bool:
        return self.results is not None or self.current_kind == PhaseKind.CLOSED

    @property
    def current_kind(self) -> PhaseKind | None:
        phase = self.current_phase
        return phase.kind if phase else None

    def require_phase(self, *kinds: PhaseKind) -> None:
        if self.current_kind not in kinds:
            wanted = " or ".join(k.value for k in kinds)
            now = self.current_kind.value if self.current_kind else "no open phase"
            raise WrongPhase(f"only allowed during {wanted}; the workshop is in {now}", "phase")

    def active_area(self, area: UUID) -> KeyArea:
        found = self.key_areas.get(area)
        if found is None:
            raise UnknownId(f"no key area {area} in this workshop", "key_area_id")
        if found.merged_into is not None:
            raise InvalidInput(f"key area {area} was merged into another", "key_area_id")
        return found

    def resolve_area(self, area: UUID) -> UUID:
        """Follow merges to the key area that now holds what was grouped into `area`."""
        seen = set()
        while (merged := self.key_areas[area].merged_into) is not None and area not in seen:
            seen.add(area)
            area = merged
        return area

    # ----- phases --------------------------------------------------------

    def open_phase(self, index: int, meta: Meta) -> None:
        if self.phase_open or index != self.phase_index + 1:
            raise WrongPhase(f"phase {index} cannot open now", "index")
        if index >= len(self.agenda.phases):
            raise InvalidInput(f"the agenda has no phase {index}", "index")
        phase = self.agenda.phases[index]
        self._phase_opened(index=index, kind=phase.kind.value, minutes=phase.minutes, meta=meta)

    @event("PhaseOpened")
    def _phase_opened(self, index: int, kind: str, minutes: float, meta: Meta) -> None:
        self.phase_index = index
        self.phase_open = True
        self.phase_opened_at = meta.at
        self.phase_minutes = minutes
        self.paused_at = None

    def adopt_criteria(self, version: int, criteria: tuple[Criterion, ...], meta: Meta) -> None:
        """Take the programme's criteria in force; only before the vote opens."""
        if self.vote_closed_version is not None or self.current_kind == PhaseKind.VOTE:
            raise WrongPhase("the criteria are fixed once the vote opens", "criteria")
        if version != self.criteria_version:
            self._criteria_adopted(
                version=version, criteria=[c.model_dump(mode="json") for c in criteria], meta=meta
            )

    @event("CriteriaAdopted")
    def _criteria_adopted(self, version: int, criteria: list[dict[str, Any]], meta: Meta) -> None:
        self.criteria_version = version
        self.voting = self.voting.model_copy(
            update={"criteria": tuple(Criterion.model_validate(c) for c in criteria)}
        )

    def close_phase(self, index: int, meta: Meta) -> None:
        if not self.phase_open or index != self.phase_index:
            raise WrongPhase(f"phase {index} is not open", "index")
        if self.current_kind == PhaseKind.CLOSED:
            raise WrongPhase("the workshop is closed", "index")
        self._phase_closed(index=index, kind=self.agenda.phases[index].kind.value, meta=meta)

    @event("PhaseClosed")
    def _phase_closed(self, index: int, kind: str, meta: Meta) -> None:
        self.phase_open = False
        self.pitching = None
        if kind == PhaseKind.VOTE.value:
            # The event being applied is the next version: the tally's cut-off.
            self.vote_closed_version = self.version + 1

    def extend_phase(self, minutes: float, extension_id: str, meta: Meta) -> None:
        if not 0 < minutes <= MAX_EXTENSION_MINUTES:
            raise InvalidInput(f"minutes must be between 0 and {MAX_EXTENSION_MINUTES}", "minutes")
        if extension_id in self.extension_ids:
            return  # a retried request: already recorded
        self._require_timed_phase()
        self._phase_extended(minutes=minutes, extension_id=extension_id, meta=meta)

    @event("PhaseExtended")
    def _phase_extended(self, minutes: float, extension_id: str, meta: Meta) -> None:
        self.phase_minutes += minutes
        self.extension_ids.add(extension_id)

    def pause(self, meta: Meta) -> None:
        self._require_timed_phase()
        if self.paused_at is None:
            self._paused(meta=meta)

    @event("PhasePaused")
    def _paused(self, meta: Meta) -> None:
        self.paused_at = meta.at

    def resume(self, meta: Meta) -> None:
        self._require_timed_phase()
        if self.paused_at is not None:
            self._resumed(meta=meta)

    @event("PhaseResumed")
    def _resumed(self, meta: Meta) -> None:
        # The pause does not eat into the phase: its length moves the end.
        assert self.paused_at is not None
        # A clock skewed backwards must not shorten the phase.
        self.phase_minutes += max(0.0, (meta.at - self.paused_at).total_seconds() / 60)
        self.paused_at = None

    def _require_timed_phase(self) -> None:
        if not self.phase_open or self.current_kind == PhaseKind.CLOSED:
            raise WrongPhase("no phase is running", "phase")

    # ----- briefing and key areas ----------------------------------------

    def publish_briefing(self, text: str, meta: Meta) -> None:
        if self.finished:
            raise WrongPhase("the workshop is over", "phase")
        self._briefing_published(text=require_text("text", text, BRIEFING_MAX), meta=meta)

    @event("BriefingPublished")
    def _briefing_published(self, text: str, meta: Meta) -> None:
        self.briefing = text

    def draft_briefing(self, text: str, meta: Meta) -> None:
        """A draft for the facilitator to edit and publish (drafted from earlier events)."""
        if self.finished or self.phase_index >= 0:
            raise WrongPhase("a briefing is drafted before the workshop starts", "phase")
        self._briefing_drafted(text=require_text("text", text, BRIEFING_MAX), meta=meta)

    @event("BriefingDrafted")
    def _briefing_drafted(self, text: str, meta: Meta) -> None:
        self.briefing_draft = text

    def define_key_area(self, name: str, meta: Meta) -> UUID:
        self.require_phase(PhaseKind.GROUPING)
        name = require_text("name", name, TITLE_MAX)
        self._require_unique_name(name)
        area, n = key_area_id(self.id, name), len(self.key_areas)
        while area in self.key_areas:  # a name once used, then renamed away
            area, n = key_area_id(self.id, f"{name}#{n}"), n + 1
        self._key_area_defined(key_area_id=area, name=name, meta=meta)
        return area

    @event("KeyAreaDefined")
    def _key_area_defined(self, key_area_id: UUID, name: str, meta: Meta) -> None:
        self.key_areas[key_area_id] = KeyArea(name=name)

    def rename_key_area(self, area: UUID, name: str, meta: Meta) -> None:
        self.require_phase(PhaseKind.GROUPING)
        self.active_area(area)
        name = require_text("name", name, TITLE_MAX)
        self._require_unique_name(name, ignore=area)
        self._key_area_renamed(key_area_id=area, name=name, meta=meta)

    @event("KeyAreaRenamed")
    def _key_area_renamed(self, key_area_id: UUID, name: str, meta: Meta) -> None:
        self.key_areas[key_area_id].name = name

    def merge_key_areas(self, source: UUID, target: UUID, meta: Meta) -> None:
        self.require_phase(PhaseKind.GROUPING)
        if source == target:
            raise InvalidInput("a key area cannot be merged into itself", "target_id")
        self.active_area(source)
        self.active_area(target)
        self._key_areas_merged(source_id=source, target_id=target, meta=meta)

    @event("KeyAreasMerged")
    def _key_areas_merged(self, source_id: UUID, target_id: UUID, meta: Meta) -> None:
        self.key_areas[source_id].merged_into = target_id

    def set_group_capacity(self, area: UUID, capacity: int, meta: Meta) -> None:
        self.require_phase(PhaseKind.GROUPING)
        self.active_area(area)
        if not 1 <= capacity <= MAX_CAPACITY:
            raise InvalidInput(f"capacity must be between 1 and {MAX_CAPACITY}", "capacity")
        self._group_capacity_set(key_area_id=area, capacity=capacity, meta=meta)

    @event("GroupCapacitySet")
    def _group_capacity_set(self, key_area_id: UUID, capacity: int, meta: Meta) -> None:
        self.key_areas[key_area_id].capacity = capacity

    def _require_unique_name(self, name: str, ignore: UUID | None = None) -> None:
        for area_id, area in self.key_areas.items():
            if area_id != ignore and area.merged_into is None and area.name.lower() == name.lower():
                raise InvalidInput(f"a key area named {name!r} exists already", "name")

    # ----- pitches and results -------------------------------------------

    def start_pitch(self, project: UUID, project_workshop: UUID, meta: Meta) -> None:
        self.require_phase(PhaseKind.PITCHES)
        if project_workshop != self.id:
            raise ForeignProject("that project belongs to another workshop", "project_id")
        if self.pitching is not None:
            raise WrongPhase("another pitch is running", "project_id")
        if project in self.pitched:
            raise InvalidInput("that project has pitched already", "project_id")
        self._pitch_started(project_id=project, minutes=self.voting.pitch_minutes, meta=meta)

    @event("PitchSlotStarted")
    def _pitch_started(self, project_id: UUID, minutes: float, meta: Meta) -> None:
        self.pitched.append(project_id)
        self.pitching = project_id

    def end_pitch(self, project: UUID, meta: Meta) -> None:
        if self.pitching != project:
            raise WrongPhase("that project is not pitching", "project_id")
        self._pitch_ended(project_id=project, meta=meta)

    @event("PitchSlotEnded")
    def _pitch_ended(self, project_id: UUID, meta: Meta) -> None:
        self.pitching = None

    def declare_results(self, results: dict[str, Any], meta: Meta) -> None:
        if self.vote_closed_version is None:
            raise WrongPhase("results can be declared only after the vote closes", "phase")
        if self.results is not None:
            raise WrongPhase("results have been declared already", "phase")
        self._results_declared(results=results, meta=meta)

    @event("ResultsDeclared")
    def _results_declared(self, results: dict[str, Any], meta: Meta) -> None:
        self.results = results


class KeyArea:
    """A key area (a group people sign up to) as the workshop knows it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.capacity: int | None = None
        self.merged_into: UUID | None = None


def schedule(
    code: str,
    title: str,
    region: str,
    venue: str,
    starts_at: datetime,
    agenda: Agenda,
    voting: VotingRules,
    meta: Meta,
    programme_id: UUID | None = None,
    criteria_version: int | None = None,
) -> Workshop:
    """Check a new workshop's details and schedule it."""
    code = require_text("code", code, 40)
    if not code.replace("-", "").replace("_", "").isalnum():
        raise InvalidInput("code may hold only letters, digits, '-' and '_'", "code")
    return Workshop(
        id=workshop_id(code),
        code=code,
        title=require_text("title", title, TITLE_MAX),
        region=require_text("region", region, NAME_MAX),
        venue=require_text("venue", venue, VENUE_MAX, allow_empty=True),
        starts_at=starts_at,
        agenda=agenda.model_dump(mode="json"),
        voting=voting.model_dump(mode="json"),
        meta=meta,
        programme_id=programme_id,
        criteria_version=criteria_version,
    )
