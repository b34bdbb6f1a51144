"""The event feed: the notification log as CloudEvents 1.0 JSON envelopes.

Each stored event becomes one `CloudEvent`: its `id` is the event's position
in the notification log (so a client resumes "after N"), its `source` names
the programme and workshop it belongs to, its `type` is versioned
(`quickwins.<aggregate>.<event>.v1`) and its `data` holds the event's fields,
JSON-ready.

Personal data never leaves: every `Personal` value in an event (a
participant's name and organisation, encrypted at rest) is replaced by
`{"person_id": "<subject uuid>"}`, so a person appears only by a
pseudonymous id. The feed does not even decrypt them: it reads the log with
a mapper of its own that leaves personal fields sealed (`feed_mapper`).

Which programme and workshop an event belongs to is read from the log: an
aggregate's creation event names its workshop (ideas, participants, sign-ups,
projects, ballots), its programme (initiatives, workshops in a programme) or
its holder (seats, through the participant). What is learnt is kept in a
bounded cache, and an aggregate not seen yet is looked up by its first event.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any, Literal, NamedTuple, cast
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEvent
from eventsourcing.persistence import JSONTranscoder, Mapper, Transcoding
from eventsourcing.utils import get_topic
from pydantic import BaseModel, ConfigDict

import domain
from domain.personal import Personal

from .app import Workshops

VERSION = "v1"
PREFIX = "quickwins"
# Fields the envelope carries already (or that name Python code, not facts).
ENVELOPE_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic"}
)
CACHE_SIZE = 100_000  # aggregates whose programme and workshop are remembered
SCAN_LIMIT = 10_000  # log positions one page examines at most (filters may skip many)
BATCH = 500  # notifications read per query when a scope filter may skip some


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 JSON envelope around one stored event."""

    specversion: Literal["1.0"] = "1.0"
    id: str  # the notification-log position of the stored event, as a decimal string
    source: str  # "/quickwins/programmes/{pid}/workshops/{wid}", parts missing when unknown
    type: str  # versioned, e.g. "quickwins.workshop.phase_opened.v1"
    time: datetime  # when recorded (the stored event's timestamp)
    subject: str  # the aggregate id
    datacontenttype: Literal["application/json"] = "application/json"
    programmeid: str | None = None  # extension attributes (lowercase, per the spec)
    workshopid: str | None = None
    data: dict[str, Any]  # the event's fields, JSON-ready, with no personal data


class FeedFilter(BaseModel):
    """Which events a reader wants: any of `types`, in a programme, in a workshop."""

    types: frozenset[str] | None = None  # None = every type
    programme_id: UUID | None = None
    workshop_id: UUID | None = None

    def matches(self, event: CloudEvent) -> bool:
        if self.types is not None and event.type not in self.types:
            return False
        if self.programme_id is not None and event.programmeid != str(self.programme_id):
            return False
        return self.workshop_id is None or event.workshopid == str(self.workshop_id)

    @property
    def scoped(self) -> bool:
        """True when matching needs the decoded event (not just its topic)."""
        return self.programme_id is not None or self.workshop_id is not None


_EXAMPLE_EVENT: dict[str, Any] = {
    "specversion": "1.0",
    "id": "42",
    "source": (
        "/quickwins/programmes/0b0f3c52-8f0e-5d55-9a67-6d1b1c1f6a10"
        "/workshops/5e7a2f8c-3b1d-5c2e-8f4a-9d6b7c8e1f20"
    ),
    "type": "quickwins.workshop.phase_opened.v1",
    "time": "2010-07-02T09:15:00.123456Z",
    "subject": "5e7a2f8c-3b1d-5c2e-8f4a-9d6b7c8e1f20",
    "datacontenttype": "application/json",
    "programmeid": "0b0f3c52-8f0e-5d55-9a67-6d1b1c1f6a10",
    "workshopid": "5e7a2f8c-3b1d-5c2e-8f4a-9d6b7c8e1f20",
    "data": {
        "index": 1,
        "kind": "brainstorm",
        "minutes": 30.0,
        "meta": {
            "actor": "facilitator:Jo Smith",
            "at": "2010-07-02T09:15:00Z",
            "correlation_id": "3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
            "causation_id": "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d",
        },
        "version": 3,
    },
}


