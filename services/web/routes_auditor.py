"""Pages for the auditor: the overview, a workshop's decision record, the board at a past
moment (a time slider), and the audit trail with filters and exports.

Every answer comes from the same functions the API's audit routes use
(services.decision, services.audit, the audit trail view): the pages add
layout, never logic. They are live: each page names its live channel and its
refreshable parts re-read themselves through these routes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Annotated, Any, Literal, TypeVar, cast
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from domain.errors import DomainError, UnknownId
from projections.audit_chain import Checkpoint, Verdict
from projections.audit_trail import AuditTrailProjection, AuditTrailView, TrailRow
from projections.board_models import Board
from projections.time_travel import PositionedEvent, board_at

from .. import audit
from ..api.context import ApiContext, Ctx, run
from ..api.routes_audit import RECORD_TYPES, TRAIL_TYPES, _chain, _export, _record
from ..api.routes_workshops import _summaries
from ..decision import DecisionCheck, DecisionRecord, decision_record, verify_decision, workshop_log
from .render import page
from .session import PageError, PageReadAudit

router = APIRouter(prefix="/ui", include_in_schema=False)
TRAIL_PAGE = 50
LATEST_CHECKPOINTS = 5
MAX_TEXT = 200
RECENT_KEYS = 256
T = TypeVar("T")
Text = Annotated[str, Query(max_length=MAX_TEXT)]


class _Recent:
    """The last answers of a costly read, computed by one caller at a time and kept briefly.

    `audit.verify` and `audit.attach_checkpoint` each start a projection runner (its
    own connections) and re-read the log. A burst of events makes every open page
    refresh at once: this turns the burst into one computation, not one per page,
    so the pages never exhaust the database's connections. An answer is kept for
    `seconds` and only while the log has not grown, so a later change (or tampering)
    shows on the next refresh after that.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.lock = threading.Lock()
        self.found: dict[Hashable, tuple[float, Any]] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self.lock:
            kept = self.found.get(key)
            if kept is not None and time.monotonic() - kept[0] < self.seconds:
                return cast(T, kept[1])
            if len(self.found) > RECENT_KEYS:
                self.found.clear()
            answer = compute()
            self.found[key] = (time.monotonic(), answer)
            return answer


RECENT = _Recent(seconds=5)


def _verdict(ctx: ApiContext) -> Verdict:
    key = ("verify", ctx.stack.database_url, ctx.app.max_position())
    return RECENT.get(key, lambda: audit.verify(ctx.stack))


def _fragment(request: Request) -> bool:
    return request.headers.get("x-fragment") == "1"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if value else "-"


# ----- the overview ---------------------------------------------------------------------------


@router.get("/audit")
async def overview(request: Request, caller: PageReadAudit, ctx: Ctx) -> Response:
    """Workshops, the chain's verdict and the latest signed checkpoints."""
    workshops = await run(_summaries, ctx, caller)
    verdict = await run(_verdict, ctx)
    found: list[Checkpoint] = await run(lambda: _chain(ctx).checkpoints())
    latest = list(reversed(found[-LATEST_CHECKPOINTS:]))
    name = "auditor/_overview.html" if _fragment(request) else "auditor/overview.html"
    return page(request, name, workshops=workshops, verdict=verdict, checkpoints=latest, when=_when)


# ----- a workshop's decision record -------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What the record page shows: the record and its recount, or why there is none yet."""

    record: DecisionRecord | None
    check: DecisionCheck | None
    pending: str | None  # the domain's reason when there is no decision yet


def _decision(ctx: ApiContext, ref: str) -> Decision:
    try:
        plain = decision_record(ctx.app, ref)
        key = ("record", ctx.stack.database_url, ref, ctx.app.max_position())
        record = RECENT.get(key, lambda: audit.attach_checkpoint(ctx.stack, plain))
        check = verify_decision(ctx.app, ref)
    except UnknownId:
        raise PageError(404, "error.not_found") from None
    except DomainError as error:
        return Decision(None, None, error.message)
    return Decision(record, check, None)


def _title(ctx: ApiContext, ref: str) -> Board:
    """The workshop's board as it stands now, folded from the log (404 when unknown)."""
    try:
        found, events = workshop_log(ctx.app, ref)
    except UnknownId:
        raise PageError(404, "error.not_found") from None
    board = board_at(found, events)
    assert board is not None  # workshop_log guarantees it was scheduled
    return board


