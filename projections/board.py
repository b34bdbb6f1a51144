"""The workshop board: a read model of each workshop, built from the notification log.

`BoardView` is a PostgreSQL tracking recorder that owns the `board_*` tables.
Every write method takes the `Tracking` of the event it applies and commits
the row changes and the tracking record in one transaction: a crash never
double-applies or skips an event, and the runner resumes from the last
tracked position.

Writes are also idempotent per event on their own: `board_streams` keeps the
version of the last event applied to each stream, and an event whose version
is not above it changes no rows (its tracking is still recorded). Recording
the same tracking twice is rejected by the library with `IntegrityError`,
and the transaction is rolled back, so the rows are unchanged either way.

`BoardProjection` dispatches events to the view. It subscribes to every topic
(see `BoardProjection.topics`), so that the view's position advances past
events it does not need and `ProjectionRunner.wait(position)` works for any
position an application command returned.

`BoardView.reset()` empties the view and forgets its position, so a runner
started afterwards rebuilds it from the start of the log.

The write path (tracking, version guard and rows in one transaction), `reset`
and the snapshot reads are shared with the other views: see
`projections.tracking`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from domain.agenda import Agenda, PhaseKind, VotingRules
from domain.events import (
    BALLOT_CAST,
    BRIEFING_PUBLISHED,
    CRITERIA_ADOPTED,
    ERASED,
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
)
from domain.personal import ERASED_NAME

from .board_models import (
    Board,
    BoardCounts,
    BoardIdea,
    BoardKeyArea,
    BoardPhase,
    BoardProject,
)
from .tracking import (
    STREAMS_DDL,
    TrackedView,
    construct_view,
    transient,
)

__all__ = [
    "BOARD_TABLES",
    "HANDLED_EVENTS",
    "Board",
    "BoardCounts",
    "BoardIdea",
    "BoardKeyArea",
    "BoardPhase",
    "BoardProject",
    "BoardProjection",
    "BoardView",
    "board_view",
    "rebuild",
]

ACTIVE, WITHDRAWN, MERGED = "active", "withdrawn", "merged"

# The view's own tables (the tracking table, `board_tracking`, is named by the factory).
BOARD_TABLES = (
    "board_streams",
    "board_workshops",
    "board_participants",
    "board_key_areas",
    "board_ideas",
    "board_signups",
    "board_projects",
    "board_ballots",
)

_DDL = (
    # The version of the last event applied per stream: makes every write idempotent.
    STREAMS_DDL,
    """CREATE TABLE IF NOT EXISTS {workshops} (
        id uuid PRIMARY KEY,
        code text NOT NULL,
        title text NOT NULL,
        region text NOT NULL,
        venue text NOT NULL,
        starts_at timestamptz NOT NULL,
        agenda jsonb NOT NULL,
        voting jsonb NOT NULL,
        phase_index integer NOT NULL DEFAULT -1,
        phase_kind text,
        phase_open boolean NOT NULL DEFAULT false,
        phase_opened_at timestamptz,
        phase_minutes double precision NOT NULL DEFAULT 0,
        paused_at timestamptz,
        briefing text,
        pitching uuid,
        results jsonb,
        scheduled_at timestamptz NOT NULL,
        position bigint NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {participants} (
        id uuid PRIMARY KEY,
        workshop_id uuid NOT NULL,
        display_name text NOT NULL,
        organisation text NOT NULL,
        joined_at timestamptz NOT NULL,
        position bigint NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS board_participants_workshop ON {participants} (workshop_id)",
    """CREATE TABLE IF NOT EXISTS {key_areas} (
        id uuid PRIMARY KEY,
        workshop_id uuid NOT NULL,
        name text NOT NULL,
        capacity integer,
        merged_into uuid,
        position bigint NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS board_key_areas_workshop ON {key_areas} (workshop_id)",
    """CREATE TABLE IF NOT EXISTS {ideas} (
        id uuid PRIMARY KEY,
        workshop_id uuid NOT NULL,
        author_id uuid NOT NULL,
        text text NOT NULL,
        key_area_id uuid,
        status text NOT NULL DEFAULT 'active'
            CHECK (status IN ('active', 'withdrawn', 'merged')),
        merged_into uuid,
        submitted_at timestamptz NOT NULL,
        position bigint NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS board_ideas_workshop ON {ideas} (workshop_id)",
    """CREATE TABLE IF NOT EXISTS {signups} (
        id uuid PRIMARY KEY,
        workshop_id uuid NOT NULL,
        participant_id uuid NOT NULL,
        key_area_id uuid NOT NULL,
        signed_up_at timestamptz NOT NULL,
        position bigint NOT NULL,
        UNIQUE (workshop_id, participant_id))""",
    """CREATE TABLE IF NOT EXISTS {projects} (
        id uuid PRIMARY KEY,
        workshop_id uuid NOT NULL,
        key_area_id uuid NOT NULL,
        title text NOT NULL,
        summary text NOT NULL,
        idea_ids uuid[] NOT NULL,
        proposer_ids uuid[] NOT NULL,
        pitch_order integer,
        pitched_at timestamptz,
        position bigint NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS board_projects_workshop ON {projects} (workshop_id)",
    """CREATE TABLE IF NOT EXISTS {ballots} (
        id uuid PRIMARY KEY,
        workshop_id uuid NOT NULL,
        participant_id uuid NOT NULL,
        position bigint NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS board_ballots_workshop ON {ballots} (workshop_id)",
)


class BoardView(TrackedView):
    """The board's tables, their write methods (one per fact) and read methods."""

    prefix = "board_"
    tables = BOARD_TABLES
    ddl = _DDL

    # ----- workshop stream --------------------------------------------------

    def schedule_workshop(
        self,
        tracking: Tracking,
        workshop_id: UUID,
        version: int,
        *,
        code: str,
        title: str,
        region: str,
        venue: str,
        starts_at: datetime,
        agenda: Mapping[str, Any],
        voting: Mapping[str, Any],
        at: datetime,
    ) -> bool:
        return self._write(
            tracking,
            workshop_id,
            version,
            (
                """INSERT INTO {workshops} (id, code, title, region, venue, starts_at,
                       agenda, voting, scheduled_at, position)
                   VALUES (%(id)s, %(code)s, %(title)s, %(region)s, %(venue)s, %(starts_at)s,
                       %(agenda)s, %(voting)s, %(at)s, %(position)s)
                   ON CONFLICT (id) DO NOTHING""",
                {
                    "id": workshop_id,
                    "code": code,
                    "title": title,
                    "region": region,
                    "venue": venue,
                    "starts_at": starts_at,
                    "agenda": Jsonb(dict(agenda)),
                    "voting": Jsonb(dict(voting)),
                    "at": at,
                    "position": tracking.notification_id,
                },
            ),
        )

    def open_phase(
        self,
        tracking: Tracking,
        workshop_id: UUID,
        version: int,
        *,
        index: int,
        kind: str,
        minutes: float,
        at: datetime,
    ) -> bool:
        return self._write(
            tracking,
            workshop_id,
            version,
            (
                """UPDATE {workshops} SET phase_index = %(index)s, phase_kind = %(kind)s,
                       phase_open = true, phase_opened_at = %(at)s,
                       phase_minutes = %(minutes)s, paused_at = NULL
                   WHERE id = %(id)s""",
                {"id": workshop_id, "index": index, "kind": kind, "minutes": minutes, "at": at},
            ),
        )

    def close_phase(self, tracking: Tracking, workshop_id: UUID, version: int) -> bool:
        return self._write(
            tracking,
            workshop_id,
            version,
            (
                "UPDATE {workshops} SET phase_open = false, pitching = NULL WHERE id = %(id)s",
                {"id": workshop_id},
            ),
        )

    def extend_phase(
        self, tracking: Tracking, workshop_id: UUID, version: int, *, minutes: float
    ) -> bool:
        return self._write(
            tracking,
            workshop_id,
            version,
            (
                "UPDATE {workshops} SET phase_minutes = phase_minutes + %(minutes)s"
                " WHERE id = %(id)s",
                {"id": workshop_id, "minutes": minutes},
            ),
        )

    def adopt_criteria(
        self, tracking: Tracking, workshop_id: UUID, version: int, *, criteria: list[Any]
    ) -> bool:
        return self._write(
            tracking,
            workshop_id,
            version,
            (
                "UPDATE {workshops} SET voting = jsonb_set(voting, '{{criteria}}', %(criteria)s)"
                " WHERE id = %(id)s",
                {"id": workshop_id, "criteria": Jsonb(criteria)},
            ),
        )

    def pause_phase(
        self, tracking: Tracking, workshop_id: UUID, version: int, *, at: datetime
    ) -> bool:
        return self._write(
            tracking,
            workshop_id,
            version,
            (
                "UPDATE {workshops} SET paused_at = %(at)s WHERE id = %(id)s",
                {"id": workshop_id, "at": at},
            ),
        )

    def resume_phase(
        self, tracking: Tracking, workshop_id: UUID, version: int, *, at: datetime
    ) -> bool:
        def change(curs: Cursor[DictRow]) -> None:
            curs.execute(
                self._q(
                    "SELECT phase_minutes, paused_at FROM {workshops} WHERE id = %(id)s FOR UPDATE"
                ),
                {"id": workshop_id},
            )
            row = curs.fetchone()
            if row is None or row["paused_at"] is None:
                return
            # As the aggregate does it: the pause moves the end, it does not eat the phase.
            minutes = row["phase_minutes"] + (at - row["paused_at"]).total_seconds() / 60
            curs.execute(
                self._q(
                    "UPDATE {workshops} SET phase_minutes = %(minutes)s, paused_at = NULL"
                    " WHERE id = %(id)s"
                ),
                {"id": workshop_id, "minutes": minutes},
            )

        return self._apply(tracking, workshop_id, version, change)

    def publish_briefing(
        self, tracking: Tracking, workshop_id: UUID, version: int, *, text: str
    ) -> bool:
        return self._write(
            tracking,
            workshop_id,
            version,
            (
                "UPDATE {workshops} SET briefing = %(text)s WHERE id = %(id)s",
                {"id": workshop_id, "text": text},
            ),
        )

    def define_key_area(
        self, tracking: Tracking, workshop_id: UUID, version: int, *, key_area_id: UUID, name: str
    ) -> bool:
        return self._write(
            tracking,
            workshop_id,
            version,
            (
                """INSERT INTO {key_areas} (id, workshop_id, name, position)
                   VALUES (%(id)s, %(workshop_id)s, %(name)s, %(position)s)
                   ON CONFLICT (id) DO NOTHING""",
                {
                    "id": key_area_id,
                    "workshop_id": workshop_id,
                    "name": name,
                    "position": tracking.notification_id,
                },
            ),
        )

    def rename_key_area(
        self, tracking: Tracking, workshop_id: UUID, version: int, *, key_area_id: UUID, name: str
    ) -> bool:
        return self._write(
            tracking,
            workshop_id,
            version,
            (
                "UPDATE {key_areas} SET name = %(name)s WHERE id = %(id)s",
                {"id": key_area_id, "name": name},
            ),
        )

    def merge_key_areas(
        self,
        tracking: Tracking,
        workshop_id: UUID,
        version: int,
        *,
        source_id: UUID,
        target_id: UUID,
    ) -> bool:
        return self._write(
            tracking,
            workshop_id,
            version,
            (
                "UPDATE {key_areas} SET merged_into = %(target)s WHERE id = %(id)s",
                {"id": source_id, "target": target_id},
            ),
        )

    def set_group_capacity(
        self,
        tracking: Tracking,
        workshop_id: UUID,
        version: int,
        *,
        key_area_id: UUID,
        capacity: int,
    ) -> bool:
        return self._write(
            tracking,
            workshop_id,
            version,
            (
                "UPDATE {key_areas} SET capacity = %(capacity)s WHERE id = %(id)s",
                {"id": key_area_id, "capacity": capacity},
            ),
        )

    def start_pitch(
        self,
        tracking: Tracking,
        workshop_id: UUID,
        version: int,
        *,
        project_id: UUID,
        at: datetime,
    ) -> bool:
        params = {"workshop_id": workshop_id, "project_id": project_id, "at": at}
        return self._write(
            tracking,
            workshop_id,
            version,
            ("UPDATE {workshops} SET pitching = %(project_id)s WHERE id = %(workshop_id)s", params),
            (
                """UPDATE {projects} SET pitched_at = %(at)s, pitch_order = 1 + (
                       SELECT count(*) FROM {projects}
                       WHERE workshop_id = %(workshop_id)s AND pitch_order IS NOT NULL)
                   WHERE id = %(project_id)s AND pitch_order IS NULL""",
                params,
            ),
        )

    def end_pitch(
        self, tracking: Tracking, workshop_id: UUID, version: int, *, project_id: UUID
    ) -> bool:
        return self._write(
            tracking,
            workshop_id,
            version,
            (
                "UPDATE {workshops} SET pitching = NULL"
                " WHERE id = %(id)s AND pitching = %(project_id)s",
                {"id": workshop_id, "project_id": project_id},
            ),
        )

    def declare_results(
        self, tracking: Tracking, workshop_id: UUID, version: int, *, results: Mapping[str, Any]
    ) -> bool:
        return self._write(
            tracking,
            workshop_id,
            version,
            (
                "UPDATE {workshops} SET results = %(results)s WHERE id = %(id)s",
                {"id": workshop_id, "results": Jsonb(dict(results))},
            ),
        )

    # ----- participants, ideas, sign-ups, projects, ballots -------------------

    def add_participant(
        self,
        tracking: Tracking,
        participant_id: UUID,
        version: int,
        *,
        workshop_id: UUID,
        display_name: str,
        organisation: str,
        at: datetime,
    ) -> bool:
        return self._write(
            tracking,
            participant_id,
            version,
            (
                """INSERT INTO {participants}
                       (id, workshop_id, display_name, organisation, joined_at, position)
                   VALUES (%(id)s, %(workshop_id)s, %(display_name)s, %(organisation)s,
                       %(at)s, %(position)s)
                   ON CONFLICT (id) DO NOTHING""",
                {
                    "id": participant_id,
                    "workshop_id": workshop_id,
                    "display_name": display_name,
                    "organisation": organisation,
                    "at": at,
                    "position": tracking.notification_id,
                },
            ),
        )

    def erase_participant(self, tracking: Tracking, participant_id: UUID, version: int) -> bool:
        """Right to erasure: the board keeps the place, not the person."""
        return self._write(
            tracking,
            participant_id,
            version,
            (
                "UPDATE {participants} SET display_name = %(name)s, organisation = ''"
                " WHERE id = %(id)s",
                {"id": participant_id, "name": ERASED_NAME},
            ),
        )

    def submit_idea(
        self,
        tracking: Tracking,
        idea_id: UUID,
        version: int,
        *,
        workshop_id: UUID,
        author_id: UUID,
        text: str,
        at: datetime,
    ) -> bool:
        return self._write(
            tracking,
            idea_id,
            version,
            (
                """INSERT INTO {ideas} (id, workshop_id, author_id, text, submitted_at, position)
                   VALUES (%(id)s, %(workshop_id)s, %(author_id)s, %(text)s, %(at)s, %(position)s)
                   ON CONFLICT (id) DO NOTHING""",
                {
                    "id": idea_id,
                    "workshop_id": workshop_id,
                    "author_id": author_id,
                    "text": text,
                    "at": at,
                    "position": tracking.notification_id,
                },
            ),
        )

    def edit_idea(self, tracking: Tracking, idea_id: UUID, version: int, *, text: str) -> bool:
        return self._write(
            tracking,
            idea_id,
            version,
            ("UPDATE {ideas} SET text = %(text)s WHERE id = %(id)s", {"id": idea_id, "text": text}),
        )

    def withdraw_idea(self, tracking: Tracking, idea_id: UUID, version: int) -> bool:
        return self._write(
            tracking,
            idea_id,
            version,
            ("UPDATE {ideas} SET status = 'withdrawn' WHERE id = %(id)s", {"id": idea_id}),
        )

    def group_idea(
        self, tracking: Tracking, idea_id: UUID, version: int, *, key_area_id: UUID
    ) -> bool:
        return self._write(
            tracking,
            idea_id,
            version,
            (
                "UPDATE {ideas} SET key_area_id = %(key_area_id)s WHERE id = %(id)s",
                {"id": idea_id, "key_area_id": key_area_id},
            ),
        )

    def merge_idea(
        self, tracking: Tracking, idea_id: UUID, version: int, *, target_id: UUID
    ) -> bool:
        return self._write(
            tracking,
            idea_id,
            version,
            (
                "UPDATE {ideas} SET status = 'merged', merged_into = %(target)s WHERE id = %(id)s",
                {"id": idea_id, "target": target_id},
            ),
        )

    def sign_up(
        self,
        tracking: Tracking,
        signup_id: UUID,
        version: int,
        *,
        workshop_id: UUID,
        participant_id: UUID,
        key_area_id: UUID,
        at: datetime,
    ) -> bool:
        return self._write(
            tracking,
            signup_id,
            version,
            (
                """INSERT INTO {signups}
                       (id, workshop_id, participant_id, key_area_id, signed_up_at, position)
                   VALUES (%(id)s, %(workshop_id)s, %(participant_id)s, %(key_area_id)s,
                       %(at)s, %(position)s)
                   ON CONFLICT (id) DO NOTHING""",
                {
                    "id": signup_id,
                    "workshop_id": workshop_id,
                    "participant_id": participant_id,
                    "key_area_id": key_area_id,
                    "at": at,
                    "position": tracking.notification_id,
                },
            ),
        )

    def switch_group(
        self, tracking: Tracking, signup_id: UUID, version: int, *, key_area_id: UUID
    ) -> bool:
        return self._write(
            tracking,
            signup_id,
            version,
            (
                "UPDATE {signups} SET key_area_id = %(key_area_id)s WHERE id = %(id)s",
                {"id": signup_id, "key_area_id": key_area_id},
            ),
        )

    def propose_project(
        self,
        tracking: Tracking,
        project_id: UUID,
        version: int,
        *,
        workshop_id: UUID,
        key_area_id: UUID,
        title: str,
        summary: str,
        idea_ids: list[UUID],
        proposer_ids: list[UUID],
    ) -> bool:
        return self._write(
            tracking,
            project_id,
            version,
            (
                """INSERT INTO {projects} (id, workshop_id, key_area_id, title, summary,
                       idea_ids, proposer_ids, position)
                   VALUES (%(id)s, %(workshop_id)s, %(key_area_id)s, %(title)s, %(summary)s,
                       %(idea_ids)s::uuid[], %(proposer_ids)s::uuid[], %(position)s)
                   ON CONFLICT (id) DO NOTHING""",
                {
                    "id": project_id,
                    "workshop_id": workshop_id,
                    "key_area_id": key_area_id,
                    "title": title,
                    "summary": summary,
                    "idea_ids": list(idea_ids),
                    "proposer_ids": list(proposer_ids),
                    "position": tracking.notification_id,
                },
            ),
        )

    def revise_project(
        self,
        tracking: Tracking,
        project_id: UUID,
        version: int,
        *,
        title: str,
        summary: str,
        idea_ids: list[UUID],
        proposer_ids: list[UUID],
    ) -> bool:
        return self._write(
            tracking,
            project_id,
            version,
            (
                """UPDATE {projects} SET title = %(title)s, summary = %(summary)s,
                       idea_ids = %(idea_ids)s::uuid[], proposer_ids = %(proposer_ids)s::uuid[]
                   WHERE id = %(id)s""",
                {
                    "id": project_id,
                    "title": title,
                    "summary": summary,
                    "idea_ids": list(idea_ids),
                    "proposer_ids": list(proposer_ids),
                },
            ),
        )

    def cast_ballot(
        self,
        tracking: Tracking,
        ballot_id: UUID,
        version: int,
        *,
        workshop_id: UUID,
        participant_id: UUID,
    ) -> bool:
        """Only that a ballot was cast (turnout): the board never shows marks."""
        return self._write(
            tracking,
            ballot_id,
            version,
            (
                """INSERT INTO {ballots} (id, workshop_id, participant_id, position)
                   VALUES (%(id)s, %(workshop_id)s, %(participant_id)s, %(position)s)
                   ON CONFLICT (id) DO NOTHING""",
                {
                    "id": ballot_id,
                    "workshop_id": workshop_id,
                    "participant_id": participant_id,
                    "position": tracking.notification_id,
                },
            ),
        )

    # ----- the read path ------------------------------------------------------

    @transient
    def workshop_ids(self) -> list[UUID]:
        """Every workshop on the board, by start time then code."""
        with self._snapshot() as curs:
            curs.execute(self._q("SELECT id FROM {workshops} ORDER BY starts_at, code, id"))
            return [row["id"] for row in curs.fetchall()]

    @transient
    def counts(self, workshop_id: UUID) -> BoardCounts | None:
        with self._snapshot() as curs:
            curs.execute(
                self._q(
                    """SELECT
                       (SELECT count(*) FROM {participants} WHERE workshop_id = w.id)
                           AS participants,
                       (SELECT count(*) FROM {ideas} WHERE workshop_id = w.id
                           AND status = 'active') AS ideas,
                       (SELECT count(*) FROM {ideas} WHERE workshop_id = w.id
                           AND status = 'withdrawn') AS withdrawn,
                       (SELECT count(*) FROM {ideas} WHERE workshop_id = w.id
                           AND status = 'merged') AS merged,
                       (SELECT count(*) FROM {key_areas} WHERE workshop_id = w.id
                           AND merged_into IS NULL) AS key_areas,
                       (SELECT count(*) FROM {signups} WHERE workshop_id = w.id) AS signed_up,
                       (SELECT count(*) FROM {projects} WHERE workshop_id = w.id) AS projects,
                       (SELECT count(*) FROM {projects} WHERE workshop_id = w.id
                           AND pitch_order IS NOT NULL) AS pitched,
                       (SELECT count(*) FROM {ballots} WHERE workshop_id = w.id) AS ballots_cast
                   FROM {workshops} w WHERE w.id = %(id)s"""
                ),
                {"id": workshop_id},
            )
            row = curs.fetchone()
        return None if row is None else BoardCounts.model_validate(row)

    @transient
    def board(self, workshop_id: UUID) -> Board | None:
        """The whole board of one workshop, read in one snapshot; None if unknown."""
        params = {"id": workshop_id}
        with self._snapshot() as curs:
            curs.execute(self._q("SELECT * FROM {workshops} WHERE id = %(id)s"), params)
            workshop = curs.fetchone()
            if workshop is None:
                return None
            curs.execute(
                self._q(
                    "SELECT * FROM {key_areas} WHERE workshop_id = %(id)s ORDER BY position, id"
                ),
                params,
            )
            areas = curs.fetchall()
            curs.execute(
                self._q("SELECT * FROM {ideas} WHERE workshop_id = %(id)s ORDER BY position, id"),
                params,
            )
            ideas = curs.fetchall()
            curs.execute(
                self._q(
                    "SELECT key_area_id, count(*) AS n FROM {signups}"
                    " WHERE workshop_id = %(id)s GROUP BY key_area_id"
                ),
                params,
            )
            signups = {row["key_area_id"]: int(row["n"]) for row in curs.fetchall()}
            curs.execute(
                self._q(
                    "SELECT * FROM {projects} WHERE workshop_id = %(id)s"
                    " ORDER BY pitch_order NULLS LAST, position, id"
                ),
                params,
            )
            projects = curs.fetchall()
            curs.execute(
                self._q(
                    """SELECT
                       (SELECT count(*) FROM {participants} WHERE workshop_id = %(id)s) AS people,
                       (SELECT count(*) FROM {ballots} WHERE workshop_id = %(id)s) AS ballots"""
                ),
                params,
            )
            totals = curs.fetchone()
            assert totals is not None
            position = self._tracked_position(curs)
        return _assemble(workshop, areas, ideas, signups, projects, totals, position)


def _assemble(
    workshop: DictRow,
    areas: list[DictRow],
    ideas: list[DictRow],
    signups: dict[UUID, int],
    projects: list[DictRow],
    totals: DictRow,
    position: int | None,
) -> Board:
    area_rows = {row["id"]: row for row in areas}

    def resolve_area(area: UUID) -> UUID:
        """Follow key-area merges to the area that now holds `area`'s ideas."""
        seen: set[UUID] = set()
        while area in area_rows and area not in seen:
            target = area_rows[area]["merged_into"]
            if target is None:
                break
            seen.add(area)
            area = target
        return area

    idea_rows = {row["id"]: row for row in ideas}

    def resolve_idea(idea: UUID) -> UUID:
        seen: set[UUID] = set()
        while idea in idea_rows and idea not in seen:
            target = idea_rows[idea]["merged_into"]
            if idea_rows[idea]["status"] != MERGED or target is None:
                break
            seen.add(idea)
            idea = target
        return idea

    duplicates: dict[UUID, list[UUID]] = {}
    for row in ideas:
        if row["status"] == MERGED:
            duplicates.setdefault(resolve_idea(row["id"]), []).append(row["id"])

    merged_from: dict[UUID, list[UUID]] = {}
    for row in areas:
        if row["merged_into"] is not None:
            merged_from.setdefault(resolve_area(row["id"]), []).append(row["id"])

    area_ideas: dict[UUID, list[BoardIdea]] = {row["id"]: [] for row in areas}
    ungrouped: list[BoardIdea] = []
    for row in ideas:
        if row["status"] != ACTIVE:
            continue
        idea = BoardIdea(
            id=row["id"],
            author_id=row["author_id"],
            text=row["text"],
            key_area_id=row["key_area_id"],
            submitted_at=row["submitted_at"],
            position=row["position"],
            duplicates=duplicates.get(row["id"], []),
        )
        home = resolve_area(row["key_area_id"]) if row["key_area_id"] is not None else None
        if home is not None and home in area_ideas:
            area_ideas[home].append(idea)
        else:
            ungrouped.append(idea)

    signed_up: dict[UUID, int] = {}
    for area, count in signups.items():
        home = resolve_area(area)
        signed_up[home] = signed_up.get(home, 0) + count

    key_areas = [
        BoardKeyArea(
            id=row["id"],
            name=row["name"],
            capacity=row["capacity"],
            position=row["position"],
            merged_from=merged_from.get(row["id"], []),
            ideas=area_ideas[row["id"]],
            signed_up=signed_up.get(row["id"], 0),
        )
        for row in areas
        if row["merged_into"] is None
    ]

    board_projects = [
        BoardProject(
            id=row["id"],
            key_area_id=resolve_area(row["key_area_id"]),
            title=row["title"],
            summary=row["summary"],
            idea_ids=row["idea_ids"],
            proposer_ids=row["proposer_ids"],
            proposers=len(row["proposer_ids"]),
            pitch_order=row["pitch_order"],
            pitched_at=row["pitched_at"],
            position=row["position"],
        )
        for row in projects
    ]

    phase = None
    if workshop["phase_index"] >= 0 and workshop["phase_kind"] is not None:
        phase = BoardPhase(
            index=workshop["phase_index"],
            kind=PhaseKind(workshop["phase_kind"]),
            open=workshop["phase_open"],
            opened_at=workshop["phase_opened_at"],
            minutes=workshop["phase_minutes"],
            paused_at=workshop["paused_at"],
        )

    return Board(
        id=workshop["id"],
        code=workshop["code"],
        title=workshop["title"],
        region=workshop["region"],
        venue=workshop["venue"],
        starts_at=workshop["starts_at"],
        agenda=Agenda.model_validate(workshop["agenda"]),
        voting=VotingRules.model_validate(workshop["voting"]),
        briefing=workshop["briefing"],
        phase=phase,
        pitching=workshop["pitching"],
        key_areas=key_areas,
        ungrouped=ungrouped,
        participants=int(totals["people"]),
        signed_up=sum(signups.values()),
        ballots_cast=int(totals["ballots"]),
        projects=board_projects,
        results=workshop["results"],
        position=position,
    )


# ----- the projection ---------------------------------------------------------


# The events that change the board; every other event only advances its position.
HANDLED_EVENTS: tuple[type[Any], ...] = (
    SCHEDULED,
    PHASE_OPENED,
    PHASE_CLOSED,
    PHASE_EXTENDED,
    CRITERIA_ADOPTED,
    PHASE_PAUSED,
    PHASE_RESUMED,
    BRIEFING_PUBLISHED,
    KEY_AREA_DEFINED,
    KEY_AREA_RENAMED,
    KEY_AREAS_MERGED,
    GROUP_CAPACITY_SET,
    PITCH_STARTED,
    PITCH_ENDED,
    RESULTS_DECLARED,
    JOINED,
    ERASED,
    IDEA_SUBMITTED,
    IDEA_EDITED,
    IDEA_WITHDRAWN,
    IDEA_GROUPED,
    IDEA_MERGED,
    SIGNED_UP,
    SWITCHED_GROUP,
    PROJECT_PROPOSED,
    PROJECT_REVISED,
    BALLOT_CAST,
)
HANDLED_TOPICS: tuple[str, ...] = tuple(get_topic(cls) for cls in HANDLED_EVENTS)


class BoardProjection(Projection[BoardView]):
    """Applies the log to the board, one event (and its tracking) per transaction."""

    name = "board"
    # Every topic, deliberately, not just HANDLED_TOPICS. The view's position
    # only advances on events the subscription delivers, and a command's last
    # event is often one the board ignores (a seat taken by a sign-up, a
    # revised ballot): with a topic filter, `runner.wait(position)` for that
    # command would time out. Ignored events cost one tracking upsert each.
    topics: tuple[str, ...] = ()

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """An event the board does not show: only move the view's position on."""
        self.view.insert_tracking(tracking)

    # ----- the workshop -------------------------------------------------------

    @process_event.register(SCHEDULED)
    def _scheduled(self, e: Any, tracking: Tracking) -> None:
        self.view.schedule_workshop(
            tracking,
            e.originator_id,
            e.originator_version,
            code=e.code,
            title=e.title,
            region=e.region,
            venue=e.venue,
            starts_at=e.starts_at,
            agenda=e.agenda,
            voting=e.voting,
            at=e.meta.at,
        )

    @process_event.register(PHASE_OPENED)
    def _phase_opened(self, e: Any, tracking: Tracking) -> None:
        self.view.open_phase(
            tracking,
            e.originator_id,
            e.originator_version,
            index=e.index,
            kind=e.kind,
            minutes=e.minutes,
            at=e.meta.at,
        )

    @process_event.register(PHASE_CLOSED)
    def _phase_closed(self, e: Any, tracking: Tracking) -> None:
        self.view.close_phase(tracking, e.originator_id, e.originator_version)

    @process_event.register(PHASE_EXTENDED)
    def _phase_extended(self, e: Any, tracking: Tracking) -> None:
        self.view.extend_phase(tracking, e.originator_id, e.originator_version, minutes=e.minutes)

    @process_event.register(CRITERIA_ADOPTED)
    def _criteria_adopted(self, e: Any, tracking: Tracking) -> None:
        self.view.adopt_criteria(
            tracking, e.originator_id, e.originator_version, criteria=e.criteria
        )

    @process_event.register(PHASE_PAUSED)
    def _phase_paused(self, e: Any, tracking: Tracking) -> None:
        self.view.pause_phase(tracking, e.originator_id, e.originator_version, at=e.meta.at)

    @process_event.register(PHASE_RESUMED)
    def _phase_resumed(self, e: Any, tracking: Tracking) -> None:
        self.view.resume_phase(tracking, e.originator_id, e.originator_version, at=e.meta.at)

    @process_event.register(BRIEFING_PUBLISHED)
    def _briefing(self, e: Any, tracking: Tracking) -> None:
        self.view.publish_briefing(tracking, e.originator_id, e.originator_version, text=e.text)

    @process_event.register(KEY_AREA_DEFINED)
    def _key_area_defined(self, e: Any, tracking: Tracking) -> None:
        self.view.define_key_area(
            tracking, e.originator_id, e.originator_version, key_area_id=e.key_area_id, name=e.name
        )

    @process_event.register(KEY_AREA_RENAMED)
    def _key_area_renamed(self, e: Any, tracking: Tracking) -> None:
        self.view.rename_key_area(
            tracking, e.originator_id, e.originator_version, key_area_id=e.key_area_id, name=e.name
        )

    @process_event.register(KEY_AREAS_MERGED)
    def _key_areas_merged(self, e: Any, tracking: Tracking) -> None:
        self.view.merge_key_areas(
            tracking,
            e.originator_id,
            e.originator_version,
            source_id=e.source_id,
            target_id=e.target_id,
        )

    @process_event.register(GROUP_CAPACITY_SET)
    def _capacity_set(self, e: Any, tracking: Tracking) -> None:
        self.view.set_group_capacity(
            tracking,
            e.originator_id,
            e.originator_version,
            key_area_id=e.key_area_id,
            capacity=e.capacity,
        )

    @process_event.register(PITCH_STARTED)
    def _pitch_started(self, e: Any, tracking: Tracking) -> None:
        self.view.start_pitch(
            tracking, e.originator_id, e.originator_version, project_id=e.project_id, at=e.meta.at
        )

    @process_event.register(PITCH_ENDED)
    def _pitch_ended(self, e: Any, tracking: Tracking) -> None:
        self.view.end_pitch(
            tracking, e.originator_id, e.originator_version, project_id=e.project_id
        )

    @process_event.register(RESULTS_DECLARED)
    def _results(self, e: Any, tracking: Tracking) -> None:
        self.view.declare_results(
            tracking, e.originator_id, e.originator_version, results=e.results
        )

    # ----- the crowd ----------------------------------------------------------

    @process_event.register(JOINED)
    def _joined(self, e: Any, tracking: Tracking) -> None:
        self.view.add_participant(
            tracking,
            e.originator_id,
            e.originator_version,
            workshop_id=e.workshop_id,
            display_name=e.display_name,
            organisation=e.organisation,
            at=e.meta.at,
        )

    @process_event.register(ERASED)
    def _erased(self, e: Any, tracking: Tracking) -> None:
        self.view.erase_participant(tracking, e.originator_id, e.originator_version)

    @process_event.register(IDEA_SUBMITTED)
    def _idea_submitted(self, e: Any, tracking: Tracking) -> None:
        self.view.submit_idea(
            tracking,
            e.originator_id,
            e.originator_version,
            workshop_id=e.workshop_id,
            author_id=e.author_id,
            text=e.text,
            at=e.meta.at,
        )

    @process_event.register(IDEA_EDITED)
    def _idea_edited(self, e: Any, tracking: Tracking) -> None:
        self.view.edit_idea(tracking, e.originator_id, e.originator_version, text=e.text)

    @process_event.register(IDEA_WITHDRAWN)
    def _idea_withdrawn(self, e: Any, tracking: Tracking) -> None:
        self.view.withdraw_idea(tracking, e.originator_id, e.originator_version)

    @process_event.register(IDEA_GROUPED)
    def _idea_grouped(self, e: Any, tracking: Tracking) -> None:
        self.view.group_idea(
            tracking, e.originator_id, e.originator_version, key_area_id=e.key_area_id
        )

    @process_event.register(IDEA_MERGED)
    def _idea_merged(self, e: Any, tracking: Tracking) -> None:
        self.view.merge_idea(tracking, e.originator_id, e.originator_version, target_id=e.target_id)

    @process_event.register(SIGNED_UP)
    def _signed_up(self, e: Any, tracking: Tracking) -> None:
        self.view.sign_up(
            tracking,
            e.originator_id,
            e.originator_version,
            workshop_id=e.workshop_id,
            participant_id=e.participant_id,
            key_area_id=e.key_area_id,
            at=e.meta.at,
        )

    @process_event.register(SWITCHED_GROUP)
    def _switched(self, e: Any, tracking: Tracking) -> None:
        self.view.switch_group(
            tracking, e.originator_id, e.originator_version, key_area_id=e.key_area_id
        )

    @process_event.register(PROJECT_PROPOSED)
    def _proposed(self, e: Any, tracking: Tracking) -> None:
        self.view.propose_project(
            tracking,
            e.originator_id,
            e.originator_version,
            workshop_id=e.workshop_id,
            key_area_id=e.key_area_id,
            title=e.title,
            summary=e.summary,
            idea_ids=list(e.idea_ids),
            proposer_ids=list(e.proposer_ids),
        )

    @process_event.register(PROJECT_REVISED)
    def _revised(self, e: Any, tracking: Tracking) -> None:
        self.view.revise_project(
            tracking,
            e.originator_id,
            e.originator_version,
            title=e.title,
            summary=e.summary,
            idea_ids=list(e.idea_ids),
            proposer_ids=list(e.proposer_ids),
        )

    @process_event.register(BALLOT_CAST)
    def _ballot_cast(self, e: Any, tracking: Tracking) -> None:
        self.view.cast_ballot(
            tracking,
            e.originator_id,
            e.originator_version,
            workshop_id=e.workshop_id,
            participant_id=e.participant_id,
        )


# ----- construction -----------------------------------------------------------


def board_view(env: Mapping[str, str]) -> BoardView:
    """The board view as `ProjectionRunner` builds it (same tables, same settings).

    For readers that run no projection (an API process). `env` holds the
    library's persistence settings (PERSISTENCE_MODULE=eventsourcing.postgres,
    POSTGRES_*), optionally prefixed `BOARD_`. Close it with `view.close()`.
    """
    return construct_view(BoardView, BoardProjection.name, env)


def rebuild(view: BoardView) -> None:
    """Empty the board so the next runner rebuilds it from position 0 (see `reset`)."""
    view.reset()