class FeedPage(BaseModel):
    """A page of the feed and how far it read (to ask for the next page after)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"events": [_EXAMPLE_EVENT], "last_position": 57}]}
    )

    events: list[CloudEvent]
    last_position: int  # the last log position examined (a filtered page may be empty)


# ----- event types ---------------------------------------------------------------


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def type_name(event_class: type) -> str:
    """`Workshop.PhaseOpened` -> `quickwins.workshop.phase_opened.v1`."""
    aggregate, _, name = event_class.__qualname__.rpartition(".")
    aggregate = aggregate.rpartition(".")[2] or "event"
    return f"{PREFIX}.{_snake(aggregate)}.{_snake(name)}.{VERSION}"


def _aggregates() -> list[type[Aggregate]]:
    """Every aggregate class in `domain` (each module imported, so none is missed)."""
    for module in pkgutil.iter_modules(domain.__path__):
        importlib.import_module(f"domain.{module.name}")
    found: list[type[Aggregate]] = []
    pending: list[type[Aggregate]] = [Aggregate]
    while pending:
        subclasses = pending.pop().__subclasses__()
        pending.extend(subclasses)
        found.extend(s for s in subclasses if s.__module__.startswith("domain."))
    return found


def _event_classes() -> dict[str, type]:
    """Every recordable event class by feed type (the bare `Created` is never recorded)."""
    classes: dict[str, type] = {}
    for aggregate in _aggregates():
        for name, value in vars(aggregate).items():
            if (
                isinstance(value, type)
                and issubclass(value, aggregate.Event)
                and name not in ("Event", "Created")
            ):
                classes[type_name(value)] = value
    return classes


EVENT_CLASSES: dict[str, type] = _event_classes()
EVENT_TYPES: tuple[str, ...] = tuple(sorted(EVENT_CLASSES))
TOPICS: dict[str, str] = {t: get_topic(cls) for t, cls in EVENT_CLASSES.items()}


# ----- data -------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """A JSON-ready copy of `value`; a `Personal` becomes its pseudonymous id only."""
    if isinstance(value, Personal):
        return {"person_id": str(value.subject_id)}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, BaseModel):
        # Field by field, not model_dump: a nested Personal must not be dumped whole.
        return {name: jsonable(getattr(value, name)) for name in type(value).model_fields}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


def event_data(event: DomainEvent) -> dict[str, Any]:
    """The event's own fields (with `meta`), plus the stream `version` it made."""
    data = {k: jsonable(v) for k, v in vars(event).items() if k not in ENVELOPE_FIELDS}
    data["version"] = event.originator_version
    return data


# ----- reading without decrypting ---------------------------------------------------------


class PseudonymousPersonal(Transcoding):
    """Reads a stored `Personal` as its subject id alone: the feed never decrypts anyone.

    (The stored form is `PersonalCipher`'s: the subject id in the clear under "s".)
    """

    type = Personal
    name = "personal"

    def encode(self, obj: Personal) -> dict[str, Any]:
        raise TypeError("the feed reads events; it never writes them")

    def decode(self, data: dict[str, Any]) -> Personal:
        return Personal(UUID(data["s"]), erased=bool(data.get("erased")))


def feed_mapper(app: Workshops) -> Mapper[UUID]:
    """The application's mapper, except that personal fields stay sealed.

    Besides keeping plaintext out of this process's hands, it saves a key
    lookup per participant event.
    """
    source = app.mapper.transcoder
    if not isinstance(source, JSONTranscoder):
        return app.mapper
    transcoder = JSONTranscoder()
    for transcoding in source.names.values():
        transcoder.register(transcoding)
    transcoder.register(PseudonymousPersonal())
    return Mapper(transcoder, compressor=app.mapper.compressor, cipher=app.mapper.cipher)


# ----- where an event belongs ------------------------------------------------------------


class Scope(NamedTuple):
    programme_id: UUID | None
    workshop_id: UUID | None


NOWHERE = Scope(None, None)


