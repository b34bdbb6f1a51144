"""The programme pipeline: every initiative from the idea that started it to its benefits.

`PipelineView` is a tracking recorder (see `projections.tracking`) that owns
the `pipeline_*` tables: programmes with their regions and outcome measures,
the programmes' workshops with their winners, the ideas and projects of those
workshops (what an initiative comes from), the initiatives with their stage,
owner, regions, progress, milestones, benefits and follow-ups, the owners
(id and name, decrypted from Owner.Registered; an erased owner's name becomes
a marker), and a trail:
one row per event that touches an initiative or its origin (an idea its
winning project builds on, that project), written as a line of text when the
event is applied. Each write commits its rows and the event's tracking in one
transaction, guarded by the stream's version, so applying an event twice
changes nothing.

An owner's name is stored in one place only, `pipeline_owners`: the
initiatives hold the owner's id, and a trail line about an owner is kept as a
template with the owners' ids beside it, filled in when read. Erasing an
owner overwrites that one row, so no copy of the name is left behind.

Only programme workshops are kept (Workshop.Scheduled with a programme_id),
with their key areas, ideas and projects; the events of other workshops
only advance the view's position.

`PipelineProjection` subscribes to every topic (`topics = ()`), like the
board, so that `ProjectionRunner.wait(position)` works for any position a
command returned. `PipelineView.reset()` empties the view for a rebuild.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from domain.events import (
    ADOPTED,
    ADOPTED_IN_REGION,
    BENEFIT_RECORDED,
    FLAGGED_STALE,
    FOLLOW_UP_LINKED,
    IDEA_EDITED,
    IDEA_GROUPED,
    IDEA_LINKED,
    IDEA_MERGED,
    IDEA_SUBMITTED,
    IDEA_WITHDRAWN,
    KEY_AREA_DEFINED,
    KEY_AREA_RENAMED,
    LAUNCHED,
    MILESTONE_COMPLETED,
    MILESTONE_OVERDUE,
    MILESTONE_PLANNED,
    MILESTONE_RESCHEDULED,
    OWNER_ASSIGNED,
    OWNER_ERASED,
    OWNER_REGISTERED,
    PITCH_STARTED,
    PROGRAMME_CLOSED,
    PROGRESS_REPORTED,
    PROJECT_PROPOSED,
    PROJECT_REVISED,
    REMINDER_SENT,
    RESULTS_DECLARED,
    REVIEW_SCHEDULED,
    SCHEDULED,
    STAGE_CHANGED,
    WORKSHOP_PLACED,
)
from domain.initiative import Rag, Stage
from domain.meta import Meta
from domain.owner import ERASED_OWNER
from domain.tally import Result

from .pipeline_models import (
    BenefitRow,
    BenefitTotal,
    FollowUpRow,
    InitiativeRow,
    LeadTime,
    MeasureRow,
    MilestoneRow,
    OriginRow,
    OverdueMilestone,
    PipelineSummary,
    ProgrammeRow,
    ProgrammeSummaryRow,
    ProgrammeWorkshopRow,
    ProgressRow,
    StaleInitiative,
    Subject,
    TrailEntry,
    TrailKind,
)
from .tracking import STREAMS_DDL, TrackedView, construct_view, transient

__all__ = [
    "HANDLED_EVENTS",
    "OPEN_STAGES",
    "PIPELINE_TABLES",
    "PipelineProjection",
    "PipelineView",
    "pipeline_view",
]

Change = Callable[[Cursor[DictRow]], None]

# Stages in which an initiative is still expected to report and to meet milestones.
OPEN_STAGES = frozenset({Stage.PROPOSED, Stage.APPROVED, Stage.IN_DELIVERY, Stage.PAUSED})

# The view's own tables (the tracking table, `pipeline_tracking`, is named by the factory).
PIPELINE_TABLES = (
    "pipeline_streams",
    "pipeline_programmes",
    "pipeline_workshops",
    "pipeline_key_areas",
    "pipeline_ideas",
    "pipeline_projects",
    "pipeline_initiatives",
    "pipeline_owners",
    "pipeline_milestones",
    "pipeline_benefits",
    "pipeline_follow_ups",
    "pipeline_trail",
)

_DDL = (
    STREAMS_DDL,
    """CREATE TABLE IF NOT EXISTS {programmes} (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        sponsor text NOT NULL,
        regions text[] NOT NULL,
        measures jsonb NOT NULL,
        closed boolean NOT NULL DEFAULT false,
        launched_at timestamptz NOT NULL,
        position bigint NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {workshops} (
        id uuid PRIMARY KEY,
        programme_id uuid NOT NULL,
        code text NOT NULL,
        title text NOT NULL,
        region text NOT NULL,
        starts_at timestamptz NOT NULL,
        winners uuid[] NOT NULL DEFAULT ARRAY[]::uuid[],
        declared_at timestamptz,
        position bigint NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS pipeline_workshops_programme ON {workshops} (programme_id)",
    """CREATE TABLE IF NOT EXISTS {key_areas} (
        id uuid PRIMARY KEY,
        workshop_id uuid NOT NULL,
        name text NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {ideas} (
        id uuid PRIMARY KEY,
        workshop_id uuid NOT NULL,
        text text NOT NULL,
        key_area_id uuid,
        status text NOT NULL DEFAULT 'active'
            CHECK (status IN ('active', 'withdrawn', 'merged')),
        merged_into uuid,
        submitted_at timestamptz NOT NULL,
        position bigint NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS pipeline_ideas_workshop ON {ideas} (workshop_id)",
    """CREATE TABLE IF NOT EXISTS {projects} (
        id uuid PRIMARY KEY,
        workshop_id uuid NOT NULL,
        title text NOT NULL,
        idea_ids uuid[] NOT NULL,
        position bigint NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {initiatives} (
        id uuid PRIMARY KEY,
        programme_id uuid NOT NULL,
        title text NOT NULL,
        summary text NOT NULL,
        stage text NOT NULL,
        regions text[] NOT NULL,
        owner_id uuid,
        origin_kind text NOT NULL CHECK (origin_kind IN ('project', 'manual')),
        project_id uuid,
        workshop_id uuid,
        idea_ids uuid[] NOT NULL,
        reason text,
        adopted_at timestamptz NOT NULL,
        delivered_at timestamptz,
        stale boolean NOT NULL DEFAULT false,
        last_report_at timestamptz,
        progress_percent integer,
        progress_status text,
        progress_note text,
        progress_at timestamptz,
        review_due timestamptz,
        position bigint NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS pipeline_initiatives_programme ON {initiatives} (programme_id)",
    # The one place an owner's name is kept (an erased owner's is the marker).
    """CREATE TABLE IF NOT EXISTS {owners} (
        id uuid PRIMARY KEY,
        programme_id uuid NOT NULL,
        name text NOT NULL,
        erased boolean NOT NULL DEFAULT false,
        position bigint NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {milestones} (
        initiative_id uuid NOT NULL,
        id uuid NOT NULL,
        title text NOT NULL,
        due timestamptz NOT NULL,
        completed_at timestamptz,
        flagged_for timestamptz,
        position bigint NOT NULL,
        PRIMARY KEY (initiative_id, id))""",
    """CREATE TABLE IF NOT EXISTS {benefits} (
        initiative_id uuid NOT NULL,
        position bigint NOT NULL,
        measure text NOT NULL,
        amount double precision NOT NULL,
        unit text NOT NULL,
        evidence text NOT NULL,
        at timestamptz NOT NULL,
        actor text NOT NULL,
        PRIMARY KEY (initiative_id, position))""",
    """CREATE TABLE IF NOT EXISTS {follow_ups} (
        initiative_id uuid NOT NULL,
        workshop_id uuid NOT NULL,
        linked_at timestamptz NOT NULL,
        position bigint NOT NULL,
        PRIMARY KEY (initiative_id, workshop_id))""",
    # One row per event about a subject (an initiative, or an idea or project it comes from).
    """CREATE TABLE IF NOT EXISTS {trail} (
        subject_id uuid NOT NULL,
        position bigint NOT NULL,
        subject text NOT NULL CHECK (subject IN ('idea', 'project', 'initiative')),
        at timestamptz NOT NULL,
        actor text NOT NULL,
        kind text NOT NULL,
        text text NOT NULL,
        -- With owners named, `text` is a str.format template of their names (see _trail).
        owners uuid[] NOT NULL DEFAULT ARRAY[]::uuid[],
        PRIMARY KEY (subject_id, position))""",
)

_TRAIL = """INSERT INTO {trail} (subject_id, position, subject, at, actor, kind, text, owners)
    VALUES (%(subject_id)s, %(position)s, %(subject)s, %(at)s, %(actor)s, %(kind)s, %(text)s,
        %(owners)s::uuid[])
    ON CONFLICT (subject_id, position) DO NOTHING"""

# Where an owner is unknown to the view (it never is, once Registered was applied).
UNKNOWN_OWNER = "unknown owner"


def _literal(text: str) -> str:
    """`text` as part of a str.format template: its braces escaped."""
    return text.replace("{", "{{").replace("}", "}}")


def _day(at: datetime) -> str:
    return at.strftime("%Y-%m-%d")


def _amount(amount: float) -> str:
    return f"{int(amount):,}" if amount == int(amount) else f"{amount:,.2f}"


def _words(stage: str) -> str:
    return stage.replace("_", " ")


class PipelineView(TrackedView):
    """The pipeline's tables, their write methods (one per fact) and read methods."""

    prefix = "pipeline_"
    tables = PIPELINE_TABLES
    ddl = _DDL

    # ----- helpers for the write path -----------------------------------------

    def _trail(
        self,
        curs: Cursor[DictRow],
        tracking: Tracking,
        subject: Subject,
        subject_id: UUID,
        meta: Meta,
        kind: TrailKind,
        text: str,
        owners: Sequence[UUID] = (),
    ) -> None:
        """A trail line; with `owners`, `text` is a template their names fill in when read."""
        curs.execute(
            self._q(_TRAIL),
            {
                "subject_id": subject_id,
                "position": tracking.notification_id,
                "subject": subject,
                "at": meta.at,
                "actor": meta.actor,
                "kind": kind.value,
                "text": text,
                "owners": list(owners),
            },
        )

    def _exists(self, curs: Cursor[DictRow], table: str, row_id: UUID) -> bool:
        return (
            self._fetch(curs, f"SELECT 1 FROM {{{table}}} WHERE id = %(id)s", {"id": row_id})
            is not None
        )

    def _on_initiative(
        self,
        tracking: Tracking,
        initiative_id: UUID,
        version: int,
        meta: Meta,
        kind: TrailKind,
        text: str | Callable[[Cursor[DictRow]], str],
        *statements: tuple[str, Mapping[str, Any]],
        owners: Sequence[UUID] = (),
    ) -> bool:
        """Run `statements` on an initiative's rows and add its trail line, in one write.

        `text` may be a function of the cursor, called after the statements, for
        a line that names something the view knows (a milestone's title). With
        `owners`, `text` is a template (see `_trail`).
        """

        def change(curs: Cursor[DictRow]) -> None:
            line = text if isinstance(text, str) else text(curs)
            for statement, params in statements:
                curs.execute(self._q(statement), params)
            self._trail(curs, tracking, "initiative", initiative_id, meta, kind, line, owners)

        return self._apply(tracking, initiative_id, version, change)

    # ----- programmes -------------------------------------------------------------

    def launch_programme(
        self,
        tracking: Tracking,
        programme_id: UUID,
        version: int,
        *,
        name: str,
        sponsor: str,
        regions: Sequence[str],
        measures: Sequence[Mapping[str, Any]],
        meta: Meta,
    ) -> bool:
        return self._write(
            tracking,
            programme_id,
            version,
            (
                """INSERT INTO {programmes}
                       (id, name, sponsor, regions, measures, launched_at, position)
                   VALUES (%(id)s, %(name)s, %(sponsor)s, %(regions)s, %(measures)s,
                       %(at)s, %(position)s)
                   ON CONFLICT (id) DO NOTHING""",
                {
                    "id": programme_id,
                    "name": name,
                    "sponsor": sponsor,
                    "regions": list(regions),
                    "measures": Jsonb([dict(m) for m in measures]),
                    "at": meta.at,
                    "position": tracking.notification_id,
                },
            ),
        )

    def place_workshop(
        self,
        tracking: Tracking,
        programme_id: UUID,
        version: int,
        *,
        workshop_id: UUID,
        region: str,
    ) -> bool:
        """The programme's spelling of the workshop's region (its list of regions has it)."""
        return self._write(
            tracking,
            programme_id,
            version,
            (
                """UPDATE {workshops} SET region = %(region)s
                   WHERE id = %(id)s AND programme_id = %(programme_id)s""",
                {"id": workshop_id, "programme_id": programme_id, "region": region},
            ),
        )

    def close_programme(self, tracking: Tracking, programme_id: UUID, version: int) -> bool:
        return self._write(
            tracking,
            programme_id,
            version,
            ("UPDATE {programmes} SET closed = true WHERE id = %(id)s", {"id": programme_id}),
        )

    # ----- programme workshops --------------------------------------------------

    def schedule_workshop(
        self,
        tracking: Tracking,
        workshop_id: UUID,
        version: int,
        *,
        programme_id: UUID,
        code: str,
        title: str,
        region: str,
        starts_at: datetime,
    ) -> bool:
        return self._write(
            tracking,
            workshop_id,
            version,
            (
                """INSERT INTO {workshops}
                       (id, programme_id, code, title, region, starts_at, position)
                   VALUES (%(id)s, %(programme_id)s, %(code)s, %(title)s, %(region)s,
                       %(starts_at)s, %(position)s)
                   ON CONFLICT (id) DO NOTHING""",
                {
                    "id": workshop_id,
                    "programme_id": programme_id,
                    "code": code,
                    "title": title,
                    "region": region,
                    "starts_at": starts_at,
                    "position": tracking.notification_id,
                },
            ),
        )

    def define_key_area(
        self, tracking: Tracking, workshop_id: UUID, version: int, *, key_area_id: UUID, name: str
    ) -> bool:
        def change(curs: Cursor[DictRow]) -> None:
            if self._exists(curs, "workshops", workshop_id):
                curs.execute(
                    self._q(
                        """INSERT INTO {key_areas} (id, workshop_id, name)
                           VALUES (%(id)s, %(workshop_id)s, %(name)s)
                           ON CONFLICT (id) DO NOTHING"""
                    ),
                    {"id": key_area_id, "workshop_id": workshop_id, "name": name},
                )

        return self._apply(tracking, workshop_id, version, change)

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

    def start_pitch(
        self,
        tracking: Tracking,
        workshop_id: UUID,
        version: int,
        *,
        project_id: UUID,
        minutes: float,
        meta: Meta,
    ) -> bool:
        def change(curs: Cursor[DictRow]) -> None:
            project = self._fetch(
                curs, "SELECT title FROM {projects} WHERE id = %(id)s", {"id": project_id}
            )
            if project is not None:
                text = f'Pitched to the room: "{project["title"]}" ({minutes:g} minutes)'
                self._trail(curs, tracking, "project", project_id, meta, TrailKind.PITCHED, text)

        return self._apply(tracking, workshop_id, version, change)

    def declare_results(
        self,
        tracking: Tracking,
        workshop_id: UUID,
        version: int,
        *,
        results: Mapping[str, Any],
        meta: Meta,
    ) -> bool:
        """The winners, and a trail line for each project counted: its rank and support."""
        result = Result.model_validate(dict(results))

        def change(curs: Cursor[DictRow]) -> None:
            if not self._exists(curs, "workshops", workshop_id):
                return
            curs.execute(
                self._q(
                    "UPDATE {workshops} SET winners = %(winners)s::uuid[], declared_at = %(at)s"
                    " WHERE id = %(id)s"
                ),
                {"id": workshop_id, "winners": list(result.winners), "at": meta.at},
            )
            ranks = {pid: entry for entry in result.ranking for pid in entry.project_ids}
            for total in result.totals:
                if not self._exists(curs, "projects", total.project_id):
                    continue
                entry = ranks.get(total.project_id)
                support = (
                    f"{total.share:.0%} support ({total.supporters} of"
                    f" {result.ballots_counted} ballots), total {total.total:g}"
                )
                if total.project_id in result.winners:
                    tied = " (tied)" if entry is not None and entry.tied else ""
                    outcome = f"won{tied} with {support}"
                else:
                    rank = entry.rank if entry is not None else len(result.totals)
                    outcome = f"ranked {rank} with {support}"
                text = f'Results declared: "{total.title}" {outcome}'
                self._trail(
                    curs,
                    tracking,
                    "project",
                    total.project_id,
                    meta,
                    TrailKind.RESULTS_DECLARED,
                    text,
                )

        return self._apply(tracking, workshop_id, version, change)

    # ----- ideas and projects of programme workshops ---------------------------

    def submit_idea(
        self,
        tracking: Tracking,
        idea_id: UUID,
        version: int,
        *,
        workshop_id: UUID,
        text: str,
        meta: Meta,
    ) -> bool:
        def change(curs: Cursor[DictRow]) -> None:
            if not self._exists(curs, "workshops", workshop_id):
                return  # not a programme workshop
            curs.execute(
                self._q(
                    """INSERT INTO {ideas} (id, workshop_id, text, submitted_at, position)
                       VALUES (%(id)s, %(workshop_id)s, %(text)s, %(at)s, %(position)s)
                       ON CONFLICT (id) DO NOTHING"""
                ),
                {
                    "id": idea_id,
                    "workshop_id": workshop_id,
                    "text": text,
                    "at": meta.at,
                    "position": tracking.notification_id,
                },
            )
            line = f'Idea submitted: "{text}"'
            self._trail(curs, tracking, "idea", idea_id, meta, TrailKind.IDEA_SUBMITTED, line)

        return self._apply(tracking, idea_id, version, change)

    def _idea_change(
        self,
        tracking: Tracking,
        idea_id: UUID,
        version: int,
        meta: Meta,
        kind: TrailKind,
        update: str,
        params: Mapping[str, Any],
        line: Callable[[DictRow], str],
    ) -> bool:
        """Update a kept idea and add a trail line made from its row (as it was)."""

        def change(curs: Cursor[DictRow]) -> None:
            row = self._fetch(curs, "SELECT * FROM {ideas} WHERE id = %(id)s", {"id": idea_id})
            if row is None:
                return  # an idea of a workshop outside any programme
            text = line(row)
            curs.execute(self._q(update), {"id": idea_id, **params})
            self._trail(curs, tracking, "idea", idea_id, meta, kind, text)

        return self._apply(tracking, idea_id, version, change)

    def edit_idea(
        self, tracking: Tracking, idea_id: UUID, version: int, *, text: str, meta: Meta
    ) -> bool:
        return self._idea_change(
            tracking,
            idea_id,
            version,
            meta,
            TrailKind.IDEA_EDITED,
            "UPDATE {ideas} SET text = %(text)s WHERE id = %(id)s",
            {"text": text},
            lambda row: f'Idea edited: "{text}" (was "{row["text"]}")',
        )

    def withdraw_idea(self, tracking: Tracking, idea_id: UUID, version: int, *, meta: Meta) -> bool:
        return self._idea_change(
            tracking,
            idea_id,
            version,
            meta,
            TrailKind.IDEA_WITHDRAWN,
            "UPDATE {ideas} SET status = 'withdrawn' WHERE id = %(id)s",
            {},
            lambda row: f'Idea withdrawn: "{row["text"]}"',
        )

    def group_idea(
        self, tracking: Tracking, idea_id: UUID, version: int, *, key_area_id: UUID, meta: Meta
    ) -> bool:
        def change(curs: Cursor[DictRow]) -> None:
            if not self._exists(curs, "ideas", idea_id):
                return
            area = self._fetch(
                curs, "SELECT name FROM {key_areas} WHERE id = %(id)s", {"id": key_area_id}
            )
            name = f'"{area["name"]}"' if area is not None else str(key_area_id)
            curs.execute(
                self._q("UPDATE {ideas} SET key_area_id = %(key_area_id)s WHERE id = %(id)s"),
                {"id": idea_id, "key_area_id": key_area_id},
            )
            line = f"Idea grouped under key area {name}"
            self._trail(curs, tracking, "idea", idea_id, meta, TrailKind.IDEA_GROUPED, line)

        return self._apply(tracking, idea_id, version, change)

    def merge_idea(
        self, tracking: Tracking, idea_id: UUID, version: int, *, target_id: UUID, meta: Meta
    ) -> bool:
        """A duplicate folded into `target_id`: a line in the surviving idea's trail."""

        def change(curs: Cursor[DictRow]) -> None:
            row = self._fetch(curs, "SELECT text FROM {ideas} WHERE id = %(id)s", {"id": idea_id})
            if row is None:
                return
            curs.execute(
                self._q(
                    "UPDATE {ideas} SET status = 'merged', merged_into = %(target)s"
                    " WHERE id = %(id)s"
                ),
                {"id": idea_id, "target": target_id},
            )
            line = f'Duplicate merged into this idea: "{row["text"]}"'
            kind = TrailKind.DUPLICATE_MERGED
            self._trail(curs, tracking, "idea", target_id, meta, kind, line)

        return self._apply(tracking, idea_id, version, change)

    def link_to_earlier(
        self, tracking: Tracking, idea_id: UUID, version: int, *, earlier_id: UUID, meta: Meta
    ) -> bool:
        """A line in the idea's trail: it came up at an earlier workshop too."""

        def change(curs: Cursor[DictRow]) -> None:
            earlier = self._fetch(
                curs,
                "SELECT i.text, w.region, w.title FROM {ideas} i JOIN {workshops} w"
                " ON w.id = i.workshop_id WHERE i.id = %(id)s",
                {"id": earlier_id},
            )
            if earlier is None:
                return
            line = (
                f'Came up before, in {earlier["region"]} ("{earlier["title"]}"): '
                f'"{earlier["text"]}"'
            )
            self._trail(curs, tracking, "idea", idea_id, meta, TrailKind.CAME_UP_BEFORE, line)

        return self._apply(tracking, idea_id, version, change)

    def propose_project(
        self,
        tracking: Tracking,
        project_id: UUID,
        version: int,
        *,
        workshop_id: UUID,
        title: str,
        idea_ids: Sequence[UUID],
        meta: Meta,
    ) -> bool:
        def change(curs: Cursor[DictRow]) -> None:
            if not self._exists(curs, "workshops", workshop_id):
                return
            curs.execute(
                self._q(
                    """INSERT INTO {projects} (id, workshop_id, title, idea_ids, position)
                       VALUES (%(id)s, %(workshop_id)s, %(title)s, %(idea_ids)s::uuid[],
                           %(position)s)
                       ON CONFLICT (id) DO NOTHING"""
                ),
                {
                    "id": project_id,
                    "workshop_id": workshop_id,
                    "title": title,
                    "idea_ids": list(idea_ids),
                    "position": tracking.notification_id,
                },
            )
            line = f'Project proposed: "{title}", building on {_ideas(len(idea_ids))}'
            kind = TrailKind.PROJECT_PROPOSED
            self._trail(curs, tracking, "project", project_id, meta, kind, line)

        return self._apply(tracking, project_id, version, change)

    def revise_project(
        self,
        tracking: Tracking,
        project_id: UUID,
        version: int,
        *,
        title: str,
        idea_ids: Sequence[UUID],
        meta: Meta,
    ) -> bool:
        def change(curs: Cursor[DictRow]) -> None:
            if not self._exists(curs, "projects", project_id):
                return
            curs.execute(
                self._q(
                    "UPDATE {projects} SET title = %(title)s, idea_ids = %(idea_ids)s::uuid[]"
                    " WHERE id = %(id)s"
                ),
                {"id": project_id, "title": title, "idea_ids": list(idea_ids)},
            )
            line = f'Project revised: "{title}", building on {_ideas(len(idea_ids))}'
            kind = TrailKind.PROJECT_REVISED
            self._trail(curs, tracking, "project", project_id, meta, kind, line)

        return self._apply(tracking, project_id, version, change)

    # ----- initiatives -----------------------------------------------------------

    def adopt(
        self,
        tracking: Tracking,
        initiative_id: UUID,
        version: int,
        *,
        programme_id: UUID,
        title: str,
        summary: str,
        region: str,
        origin: Mapping[str, Any],
        meta: Meta,
    ) -> bool:
        kind = origin.get("kind", "manual")
        project_id = origin.get("project_id")
        workshop_id = origin.get("workshop_id")
        idea_ids = [UUID(str(i)) for i in origin.get("idea_ids", [])]
        reason = origin.get("reason")

        def change(curs: Cursor[DictRow]) -> None:
            curs.execute(
                self._q(
                    """INSERT INTO {initiatives} (id, programme_id, title, summary, stage,
                           regions, origin_kind, project_id, workshop_id, idea_ids, reason,
                           adopted_at, position)
                       VALUES (%(id)s, %(programme_id)s, %(title)s, %(summary)s, %(stage)s,
                           %(regions)s, %(kind)s, %(project_id)s, %(workshop_id)s,
                           %(idea_ids)s::uuid[], %(reason)s, %(at)s, %(position)s)
                       ON CONFLICT (id) DO NOTHING"""
                ),
                {
                    "id": initiative_id,
                    "programme_id": programme_id,
                    "title": title,
                    "summary": summary,
                    "stage": Stage.PROPOSED.value,
                    "regions": [region],
                    "kind": kind,
                    "project_id": UUID(str(project_id)) if project_id else None,
                    "workshop_id": UUID(str(workshop_id)) if workshop_id else None,
                    "idea_ids": idea_ids,
                    "reason": reason,
                    "at": meta.at,
                    "position": tracking.notification_id,
                },
            )
            if kind == "project":
                workshop = None
                if workshop_id:
                    workshop = self._fetch(
                        curs,
                        "SELECT title FROM {workshops} WHERE id = %(id)s",
                        {"id": UUID(str(workshop_id))},
                    )
                where = f' from "{workshop["title"]}"' if workshop is not None else ""
                line = f'Adopted as an initiative in {region}: "{title}"{where}'
            else:
                line = f'Added by the programme in {region}: "{title}" ({reason})'
            self._trail(curs, tracking, "initiative", initiative_id, meta, TrailKind.ADOPTED, line)

        return self._apply(tracking, initiative_id, version, change)

    # ----- owners -------------------------------------------------------------------

    def register_owner(
        self,
        tracking: Tracking,
        owner_id: UUID,
        version: int,
        *,
        programme_id: UUID,
        name: str,
        erased: bool,
    ) -> bool:
        """The owner's name (already the marker when replayed after the erasure)."""
        return self._write(
            tracking,
            owner_id,
            version,
            (
                """INSERT INTO {owners} (id, programme_id, name, erased, position)
                   VALUES (%(id)s, %(programme_id)s, %(name)s, %(erased)s, %(position)s)
                   ON CONFLICT (id) DO NOTHING""",
                {
                    "id": owner_id,
                    "programme_id": programme_id,
                    "name": ERASED_OWNER if erased else name,
                    "erased": erased,
                    "position": tracking.notification_id,
                },
            ),
        )

    def erase_owner(self, tracking: Tracking, owner_id: UUID, version: int) -> bool:
        """Overwrite the one copy of the owner's name with the marker."""
        return self._write(
            tracking,
            owner_id,
            version,
            (
                "UPDATE {owners} SET name = %(name)s, erased = true WHERE id = %(id)s",
                {"id": owner_id, "name": ERASED_OWNER},
            ),
        )

    def assign_owner(
        self,
        tracking: Tracking,
        initiative_id: UUID,
        version: int,
        *,
        owner_id: UUID,
        previous_id: UUID | None,
        meta: Meta,
    ) -> bool:
        owners = [owner_id] if previous_id is None else [owner_id, previous_id]
        return self._on_initiative(
            tracking,
            initiative_id,
            version,
            meta,
            TrailKind.OWNER_ASSIGNED,
            "Owner: {0}" + (" (was {1})" if previous_id is not None else ""),
            (
                "UPDATE {initiatives} SET owner_id = %(owner_id)s WHERE id = %(id)s",
                {"id": initiative_id, "owner_id": owner_id},
            ),
            owners=owners,
        )

    def change_stage(
        self,
        tracking: Tracking,
        initiative_id: UUID,
        version: int,
        *,
        stage: str,
        previous: str,
        reason: str,
        meta: Meta,
    ) -> bool:
        because = f": {reason}" if reason else ""
        return self._on_initiative(
            tracking,
            initiative_id,
            version,
            meta,
            TrailKind.STAGE_CHANGED,
            f"Stage moved from {_words(previous)} to {_words(stage)}{because}",
            (
                """UPDATE {initiatives} SET stage = %(stage)s,
                       delivered_at = CASE WHEN %(stage)s = 'delivered' THEN %(at)s
                           ELSE delivered_at END
                   WHERE id = %(id)s""",
                {"id": initiative_id, "stage": Stage(stage).value, "at": meta.at},
            ),
        )

    def plan_milestone(
        self,
        tracking: Tracking,
        initiative_id: UUID,
        version: int,
        *,
        milestone_id: UUID,
        title: str,
        due: datetime,
        meta: Meta,
    ) -> bool:
        return self._on_initiative(
            tracking,
            initiative_id,
            version,
            meta,
            TrailKind.MILESTONE_PLANNED,
            f'Milestone planned: "{title}", due {_day(due)}',
            (
                """INSERT INTO {milestones} (initiative_id, id, title, due, position)
                   VALUES (%(initiative_id)s, %(id)s, %(title)s, %(due)s, %(position)s)
                   ON CONFLICT (initiative_id, id) DO NOTHING""",
                {
                    "initiative_id": initiative_id,
                    "id": milestone_id,
                    "title": title,
                    "due": due,
                    "position": tracking.notification_id,
                },
            ),
        )

    def _milestone_line(
        self, initiative_id: UUID, milestone_id: UUID, line: Callable[[DictRow], str]
    ) -> Callable[[Cursor[DictRow]], str]:
        """A trail line made from the milestone's row as it was before the change."""

        def text(curs: Cursor[DictRow]) -> str:
            row = self._fetch(
                curs,
                "SELECT * FROM {milestones} WHERE initiative_id = %(initiative_id)s"
                " AND id = %(id)s",
                {"initiative_id": initiative_id, "id": milestone_id},
            )
            if row is None:
                return line({"title": str(milestone_id), "due": None})
            return line(row)

        return text

    def reschedule_milestone(
        self,
        tracking: Tracking,
        initiative_id: UUID,
        version: int,
        *,
        milestone_id: UUID,
        due: datetime,
        reason: str,
        meta: Meta,
    ) -> bool:
        def line(row: DictRow) -> str:
            was = f" (was {_day(row['due'])})" if row["due"] is not None else ""
            return f'Milestone rescheduled: "{row["title"]}", due {_day(due)}{was}: {reason}'

        return self._on_initiative(
            tracking,
            initiative_id,
            version,
            meta,
            TrailKind.MILESTONE_RESCHEDULED,
            self._milestone_line(initiative_id, milestone_id, line),
            (
                """UPDATE {milestones} SET due = %(due)s
                   WHERE initiative_id = %(initiative_id)s AND id = %(id)s""",
                {"initiative_id": initiative_id, "id": milestone_id, "due": due},
            ),
        )

    def complete_milestone(
        self,
        tracking: Tracking,
        initiative_id: UUID,
        version: int,
        *,
        milestone_id: UUID,
        meta: Meta,
    ) -> bool:
        def line(row: DictRow) -> str:
            due = f" (due {_day(row['due'])})" if row["due"] is not None else ""
            return f'Milestone completed: "{row["title"]}"{due}'

        return self._on_initiative(
            tracking,
            initiative_id,
            version,
            meta,
            TrailKind.MILESTONE_COMPLETED,
            self._milestone_line(initiative_id, milestone_id, line),
            (
                """UPDATE {milestones} SET completed_at = %(at)s
                   WHERE initiative_id = %(initiative_id)s AND id = %(id)s""",
                {"initiative_id": initiative_id, "id": milestone_id, "at": meta.at},
            ),
        )

    def flag_overdue(
        self,
        tracking: Tracking,
        initiative_id: UUID,
        version: int,
        *,
        milestone_id: UUID,
        due: datetime,
        meta: Meta,
    ) -> bool:
        return self._on_initiative(
            tracking,
            initiative_id,
            version,
            meta,
            TrailKind.MILESTONE_OVERDUE,
            self._milestone_line(
                initiative_id,
                milestone_id,
                lambda row: f'Milestone overdue: "{row["title"]}", due {_day(due)}',
            ),
            (
                """UPDATE {milestones} SET flagged_for = %(due)s
                   WHERE initiative_id = %(initiative_id)s AND id = %(id)s""",
                {"initiative_id": initiative_id, "id": milestone_id, "due": due},
            ),
        )

    def report_progress(
        self,
        tracking: Tracking,
        initiative_id: UUID,
        version: int,
        *,
        percent: int,
        status: str,
        note: str,
        meta: Meta,
    ) -> bool:
        noted = f": {note}" if note else ""
        return self._on_initiative(
            tracking,
            initiative_id,
            version,
            meta,
            TrailKind.PROGRESS_REPORTED,
            f"Progress: {percent}%, {Rag(status).value}{noted}",
            (
                """UPDATE {initiatives} SET progress_percent = %(percent)s,
                       progress_status = %(status)s, progress_note = %(note)s,
                       progress_at = %(at)s, last_report_at = %(at)s, stale = false
                   WHERE id = %(id)s""",
                {
                    "id": initiative_id,
                    "percent": percent,
                    "status": Rag(status).value,
                    "note": note,
                    "at": meta.at,
                },
            ),
        )

    def flag_stale(
        self,
        tracking: Tracking,
        initiative_id: UUID,
        version: int,
        *,
        last_report_at: datetime | None,
        meta: Meta,
    ) -> bool:
        since = f"since {_day(last_report_at)}" if last_report_at else "since adoption"
        return self._on_initiative(
            tracking,
            initiative_id,
            version,
            meta,
            TrailKind.FLAGGED_STALE,
            f"Flagged stale: no progress report {since}",
            ("UPDATE {initiatives} SET stale = true WHERE id = %(id)s", {"id": initiative_id}),
        )

    def record_reminder(
        self,
        tracking: Tracking,
        initiative_id: UUID,
        version: int,
        *,
        kind: str,
        about: str,
        owner_id: UUID | None,
        meta: Meta,
    ) -> bool:
        what = f": {about}" if about else ""
        if owner_id is None:
            line = f"Reminder ({kind}) sent to nobody: no owner yet{what}"
        else:
            line = _literal(f"Reminder ({kind}) sent to ") + "{0}" + _literal(what)
        return self._on_initiative(
            tracking,
            initiative_id,
            version,
            meta,
            TrailKind.REMINDER_SENT,
            line,
            owners=[] if owner_id is None else [owner_id],
        )

    def schedule_review(
        self, tracking: Tracking, initiative_id: UUID, version: int, *, due: datetime, meta: Meta
    ) -> bool:
        return self._on_initiative(
            tracking,
            initiative_id,
            version,
            meta,
            TrailKind.REVIEW_SCHEDULED,
            f"Benefits review due {_day(due)}",
            (
                "UPDATE {initiatives} SET review_due = %(due)s WHERE id = %(id)s",
                {"id": initiative_id, "due": due},
            ),
        )

    def record_benefit(
        self,
        tracking: Tracking,
        initiative_id: UUID,
        version: int,
        *,
        measure: str,
        amount: float,
        unit: str,
        evidence: str,
        meta: Meta,
    ) -> bool:
        def line(curs: Cursor[DictRow]) -> str:
            found = self._fetch(
                curs,
                """SELECT p.measures FROM {initiatives} i JOIN {programmes} p
                       ON p.id = i.programme_id WHERE i.id = %(id)s""",
                {"id": initiative_id},
            )
            names = {m["key"]: m["name"] for m in (found["measures"] if found else [])}
            name = names.get(measure, measure)
            return f"Benefit recorded: {name}, {_amount(amount)} {unit}. Evidence: {evidence}"

        return self._on_initiative(
            tracking,
            initiative_id,
            version,
            meta,
            TrailKind.BENEFIT_RECORDED,
            line,
            (
                """INSERT INTO {benefits}
                       (initiative_id, position, measure, amount, unit, evidence, at, actor)
                   VALUES (%(initiative_id)s, %(position)s, %(measure)s, %(amount)s, %(unit)s,
                       %(evidence)s, %(at)s, %(actor)s)
                   ON CONFLICT (initiative_id, position) DO NOTHING""",
                {
                    "initiative_id": initiative_id,
                    "position": tracking.notification_id,
                    "measure": measure,
                    "amount": amount,
                    "unit": unit,
                    "evidence": evidence,
                    "at": meta.at,
                    "actor": meta.actor,
                },
            ),
        )

    def link_follow_up(
        self,
        tracking: Tracking,
        initiative_id: UUID,
        version: int,
        *,
        workshop_id: UUID,
        meta: Meta,
    ) -> bool:
        def line(curs: Cursor[DictRow]) -> str:
            w = self._fetch(
                curs,
                "SELECT title, region, starts_at FROM {workshops} WHERE id = %(id)s",
                {"id": workshop_id},
            )
            if w is None:
                return f"Follow-up workshop linked: {workshop_id}"
            return (
                f'Follow-up workshop linked: "{w["title"]}" ({w["region"]}, {_day(w["starts_at"])})'
            )

        return self._on_initiative(
            tracking,
            initiative_id,
            version,
            meta,
            TrailKind.FOLLOW_UP_LINKED,
            line,
            (
                """INSERT INTO {follow_ups} (initiative_id, workshop_id, linked_at, position)
                   VALUES (%(initiative_id)s, %(workshop_id)s, %(at)s, %(position)s)
                   ON CONFLICT (initiative_id, workshop_id) DO NOTHING""",
                {
                    "initiative_id": initiative_id,
                    "workshop_id": workshop_id,
                    "at": meta.at,
                    "position": tracking.notification_id,
                },
            ),
        )

    def adopt_in_region(
        self, tracking: Tracking, initiative_id: UUID, version: int, *, region: str, meta: Meta
    ) -> bool:
        return self._on_initiative(
            tracking,
            initiative_id,
            version,
            meta,
            TrailKind.ADOPTED_IN_REGION,
            f"Adopted in {region} too",
            (
                """UPDATE {initiatives} SET regions = array_append(regions, %(region)s)
                   WHERE id = %(id)s AND NOT %(region)s = ANY(regions)""",
                {"id": initiative_id, "region": region},
            ),
        )

    # ----- the read path ----------------------------------------------------------

    def _programme_rows(
        self, curs: Cursor[DictRow], where: str, params: Mapping[str, Any]
    ) -> list[DictRow]:
        curs.execute(
            self._q(
                f"""SELECT p.*,
                       (SELECT count(*) FROM {{workshops}} w WHERE w.programme_id = p.id)
                           AS workshop_count,
                       (SELECT count(*) FROM {{initiatives}} i WHERE i.programme_id = p.id)
                           AS initiative_count
                   FROM {{programmes}} p {where} ORDER BY p.position, p.id"""
            ),
            params,
        )
        return curs.fetchall()

    @transient
    def programmes(self) -> list[ProgrammeSummaryRow]:
        """Every programme, in the order launched."""
        with self._snapshot() as curs:
            rows = self._programme_rows(curs, "", {})
        return [ProgrammeSummaryRow.model_validate(_programme_fields(row)) for row in rows]

    @transient
    def programme(self, programme_id: UUID) -> ProgrammeRow | None:
        """One programme with its workshops (by start time); None if unknown."""
        with self._snapshot() as curs:
            rows = self._programme_rows(curs, "WHERE p.id = %(id)s", {"id": programme_id})
            if not rows:
                return None
            curs.execute(
                self._q(
                    """SELECT w.*, (SELECT count(*) FROM {ideas} d WHERE d.workshop_id = w.id
                           AND d.status = 'active') AS ideas
                       FROM {workshops} w WHERE w.programme_id = %(id)s
                       ORDER BY w.starts_at, w.position"""
                ),
                {"id": programme_id},
            )
            workshops = [ProgrammeWorkshopRow.model_validate(dict(w)) for w in curs.fetchall()]
        return ProgrammeRow(**_programme_fields(rows[0]), workshops=workshops)

    def _initiative_rows(
        self, curs: Cursor[DictRow], where: str, params: Mapping[str, Any]
    ) -> list[InitiativeRow]:
        curs.execute(
            self._q(
                f"""SELECT i.*, o.name AS owner FROM {{initiatives}} i
                    LEFT JOIN {{owners}} o ON o.id = i.owner_id
                    {where} ORDER BY i.position, i.id"""
            ),
            params,
        )
        rows = curs.fetchall()
        if not rows:
            return []
        ids = {"ids": [row["id"] for row in rows]}
        curs.execute(
            self._q(
                "SELECT * FROM {milestones} WHERE initiative_id = ANY(%(ids)s)"
                " ORDER BY position, id"
            ),
            ids,
        )
        milestones = _by_initiative(curs.fetchall())
        curs.execute(
            self._q(
                "SELECT * FROM {benefits} WHERE initiative_id = ANY(%(ids)s) ORDER BY position"
            ),
            ids,
        )
        benefits = _by_initiative(curs.fetchall())
        curs.execute(
            self._q(
                """SELECT f.*, w.code, w.title, w.region, w.starts_at
                   FROM {follow_ups} f LEFT JOIN {workshops} w ON w.id = f.workshop_id
                   WHERE f.initiative_id = ANY(%(ids)s) ORDER BY f.position"""
            ),
            ids,
        )
        follow_ups = _by_initiative(curs.fetchall())
        return [
            _initiative(
                row,
                milestones.get(row["id"], []),
                benefits.get(row["id"], []),
                follow_ups.get(row["id"], []),
            )
            for row in rows
        ]

    @transient
    def initiatives(
        self, programme_id: UUID, stage: Stage | str | None = None, region: str | None = None
    ) -> list[InitiativeRow]:
        """A programme's initiatives in the order adopted, optionally of one stage or region.

        An initiative is in a region when it was adopted there first or later;
        regions match without regard to case.
        """
        where = "WHERE i.programme_id = %(programme_id)s"
        params: dict[str, Any] = {"programme_id": programme_id}
        if stage is not None:
            where += " AND i.stage = %(stage)s"
            params["stage"] = Stage(stage).value
        if region is not None:
            where += " AND lower(%(region)s) = ANY(SELECT lower(r) FROM unnest(i.regions) r)"
            params["region"] = region.strip()
        with self._snapshot() as curs:
            return self._initiative_rows(curs, where, params)

    @transient
    def initiative(self, initiative_id: UUID) -> InitiativeRow | None:
        """One initiative with its milestones, progress, benefits and follow-ups."""
        with self._snapshot() as curs:
            found = self._initiative_rows(curs, "WHERE i.id = %(id)s", {"id": initiative_id})
        return found[0] if found else None

    @transient
    def summary(self, programme_id: UUID, now: datetime) -> PipelineSummary | None:
        """The programme's pipeline at `now` (timezone-aware); None if the programme is unknown.

        Overdue: milestones not completed whose due date is before `now`, and
        those flagged overdue for their current due date, of initiatives not
        dropped. Stale: open initiatives (proposed, approved, in delivery,
        paused) flagged stale. Lead time: from the earliest submission of the
        ideas an initiative's winning project builds on to its delivery, for
        each delivered initiative that came from ideas.
        """
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        with self._snapshot() as curs:
            programmes = self._programme_rows(curs, "WHERE p.id = %(id)s", {"id": programme_id})
            if not programmes:
                return None
            programme = programmes[0]
            rows = self._initiative_rows(
                curs, "WHERE i.programme_id = %(id)s", {"id": programme_id}
            )
            curs.execute(
                self._q(
                    """SELECT i.id, min(d.submitted_at) AS first_idea_at
                       FROM {initiatives} i JOIN {ideas} d ON d.id = ANY(i.idea_ids)
                       WHERE i.programme_id = %(id)s GROUP BY i.id"""
                ),
                {"id": programme_id},
            )
            first_ideas = {row["id"]: row["first_idea_at"] for row in curs.fetchall()}
            position = self._tracked_position(curs)
        return _summary(programme, rows, first_ideas, now, position)

    @transient
    def trail(self, initiative_id: UUID) -> list[TrailEntry]:
        """The initiative's whole trail in log order, from the first idea it came from.

        The ideas its winning project builds on (submitted, edited, grouped,
        duplicates merged into them), the project (proposed, revised, pitched,
        its result), then the initiative's own events. Empty if unknown.
        """
        with self._snapshot() as curs:
            found = self._fetch(
                curs,
                "SELECT project_id, idea_ids FROM {initiatives} WHERE id = %(id)s",
                {"id": initiative_id},
            )
            if found is None:
                return []
            subjects = [initiative_id, *found["idea_ids"]]
            if found["project_id"] is not None:
                subjects.append(found["project_id"])
            curs.execute(
                self._q(
                    "SELECT * FROM {trail} WHERE subject_id = ANY(%(ids)s)"
                    " ORDER BY position, subject_id"
                ),
                {"ids": subjects},
            )
            return self._entries(curs, curs.fetchall())

    def idea_trail(self, idea_id: UUID) -> list[TrailEntry]:
        """One idea's own trail, in log order (empty if unknown or outside a programme)."""
        with self._snapshot() as curs:
            curs.execute(
                self._q("SELECT * FROM {trail} WHERE subject_id = %(id)s ORDER BY position"),
                {"id": idea_id},
            )
            return self._entries(curs, curs.fetchall())

    def _entries(self, curs: Cursor[DictRow], rows: list[DictRow]) -> list[TrailEntry]:
        """Trail rows as entries, with the owners they name filled in as they are now."""
        wanted = {owner for row in rows for owner in row["owners"]}
        names: dict[UUID, str] = {}
        if wanted:
            curs.execute(
                self._q("SELECT id, name FROM {owners} WHERE id = ANY(%(ids)s)"),
                {"ids": list(wanted)},
            )
            names = {row["id"]: row["name"] for row in curs.fetchall()}
        entries = []
        for row in rows:
            fields = dict(row)
            owners = fields.pop("owners")
            if owners:
                fields["text"] = fields["text"].format(
                    *(names.get(o, UNKNOWN_OWNER) for o in owners)
                )
            entries.append(TrailEntry.model_validate(fields))
        return entries


# ----- assembling the read models ------------------------------------------------


def _ideas(count: int) -> str:
    return "1 idea" if count == 1 else f"{count} ideas"


def _programme_fields(row: DictRow) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "sponsor": row["sponsor"],
        "regions": row["regions"],
        "measures": [MeasureRow.model_validate(m) for m in row["measures"]],
        "closed": row["closed"],
        "launched_at": row["launched_at"],
        "workshop_count": row["workshop_count"],
        "initiative_count": row["initiative_count"],
        "position": row["position"],
    }


def _by_initiative(rows: list[DictRow]) -> dict[UUID, list[DictRow]]:
    grouped: dict[UUID, list[DictRow]] = {}
    for row in rows:
        grouped.setdefault(row["initiative_id"], []).append(row)
    return grouped


def _initiative(
    row: DictRow, milestones: list[DictRow], benefits: list[DictRow], follow_ups: list[DictRow]
) -> InitiativeRow:
    progress = None
    if row["progress_at"] is not None:
        progress = ProgressRow(
            percent=row["progress_percent"],
            status=Rag(row["progress_status"]),
            note=row["progress_note"],
            at=row["progress_at"],
        )
    return InitiativeRow(
        id=row["id"],
        programme_id=row["programme_id"],
        title=row["title"],
        summary=row["summary"],
        stage=Stage(row["stage"]),
        regions=row["regions"],
        owner_id=row["owner_id"],
        owner=row["owner"],
        origin=OriginRow(
            kind=row["origin_kind"],
            project_id=row["project_id"],
            workshop_id=row["workshop_id"],
            idea_ids=row["idea_ids"],
            reason=row["reason"],
        ),
        adopted_at=row["adopted_at"],
        delivered_at=row["delivered_at"],
        stale=row["stale"],
        last_report_at=row["last_report_at"],
        progress=progress,
        review_due=row["review_due"],
        milestones=[
            MilestoneRow(
                id=m["id"],
                title=m["title"],
                due=m["due"],
                completed_at=m["completed_at"],
                overdue_flagged=m["flagged_for"] is not None and m["flagged_for"] == m["due"],
                position=m["position"],
            )
            for m in milestones
        ],
        benefits=[
            BenefitRow(
                measure=b["measure"],
                amount=b["amount"],
                unit=b["unit"],
                evidence=b["evidence"],
                at=b["at"],
                actor=b["actor"],
                position=b["position"],
            )
            for b in benefits
        ],
        follow_ups=[
            FollowUpRow(
                workshop_id=f["workshop_id"],
                code=f["code"],
                title=f["title"],
                region=f["region"],
                starts_at=f["starts_at"],
                linked_at=f["linked_at"],
                position=f["position"],
            )
            for f in follow_ups
        ],
        position=row["position"],
    )


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _summary(
    programme: DictRow,
    initiatives: list[InitiativeRow],
    first_ideas: Mapping[UUID, datetime],
    now: datetime,
    position: int | None,
) -> PipelineSummary:
    by_stage = dict.fromkeys(Stage, 0)
    by_region = dict.fromkeys(programme["regions"], 0)
    overdue: list[tuple[tuple[Any, ...], OverdueMilestone]] = []
    stale: list[StaleInitiative] = []
    lead_times: list[LeadTime] = []
    for i in initiatives:
        by_stage[i.stage] += 1
        for region in i.regions:
            by_region[region] = by_region.get(region, 0) + 1
        if i.stage != Stage.DROPPED:
            for m in i.milestones:
                if m.overdue_at(now):
                    item = OverdueMilestone(
                        initiative_id=i.id,
                        initiative_title=i.title,
                        owner=i.owner,
                        milestone_id=m.id,
                        title=m.title,
                        due=m.due,
                        flagged=m.overdue_flagged,
                        overdue_by=max(now - m.due, timedelta(0)),
                    )
                    overdue.append(((m.due, i.position, m.position), item))
        if i.stale and i.stage in OPEN_STAGES:
            stale.append(
                StaleInitiative(
                    initiative_id=i.id,
                    title=i.title,
                    owner=i.owner,
                    stage=i.stage,
                    last_report_at=i.last_report_at,
                )
            )
        first = first_ideas.get(i.id)
        if i.delivered_at is not None and first is not None:
            lead_times.append(
                LeadTime(
                    initiative_id=i.id,
                    title=i.title,
                    first_idea_at=first,
                    delivered_at=i.delivered_at,
                    lead_time=i.delivered_at - first,
                )
            )
    lead_times.sort(key=lambda t: (t.delivered_at, str(t.initiative_id)))
    return PipelineSummary(
        programme_id=programme["id"],
        at=now,
        initiatives=len(initiatives),
        by_stage=by_stage,
        by_region=by_region,
        overdue=[item for _, item in sorted(overdue, key=lambda pair: pair[0])],
        stale=stale,
        benefits=_benefit_totals(programme["measures"], initiatives),
        lead_times=lead_times,
        median_lead_time=_median([t.lead_time for t in lead_times]),
        position=position,
    )


def _benefit_totals(
    measures: list[dict[str, Any]], initiatives: list[InitiativeRow]
) -> list[BenefitTotal]:
    """Per outcome measure (and unit), in the programme's order; measures with none show 0."""
    names = {m["key"]: m["name"] for m in measures}
    sums: dict[tuple[str, str], list[float]] = {(m["key"], m["unit"]): [] for m in measures}
    for i in initiatives:
        for b in i.benefits:
            sums.setdefault((b.measure, b.unit), []).append(b.amount)
    return [
        BenefitTotal(
            measure=key,
            name=names.get(key, key),
            unit=unit,
            total=sum(amounts),
            records=len(amounts),
        )
        for (key, unit), amounts in sums.items()
    ]


# ----- the projection ---------------------------------------------------------------


# The events that change the pipeline; every other event only advances its position.
HANDLED_EVENTS: tuple[type[Any], ...] = (
    LAUNCHED,
    WORKSHOP_PLACED,
    PROGRAMME_CLOSED,
    SCHEDULED,
    KEY_AREA_DEFINED,
    KEY_AREA_RENAMED,
    PITCH_STARTED,
    RESULTS_DECLARED,
    IDEA_SUBMITTED,
    IDEA_EDITED,
    IDEA_WITHDRAWN,
    IDEA_GROUPED,
    IDEA_MERGED,
    IDEA_LINKED,
    PROJECT_PROPOSED,
    PROJECT_REVISED,
    ADOPTED,
    OWNER_REGISTERED,
    OWNER_ERASED,
    OWNER_ASSIGNED,
    STAGE_CHANGED,
    MILESTONE_PLANNED,
    MILESTONE_RESCHEDULED,
    MILESTONE_COMPLETED,
    MILESTONE_OVERDUE,
    PROGRESS_REPORTED,
    FLAGGED_STALE,
    REMINDER_SENT,
    REVIEW_SCHEDULED,
    BENEFIT_RECORDED,
    FOLLOW_UP_LINKED,
    ADOPTED_IN_REGION,
)
HANDLED_TOPICS: tuple[str, ...] = tuple(get_topic(cls) for cls in HANDLED_EVENTS)


class PipelineProjection(Projection[PipelineView]):
    """Applies the log to the pipeline, one event (and its tracking) per transaction."""

    name = "pipeline"
    # Every topic, deliberately (see BoardProjection.topics): with a filter,
    # `runner.wait(position)` would time out on a command whose last event the
    # pipeline ignores.
    topics: tuple[str, ...] = ()

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """An event the pipeline does not show: only move the view's position on."""
        self.view.insert_tracking(tracking)

    # ----- programmes and their workshops ----------------------------------------

    @process_event.register(LAUNCHED)
    def _launched(self, e: Any, tracking: Tracking) -> None:
        self.view.launch_programme(
            tracking,
            e.originator_id,
            e.originator_version,
            name=e.name,
            sponsor=e.sponsor,
            regions=e.regions,
            measures=e.measures,
            meta=e.meta,
        )

    @process_event.register(WORKSHOP_PLACED)
    def _workshop_placed(self, e: Any, tracking: Tracking) -> None:
        self.view.place_workshop(
            tracking,
            e.originator_id,
            e.originator_version,
            workshop_id=e.workshop_id,
            region=e.region,
        )

    @process_event.register(PROGRAMME_CLOSED)
    def _programme_closed(self, e: Any, tracking: Tracking) -> None:
        self.view.close_programme(tracking, e.originator_id, e.originator_version)

    @process_event.register(SCHEDULED)
    def _scheduled(self, e: Any, tracking: Tracking) -> None:
        programme_id = getattr(e, "programme_id", None)  # absent from older events
        if programme_id is None:
            self.view.insert_tracking(tracking)
            return
        self.view.schedule_workshop(
            tracking,
            e.originator_id,
            e.originator_version,
            programme_id=programme_id,
            code=e.code,
            title=e.title,
            region=e.region,
            starts_at=e.starts_at,
        )

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

    @process_event.register(PITCH_STARTED)
    def _pitch_started(self, e: Any, tracking: Tracking) -> None:
        self.view.start_pitch(
            tracking,
            e.originator_id,
            e.originator_version,
            project_id=e.project_id,
            minutes=e.minutes,
            meta=e.meta,
        )

    @process_event.register(RESULTS_DECLARED)
    def _results(self, e: Any, tracking: Tracking) -> None:
        self.view.declare_results(
            tracking, e.originator_id, e.originator_version, results=e.results, meta=e.meta
        )

    # ----- ideas and projects ----------------------------------------------------

    @process_event.register(IDEA_SUBMITTED)
    def _idea_submitted(self, e: Any, tracking: Tracking) -> None:
        self.view.submit_idea(
            tracking,
            e.originator_id,
            e.originator_version,
            workshop_id=e.workshop_id,
            text=e.text,
            meta=e.meta,
        )

    @process_event.register(IDEA_EDITED)
    def _idea_edited(self, e: Any, tracking: Tracking) -> None:
        self.view.edit_idea(
            tracking, e.originator_id, e.originator_version, text=e.text, meta=e.meta
        )

    @process_event.register(IDEA_WITHDRAWN)
    def _idea_withdrawn(self, e: Any, tracking: Tracking) -> None:
        self.view.withdraw_idea(tracking, e.originator_id, e.originator_version, meta=e.meta)

    @process_event.register(IDEA_GROUPED)
    def _idea_grouped(self, e: Any, tracking: Tracking) -> None:
        self.view.group_idea(
            tracking, e.originator_id, e.originator_version, key_area_id=e.key_area_id, meta=e.meta
        )

    @process_event.register(IDEA_MERGED)
    def _idea_merged(self, e: Any, tracking: Tracking) -> None:
        self.view.merge_idea(
            tracking, e.originator_id, e.originator_version, target_id=e.target_id, meta=e.meta
        )

    @process_event.register(IDEA_LINKED)
    def _idea_linked(self, e: Any, tracking: Tracking) -> None:
        self.view.link_to_earlier(
            tracking, e.originator_id, e.originator_version, earlier_id=e.earlier_id, meta=e.meta
        )

    @process_event.register(PROJECT_PROPOSED)
    def _proposed(self, e: Any, tracking: Tracking) -> None:
        self.view.propose_project(
            tracking,
            e.originator_id,
            e.originator_version,
            workshop_id=e.workshop_id,
            title=e.title,
            idea_ids=list(e.idea_ids),
            meta=e.meta,
        )

    @process_event.register(PROJECT_REVISED)
    def _revised(self, e: Any, tracking: Tracking) -> None:
        self.view.revise_project(
            tracking,
            e.originator_id,
            e.originator_version,
            title=e.title,
            idea_ids=list(e.idea_ids),
            meta=e.meta,
        )

    # ----- initiatives -------------------------------------------------------------

    @process_event.register(ADOPTED)
    def _adopted(self, e: Any, tracking: Tracking) -> None:
        self.view.adopt(
            tracking,
            e.originator_id,
            e.originator_version,
            programme_id=e.programme_id,
            title=e.title,
            summary=e.summary,
            region=e.region,
            origin=e.origin,
            meta=e.meta,
        )

    @process_event.register(OWNER_REGISTERED)
    def _owner_registered(self, e: Any, tracking: Tracking) -> None:
        self.view.register_owner(
            tracking,
            e.originator_id,
            e.originator_version,
            programme_id=e.programme_id,
            name=e.personal.get("name"),
            erased=e.personal.erased,
        )

    @process_event.register(OWNER_ERASED)
    def _owner_erased(self, e: Any, tracking: Tracking) -> None:
        self.view.erase_owner(tracking, e.originator_id, e.originator_version)

    @process_event.register(OWNER_ASSIGNED)
    def _owner(self, e: Any, tracking: Tracking) -> None:
        self.view.assign_owner(
            tracking,
            e.originator_id,
            e.originator_version,
            owner_id=e.owner_id,
            previous_id=e.previous_id,
            meta=e.meta,
        )

    @process_event.register(STAGE_CHANGED)
    def _stage(self, e: Any, tracking: Tracking) -> None:
        self.view.change_stage(
            tracking,
            e.originator_id,
            e.originator_version,
            stage=e.stage,
            previous=e.previous,
            reason=e.reason,
            meta=e.meta,
        )

    @process_event.register(MILESTONE_PLANNED)
    def _milestone_planned(self, e: Any, tracking: Tracking) -> None:
        self.view.plan_milestone(
            tracking,
            e.originator_id,
            e.originator_version,
            milestone_id=e.milestone_id,
            title=e.title,
            due=e.due,
            meta=e.meta,
        )

    @process_event.register(MILESTONE_RESCHEDULED)
    def _milestone_rescheduled(self, e: Any, tracking: Tracking) -> None:
        self.view.reschedule_milestone(
            tracking,
            e.originator_id,
            e.originator_version,
            milestone_id=e.milestone_id,
            due=e.due,
            reason=e.reason,
            meta=e.meta,
        )

    @process_event.register(MILESTONE_COMPLETED)
    def _milestone_completed(self, e: Any, tracking: Tracking) -> None:
        self.view.complete_milestone(
            tracking,
            e.originator_id,
            e.originator_version,
            milestone_id=e.milestone_id,
            meta=e.meta,
        )

    @process_event.register(MILESTONE_OVERDUE)
    def _milestone_overdue(self, e: Any, tracking: Tracking) -> None:
        self.view.flag_overdue(
            tracking,
            e.originator_id,
            e.originator_version,
            milestone_id=e.milestone_id,
            due=e.due,
            meta=e.meta,
        )

    @process_event.register(PROGRESS_REPORTED)
    def _progress(self, e: Any, tracking: Tracking) -> None:
        self.view.report_progress(
            tracking,
            e.originator_id,
            e.originator_version,
            percent=e.percent,
            status=e.status,
            note=e.note,
            meta=e.meta,
        )

    @process_event.register(FLAGGED_STALE)
    def _stale(self, e: Any, tracking: Tracking) -> None:
        self.view.flag_stale(
            tracking,
            e.originator_id,
            e.originator_version,
            last_report_at=e.last_report_at,
            meta=e.meta,
        )

    @process_event.register(REMINDER_SENT)
    def _reminder(self, e: Any, tracking: Tracking) -> None:
        self.view.record_reminder(
            tracking,
            e.originator_id,
            e.originator_version,
            kind=e.kind,
            about=e.about,
            owner_id=e.owner_id,
            meta=e.meta,
        )

    @process_event.register(REVIEW_SCHEDULED)
    def _review(self, e: Any, tracking: Tracking) -> None:
        self.view.schedule_review(
            tracking, e.originator_id, e.originator_version, due=e.due, meta=e.meta
        )

    @process_event.register(BENEFIT_RECORDED)
    def _benefit(self, e: Any, tracking: Tracking) -> None:
        self.view.record_benefit(
            tracking,
            e.originator_id,
            e.originator_version,
            measure=e.measure,
            amount=e.amount,
            unit=e.unit,
            evidence=e.evidence,
            meta=e.meta,
        )

    @process_event.register(FOLLOW_UP_LINKED)
    def _follow_up(self, e: Any, tracking: Tracking) -> None:
        self.view.link_follow_up(
            tracking, e.originator_id, e.originator_version, workshop_id=e.workshop_id, meta=e.meta
        )

    @process_event.register(ADOPTED_IN_REGION)
    def _region(self, e: Any, tracking: Tracking) -> None:
        self.view.adopt_in_region(
            tracking, e.originator_id, e.originator_version, region=e.region, meta=e.meta
        )


# ----- construction -----------------------------------------------------------


def pipeline_view(env: Mapping[str, str]) -> PipelineView:
    """The pipeline view as `ProjectionRunner` builds it, for readers that run no projection.

    `env` holds the library's persistence settings, optionally prefixed
    `PIPELINE_`. Close it with `view.close()`.
    """
    return construct_view(PipelineView, PipelineProjection.name, env)
