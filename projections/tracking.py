"""What every read model shares: tables of its own, written with tracking, exactly once.

`TrackedView` is a PostgreSQL tracking recorder that owns a set of tables
(named with the view's prefix, for example `board_`) and writes them the same
way for every view:

- one transaction per event, holding the tracking record, a per-stream
  version guard and the row changes. A crash never double-applies or skips
  an event, and the runner resumes from the last tracked position;
- the guard keeps, in the view's `<prefix>streams` table, the version of the
  last event applied to each stream: an event whose version is not above it
  changes no rows (its tracking is still recorded), so a write is idempotent
  per event even when the same event arrives under a later position.
  Recording the same tracking twice is rejected by the library with
  `IntegrityError` and rolls the transaction back, so rows are unchanged
  either way;
- `reset()` empties every table and forgets the position, so a runner started
  afterwards rebuilds the view from the start of the log;
- reads run in one REPEATABLE READ, READ ONLY snapshot (`_snapshot`).

`event_class` names a nested event class that the library's `@event` makes
(out of mypy's sight), and `construct_view` builds a view as `ProjectionRunner`
does, for readers that run no projection.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar, cast
from uuid import UUID

from eventsourcing.persistence import (
    InfrastructureFactory,
    InterfaceError,
    OperationalError,
    Tracking,
)
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.utils import Environment, retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

__all__ = [
    "GUARD",
    "STREAMS_DDL",
    "Params",
    "Statement",
    "TrackedView",
    "construct_view",
    "event_class",
    "transient",
]

Params = Mapping[str, Any]
Statement = tuple[str, Params]

F = TypeVar("F", bound=Callable[..., Any])

_retry_transient = retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)


def transient(func: F) -> F:
    """Retry `func` when the connection dropped or the server restarted (typed `retry`)."""
    return cast(F, _retry_transient(func))


# Every view's guard table: the version of the last event applied per stream.
STREAMS_DDL = """CREATE TABLE IF NOT EXISTS {streams} (
        stream_id uuid PRIMARY KEY,
        version bigint NOT NULL)"""

GUARD = """
    INSERT INTO {streams} (stream_id, version) VALUES (%(stream_id)s, %(version)s)
    ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version
    WHERE {streams}.version < EXCLUDED.version
    RETURNING version"""


def event_class(aggregate: type, name: str) -> type[Any]:
    """A nested event class such as Workshop.Scheduled (made by the library's @event)."""
    return cast(type[Any], getattr(aggregate, name))


class TrackedView(PostgresTrackingRecorder):
    """A tracking recorder with tables of its own; subclasses set the three class attributes.

    `prefix`: the tables' common prefix ("board_"); `tables`: every table the
    view owns, prefix included, one of them `<prefix>streams`; `ddl`: the
    create statements, with `{name}` placeholders for each table without its
    prefix (`{streams}`, `{ideas}`) that `_q` fills in schema-qualified.
    `{tracking}` names the view's tracking table.
    """

    prefix: ClassVar[str] = ""
    tables: ClassVar[tuple[str, ...]] = ()
    ddl: ClassVar[tuple[str, ...]] = ()

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema = self.datastore.schema
        self._names: dict[str, Identifier] = {
            table.removeprefix(self.prefix): Identifier(schema, table) for table in self.tables
        }
        if "streams" not in self._names:
            raise TypeError(f"{type(self).__name__} needs a {self.prefix}streams table")
        self._names["tracking"] = Identifier(schema, self.tracking_table_name)
        self._statements: dict[str, Composed] = {}
        for ddl in self.ddl:
            self.sql_create_statements.append(self._q(ddl))

    def _q(self, text: str) -> Composed:
        """`text` with {table} placeholders filled in (schema-qualified), cached."""
        found = self._statements.get(text)
        if found is None:
            found = self._statements[text] = SQL(text).format(**self._names)
        return found

    def close(self) -> None:
        """Close the view's connection pool."""
        self.datastore.close()

    # ----- the write path ---------------------------------------------------

    @transient
    def _apply(
        self,
        tracking: Tracking,
        stream_id: UUID,
        version: int,
        change: Callable[[Cursor[DictRow]], None],
    ) -> bool:
        """Record `tracking` and, unless the stream is at `version` already, the change.

        One transaction: the tracking record first (a second recording of the
        same tracking raises IntegrityError and rolls everything back), then the
        stream's version guard, then the rows. Returns whether rows changed.
        """
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, tracking)
            curs.execute(self._q(GUARD), {"stream_id": stream_id, "version": version})
            if curs.fetchone() is None:
                return False  # this event (or a later one of its stream) was applied
            change(curs)
            return True

    def _write(
        self, tracking: Tracking, stream_id: UUID, version: int, *statements: Statement
    ) -> bool:
        """`_apply` for changes that are a fixed list of statements."""

        def change(curs: Cursor[DictRow]) -> None:
            for text, params in statements:
                curs.execute(self._q(text), params)

        return self._apply(tracking, stream_id, version, change)

    def _fetch(self, curs: Cursor[DictRow], text: str, params: Params) -> DictRow | None:
        """One row (or None) of a query, inside a write or read transaction."""
        curs.execute(self._q(text), params)
        return curs.fetchone()

    # ----- rebuilding ---------------------------------------------------------

    @transient
    def reset(self) -> None:
        """Delete every row of the view and its position, in one transaction.

        A runner started afterwards subscribes from the start of the log and
        rebuilds the view. Stop the runners of this view first: a running one
        keeps its own place in the log and would carry on from there.
        """
        with self.datastore.transaction(commit=True) as curs:
            for table in self._names:
                if table != "tracking":
                    curs.execute(self._q(f"DELETE FROM {{{table}}}"))
            curs.execute(
                self._q("DELETE FROM {tracking} WHERE application_name <> %(migration)s"),
                {"migration": self.table_migration_identifier},
            )

    # ----- the read path ------------------------------------------------------

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[Cursor[DictRow]]:
        """A read-only transaction that sees one consistent state of all the tables."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield curs

    def _tracked_position(self, curs: Cursor[DictRow]) -> int | None:
        curs.execute(
            self._q(
                "SELECT max(notification_id) AS position FROM {tracking}"
                " WHERE application_name <> %(migration)s"
            ),
            {"migration": self.table_migration_identifier},
        )
        row = curs.fetchone()
        return None if row is None else row["position"]

    @transient
    def tracked_position(self) -> int | None:
        """The log position the view reflects (None when it has processed nothing)."""
        with self._snapshot() as curs:
            return self._tracked_position(curs)


V = TypeVar("V", bound=TrackedView)


def construct_view(view_class: type[V], name: str, env: Mapping[str, str]) -> V:
    """The view as `ProjectionRunner` builds it for the projection called `name`.

    For readers that run no projection (an API process). `env` holds the
    library's persistence settings (PERSISTENCE_MODULE=eventsourcing.postgres,
    POSTGRES_*), optionally prefixed with the upper-cased `name`. Close it
    with `view.close()`.
    """
    factory = InfrastructureFactory[V].construct(env=Environment(name, dict(env)))
    return factory.tracking_recorder(view_class)