class ScopeCache:
    """Aggregate id -> its programme and workshop; least recently used dropped first."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[UUID, Scope] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, aggregate_id: UUID) -> Scope | None:
        with self._lock:
            found = self._items.get(aggregate_id)
            if found is not None:
                self._items.move_to_end(aggregate_id)
            return found

    def put(self, aggregate_id: UUID, scope: Scope) -> None:
        with self._lock:
            self._items[aggregate_id] = scope
            self._items.move_to_end(aggregate_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def _aggregate_name(event: DomainEvent) -> str:
    return type(event).__qualname__.rpartition(".")[0].rpartition(".")[2]


class EventFeed:
    """Reads the notification log as pages of CloudEvents."""

    def __init__(
        self, app: Workshops, cache_size: int = CACHE_SIZE, scan_limit: int = SCAN_LIMIT
    ) -> None:
        self.app = app
        self.mapper = feed_mapper(app)
        self.scopes = ScopeCache(cache_size)
        self.scan_limit = scan_limit

    # ----- one event ----------------------------------------------------------------

    def envelope(self, event: DomainEvent, position: int) -> CloudEvent:
        """The CloudEvent for one decoded stored event at log `position`."""
        scope = self._scope_of_event(event)
        programme = str(scope.programme_id) if scope.programme_id else None
        workshop = str(scope.workshop_id) if scope.workshop_id else None
        return CloudEvent(
            id=str(position),
            source=source(scope),
            type=type_name(type(event)),
            time=event.timestamp,
            subject=str(event.originator_id),
            programmeid=programme,
            workshopid=workshop,
            data=event_data(event),
        )

    # ----- pages ----------------------------------------------------------------------

    def max_position(self) -> int:
        return self.app.max_position()

    def page(self, after: int, limit: int = 100, where: FeedFilter | None = None) -> FeedPage:
        """Up to `limit` matching events after position `after`, in log order.

        Examines at most `scan_limit` positions, so a filter that matches
        little still answers promptly; `last_position` says how far it got.
        """
        where = where or FeedFilter()
        top = self.max_position()  # positions up to here are committed, in order
        if where.types is not None and not where.types:
            return FeedPage(events=[], last_position=max(after, top))
        topics = [TOPICS[t] for t in sorted(where.types) if t in TOPICS] if where.types else []
        if where.types and not topics:
            return FeedPage(events=[], last_position=max(after, top))
        events: list[CloudEvent] = []
        position = after
        while position < top and len(events) < limit:
            budget = self.scan_limit - (position - after)
            if budget <= 0:
                break
            wanted = min(BATCH if where.scoped else limit - len(events), budget)
            batch = self.app.recorder.select_notifications(
                position + 1, wanted, stop=top, topics=topics
            )
            for notification in batch:
                position = notification.id
                event: Any = self.mapper.to_domain_event(notification)
                cloud_event = self.envelope(event, position)
                if where.matches(cloud_event):
                    events.append(cloud_event)
                    if len(events) == limit:
                        break
            else:
                if len(batch) < wanted:  # nothing more up to `top` (topics may skip some)
                    position = top
        return FeedPage(events=events, last_position=max(position, after))

    # ----- scopes -------------------------------------------------------------------

    def _scope_of_event(self, event: DomainEvent) -> Scope:
        if event.originator_version == Aggregate.INITIAL_VERSION:
            scope = self._scope_from_creation(event)
            self.scopes.put(event.originator_id, scope)
            return scope
        return self.scope_of(event.originator_id)

    def scope_of(self, aggregate_id: UUID) -> Scope:
        """The programme and workshop an aggregate belongs to, from its first event."""
        known = self.scopes.get(aggregate_id)
        if known is not None:
            return known
        first = self.app.recorder.select_events(aggregate_id, limit=1)
        scope = (
            self._scope_from_creation(cast(DomainEvent, self.mapper.to_domain_event(first[0])))
            if first
            else NOWHERE
        )
        self.scopes.put(aggregate_id, scope)
        return scope

    def _scope_from_creation(self, event: DomainEvent) -> Scope:
        fields = vars(event)
        aggregate = _aggregate_name(event)
        if aggregate == "Programme":
            return Scope(event.originator_id, None)
        if aggregate == "Workshop":
            return Scope(fields.get("programme_id"), event.originator_id)
        if isinstance(fields.get("workshop_id"), UUID):
            workshop: UUID = fields["workshop_id"]
            return Scope(self.scope_of(workshop).programme_id, workshop)
        if isinstance(fields.get("programme_id"), UUID):
            return Scope(fields["programme_id"], None)
        if isinstance(fields.get("holder"), UUID):  # a seat belongs where its first holder joined
            return self.scope_of(fields["holder"])
        return NOWHERE


def source(scope: Scope) -> str:
    parts = [f"/{PREFIX}"]
    if scope.programme_id is not None:
        parts.append(f"/programmes/{scope.programme_id}")
    if scope.workshop_id is not None:
        parts.append(f"/workshops/{scope.workshop_id}")
    return "".join(parts)


def unknown_types(types: Iterable[str]) -> list[str]:
    """The names in `types` that the feed never emits."""
    return sorted(set(types) - set(EVENT_TYPES))
