"""Cross-event idea matching: "this came up in Devon too".

`MatchingView` is a tracking recorder (see `projections.tracking`) that keeps
the ideas of programme workshops, current (edited text, withdrawn or merged
ideas set aside), with a GIN trigram index on their text. `similar` finds,
for one idea, the ideas of EARLIER workshops of the same programme (any
region) whose text is most alike by pg_trgm's `similarity()`;
`matches_for_workshop` does it for every idea of a workshop at once.

Workshops outside a programme are not kept (nothing could match them), and
neither are their ideas. A workshop's region is the programme's spelling of
it (from Programme.WorkshopScheduled, recorded with the workshop).

`MatchingProjection` subscribes to every topic (`topics = ()`), like the
board, so that `ProjectionRunner.wait(position)` works for any position.
`MatchingView.reset()` empties the view for a rebuild.
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
from pydantic import BaseModel, ConfigDict

from domain.events import (
    IDEA_EDITED,
    IDEA_MERGED,
    IDEA_SUBMITTED,
    IDEA_WITHDRAWN,
    SCHEDULED,
    WORKSHOP_PLACED,
)

from .tracking import STREAMS_DDL, TrackedView, construct_view, transient

__all__ = [
    "HANDLED_EVENTS",
    "MATCHING_TABLES",
    "IdeaMatches",
    "Match",
    "MatchingProjection",
    "MatchingView",
    "matching_view",
]

DEFAULT_LIMIT = 5
DEFAULT_MIN_SIMILARITY = 0.3
MAX_LIMIT = 100


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Match(_Model):
    """An idea from an earlier workshop of the same programme, and how alike it is."""

    idea_id: UUID
    text: str
    similarity: float  # pg_trgm similarity(), 0 to 1
    workshop_id: UUID
    workshop_code: str
    workshop_title: str
    region: str
    starts_at: datetime  # when that workshop took place
    submitted_at: datetime


class IdeaMatches(_Model):
    """One idea of a workshop with its matches (best first; possibly none)."""

    idea_id: UUID
    text: str
    matches: list[Match]


MATCHING_TABLES = ("matching_streams", "matching_workshops", "matching_ideas")

_DDL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    STREAMS_DDL,
    """CREATE TABLE IF NOT EXISTS {workshops} (
        id uuid PRIMARY KEY,
        programme_id uuid NOT NULL,
        code text NOT NULL,
        title text NOT NULL,
        region text NOT NULL,
        starts_at timestamptz NOT NULL,
        position bigint NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS matching_workshops_programme
        ON {workshops} (programme_id, starts_at)""",
    """CREATE TABLE IF NOT EXISTS {ideas} (
        id uuid PRIMARY KEY,
        workshop_id uuid NOT NULL,
        text text NOT NULL,
        status text NOT NULL DEFAULT 'active'
            CHECK (status IN ('active', 'withdrawn', 'merged')),
        submitted_at timestamptz NOT NULL,
        position bigint NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS matching_ideas_workshop ON {ideas} (workshop_id)",
    "CREATE INDEX IF NOT EXISTS matching_ideas_text_trgm ON {ideas} USING gin (text gin_trgm_ops)",
)

# The candidates for one idea `x` (of workshop `wx`): active ideas of earlier
# workshops of the same programme, as alike as the threshold or more. `%` lets
# the trigram index find them; similarity() ranks them.
_CANDIDATES = """
    SELECT y.id AS idea_id, y.text, similarity(y.text, x.text)::float8 AS similarity,
        wy.id AS workshop_id, wy.code AS workshop_code, wy.title AS workshop_title,
        wy.region, wy.starts_at, y.submitted_at
    FROM {ideas} y JOIN {workshops} wy ON wy.id = y.workshop_id
    WHERE y.status = 'active'
        AND wy.programme_id = wx.programme_id
        AND wy.starts_at < wx.starts_at
        AND y.text %% x.text
        AND similarity(y.text, x.text) >= %(min_similarity)s
    ORDER BY similarity(y.text, x.text) DESC, wy.starts_at, y.position, y.id
    LIMIT %(limit)s"""


class MatchingView(TrackedView):
    """The matching tables, their write methods and the two searches."""

    prefix = "matching_"
    tables = MATCHING_TABLES
    ddl = _DDL

    # ----- workshops ------------------------------------------------------------

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

    def place_workshop(
        self,
        tracking: Tracking,
        programme_id: UUID,
        version: int,
        *,
        workshop_id: UUID,
        region: str,
    ) -> bool:
        """The programme's spelling of the workshop's region."""
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

    # ----- ideas ----------------------------------------------------------------

    def submit_idea(
        self,
        tracking: Tracking,
        idea_id: UUID,
        version: int,
        *,
        workshop_id: UUID,
        text: str,
        at: datetime,
    ) -> bool:
        """Kept only for a programme workshop (one the view knows)."""
        return self._write(
            tracking,
            idea_id,
            version,
            (
                """INSERT INTO {ideas} (id, workshop_id, text, submitted_at, position)
                   SELECT %(id)s, w.id, %(text)s, %(at)s, %(position)s
                   FROM {workshops} w WHERE w.id = %(workshop_id)s
                   ON CONFLICT (id) DO NOTHING""",
                {
                    "id": idea_id,
                    "workshop_id": workshop_id,
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

    def set_aside(self, tracking: Tracking, idea_id: UUID, version: int, *, status: str) -> bool:
        """A withdrawn idea, or a duplicate merged into another: never offered as a match."""
        return self._write(
            tracking,
            idea_id,
            version,
            (
                "UPDATE {ideas} SET status = %(status)s WHERE id = %(id)s",
                {"id": idea_id, "status": status},
            ),
        )

    # ----- the searches -----------------------------------------------------------

    @staticmethod
    def _check(limit: int, min_similarity: float) -> None:
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        if not 0 < min_similarity <= 1:
            raise ValueError("min_similarity must be above 0 and at most 1")

    def _threshold(self, curs: Cursor[DictRow], min_similarity: float) -> None:
        """Let the `%` operator (and so the index) cut at `min_similarity` in this transaction."""
        curs.execute(
            "SELECT set_config('pg_trgm.similarity_threshold', %(t)s, true)",
            {"t": str(min_similarity)},
        )

    @transient
    def similar(
        self,
        idea_id: UUID,
        limit: int = DEFAULT_LIMIT,
        min_similarity: float = DEFAULT_MIN_SIMILARITY,
    ) -> list[Match]:
        """Ideas from earlier workshops of the idea's programme, most alike first.

        Empty when the idea is unknown (or not of a programme workshop), or
        when it was withdrawn or merged as a duplicate.
        """
        self._check(limit, min_similarity)
        with self._snapshot() as curs:
            self._threshold(curs, min_similarity)
            curs.execute(
                self._q(
                    f"""SELECT c.* FROM {{ideas}} x
                        JOIN {{workshops}} wx ON wx.id = x.workshop_id
                        CROSS JOIN LATERAL ({_CANDIDATES}) c
                        WHERE x.id = %(id)s AND x.status = 'active'
                        ORDER BY c.similarity DESC, c.starts_at, c.submitted_at, c.idea_id"""
                ),
                {"id": idea_id, "limit": limit, "min_similarity": min_similarity},
            )
            rows = curs.fetchall()
        return [Match.model_validate(dict(row)) for row in rows]

    @transient
    def matches_for_workshop(
        self,
        workshop_id: UUID,
        limit: int = DEFAULT_LIMIT,
        min_similarity: float = DEFAULT_MIN_SIMILARITY,
    ) -> list[IdeaMatches]:
        """Every active idea of the workshop (in submission order) with its matches."""
        self._check(limit, min_similarity)
        with self._snapshot() as curs:
            self._threshold(curs, min_similarity)
            curs.execute(
                self._q(
                    """SELECT x.id, x.text FROM {ideas} x
                       WHERE x.workshop_id = %(id)s AND x.status = 'active'
                       ORDER BY x.position, x.id"""
                ),
                {"id": workshop_id},
            )
            ideas = curs.fetchall()
            curs.execute(
                self._q(
                    f"""SELECT x.id AS for_idea, c.* FROM {{ideas}} x
                        JOIN {{workshops}} wx ON wx.id = x.workshop_id
                        CROSS JOIN LATERAL ({_CANDIDATES}) c
                        WHERE x.workshop_id = %(id)s AND x.status = 'active'
                        ORDER BY x.position, x.id, c.similarity DESC, c.starts_at,
                            c.submitted_at, c.idea_id"""
                ),
                {"id": workshop_id, "limit": limit, "min_similarity": min_similarity},
            )
            rows = curs.fetchall()
        found: dict[UUID, list[Match]] = {}
        for row in rows:
            fields = dict(row)
            found.setdefault(fields.pop("for_idea"), []).append(Match.model_validate(fields))
        return [
            IdeaMatches(idea_id=idea["id"], text=idea["text"], matches=found.get(idea["id"], []))
            for idea in ideas
        ]


# ----- the projection ---------------------------------------------------------------


# The events that change the matching tables; every other event only advances its position.
HANDLED_EVENTS: tuple[type[Any], ...] = (
    SCHEDULED,
    WORKSHOP_PLACED,
    IDEA_SUBMITTED,
    IDEA_EDITED,
    IDEA_WITHDRAWN,
    IDEA_MERGED,
)
HANDLED_TOPICS: tuple[str, ...] = tuple(get_topic(cls) for cls in HANDLED_EVENTS)


class MatchingProjection(Projection[MatchingView]):
    """Applies the log to the matching tables, one event (and its tracking) per transaction."""

    name = "matching"
    topics: tuple[str, ...] = ()  # every topic, as the board (see BoardProjection.topics)

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """An event matching does not need: only move the view's position on."""
        self.view.insert_tracking(tracking)

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

    @process_event.register(WORKSHOP_PLACED)
    def _workshop_placed(self, e: Any, tracking: Tracking) -> None:
        self.view.place_workshop(
            tracking,
            e.originator_id,
            e.originator_version,
            workshop_id=e.workshop_id,
            region=e.region,
        )

    @process_event.register(IDEA_SUBMITTED)
    def _idea_submitted(self, e: Any, tracking: Tracking) -> None:
        self.view.submit_idea(
            tracking,
            e.originator_id,
            e.originator_version,
            workshop_id=e.workshop_id,
            text=e.text,
            at=e.meta.at,
        )

    @process_event.register(IDEA_EDITED)
    def _idea_edited(self, e: Any, tracking: Tracking) -> None:
        self.view.edit_idea(tracking, e.originator_id, e.originator_version, text=e.text)

    @process_event.register(IDEA_WITHDRAWN)
    def _idea_withdrawn(self, e: Any, tracking: Tracking) -> None:
        self.view.set_aside(tracking, e.originator_id, e.originator_version, status="withdrawn")

    @process_event.register(IDEA_MERGED)
    def _idea_merged(self, e: Any, tracking: Tracking) -> None:
        self.view.set_aside(tracking, e.originator_id, e.originator_version, status="merged")


def matching_view(env: Mapping[str, str]) -> MatchingView:
    """The matching view as `ProjectionRunner` builds it, for readers that run no projection.

    `env` holds the library's persistence settings, optionally prefixed
    `MATCHING_`. Close it with `view.close()`.
    """
    return construct_view(MatchingView, MatchingProjection.name, env)
