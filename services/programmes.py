"""Programme and initiative commands, on the same application (one log, one order)."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from domain import initiative as initiatives
from domain import owner as owners
from domain import programme as programmes
from domain import programme_commands as pc
from domain.briefing import EarlierWorkshop, InitiativeLine, draft_briefing
from domain.errors import AlreadyExists, UnknownId, WrongPhase
from domain.meta import Meta
from domain.project import Project
from domain.tally import Result
from domain.workshop import Workshop, schedule

from .app import Workshops, retrying

Initiative = initiatives.Initiative
Owner = owners.Owner
Programme = programmes.Programme


class Programmes:
    """Application service for regional programme managers."""

    def __init__(self, app: Workshops) -> None:
        self.app = app

    def programme(self, programme_id: UUID) -> Programme:
        return self.app.load(Programme, programme_id, "programme_id")

    def initiative(self, initiative_id: UUID) -> Initiative:
        return self.app.load(Initiative, initiative_id, "initiative_id")

    def owner(self, owner_id: UUID) -> Owner:
        """An owner as stored now: after an erasure, its name reads "erased owner"."""
        return self.app.load(Owner, owner_id, "owner_id")

    def owner_name(self, owner_id: UUID | None) -> str | None:
        """The name to show for an initiative's owner; None when there is none."""
        if owner_id is None:
            return None
        found = self.app.find(Owner, owner_id)
        return found.name if found is not None else None

    # ----- programmes ----------------------------------------------------------

    def launch(self, cmd: pc.LaunchProgramme, meta: Meta) -> UUID:
        terms = programmes.ProgrammeTerms(
            name=cmd.name,
            sponsor=cmd.sponsor,
            regions=tuple(cmd.regions),
            criteria=tuple(cmd.criteria),
            measures=tuple(cmd.measures),
        )
        programme = programmes.launch(terms, meta)
        try:
            self.app.record(programme)
        except IntegrityError:
            raise AlreadyExists(f"a programme named {cmd.name!r} exists", "name") from None
        return programme.id

    def schedule_workshop(self, cmd: pc.ScheduleProgrammeWorkshop, meta: Meta) -> UUID:
        """Schedule a workshop in the programme, scored on the criteria now in force."""
        programme = self.programme(cmd.programme_id)
        programme.require_open()
        region = programme.require_region(cmd.region)  # the programme's spelling
        voting = cmd.voting.model_copy(update={"criteria": programme.criteria()})
        workshop = schedule(
            cmd.code,
            cmd.title,
            region,
            cmd.venue,
            cmd.starts_at,
            cmd.agenda,
            voting,
            meta,
            programme_id=programme.id,
            criteria_version=programme.criteria_version,
        )
        if workshop.id in programme.workshops:  # the command names the code, not the id
            raise AlreadyExists(f"a workshop with code {cmd.code!r} exists", "code")
        programme.schedule_workshop(workshop.id, cmd.region, cmd.starts_at, meta)
        try:
            self.app.record(workshop, programme)
        except IntegrityError:
            raise AlreadyExists(f"a workshop with code {cmd.code!r} exists", "code") from None
        return workshop.id

    def revise_criteria(self, cmd: pc.ReviseCriteria, meta: Meta) -> int:
        return self._programme_act(
            cmd.programme_id, lambda p: p.revise_criteria(tuple(cmd.criteria), meta)
        )

    def close(self, cmd: pc.CloseProgramme, meta: Meta) -> int:
        return self._programme_act(cmd.programme_id, lambda p: p.close(meta))

    def _programme_act(self, programme_id: UUID, act: Callable[[Programme], object]) -> int:
        def attempt() -> int:
            programme = self.programme(programme_id)
            act(programme)
            return self.app.record(programme)

        return retrying(attempt)

    # ----- briefing and adoption -----------------------------------------------

    def draft_briefing(self, cmd: pc.DraftBriefing, meta: Meta) -> str:
        """Draft the workshop's briefing from the programme so far; idempotent."""
        workshop = self.app.load(Workshop, cmd.workshop_id, "workshop_id")
        if workshop.programme_id is None:
            raise WrongPhase("the workshop is not part of a programme", "workshop_id")
        if workshop.briefing_draft is not None or workshop.phase_index >= 0:
            return workshop.briefing_draft or workshop.briefing or ""
        programme = self.programme(workshop.programme_id)
        text = draft_briefing(
            programme.name,
            workshop.region,
            workshop.starts_at,
            self._earlier(programme, workshop),
            [self._line(i) for i in programme.initiatives],
        )
        workshop.draft_briefing(text, meta)
        self.app.record(workshop)
        return text

    def _earlier(self, programme: Programme, current: Workshop) -> list[EarlierWorkshop]:
        earlier = []
        for workshop_id, scheduled in programme.workshops.items():
            if scheduled.starts_at >= current.starts_at or workshop_id == current.id:
                continue
            w = self.app.load(Workshop, workshop_id, "workshop_id")
            areas = [a.name for a in w.key_areas.values() if a.merged_into is None]
            earlier.append(
                EarlierWorkshop(
                    title=w.title,
                    region=w.region,
                    starts_at=w.starts_at,
                    key_areas=areas,
                    winners=self._winner_titles(w),
                )
            )
        return earlier

    def _winner_titles(self, workshop: Workshop) -> list[str]:
        if workshop.results is None:
            return []
        result = Result.model_validate(workshop.results)
        titles = {t.project_id: t.title for t in result.totals}
        return [titles[w] for w in result.winners]

    def _line(self, initiative_id: UUID) -> InitiativeLine:
        i = self.initiative(initiative_id)
        status = i.progress["status"] if i.progress else None
        return InitiativeLine(
            title=i.title,
            stage=i.stage.value,
            regions=i.regions,
            has_owner=i.owner_id is not None,
            status=status,
        )

    def adopt_winners(self, cmd: pc.AdoptWinners, meta: Meta) -> list[UUID]:
        """Carry each winning project forward as an initiative; adopting again adds nothing."""
        workshop = self.app.load(Workshop, cmd.workshop_id, "workshop_id")
        if workshop.results is None or workshop.programme_id is None:
            raise WrongPhase("only a programme workshop with declared results", "workshop_id")
        winners = Result.model_validate(workshop.results).winners
        return [self._adopt(workshop, project_id, meta) for project_id in winners]

    def _adopt(self, workshop: Workshop, project_id: UUID, meta: Meta) -> UUID:
        def attempt() -> UUID:
            existing = self.app.find(Initiative, initiatives.adopted_id(project_id))
            if existing is not None:
                return existing.id
            assert workshop.programme_id is not None
            programme = self.programme(workshop.programme_id)
            project = self.app.load(Project, project_id, "project_id")
            initiative = initiatives.adopt_project(
                programme,
                project.id,
                workshop.id,
                project.title,
                project.summary,
                project.idea_ids,
                meta,
            )
            programme.register_initiative(initiative.id, meta)
            self.app.record(initiative, programme)
            return initiative.id

        return retrying(attempt)

    def add_initiative(self, cmd: pc.AddInitiative, meta: Meta) -> UUID:
        if self.app.find(Initiative, cmd.initiative_id) is not None:
            raise AlreadyExists("that initiative exists", "initiative_id")

        def attempt() -> UUID:
            programme = self.programme(cmd.programme_id)
            initiative = initiatives.add_by_manager(
                cmd.initiative_id, programme, cmd.title, cmd.summary, cmd.region, cmd.reason, meta
            )
            programme.register_initiative(initiative.id, meta)
            self.app.record(initiative, programme)
            return initiative.id

        try:
            return retrying(attempt)
        except IntegrityError:
            raise AlreadyExists("that initiative exists", "initiative_id") from None

    # ----- one initiative --------------------------------------------------------

    def assign_owner(self, cmd: pc.AssignOwner, meta: Meta) -> int:
        """Register the owner as a person if new, and assign them by id, in one write."""

        def attempt() -> int:
            initiative = self.initiative(cmd.initiative_id)
            owner_id = owners.identify(initiative.programme_id, cmd.owner)
            owner = self.app.find(Owner, owner_id)
            new = owner is None
            if owner is None:
                owner = owners.register(initiative.programme_id, cmd.owner, meta)
            initiative.assign_owner(owner, meta)
            return self.app.record(initiative, owner if new else None)

        return retrying(attempt)

    def erase_owner(self, cmd: pc.EraseOwner, meta: Meta) -> int:
        """Record the erasure, then delete the owner's key: their name is gone for good."""
        field = "owner" if cmd.owner_id is None else "owner_id"
        owner_id = cmd.owner_id or owners.identify(cmd.programme_id, cmd.owner)

        def attempt() -> int:
            owner = self.app.find(Owner, owner_id)
            if owner is None or owner.programme_id != cmd.programme_id:
                raise UnknownId("no such owner in that programme", field)
            owner.erase(meta)
            return self.app.record(owner)

        position = retrying(attempt)
        self.app.person_keys.forget(owner_id)
        return position

    def move(self, cmd: pc.MoveInitiative, meta: Meta) -> int:
        return self._act(cmd.initiative_id, lambda i: i.move(cmd.stage, cmd.reason, meta))

    def plan_milestone(self, cmd: pc.PlanMilestone, meta: Meta) -> int:
        return self._act(
            cmd.initiative_id,
            lambda i: i.plan_milestone(cmd.milestone_id, cmd.title, cmd.due, meta),
        )

    def reschedule_milestone(self, cmd: pc.RescheduleMilestone, meta: Meta) -> int:
        return self._act(
            cmd.initiative_id,
            lambda i: i.reschedule_milestone(cmd.milestone_id, cmd.due, cmd.reason, meta),
        )

    def complete_milestone(self, cmd: pc.CompleteMilestone, meta: Meta) -> int:
        return self._act(cmd.initiative_id, lambda i: i.complete_milestone(cmd.milestone_id, meta))

    def report_progress(self, cmd: pc.ReportProgress, meta: Meta) -> int:
        return self._act(
            cmd.initiative_id, lambda i: i.report_progress(cmd.percent, cmd.status, cmd.note, meta)
        )

    def record_benefit(self, cmd: pc.RecordBenefit, meta: Meta) -> int:
        def act(i: Initiative) -> None:
            programme = self.programme(i.programme_id)
            i.record_benefit(programme, cmd.measure, cmd.amount, cmd.evidence, meta)

        return self._act(cmd.initiative_id, act)

    def link_follow_up(self, cmd: pc.LinkFollowUp, meta: Meta) -> int:
        self.app.load(Workshop, cmd.workshop_id, "workshop_id")
        return self._act(cmd.initiative_id, lambda i: i.link_follow_up(cmd.workshop_id, meta))

    def adopt_in_region(self, cmd: pc.AdoptInRegion, meta: Meta) -> int:
        def act(i: Initiative) -> None:
            i.adopt_in_region(self.programme(i.programme_id), cmd.region, meta)

        return self._act(cmd.initiative_id, act)

    def flag_overdue(self, cmd: pc.FlagOverdue, meta: Meta) -> int:
        return self._act(cmd.initiative_id, lambda i: i.flag_overdue(cmd.milestone_id, meta))

    def flag_stale(self, cmd: pc.FlagStale, meta: Meta) -> int:
        return self._act(cmd.initiative_id, lambda i: i.flag_stale(cmd.since, meta))

    def record_reminder(self, cmd: pc.RecordReminder, meta: Meta) -> int:
        return self._act(
            cmd.initiative_id, lambda i: i.record_reminder(cmd.kind, cmd.about, meta, cmd.key)
        )

    def schedule_benefits_review(self, cmd: pc.ScheduleBenefitsReview, meta: Meta) -> int:
        return self._act(cmd.initiative_id, lambda i: i.schedule_benefits_review(cmd.due, meta))

    def _act(self, initiative_id: UUID, act: Callable[[Initiative], object]) -> int:
        def attempt() -> int:
            initiative = self.initiative(initiative_id)
            act(initiative)
            return self.app.record(initiative)

        return retrying(attempt)
