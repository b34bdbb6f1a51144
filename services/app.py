"""The workshop application: loads aggregates, applies commands, records events.

Every command either records all of its events in one transaction or records
nothing; a broken rule raises a typed DomainError before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from uuid import UUID

import psycopg.conninfo
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding
from eventsourcing.utils import get_topic
from psycopg.sql import SQL, Identifier

from domain import ballot as ballots
from domain import commands as c
from domain import idea as ideas
from domain import participant as participants
from domain import project as projects
from domain import signup as signups
from domain import workshop as workshops
from domain.errors import AlreadyExists, DuplicateBallot, DuplicateSignUp, UnknownId, WrongPhase
from domain.events import BALLOT_CAST, BALLOT_REVISED, PROJECT_PROPOSED, PROJECT_REVISED
from domain.meta import Meta
from domain.programme import Programme
from domain.tally import BallotRecord, ProjectEntry, Result, tally

from .personal_keys import PersonalCipher, PersonKeys

A = TypeVar("A", bound=Aggregate)
T = TypeVar("T")

# Optimistic concurrency: a command on a busy stream is re-run on fresh state.
RETRIES = 8
PAGE = 1000

BALLOT_TOPICS = (get_topic(BALLOT_CAST), get_topic(BALLOT_REVISED))
PROJECT_TOPICS = (get_topic(PROJECT_PROPOSED), get_topic(PROJECT_REVISED))


def retrying(attempt: Callable[[], T], tries: int = RETRIES) -> T:
    """Re-run a command on fresh state when another writer got to its stream first."""
    for _ in range(tries - 1):
        try:
            return attempt()
        except IntegrityError:
            continue
    return attempt()


class MetaAsDict(Transcoding):
    type = Meta
    name = "meta"

    def encode(self, obj: Meta) -> dict[str, str]:
        return obj.model_dump(mode="json")

    def decode(self, data: dict[str, str]) -> Meta:
        return Meta.model_validate(data)


class Workshops(Application[UUID]):
    """All of quickwins' streams live in one application, hence one total order."""

    name = "quickwins"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(MetaAsDict())
        self.person_keys = PersonKeys(_conninfo(self.env))
        transcoder.register(PersonalCipher(self.person_keys))

    def close(self) -> None:
        self.person_keys.close()
        super().close()

    # ----- loading and saving ---------------------------------------------

    def load(self, cls: type[A], aggregate_id: UUID, field: str) -> A:
        try:
            found: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise UnknownId(f"no {cls.__name__.lower()} {aggregate_id}", field) from None
        if not isinstance(found, cls):
            raise UnknownId(f"{aggregate_id} is not a {cls.__name__.lower()}", field)
        return found

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        try:
            found: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, cls) else None

    def record(self, *aggregates: Aggregate | None) -> int:
        """Save atomically; return the log position of the last event recorded."""
        recordings = self.save(*aggregates)
        return max((r.notification.id for r in recordings), default=self.max_position())

    def max_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def _retrying(self, attempt: Callable[[], T]) -> T:
        return retrying(attempt)

    def _workshop_act(self, workshop_id: UUID, act: Callable[[workshops.Workshop], None]) -> int:
        def attempt() -> int:
            workshop = self.load(workshops.Workshop, workshop_id, "workshop_id")
            act(workshop)
            return self.record(workshop)

        return self._retrying(attempt)

    # ----- the workshop and its agenda -------------------------------------

    def schedule(self, cmd: c.ScheduleWorkshop, meta: Meta) -> UUID:
        workshop = workshops.schedule(
            cmd.code, cmd.title, cmd.region, cmd.venue, cmd.starts_at, cmd.agenda, cmd.voting, meta
        )
        try:
            self.record(workshop)
        except IntegrityError:
            raise AlreadyExists(f"a workshop with code {cmd.code!r} exists", "code") from None
        return workshop.id

    def publish_briefing(self, cmd: c.PublishBriefing, meta: Meta) -> int:
        return self._workshop_act(cmd.workshop_id, lambda w: w.publish_briefing(cmd.text, meta))

    def open_phase(self, cmd: c.OpenPhase, meta: Meta) -> int:
        """Idempotent: opening a phase that is open or past records nothing."""

        def act(w: workshops.Workshop) -> None:
            if cmd.index > w.phase_index:
                self._fix_criteria(w, cmd.index, meta)
                w.open_phase(cmd.index, meta)

        return self._workshop_act(cmd.workshop_id, act)

    def _fix_criteria(self, w: workshops.Workshop, index: int, meta: Meta) -> None:
        """A programme's ballots are scored on the criteria in force when the vote opens."""
        opening_vote = index < len(w.agenda.phases) and w.agenda.phases[index].kind == "vote"
        if opening_vote and w.programme_id is not None:
            programme = self.load(Programme, w.programme_id, "programme_id")
            w.adopt_criteria(programme.criteria_version, programme.criteria(), meta)

    def close_phase(self, cmd: c.ClosePhase, meta: Meta) -> int:
        """Idempotent: closing a phase that is closed already records nothing."""

        def act(w: workshops.Workshop) -> None:
            if cmd.index == w.phase_index and w.phase_open:
                w.close_phase(cmd.index, meta)
            elif cmd.index > w.phase_index:
                w.close_phase(cmd.index, meta)  # raises: that phase never opened

        return self._workshop_act(cmd.workshop_id, act)

    def extend_phase(self, cmd: c.ExtendPhase, meta: Meta) -> int:
        return self._workshop_act(
            cmd.workshop_id, lambda w: w.extend_phase(cmd.minutes, cmd.extension_id, meta)
        )

    def pause_phase(self, cmd: c.PausePhase, meta: Meta) -> int:
        return self._workshop_act(cmd.workshop_id, lambda w: w.pause(meta))

    def resume_phase(self, cmd: c.ResumePhase, meta: Meta) -> int:
        return self._workshop_act(cmd.workshop_id, lambda w: w.resume(meta))

    # ----- people and ideas --------------------------------------------------

    def join(self, cmd: c.JoinWorkshop, meta: Meta) -> UUID:
        workshop = self.load(workshops.Workshop, cmd.workshop_id, "workshop_id")
        person = participants.join(workshop, cmd.key, cmd.display_name, cmd.organisation, meta)
        try:
            self.record(person)
        except IntegrityError:
            raise AlreadyExists("that key has joined this workshop already", "key") from None
        return person.id

    def erase_participant(self, cmd: c.EraseParticipant, meta: Meta) -> int:
        """Record the erasure, then delete the person's key: their fields are gone for good."""

        def attempt() -> int:
            person = self.load(participants.Participant, cmd.participant_id, "participant_id")
            person.erase(meta)
            return self.record(person)

        position = self._retrying(attempt)
        self.person_keys.forget(cmd.participant_id)
        return position

    def submit_idea(self, cmd: c.SubmitIdea, meta: Meta) -> int:
        workshop = self.load(workshops.Workshop, cmd.workshop_id, "workshop_id")
        author = self.load(participants.Participant, cmd.author_id, "author_id")
        idea = ideas.submit(cmd.idea_id, workshop, author, cmd.text, meta)
        try:
            return self.record(idea)
        except IntegrityError:
            raise AlreadyExists(f"idea {cmd.idea_id} exists already", "idea_id") from None

    def edit_idea(self, cmd: c.EditIdea, meta: Meta) -> int:
        return self._idea_act(cmd.idea_id, lambda i, w: i.edit(w, cmd.author_id, cmd.text, meta))

    def withdraw_idea(self, cmd: c.WithdrawIdea, meta: Meta) -> int:
        return self._idea_act(cmd.idea_id, lambda i, w: i.withdraw(w, cmd.author_id, meta))

    def group_idea(self, cmd: c.GroupIdea, meta: Meta) -> int:
        return self._idea_act(cmd.idea_id, lambda i, w: i.group(w, cmd.key_area_id, meta))

    def merge_idea(self, cmd: c.MergeIdea, meta: Meta) -> int:
        target = self.load(ideas.Idea, cmd.target_id, "target_id")
        return self._idea_act(cmd.idea_id, lambda i, w: i.merge_into(w, target, meta))

    def link_to_earlier(self, cmd: c.LinkToEarlierIdea, meta: Meta) -> int:
        earlier = self.load(ideas.Idea, cmd.earlier_id, "earlier_id")
        earlier_workshop = self.load(workshops.Workshop, earlier.workshop_id, "earlier_id")
        return self._idea_act(
            cmd.idea_id, lambda i, w: i.link_to_earlier(w, earlier, earlier_workshop, meta)
        )

    def _idea_act(
        self, idea_id: UUID, act: Callable[[ideas.Idea, workshops.Workshop], None]
    ) -> int:
        def attempt() -> int:
            idea = self.load(ideas.Idea, idea_id, "idea_id")
            act(idea, self.load(workshops.Workshop, idea.workshop_id, "workshop_id"))
            return self.record(idea)

        return self._retrying(attempt)

    # ----- key areas and groups ----------------------------------------------

    def define_key_area(self, cmd: c.DefineKeyArea, meta: Meta) -> UUID:
        created: list[UUID] = []
        self._workshop_act(
            cmd.workshop_id, lambda w: created.append(w.define_key_area(cmd.name, meta))
        )
        return created[-1]

    def rename_key_area(self, cmd: c.RenameKeyArea, meta: Meta) -> int:
        return self._workshop_act(
            cmd.workshop_id, lambda w: w.rename_key_area(cmd.key_area_id, cmd.name, meta)
        )

    def merge_key_areas(self, cmd: c.MergeKeyAreas, meta: Meta) -> int:
        return self._workshop_act(
            cmd.workshop_id, lambda w: w.merge_key_areas(cmd.source_id, cmd.target_id, meta)
        )

    def set_group_capacity(self, cmd: c.SetGroupCapacity, meta: Meta) -> int:
        return self._workshop_act(
            cmd.workshop_id, lambda w: w.set_group_capacity(cmd.key_area_id, cmd.capacity, meta)
        )

    def sign_up(self, cmd: c.SignUpToGroup, meta: Meta) -> int:
        def attempt() -> int:
            workshop = self.load(workshops.Workshop, cmd.workshop_id, "workshop_id")
            person = self.load(participants.Participant, cmd.participant_id, "participant_id")
            seats = self._seats(workshop, cmd.key_area_id)
            signup, seat = signups.sign_up(workshop, person, cmd.key_area_id, seats, meta)
            if self.find(signups.SignUp, signup.id) is not None:
                raise DuplicateSignUp("already signed up: switch group instead", "participant_id")
            return self.record(signup, seat)

        # A conflict on a seat means someone took it first: try the next one.
        # A conflict on the sign-up itself is caught above on the re-run.
        return self._retrying(attempt)

    def switch_group(self, cmd: c.SwitchGroup, meta: Meta) -> int:
        def attempt() -> int:
            workshop = self.load(workshops.Workshop, cmd.workshop_id, "workshop_id")
            signup_id = signups.sign_up_id(cmd.workshop_id, cmd.participant_id)
            signup = self.load(signups.SignUp, signup_id, "participant_id")
            old_seat = self.find(signups.Seat, signup.seat_id) if signup.seat_id else None
            seats = self._seats(workshop, cmd.key_area_id)
            new_seat = signup.switch(workshop, cmd.key_area_id, seats, meta)
            if old_seat is not None:
                old_seat.release(meta)
            return self.record(signup, new_seat, old_seat)

        return self._retrying(attempt)

    def _seats(self, workshop: workshops.Workshop, area: UUID) -> dict[UUID, signups.Seat]:
        capacity = workshop.active_area(area).capacity
        if capacity is None:
            return {}
        found = (self.find(signups.Seat, s) for s in signups.seat_ids(area, capacity))
        return {seat.id: seat for seat in found if seat is not None}

    # ----- projects and pitches ----------------------------------------------

    def propose_project(self, cmd: c.ProposeProject, meta: Meta) -> int:
        workshop = self.load(workshops.Workshop, cmd.workshop_id, "workshop_id")
        project = projects.propose(
            cmd.project_id,
            workshop,
            cmd.key_area_id,
            cmd.title,
            cmd.summary,
            self._many(ideas.Idea, cmd.idea_ids, "idea_ids"),
            self._many(participants.Participant, cmd.proposer_ids, "proposer_ids"),
            meta,
        )
        try:
            return self.record(project)
        except IntegrityError:
            raise AlreadyExists(f"project {cmd.project_id} exists already", "project_id") from None

    def revise_project(self, cmd: c.ReviseProject, meta: Meta) -> int:
        def attempt() -> int:
            project = self.load(projects.Project, cmd.project_id, "project_id")
            workshop = self.load(workshops.Workshop, project.workshop_id, "workshop_id")
            ideas_ = self._many(ideas.Idea, cmd.idea_ids, "idea_ids")
            people = self._many(participants.Participant, cmd.proposer_ids, "proposer_ids")
            project.revise(workshop, cmd.title, cmd.summary, ideas_, people, meta)
            return self.record(project)

        return self._retrying(attempt)

    def start_pitch(self, cmd: c.StartPitch, meta: Meta) -> int:
        project = self.load(projects.Project, cmd.project_id, "project_id")
        return self._workshop_act(
            cmd.workshop_id, lambda w: w.start_pitch(project.id, project.workshop_id, meta)
        )

    def end_pitch(self, cmd: c.EndPitch, meta: Meta) -> int:
        return self._workshop_act(cmd.workshop_id, lambda w: w.end_pitch(cmd.project_id, meta))

    def _many(self, cls: type[A], ids: Sequence[UUID], field: str) -> list[A]:
        return [self.load(cls, i, field) for i in ids]

    # ----- ballots and results -----------------------------------------------

    def cast_ballot(self, cmd: c.CastBallot, meta: Meta) -> int:
        workshop = self.load(workshops.Workshop, cmd.workshop_id, "workshop_id")
        voter = self.load(participants.Participant, cmd.participant_id, "participant_id")
        ballot = ballots.cast(workshop, voter, cmd.choices, self._projects(cmd.choices), meta)
        try:
            return self.record(ballot)
        except IntegrityError:
            raise DuplicateBallot(
                "already voted: revise the ballot instead", "participant_id"
            ) from None

    def revise_ballot(self, cmd: c.ReviseBallot, meta: Meta) -> int:
        def attempt() -> int:
            workshop = self.load(workshops.Workshop, cmd.workshop_id, "workshop_id")
            ballot_id = ballots.ballot_id(cmd.workshop_id, cmd.participant_id)
            ballot = self.load(ballots.Ballot, ballot_id, "participant_id")
            ballot.revise(workshop, cmd.choices, self._projects(cmd.choices), meta)
            return self.record(ballot)

        return self._retrying(attempt)

    def _projects(self, choices: dict[str, Any]) -> dict[UUID, projects.Project | None]:
        found: dict[UUID, projects.Project | None] = {}
        for key in choices:
            try:
                project_id = UUID(str(key))
            except ValueError:
                continue  # the domain names the bad key
            found[project_id] = self.find(projects.Project, project_id)
        return found

    def declare_results(self, cmd: c.DeclareResults, meta: Meta) -> Result:
        """Idempotent: once declared, the recorded result is returned again."""
        workshop = self.load(workshops.Workshop, cmd.workshop_id, "workshop_id")
        if workshop.results is not None:
            return Result.model_validate(workshop.results)
        result = self.recount(workshop)
        workshop.declare_results(result.model_dump(mode="json"), meta)
        try:
            self.record(workshop)
        except IntegrityError:  # declared by someone else meanwhile
            return self.declare_results(cmd, meta)
        return result

    def recount(self, workshop: workshops.Workshop) -> Result:
        """Recompute the tally from the log, up to the vote's close event."""
        if workshop.vote_closed_version is None:
            raise WrongPhase("the vote has not closed yet", "phase")
        close = self.position_of(workshop.id, workshop.vote_closed_version)
        entries: dict[UUID, ProjectEntry] = {}
        voters: dict[UUID, UUID] = {}  # this workshop's ballots and who cast them
        records: list[BallotRecord] = []
        for event, position in self._events(PROJECT_TOPICS + BALLOT_TOPICS, stop=close):
            if _is_project_of(event, workshop.id, entries):
                entries[event.originator_id] = _entry(event)
            elif isinstance(event, BALLOT_CAST) and event.workshop_id == workshop.id:
                voters[event.originator_id] = event.participant_id
            if event.originator_id in voters:
                records.append(_ballot_record(event, position, voters))
        return tally(workshop.voting, entries.values(), records, close)

    def _events(self, topics: Sequence[str], stop: int) -> Iterator[tuple[Any, int]]:
        start = 1
        while True:
            page = self.recorder.select_notifications(start, PAGE, stop=stop, topics=topics)
            for notification in page:
                yield self.mapper.to_domain_event(notification), notification.id
            if len(page) < PAGE:
                return
            start = page[-1].id + 1

    def position_of(self, originator_id: UUID, version: int) -> int:
        """The log position of one stored event (PostgreSQL recorder)."""
        recorder: Any = self.recorder
        statement = SQL(
            "SELECT notification_id FROM {}.{} WHERE originator_id = %s AND originator_version = %s"
        ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
        with recorder.datastore.get_connection() as conn, conn.cursor() as cur:
            cur.execute(statement, (originator_id, version))
            row = cur.fetchone()
        if row is None:
            raise UnknownId(f"no event {version} in stream {originator_id}", "workshop_id")
        return int(row["notification_id"])


def _conninfo(env: Any) -> str:
    """The key table lives in the event store's database."""
    return psycopg.conninfo.make_conninfo(
        host=env.get("POSTGRES_HOST", "127.0.0.1"),
        port=env.get("POSTGRES_PORT", "5432"),
        dbname=env.get("POSTGRES_DBNAME", "postgres"),
        user=env.get("POSTGRES_USER", "postgres"),
        password=env.get("POSTGRES_PASSWORD", ""),
    )


def _ballot_record(event: Any, position: int, voters: dict[UUID, UUID]) -> BallotRecord:
    return BallotRecord(
        position=position,
        ballot_id=event.originator_id,
        participant_id=voters[event.originator_id],
        choices=event.choices,
    )


def _is_project_of(event: Any, workshop_id: UUID, known: dict[UUID, ProjectEntry]) -> bool:
    if isinstance(event, PROJECT_PROPOSED):
        return bool(event.workshop_id == workshop_id)
    return isinstance(event, PROJECT_REVISED) and event.originator_id in known


def _entry(event: Any) -> ProjectEntry:
    return ProjectEntry(project_id=event.originator_id, title=event.title)
