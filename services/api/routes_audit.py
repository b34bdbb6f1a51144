"""What an auditor does over HTTP, as `quickwins audit ...` does at the command line.

Everything here reads: the audit trail, the board at a past moment (folded
from the log), the recount of a decision, the decision record, the hash
chain, its signed checkpoints and the public key. The one write is an
on-demand checkpoint (see `checkpoint`), which adds nothing to the event log.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from pydantic_core import to_jsonable_python

from domain.tally import Result
from projections.audit_chain import AuditChainProjection, AuditChainView, Checkpoint
from projections.audit_trail import (
    CSV_COLUMNS,
    MAX_LIMIT,
    AuditTrailProjection,
    AuditTrailView,
    TrailRow,
    write_csv,
    write_jsonl,
)
from projections.board import BALLOT_CAST, PHASE_CLOSED
from projections.board_models import Board
from projections.time_travel import board_at

from .. import audit
from ..decision import (
    BALLOT_REVISED,
    RENDERERS,
    DecisionCheck,
    aggregate_at,
    decision_record,
    verify_decision,
    workshop_log,
)
from .auth import CheckpointAudit, ReadAudit, ReadBallots
from .context import ApiContext, Ctx, run
from .problems import ProblemError

router = APIRouter(tags=["audit"])
WorkshopRef = Annotated[str, Path(max_length=100, description="the workshop's id or code")]
At = Annotated[
    datetime | None,
    Query(description="a past time (no offset: the workshop's local time for boards, else UTC)"),
]
Position = Annotated[int | None, Query(ge=0, description="a log position")]
EXPORT_PAGE = 1000
RECORD_TYPES = {
    "json": "application/json",
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
TRAIL_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


# ----- response bodies --------------------------------------------------------------------


class TrailPage(BaseModel):
    rows: list[TrailRow]
    next_after: int | None = Field(description="pass as `after` for the next page (null: no more)")


class ChainVerdict(BaseModel):
    ok: bool
    summary: str
    checked: int
    position: int | None
    chain: str
    bad_position: int | None
    kind: str | None
    detail: str | None
    problems: list[str]
    checkpoints: int
    unsigned: int
    not_chained: int


class SignedCheckpoint(BaseModel):
    position: int
    count: int
    chain: str
    at: str
    reason: str
    signature: str | None


class BallotEvent(BaseModel):
    ballot_id: UUID
    participant_id: UUID
    event: Literal["cast", "revised"]
    choices: Any
    position: int
    at: datetime
    actor: str
    counted: bool = Field(description="recorded before the vote closed (so the tally counts it)")


class BallotLog(BaseModel):
    workshop_id: UUID
    close_position: int | None = Field(description="where the vote closed (null: still open)")
    ballots: list[BallotEvent]


def _signed(checkpoint: Checkpoint) -> SignedCheckpoint:
    return SignedCheckpoint.model_validate(checkpoint.as_json())


def _chain(ctx: ApiContext) -> AuditChainView:
    return ctx.view(AuditChainView, AuditChainProjection.name)  # type: ignore[no-any-return]


def _utc(at: datetime | None) -> datetime | None:
    return at if at is None or at.tzinfo else at.replace(tzinfo=UTC)


def _one_cut(at: datetime | None, position: int | None) -> None:
    if at is not None and position is not None:
        raise ProblemError(422, "Invalid input", "give at or position, not both", "at")


# ----- the audit trail ------------------------------------------------------------------------


@router.get(
    "/audit/trail",
    response_model=TrailPage,
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
)
async def trail(  # noqa: PLR0913 - one parameter per filter, as the CLI has
    caller: ReadAudit,
    ctx: Ctx,
    workshop_id: UUID | None = None,
    participant_id: UUID | None = None,
    initiative_id: UUID | None = None,
    key_area_id: UUID | None = None,
    programme_id: UUID | None = None,
    actor: Annotated[str | None, Query(max_length=200, description="e.g. manager:jo")] = None,
    correlation_id: UUID | None = None,
    text: Annotated[
        str | None, Query(max_length=500, description='words: cloud -hosting, "open data"')
    ] = None,
    since: Annotated[datetime | None, Query(description="acts at or after (UTC)")] = None,
    until: Annotated[datetime | None, Query(description="acts before (UTC)")] = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description="json: 100")] = None,
    after: Annotated[int | None, Query(ge=0, description="rows after this position")] = None,
    format: Literal["json", "csv", "jsonl"] = "json",  # noqa: A002 - the CLI's word
) -> Any:
    """Every recorded act with its actor, time, ids and subjects; filters combine.

    `json` answers one page (`limit`, default 100; go on with `after`); `csv`
    and `jsonl` stream every matching row (up to `limit` when given).
    """
    filters: dict[str, Any] = {
        "workshop_id": workshop_id,
        "participant_id": participant_id,
        "initiative_id": initiative_id,
        "key_area_id": key_area_id,
        "programme_id": programme_id,
        "actor": actor,
        "correlation_id": correlation_id,
        "text": text,
        "since": _utc(since),
        "until": _utc(until),
        "after_position": after,
    }
    if filters["since"] and filters["until"] and filters["since"] >= filters["until"]:
        raise ProblemError(422, "Invalid input", "since must be before until", "since")
    view: AuditTrailView = await run(ctx.view, AuditTrailView, AuditTrailProjection.name)
    if format == "json":
        rows: list[TrailRow] = await run(lambda: view.search(**filters, limit=limit or 100))
        more = len(rows) == (limit or 100)
        return TrailPage(rows=rows, next_after=rows[-1].position if more else None)
    chunks = _export(view.search_all(limit=limit, **filters), format)
    return StreamingResponse(
        chunks,
        media_type=TRAIL_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="trail.{format}"'},
    )


def _export(rows: Iterable[TrailRow], format: str) -> Iterator[str]:  # noqa: A002
    """The rows as CSV (one header) or JSON lines, a page at a time."""
    write: Callable[[Iterable[TrailRow], io.StringIO], int] = (
        write_csv if format == "csv" else write_jsonl
    )
    source = iter(rows)
    first = True
    while page := list(islice(source, EXPORT_PAGE)):
        out = io.StringIO()
        write(page, out)
        text = out.getvalue()
        # write_csv starts every page with the header: keep only the first.
        yield text if first or format != "csv" else text.split("\n", 1)[1]
        first = False
    if first and format == "csv":
        yield ",".join(CSV_COLUMNS) + "\n"


# ----- decisions ----------------------------------------------------------------------------


@router.get("/audit/workshops/{workshop}/state", response_model=Board)
async def state(
    workshop: WorkshopRef, caller: ReadAudit, ctx: Ctx, at: At = None, position: Position = None
) -> Board:
    """The board as the room saw it at a past time or log position, folded from the log."""
    _one_cut(at, position)
    found: Board | None = await run(_board_at, ctx, workshop, at, position)
    if found is None:
        raise ProblemError(
            404,
            "Not found",
            "the workshop was not scheduled yet at that point",
            "at" if at else "position",
        )
    return found


def _board_at(ctx: ApiContext, ref: str, at: datetime | None, position: int | None) -> Board | None:
    found, events = workshop_log(ctx.app, ref)
    if at is not None and at.tzinfo is None:  # as the CLI reads it: the room's clock
        at = at.replace(tzinfo=events[0][1].starts_at.tzinfo)
    return board_at(found, events, position=position, at=at)


@router.get("/audit/aggregates/{aggregate_id}")
async def aggregate(
    aggregate_id: UUID, caller: ReadAudit, ctx: Ctx, at: At = None, position: Position = None
) -> dict[str, Any]:
    """Any aggregate (idea, ballot, initiative, ...) as it was at a past time or position."""
    _one_cut(at, position)
    found = await run(lambda: aggregate_at(ctx.app, aggregate_id, position=position, at=_utc(at)))
    if found is None:
        raise ProblemError(404, "Not found", "no such aggregate at that point", "aggregate_id")
    state = {"type": type(found).__name__, "id": found.id, "version": found.version}
    state.update({k: v for k, v in vars(found).items() if not k.startswith("_")})
    plain: dict[str, Any] = to_jsonable_python(state, fallback=_fallback)
    return plain


def _fallback(value: Any) -> Any:
    return vars(value) if hasattr(value, "__dict__") else str(value)


@router.get("/audit/workshops/{workshop}/decision", response_model=DecisionCheck)
async def decision(workshop: WorkshopRef, caller: ReadAudit, ctx: Ctx) -> DecisionCheck:
    """The declared result recomputed from the raw ballots up to the vote's close."""
    return await run(verify_decision, ctx.app, workshop)  # type: ignore[no-any-return]


