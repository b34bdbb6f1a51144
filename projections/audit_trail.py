"""The audit trail: one row per recorded event, of every aggregate and every event type.

`AuditTrailView` is a tracking recorder (see `projections.tracking`) that
owns the `audit_trail_*` tables:

- `audit_trail_rows`: one row per event, keyed by its log position: when it
  happened (`at`, from the event's meta) and when the library made it
  (`recorded_at`, the event's own timestamp), who did it (`actor`), what it
  was (`kind`, such as "Idea.Submitted", and `topic`), which stream and
  version, the correlation and causation ids, an `event_id` (a uuid5 of the
  stream and version, so a later act may name the event as its cause), a
  short summary in words, and the subjects it concerns: `workshop_id`,
  `participant_id`, `initiative_id`, `key_area_id`, `programme_id`;
- `audit_trail_subjects`: per stream (and per key area), the subjects its later
  events inherit: an idea's workshop and author, a seat's key area and
  holder, an initiative's programme. A new event type needs no code: its
  subjects come from its own stream, from attributes named like the
  subject columns (`workshop_id`, `key_area_id`...) and from the streams
  they name;
- `audit_trail_names`: the names the summaries use (a key area's, a project's
  title, a milestone's title), as the log last gave them;
- `audit_trail_streams`: the per-stream version guard every view keeps.

No summary carries a ballot's choices (a ballot is secret from the other
participants), a participant's display name or organisation, or an
initiative owner's name or address (owners are named by id).

Reads: `search(...)` (every filter optional, paged by position),
`caused_by(id)` (the events an act caused, and what those caused in turn),
and `write_csv` / `write_jsonl` stream rows out in pages.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, TextIO
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic
from psycopg import Cursor
from psycopg.rows import DictRow
from pydantic import BaseModel, ConfigDict

from domain.meta import Meta, derive_id

from .tracking import STREAMS_DDL, TrackedView, construct_view, transient

__all__ = [
    "AUDIT_TABLES",
    "CSV_COLUMNS",
    "MAX_LIMIT",
    "SUBJECTS",
    "AuditTrailProjection",
    "AuditTrailView",
    "TrailRow",
    "audit_trail_view",
    "event_id",
    "subjects_of",
    "summary_of",
    "write_csv",
    "write_jsonl",
]

AUDIT_TABLES = (
    "audit_trail_streams",
    "audit_trail_subjects",
    "audit_trail_names",
    "audit_trail_rows",
)

# The subject columns, in the order they are shown.
SUBJECTS = ("workshop_id", "participant_id", "initiative_id", "key_area_id", "programme_id")

MAX_LIMIT = 10_000
SUMMARY_MAX = 300
TEXT_CONFIG = "english"

# A stream is its own subject when its aggregate is one of these.
OWN_SUBJECT = {
    "Workshop": "workshop_id",
    "Participant": "participant_id",
    "Initiative": "initiative_id",
    "Programme": "programme_id",
}
# What a stream's later events inherit from its earlier ones (default: every subject).
# A workshop's or programme's events each name their own key area, initiative...
STICKY: Mapping[str, frozenset[str]] = {
    "Workshop": frozenset({"workshop_id", "programme_id"}),
    "Programme": frozenset({"programme_id"}),
    "Initiative": frozenset({"initiative_id", "programme_id"}),
}
# Attributes that name a subject under another name.
ALIASES = {"author_id": "participant_id", "holder": "participant_id"}
# Attributes of one event type that name a subject (beyond the generic ones).
SPECIAL: Mapping[str, Mapping[str, str]] = {
    "Workshop.KeyAreasMerged": {"source_id": "key_area_id"},
}

_DDL = (
    STREAMS_DDL,
    """CREATE TABLE IF NOT EXISTS {subjects} (
        stream_id uuid PRIMARY KEY,
        aggregate_type text NOT NULL,
        workshop_id uuid,
        participant_id uuid,
        initiative_id uuid,
        key_area_id uuid,
        programme_id uuid)""",
    """CREATE TABLE IF NOT EXISTS {names} (
        id uuid PRIMARY KEY,
        name text NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {rows} (
        position bigint PRIMARY KEY,
        at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL,
        actor text NOT NULL,
        kind text NOT NULL,
        topic text NOT NULL,
        aggregate_type text NOT NULL,
        aggregate_id uuid NOT NULL,
        version bigint NOT NULL,
        event_id uuid NOT NULL,
        correlation_id uuid,
        causation_id uuid,
        summary text NOT NULL,
        workshop_id uuid,
        participant_id uuid,
        initiative_id uuid,
        key_area_id uuid,
        programme_id uuid)""",
    *(
        f"CREATE INDEX IF NOT EXISTS audit_trail_rows_{column} ON {{rows}} ({column}, position)"
        for column in (*SUBJECTS, "actor", "correlation_id", "causation_id", "aggregate_id")
    ),
    "CREATE INDEX IF NOT EXISTS audit_trail_rows_event ON {rows} (event_id)",
    "CREATE INDEX IF NOT EXISTS audit_trail_rows_at ON {rows} (at)",
    f"""CREATE INDEX IF NOT EXISTS audit_trail_rows_text ON {{rows}}
        USING gin (to_tsvector('{TEXT_CONFIG}', summary))""",
)

_INSERT = """INSERT INTO {rows} (position, at, recorded_at, actor, kind, topic, aggregate_type,
        aggregate_id, version, event_id, correlation_id, causation_id, summary,
        workshop_id, participant_id, initiative_id, key_area_id, programme_id)
    VALUES (%(position)s, %(at)s, %(recorded_at)s, %(actor)s, %(kind)s, %(topic)s,
        %(aggregate_type)s, %(aggregate_id)s, %(version)s, %(event_id)s, %(correlation_id)s,
        %(causation_id)s, %(summary)s, %(workshop_id)s, %(participant_id)s, %(initiative_id)s,
        %(key_area_id)s, %(programme_id)s)
    ON CONFLICT (position) DO NOTHING"""

_REMEMBER = """INSERT INTO {subjects} (stream_id, aggregate_type, workshop_id, participant_id,
        initiative_id, key_area_id, programme_id)
    VALUES (%(stream_id)s, %(aggregate_type)s, %(workshop_id)s, %(participant_id)s,
        %(initiative_id)s, %(key_area_id)s, %(programme_id)s)
    ON CONFLICT (stream_id) DO UPDATE SET
        workshop_id = COALESCE(EXCLUDED.workshop_id, {subjects}.workshop_id),
        participant_id = COALESCE(EXCLUDED.participant_id, {subjects}.participant_id),
        initiative_id = COALESCE(EXCLUDED.initiative_id, {subjects}.initiative_id),
        key_area_id = COALESCE(EXCLUDED.key_area_id, {subjects}.key_area_id),
        programme_id = COALESCE(EXCLUDED.programme_id, {subjects}.programme_id)"""

_NAME = """INSERT INTO {names} (id, name) VALUES (%(id)s, %(name)s)
    ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name"""


def event_id(stream_id: UUID, version: int) -> UUID:
    """A stable id for the event at `version` of `stream_id` (for causation chains)."""
    return derive_id("event", stream_id, version)


class TrailRow(BaseModel):
    """One recorded event as the audit trail shows it."""

    model_config = ConfigDict(frozen=True)

    position: int
    at: datetime
    recorded_at: datetime
    actor: str
    kind: str
    topic: str
    aggregate_type: str
    aggregate_id: UUID
    version: int
    event_id: UUID
    correlation_id: UUID | None
    causation_id: UUID | None
    summary: str
    workshop_id: UUID | None
    participant_id: UUID | None
    initiative_id: UUID | None
    key_area_id: UUID | None
    programme_id: UUID | None


CSV_COLUMNS: tuple[str, ...] = tuple(TrailRow.model_fields)


# ----- subjects and summaries (pure) --------------------------------------------------


def kind_of(domain_event: Any) -> str:
    """ "Idea.Submitted": the aggregate's class and the event's."""
    return type(domain_event).__qualname__


def aggregate_type_of(domain_event: Any) -> str:
    return kind_of(domain_event).split(".")[0]


def _as_uuid(value: Any) -> UUID | None:
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            return None
    return None


def subjects_of(domain_event: Any) -> dict[str, UUID]:
    """The subjects an event names itself: its own stream's, and its attributes'.

    What it inherits from its stream and from the streams it names is added by
    the view (`AuditTrailView.record_event`).
    """
    found: dict[str, UUID] = {}
    own = OWN_SUBJECT.get(aggregate_type_of(domain_event))
    if own is not None:
        found[own] = domain_event.originator_id
    attributes = vars(domain_event)
    names = {**{s: s for s in SUBJECTS}, **ALIASES, **SPECIAL.get(kind_of(domain_event), {})}
    for attribute, subject in names.items():
        if subject in found:
            continue
        value = _as_uuid(attributes.get(attribute))
        if value is not None:
            found[subject] = value
    origin = attributes.get("origin")
    if isinstance(origin, Mapping) and "workshop_id" not in found:
        value = _as_uuid(origin.get("workshop_id"))
        if value is not None:
            found["workshop_id"] = value
    return found


def names_of(domain_event: Any) -> list[tuple[UUID, str]]:
    """The names an event gives (to its stream, a key area, a milestone)."""
    kind, a = kind_of(domain_event), vars(domain_event)
    if kind == "Workshop.Scheduled":
        return [(domain_event.originator_id, f"{a['code']} ({a['title']})")]
    if kind in ("Workshop.KeyAreaDefined", "Workshop.KeyAreaRenamed"):
        return [(a["key_area_id"], a["name"])]
    if kind == "Initiative.MilestonePlanned":
        return [(a["milestone_id"], a["title"])]
    if kind in ("Project.Proposed", "Project.Revised", "Initiative.Adopted"):
        return [(domain_event.originator_id, a["title"])]
    if kind == "Programme.Launched":
        return [(domain_event.originator_id, a["name"])]
    return []


Lookup = Callable[[UUID | None], str]
Detail = Callable[[Any, Lookup], str]


def _short(text: str, limit: int = 120) -> str:
    one_line = " ".join(str(text).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "-"


def _quoted(lookup: Lookup, value: UUID | None) -> str:
    return f'"{lookup(value)}"'


def _results(e: Any, n: Lookup) -> str:
    results = e.results if isinstance(e.results, Mapping) else {}
    winners = [n(_as_uuid(w)) for w in results.get("winners", [])]
    counted = results.get("ballots_counted", "?")
    return f"{counted} ballots counted; winners: {', '.join(winners) or 'none'}"


# Details per event type (after the event's name in words). Anything not listed is
# summarised by its name alone; ballots never show their choices.
DETAILS: Mapping[str, Detail] = {
    "Workshop.Scheduled": lambda e, n: (
        f'{e.code} "{_short(e.title)}" in {e.region}, starts {_date(e.starts_at)}'
    ),
    "Workshop.PhaseOpened": lambda e, n: f"phase {e.index} ({e.kind}, {e.minutes:g} min)",
    "Workshop.PhaseClosed": lambda e, n: f"phase {e.index} ({e.kind})",
    "Workshop.PhaseExtended": lambda e, n: f"by {e.minutes:g} min",
    "Workshop.CriteriaAdopted": lambda e, n: f"version {e.version}",
    "Workshop.BriefingPublished": lambda e, n: f'"{_short(e.text, 80)}"',
    "Workshop.BriefingDrafted": lambda e, n: f'"{_short(e.text, 80)}"',
    "Workshop.KeyAreaDefined": lambda e, n: f'"{_short(e.name)}"',
    "Workshop.KeyAreaRenamed": lambda e, n: f'to "{_short(e.name)}"',
    "Workshop.KeyAreasMerged": lambda e, n: (
        f"{_quoted(n, e.source_id)} into {_quoted(n, e.target_id)}"
    ),
    "Workshop.GroupCapacitySet": lambda e, n: f"{_quoted(n, e.key_area_id)}: {e.capacity}",
    "Workshop.PitchSlotStarted": lambda e, n: f"{_quoted(n, e.project_id)} ({e.minutes:g} min)",
    "Workshop.PitchSlotEnded": lambda e, n: _quoted(n, e.project_id),
    "Workshop.ResultsDeclared": _results,
    "Idea.Submitted": lambda e, n: f'"{_short(e.text)}"',
    "Idea.Edited": lambda e, n: f'"{_short(e.text)}"',
    "Idea.Grouped": lambda e, n: f"under {_quoted(n, e.key_area_id)}",
    "Idea.MergedAsDuplicate": lambda e, n: f"into idea {e.target_id}",
    "Idea.LinkedToEarlier": lambda e, n: f"idea {e.earlier_id} of {n(e.earlier_workshop_id)}",
    "SignUp.SignedUp": lambda e, n: f"to {_quoted(n, e.key_area_id)}",
    "SignUp.SwitchedGroup": lambda e, n: f"to {_quoted(n, e.key_area_id)}",
    "Seat.Claimed": lambda e, n: f"in {_quoted(n, e.key_area_id)}",
    "Project.Proposed": lambda e, n: (
        f'"{_short(e.title)}" ({len(e.idea_ids)} ideas, {len(e.proposer_ids)} proposers)'
    ),
    "Project.Revised": lambda e, n: (
        f'"{_short(e.title)}" ({len(e.idea_ids)} ideas, {len(e.proposer_ids)} proposers)'
    ),
    "Ballot.Cast": lambda e, n: f"{e.method} ballot",
    "Programme.Launched": lambda e, n: (
        f'"{_short(e.name)}", sponsor {_short(e.sponsor)}, regions {", ".join(e.regions)}'
    ),
    "Programme.WorkshopScheduled": lambda e, n: (
        f"{n(e.workshop_id)} in {e.region}, {_date(e.starts_at)}"
    ),
    "Programme.InitiativeRegistered": lambda e, n: _quoted(n, e.initiative_id),
    "Programme.CriteriaRevised": lambda e, n: f"version {e.version}",
    "Initiative.Adopted": lambda e, n: f'"{_short(e.title)}" in {e.region}',
    # By id: an owner's name lives only in their own (encrypted, erasable) stream.
    "Initiative.OwnerAssigned": lambda e, n: (
        f"owner {e.owner_id}" + (f" (was {e.previous_id})" if e.previous_id else "")
    ),
    "Initiative.StageChanged": lambda e, n: (
        f"{e.previous} to {e.stage}" + (f": {_short(e.reason)}" if e.reason else "")
    ),
    "Initiative.MilestonePlanned": lambda e, n: f'"{_short(e.title)}" due {_date(e.due)}',
    "Initiative.MilestoneRescheduled": lambda e, n: (
        f"{_quoted(n, e.milestone_id)} due {_date(e.due)}: {_short(e.reason)}"
    ),
    "Initiative.MilestoneCompleted": lambda e, n: _quoted(n, e.milestone_id),
    "Initiative.MilestoneOverdue": lambda e, n: f"{_quoted(n, e.milestone_id)} due {_date(e.due)}",
    "Initiative.ProgressReported": lambda e, n: (
        f"{e.percent}% {e.status}" + (f": {_short(e.note)}" if e.note else "")
    ),
    "Initiative.FlaggedStale": lambda e, n: f"last report {_date(e.last_report_at)}",
    "Initiative.ReminderSent": lambda e, n: (
        e.kind.replace("_", " ") + (f": {_short(e.about)}" if e.about else "")
    ),
    "Initiative.BenefitsReviewScheduled": lambda e, n: f"due {_date(e.due)}",
    "Initiative.BenefitRecorded": lambda e, n: (
        f"{e.amount:g} {e.unit} {e.measure}: {_short(e.evidence)}"
    ),
    "Initiative.FollowUpLinked": lambda e, n: f"workshop {n(e.workshop_id)}",
    "Initiative.AdoptedInRegion": lambda e, n: e.region,
}


def _words(kind: str) -> str:
    """ "Idea.MergedAsDuplicate" -> "Idea merged as duplicate"."""
    aggregate, _, name = kind.partition(".")
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()
    return f"{aggregate} {words}".strip()


def summary_of(domain_event: Any, lookup: Lookup) -> str:
    """The event's name in words, then (for known types) a few details."""
    kind = kind_of(domain_event)
    detail = DETAILS.get(kind)
    text = _words(kind)
    if detail is not None:
        try:
            extra = detail(domain_event, lookup)
        except (AttributeError, KeyError, TypeError, ValueError):
            extra = ""  # an older or newer shape of the event: its name is enough
        if extra:
            text = f"{text}: {extra}"
    return _short(text, SUMMARY_MAX)


# ----- the view ------------------------------------------------------------------------


class AuditTrailView(TrackedView):
    """The audit tables, the one write method, and the searches."""

    prefix = "audit_trail_"
    tables = AUDIT_TABLES
    ddl = _DDL

    # ----- the write path ------------------------------------------------------------

    def record_event(self, tracking: Tracking, domain_event: Any) -> bool:
        """One row for the event, its stream's subjects and names kept for later events."""
        stream_id: UUID = domain_event.originator_id
        version: int = domain_event.originator_version
        aggregate_type = aggregate_type_of(domain_event)
        meta = getattr(domain_event, "meta", None)

        def change(curs: Cursor[DictRow]) -> None:
            own = subjects_of(domain_event)
            inherited = self._subjects(curs, stream_id) or {}
            subjects: dict[str, UUID | None] = {s: own.get(s) or inherited.get(s) for s in SUBJECTS}
            self._derive(curs, subjects)
            sticky = STICKY.get(aggregate_type, frozenset(SUBJECTS))
            curs.execute(
                self._q(_REMEMBER),
                {
                    "stream_id": stream_id,
                    "aggregate_type": aggregate_type,
                    **{s: subjects[s] if s in sticky else None for s in SUBJECTS},
                },
            )
            area = own.get("key_area_id")
            if aggregate_type == "Workshop" and area is not None:
                # A key area is a subject of its own: its seats find their workshop here.
                curs.execute(
                    self._q(_REMEMBER),
                    {
                        "stream_id": area,
                        "aggregate_type": "KeyArea",
                        **{s: None for s in SUBJECTS},
                        "workshop_id": stream_id,
                        "programme_id": subjects["programme_id"],
                        "key_area_id": area,
                    },
                )
            for named, name in names_of(domain_event):
                curs.execute(self._q(_NAME), {"id": named, "name": name})
            summary = summary_of(domain_event, lambda ref: self._name(curs, ref))
            curs.execute(
                self._q(_INSERT),
                {
                    "position": tracking.notification_id,
                    "at": meta.at if isinstance(meta, Meta) else domain_event.timestamp,
                    "recorded_at": domain_event.timestamp,
                    "actor": meta.actor if isinstance(meta, Meta) else "-",
                    "kind": kind_of(domain_event),
                    "topic": get_topic(type(domain_event)),
                    "aggregate_type": aggregate_type,
                    "aggregate_id": stream_id,
                    "version": version,
                    "event_id": event_id(stream_id, version),
                    "correlation_id": meta.correlation_id if isinstance(meta, Meta) else None,
                    "causation_id": meta.causation_id if isinstance(meta, Meta) else None,
                    "summary": summary,
                    **subjects,
                },
            )

        return self._apply(tracking, stream_id, version, change)

    def _subjects(self, curs: Cursor[DictRow], stream_id: UUID | None) -> DictRow | None:
        if stream_id is None:
            return None
        return self._fetch(
            curs, "SELECT * FROM {subjects} WHERE stream_id = %(id)s", {"id": stream_id}
        )

    def _derive(self, curs: Cursor[DictRow], subjects: dict[str, UUID | None]) -> None:
        """Fill in what the named streams know: a key area's workshop, a workshop's programme."""
        if subjects["workshop_id"] is None and subjects["key_area_id"] is not None:
            area = self._subjects(curs, subjects["key_area_id"])
            if area is not None:
                subjects["workshop_id"] = area["workshop_id"]
        if subjects["programme_id"] is None:
            for source in ("workshop_id", "initiative_id"):
                row = self._subjects(curs, subjects[source])
                if row is not None and row["programme_id"] is not None:
                    subjects["programme_id"] = row["programme_id"]
                    break

    def _name(self, curs: Cursor[DictRow], ref: UUID | None) -> str:
        if ref is None:
            return "-"
        row = self._fetch(curs, "SELECT name FROM {names} WHERE id = %(id)s", {"id": ref})
        return str(row["name"]) if row is not None else str(ref)

    # ----- the read path -------------------------------------------------------------

    @transient
    def search(
        self,
        workshop_id: UUID | None = None,
        participant_id: UUID | None = None,
        initiative_id: UUID | None = None,
        key_area_id: UUID | None = None,
        programme_id: UUID | None = None,
        actor: str | None = None,
        correlation_id: UUID | None = None,
        text: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        after_position: int | None = None,
    ) -> list[TrailRow]:
        """Rows matching every filter given, by position; page on with `after_position`.

        `text` is a web-style full-text query over the summaries ("cloud hosting",
        "cloud -hosting", '"open data"', "cloud or data"); `since` and `until`
        bound the act's time (`at`), `since` inclusive and `until` exclusive.
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        where: list[str] = []
        params: dict[str, Any] = {}
        equal = {
            "workshop_id": workshop_id,
            "participant_id": participant_id,
            "initiative_id": initiative_id,
            "key_area_id": key_area_id,
            "programme_id": programme_id,
            "actor": actor,
            "correlation_id": correlation_id,
        }
        for column, value in equal.items():
            if value is not None:
                where.append(f"{column} = %({column})s")
                params[column] = value
        if text is not None and text.strip():
            where.append(
                f"to_tsvector('{TEXT_CONFIG}', summary)"
                f" @@ websearch_to_tsquery('{TEXT_CONFIG}', %(text)s)"
            )
            params["text"] = text
        if since is not None:
            where.append("at >= %(since)s")
            params["since"] = since
        if until is not None:
            where.append("at < %(until)s")
            params["until"] = until
        if after_position is not None:
            where.append("position > %(after)s")
            params["after"] = after_position
        condition = " AND ".join(where) or "true"
        query = f"SELECT * FROM {{rows}} WHERE {condition} ORDER BY position LIMIT %(limit)s"
        with self._snapshot() as curs:
            curs.execute(self._q(query), {**params, "limit": limit})
            return [TrailRow.model_validate(dict(row)) for row in curs.fetchall()]

    def search_all(self, page: int = 1000, **filters: Any) -> Iterator[TrailRow]:
        """Every row matching `filters` (as `search` takes them), fetched a page at a time."""
        limit = filters.pop("limit", None)
        after = filters.pop("after_position", None)
        produced = 0
        while limit is None or produced < limit:
            size = page if limit is None else min(page, limit - produced)
            rows = self.search(**filters, limit=size, after_position=after)
            yield from rows
            produced += len(rows)
            if len(rows) < size:
                return
            after = rows[-1].position

    @transient
    def caused_by(self, cause: UUID, depth: int = 20) -> list[TrailRow]:
        """The events an act caused, and what they caused in turn, by position.

        `cause` is a causation id (the id of the command or activity that
        acted) or an `event_id`: the events whose causation id it is come
        first, then, to `depth` levels, those whose causation id is the
        `event_id` of one already found.
        """
        query = """WITH RECURSIVE chain(position, event_id, depth) AS (
                SELECT position, event_id, 1 FROM {rows} WHERE causation_id = %(cause)s
                UNION
                SELECT t.position, t.event_id, c.depth + 1
                FROM {rows} t JOIN chain c ON t.causation_id = c.event_id
                WHERE c.depth < %(depth)s)
            SELECT t.* FROM {rows} t
            WHERE t.position IN (SELECT position FROM chain)
            ORDER BY t.position"""
        with self._snapshot() as curs:
            curs.execute(self._q(query), {"cause": cause, "depth": depth})
            return [TrailRow.model_validate(dict(row)) for row in curs.fetchall()]

    @transient
    def event(self, position: int) -> TrailRow | None:
        with self._snapshot() as curs:
            row = self._fetch(curs, "SELECT * FROM {rows} WHERE position = %(p)s", {"p": position})
        return None if row is None else TrailRow.model_validate(dict(row))


# ----- export ----------------------------------------------------------------------------


def _plain(row: TrailRow) -> dict[str, Any]:
    return row.model_dump(mode="json")


def write_csv(rows: Iterable[TrailRow], out: TextIO) -> int:
    """Write rows as CSV with a header, one at a time; return how many."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        plain = _plain(row)
        writer.writerow({k: "" if v is None else v for k, v in plain.items()})
        count += 1
    return count


def write_jsonl(rows: Iterable[TrailRow], out: TextIO) -> int:
    """Write rows as JSON lines, one object a line; return how many."""
    count = 0
    for row in rows:
        out.write(json.dumps(_plain(row), ensure_ascii=False, sort_keys=False))
        out.write("\n")
        count += 1
    return count


# ----- the projection -------------------------------------------------------------------


class AuditTrailProjection(Projection[AuditTrailView]):
    """Applies every event of the log to the trail, one event (and its tracking) a transaction."""

    name = "audit_trail"
    topics: tuple[str, ...] = ()  # every event is in the trail

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Every event of an aggregate gets its row: no code per event type."""
        if hasattr(domain_event, "originator_id") and hasattr(domain_event, "originator_version"):
            self.view.record_event(tracking, domain_event)
        else:
            self.view.insert_tracking(tracking)


def audit_trail_view(env: Mapping[str, str]) -> AuditTrailView:
    """The view as `ProjectionRunner` builds it, for readers that run no projection."""
    return construct_view(AuditTrailView, AuditTrailProjection.name, env)