@router.get("/audit/workshops/{workshop_id}")
async def workshop_record(
    request: Request, workshop_id: UUID, caller: PageReadAudit, ctx: Ctx
) -> Response:
    board = await run(_title, ctx, str(workshop_id))
    decision = await run(_decision, ctx, str(workshop_id))
    name = "auditor/_record.html" if _fragment(request) else "auditor/record.html"
    return page(request, name, board=board, decision=decision, when=_when)


@router.get("/audit/workshops/{workshop_id}/record.{fmt}")
async def record_download(
    workshop_id: UUID, fmt: Literal["json", "md", "html"], caller: PageReadAudit, ctx: Ctx
) -> Response:
    """The record as the API serves it (`GET /audit/workshops/{id}/record?format=`)."""
    try:
        text = await run(_record, ctx, str(workshop_id), fmt)
    except UnknownId:
        raise PageError(404, "error.not_found") from None
    except DomainError:
        raise PageError(404, "auditor.record.none") from None
    disposition = f'attachment; filename="decision-{workshop_id}.{fmt}"'
    return Response(
        text, media_type=RECORD_TYPES[fmt], headers={"Content-Disposition": disposition}
    )


# ----- the board at a past moment ---------------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    """One step of the slider: a log position of the workshop and when it happened."""

    position: int
    at: datetime
    kind: str


@dataclass(frozen=True)
class Timeline:
    moments: list[Moment]
    position: int  # the chosen cut (snapped to the workshop's last event at or before it)
    board: Board

    @property
    def first(self) -> int:
        return self.moments[0].position

    @property
    def last(self) -> int:
        return self.moments[-1].position

    @property
    def step(self) -> int:
        """The slider's value: the index of the chosen moment."""
        return next(i for i, m in enumerate(self.moments) if m.position == self.position)

    @property
    def chosen(self) -> Moment:
        return self.moments[self.step]


@dataclass(frozen=True)
class Cut:
    """Where to look: a time (first), a log position, or a slider step; none: the latest."""

    position: int | None = None
    at: datetime | None = None
    step: int | None = None


def _cut(events: list[PositionedEvent], chosen: Cut) -> int:
    """The workshop's last position at or before the chosen time or position (or its step)."""
    position, at = chosen.position, chosen.at
    if at is None and position is None and chosen.step is not None:
        return events[min(chosen.step, len(events) - 1)][0]
    if at is not None:
        if at.tzinfo is None:  # a datetime-local field: read it as the API does
            at = at.replace(tzinfo=events[0][1].starts_at.tzinfo)
        before = [p for p, e in events if e.meta.at <= at]
        return before[-1] if before else events[0][0]
    if position is None:
        return events[-1][0]
    before = [p for p, _ in events if p <= position]
    return before[-1] if before else events[0][0]


def _timeline(ctx: ApiContext, ref: str, chosen: Cut) -> Timeline:
    try:
        found, events = workshop_log(ctx.app, ref)
    except UnknownId:
        raise PageError(404, "error.not_found") from None
    cut = _cut(events, chosen)
    board = board_at(found, events, position=cut)
    assert board is not None  # the cut is never before the scheduling event
    moments = [Moment(p, e.meta.at, type(e).__qualname__) for p, e in events]
    return Timeline(moments, cut, board)