@router.post("/audit/workshops/{workshop}/decision", response_model=DecisionCheck)
async def check_copy(
    workshop: WorkshopRef, claimed: Result, caller: ReadAudit, ctx: Ctx
) -> DecisionCheck:
    """Check a copy of the result someone handed over against the recount (records nothing)."""
    return await run(verify_decision, ctx.app, workshop, claimed)  # type: ignore[no-any-return]


@router.get(
    "/audit/workshops/{workshop}/record",
    response_class=Response,
    responses={200: {"content": {v.split(";")[0]: {} for v in RECORD_TYPES.values()}}},
)
async def record(
    workshop: WorkshopRef,
    caller: ReadAudit,
    ctx: Ctx,
    format: Literal["json", "md", "html"] = "json",  # noqa: A002 - the CLI's word
) -> Response:
    """The decision record (agenda as run, eligible voters, tally) with its signed checkpoint."""
    text = await run(_record, ctx, workshop, format)
    return Response(text, media_type=RECORD_TYPES[format])


def _record(ctx: ApiContext, ref: str, format: str) -> str:  # noqa: A002
    signed = audit.attach_checkpoint(ctx.stack, decision_record(ctx.app, ref))
    return RENDERERS[format](signed)


@router.get("/workshops/{workshop_id}/ballots", response_model=BallotLog)
async def ballots(workshop_id: UUID, caller: ReadBallots, ctx: Ctx) -> BallotLog:
    """Every ballot event of the workshop from the log, as the recount reads them."""
    return await run(_ballots, ctx, workshop_id)  # type: ignore[no-any-return]


def _ballots(ctx: ApiContext, workshop_id: UUID) -> BallotLog:
    found, events = workshop_log(ctx.app, workshop_id)
    close = next((p for p, e in events if isinstance(e, PHASE_CLOSED) and e.kind == "vote"), None)
    voters: dict[UUID, UUID] = {}
    rows = []
    for position, event in events:
        if isinstance(event, BALLOT_CAST):
            voters[event.originator_id] = event.participant_id
        if isinstance(event, BALLOT_CAST | BALLOT_REVISED):
            rows.append(
                BallotEvent(
                    ballot_id=event.originator_id,
                    participant_id=voters[event.originator_id],
                    event="cast" if isinstance(event, BALLOT_CAST) else "revised",
                    choices=event.choices,
                    position=position,
                    at=event.meta.at,
                    actor=event.meta.actor,
                    counted=close is not None and position <= close,
                )
            )
    return BallotLog(workshop_id=found, close_position=close, ballots=rows)


# ----- the hash chain ---------------------------------------------------------------------------


@router.get("/audit/chain", response_model=ChainVerdict)
async def verify(caller: ReadAudit, ctx: Ctx) -> ChainVerdict:
    """Re-read every stored event and check it against the hash chain and the checkpoints."""
    verdict = await run(audit.verify, ctx.stack)
    return ChainVerdict(
        ok=verdict.ok,
        summary=verdict.summary(),
        checked=verdict.checked,
        position=verdict.position,
        chain=verdict.chain.hex(),
        bad_position=verdict.bad_position,
        kind=verdict.kind,
        detail=verdict.detail or None,
        problems=verdict.problems,
        checkpoints=verdict.checkpoints,
        unsigned=verdict.unsigned,
        not_chained=verdict.not_chained,
    )


@router.get("/audit/checkpoints", response_model=list[SignedCheckpoint])
async def checkpoints(caller: ReadAudit, ctx: Ctx) -> list[SignedCheckpoint]:
    """The signed checkpoints, by position: one at every results declaration, and on demand."""
    found: list[Checkpoint] = await run(lambda: _chain(ctx).checkpoints())
    return [_signed(c) for c in found]


@router.post("/audit/checkpoints", status_code=201, response_model=SignedCheckpoint)
async def checkpoint(caller: CheckpointAudit, ctx: Ctx) -> SignedCheckpoint:
    """Sign a checkpoint at the chain's head now.

    Auditors may ask for one although they never write to the log: a
    checkpoint is not a domain event. It is a row in the audit chain's own
    table (position, count, chain hash, time, signature), outside the event
    store, changing no aggregate and no read model of the domain. It pins
    the head at the moment of an audit, so any later alteration of what was
    stored before it is provable; refusing it would leave auditors to trust
    only the checkpoints the system chose to take.
    """
    if not ctx.app.max_position():
        raise ProblemError(409, "Empty log", "the log is empty: there is nothing to sign")
    return _signed(await run(audit.record_checkpoint, ctx.stack))


@router.get(
    "/audit/public-key",
    response_class=Response,
    responses={200: {"content": {"application/x-pem-file": {}}}},
)
async def public_key(caller: ReadAudit, ctx: Ctx) -> Response:
    """The Ed25519 public key (PEM) that checks the checkpoints' signatures offline."""
    key = await run(audit.load_key, audit.key_path(ctx.stack.settings.data_dir))
    return Response(
        key.public_pem(),
        media_type="application/x-pem-file",
        headers={"X-Key-Fingerprint": key.fingerprint()},
    )