@router.get("/audit/workshops/{workshop_id}/board")
async def board_page(
    request: Request,
    workshop_id: UUID,
    caller: PageReadAudit,
    ctx: Ctx,
    position: Annotated[str, Query(max_length=20)] = "",
    at: Annotated[str, Query(max_length=40)] = "",
    step: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The board as it was at a log position, a time, or a slider step (the n-th event of
    the workshop); the latest when none is given.

    The fields come as text so an empty or half-typed field shows the latest board
    instead of an error page.
    """
    cut = Cut(_number(position), _parse_time(at), _number(step))
    timeline = await run(_timeline, ctx, str(workshop_id), cut)
    name = "auditor/_board.html" if _fragment(request) else "auditor/board.html"
    return page(request, name, timeline=timeline, board=timeline.board, when=_when)


def _number(text: str) -> int | None:
    return int(text.strip()) if text.strip().isdigit() else None


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        return None


@router.get("/audit/workshops/{workshop_id}/board/latest")
async def board_latest(
    request: Request, workshop_id: UUID, caller: PageReadAudit, ctx: Ctx
) -> Response:
    """The live part of the board page: how far the workshop's log runs now."""
    timeline = await run(_timeline, ctx, str(workshop_id), Cut())
    return page(request, "auditor/_latest.html", timeline=timeline, when=_when)


# ----- the audit trail --------------------------------------------------------------------------


@dataclass(frozen=True)
class TrailQuery:
    """The trail's filters as the form sends them (text), checked into search filters."""

    workshop: str = ""
    participant: str = ""
    initiative: str = ""
    actor: str = ""
    kind: str = ""
    q: str = ""
    after: str = ""

    def errors(self) -> list[str]:
        return [
            name for name in ("workshop", "participant", "initiative") if not _uuid_ok(self[name])
        ] + (["after"] if self.after.strip() and not self.after.strip().isdigit() else [])

    def __getitem__(self, name: str) -> str:
        return str(getattr(self, name))

    def filters(self) -> dict[str, Any]:
        """Keyword arguments for AuditTrailView.search (only when `errors()` is empty)."""
        return {
            "workshop_id": _uuid(self.workshop),
            "participant_id": _uuid(self.participant),
            "initiative_id": _uuid(self.initiative),
            "actor": self.actor.strip() or None,
            "text": self.q.strip() or None,
            "after_position": int(self.after) if self.after.strip() else None,
        }

    def url(self, path: str, **changes: str) -> str:
        values = {**vars(self), **changes}
        kept = {k: v for k, v in values.items() if v}
        return f"{path}?{urlencode(kept)}" if kept else path


def _uuid_ok(text: str) -> bool:
    return not text.strip() or _uuid(text) is not None


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text.strip()) if text.strip() else None
    except ValueError:
        return None


def _kind_matches(kind: str, wanted: str) -> bool:
    """ "Ballot" matches every Ballot event; "Ballot.Cast" only that one (any case)."""
    wanted = wanted.strip().lower()
    kind = kind.lower()
    return not wanted or kind == wanted or kind.startswith(wanted + ".")


def _rows(view: AuditTrailView, query: TrailQuery, limit: int | None) -> Iterator[TrailRow]:
    """Matching rows by position. The view has no kind filter, so kind is applied here."""
    rows = view.search_all(**query.filters())
    matching = (row for row in rows if _kind_matches(row.kind, query.kind))
    return matching if limit is None else islice(matching, limit)


def _trail_page(ctx: ApiContext, query: TrailQuery) -> tuple[list[TrailRow], bool]:
    view: AuditTrailView = ctx.view(AuditTrailView, AuditTrailProjection.name)
    rows = list(_rows(view, query, TRAIL_PAGE + 1))
    return rows[:TRAIL_PAGE], len(rows) > TRAIL_PAGE


@router.get("/audit/trail")
async def trail_page(  # noqa: PLR0913 - one parameter per filter, as the form has
    request: Request,
    caller: PageReadAudit,
    ctx: Ctx,
    workshop: Text = "",
    participant: Text = "",
    initiative: Text = "",
    actor: Text = "",
    kind: Text = "",
    q: Text = "",
    after: Text = "",
) -> Response:
    query = TrailQuery(workshop, participant, initiative, actor, kind, q, after)
    problems = query.errors()
    rows, more = ([], False) if problems else await run(_trail_page, ctx, query)
    workshops = await run(_summaries, ctx, caller)
    name = "auditor/_trail.html" if _fragment(request) else "auditor/trail.html"
    return page(
        request,
        name,
        status=422 if problems else 200,
        query=query,
        problems=problems,
        rows=rows,
        more=more,
        workshops=workshops,
        when=_when,
    )


@router.get("/audit/trail.{fmt}")
async def trail_export(  # noqa: PLR0913 - one parameter per filter, as the form has
    fmt: Literal["csv", "jsonl"],
    caller: PageReadAudit,
    ctx: Ctx,
    workshop: Text = "",
    participant: Text = "",
    initiative: Text = "",
    actor: Text = "",
    kind: Text = "",
    q: Text = "",
    after: Text = "",
) -> Response:
    """Every matching row (not just the page shown), as the API's export writes them."""
    query = TrailQuery(workshop, participant, initiative, actor, kind, q, after)
    if query.errors():
        raise PageError(422, "auditor.trail.bad_filter")
    view: AuditTrailView = await run(ctx.view, AuditTrailView, AuditTrailProjection.name)
    return StreamingResponse(
        _export(_rows(view, query, None), fmt),
        media_type=TRAIL_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="trail.{fmt}"'},
    )
