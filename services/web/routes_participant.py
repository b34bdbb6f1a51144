"""Pages for the participant: one page per workshop that follows the agenda live.

The page shows the phase and its countdown, the briefing, and what the current
phase lets a participant do. Every act goes through the API's own route
functions (services.api.routes_participants), so the rules, scope checks and
the ballot box's group commit are exactly the API's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from domain.agenda import VotingRules
from domain.ballot import Ballot, ballot_id
from domain.errors import DomainError
from domain.signup import SignUp, sign_up_id
from projections.board_models import Board, BoardIdea, BoardKeyArea, BoardProject

from ..api import routes_participants as acts
from ..api.context import ApiContext, Ctx, run
from ..api.models import BallotChoices, IdeaText, ProjectDraft, ProjectRevision
from ..api.models import SignUp as SignUpBody
from ..api.problems import ProblemError
from ..api.routes_workshops import in_scope
from ..api.tokens import Caller
from .i18n import t
from .render import back, page
from .session import CheckedForm, PageError, PageTakePart

router = APIRouter(prefix="/ui", include_in_schema=False)

CLOCK_TTL = 1.0  # seconds an agenda status is reused, so a room refreshing at once asks once


@dataclass(frozen=True)
class Clock:
    """The phase clock as the countdown element needs it."""

    end: datetime | None  # real time the phase ends (ticking), None when stopped
    scale: float  # scenario seconds per real second
    left: float | None  # seconds left when paused (frozen)
    paused: bool


@dataclass(frozen=True)
class Mine:
    """What belongs to the signed-in participant on this board."""

    me: UUID
    ideas: list[BoardIdea]
    area: BoardKeyArea | None  # the group signed up to (through key-area merges)
    ballot: dict[str, Any] | None  # the ballot's choices, if cast
    counted: bool | None  # after results: whether the ballot was counted


_clocks: dict[UUID, tuple[float, Clock | None]] = {}


def _url(workshop_id: UUID) -> str:
    return f"/ui/workshops/{workshop_id}"


async def _scoped(ctx: ApiContext, caller: Caller, workshop_id: UUID) -> None:
    """A participant's own workshop only: the error page otherwise."""
    try:
        await in_scope(ctx, caller, workshop_id)
    except ProblemError as error:
        raise PageError(403, "error.forbidden") from error
    except DomainError as error:
        raise PageError(404, "error.not_found") from error


def _board(ctx: ApiContext, workshop_id: UUID) -> Board:
    found = ctx.board().board(workshop_id)
    if found is None:
        raise PageError(404, "error.not_found")
    return found  # type: ignore[no-any-return]


def _area_of(board: Board, key_area_id: UUID) -> BoardKeyArea | None:
    for area in board.key_areas:
        if area.id == key_area_id or key_area_id in area.merged_from:
            return area
    return None


def _all_ideas(board: Board) -> list[BoardIdea]:
    ideas = list(board.ungrouped)
    for area in board.key_areas:
        ideas.extend(area.ideas)
    return sorted(ideas, key=lambda idea: idea.position)


def _mine(ctx: ApiContext, board: Board, me: UUID) -> Mine:
    signup = ctx.app.find(SignUp, sign_up_id(board.id, me))
    ballot = ctx.app.find(Ballot, ballot_id(board.id, me))
    counted: bool | None = None
    if board.results is not None and ballot is not None:
        position = ctx.app.position_of(ballot.id, ballot.version)
        counted = position <= int(board.results.get("counted_up_to", 0))
    return Mine(
        me=me,
        ideas=[idea for idea in _all_ideas(board) if idea.author_id == me],
        area=_area_of(board, signup.key_area_id) if signup is not None else None,
        ballot=dict(ballot.choices) if ballot is not None else None,
        counted=counted,
    )


async def _agenda_clock(ctx: ApiContext, workshop_id: UUID) -> Clock | None:
    """The running agenda's clock (real deadline and time scale), or None without one."""
    from workflows.agenda import WorkshopAgenda
    from workflows.worker import agenda_handle

    cached = _clocks.get(workshop_id)
    if cached is not None and time.monotonic() - cached[0] < CLOCK_TTL:
        return cached[1]
    clock: Clock | None = None
    try:
        handle = agenda_handle(await ctx.temporal(), workshop_id)
        status = await asyncio.wait_for(handle.query(WorkshopAgenda.status), 2.0)
        if status.open and not status.finished:
            clock = Clock(
                end=status.deadline,
                scale=status.time_scale,
                left=status.seconds_left_at(datetime.now(UTC)),
                paused=status.paused,
            )
    except Exception:  # noqa: BLE001 - no agenda running (or no Temporal): the board's clock
        clock = None
    _clocks[workshop_id] = (time.monotonic(), clock)
    return clock


def _board_clock(board: Board) -> Clock | None:
    """The clock as the board records it (phases opened by hand, at real time)."""
    if board.phase is None or not board.phase.timed:
        return None
    left = board.time_left(datetime.now(UTC))
    paused = board.phase.paused_at is not None
    return Clock(
        end=None if paused else board.ends_at,
        scale=1.0,
        left=left.total_seconds() if left is not None else None,
        paused=paused,
    )


async def _clock(ctx: ApiContext, board: Board) -> Clock | None:
    if board.phase is None or not board.phase.timed:
        return None
    return await _agenda_clock(ctx, board.id) or _board_clock(board)


def _project_ideas(board: Board, project: BoardProject) -> list[BoardIdea]:
    """The project's ideas as the board shows them (withdrawn or merged ones drop out)."""
    by_id = {idea.id: idea for idea in _all_ideas(board)}
    return [by_id[i] for i in project.idea_ids if i in by_id]


def _kind(board: Board) -> str:
    """The phase to show: the open one, or 'between' while the next has not opened."""
    if board.phase is None:
        return "waiting"
    if not board.phase.open:
        return "between"
    return board.phase.kind.value


async def _context(
    ctx: ApiContext, caller: Caller, workshop_id: UUID, *, status: bool, stage: bool
) -> dict[str, Any]:
    """What the templates show; a live refresh of one part reads only what that part needs."""
    await _scoped(ctx, caller, workshop_id)
    if caller.participant_id is None:
        raise PageError(403, "error.forbidden")
    board: Board = await run(_board, ctx, workshop_id)
    mine: Mine | None = await run(_mine, ctx, board, caller.participant_id) if stage else None
    return {
        "board": board,
        "mine": mine,
        "kind": _kind(board),
        "clock": await _clock(ctx, board) if status else None,
        "url": _url(workshop_id),
        "ideas": _all_ideas(board),
        "titles": {str(p.id): p.title for p in board.projects},
        "criteria": list(enumerate(board.voting.criteria)),
        "project_ideas": {str(p.id): _project_ideas(board, p) for p in board.projects},
    }


@router.get("/workshops/{workshop_id}")
async def workshop_page(
    request: Request, workshop_id: UUID, caller: PageTakePart, ctx: Ctx
) -> Response:
    context = await _context(ctx, caller, workshop_id, status=True, stage=True)
    return page(request, "participant/workshop.html", **context)


@router.get("/workshops/{workshop_id}/part/status")
async def status_part(
    request: Request, workshop_id: UUID, caller: PageTakePart, ctx: Ctx
) -> Response:
    context = await _context(ctx, caller, workshop_id, status=True, stage=False)
    return page(request, "participant/_status.html", **context)


@router.get("/workshops/{workshop_id}/part/stage")
async def stage_part(
    request: Request, workshop_id: UUID, caller: PageTakePart, ctx: Ctx
) -> Response:
    context = await _context(ctx, caller, workshop_id, status=False, stage=True)
    return page(request, "participant/_stage.html", **context)


async def _act(workshop_id: UUID, done: Awaitable[Any], notice_key: str) -> Response:
    """Run one act; back to the page with a notice, or with the rule that refused it."""
    url = _url(workshop_id)
    try:
        await done
    except DomainError as error:
        return back(url, error=error.message)
    except ProblemError as error:
        return back(url, error=error.detail)
    return back(url, notice=t(notice_key))


def _invalid(workshop_id: UUID, error: ValidationError) -> Response:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return back(_url(workshop_id), error=t("participant.invalid", field=where, why=first["msg"]))


def _ids(form: dict[str, str], prefix: str) -> list[UUID]:
    """Checked boxes named `prefix:<uuid>` (one name each: the form is read as a flat dict)."""
    found = []
    for name in form:
        if name.startswith(prefix):
            try:
                found.append(UUID(name[len(prefix) :]))
            except ValueError:
                continue
    return found


@router.post("/workshops/{workshop_id}/ideas")
async def submit_idea(
    workshop_id: UUID, caller: PageTakePart, ctx: Ctx, form: CheckedForm
) -> Response:
    try:
        body = IdeaText(text=form.get("text", "").strip())
    except ValidationError as error:
        return _invalid(workshop_id, error)
    done = acts.submit_idea(workshop_id, body, caller, ctx, uuid4())
    return await _act(workshop_id, done, "participant.idea.submitted")


@router.post("/workshops/{workshop_id}/ideas/{idea_id}/edit")
async def edit_idea(
    workshop_id: UUID, idea_id: UUID, caller: PageTakePart, ctx: Ctx, form: CheckedForm
) -> Response:
    try:
        body = IdeaText(text=form.get("text", "").strip())
    except ValidationError as error:
        return _invalid(workshop_id, error)
    done = acts.edit_idea(workshop_id, idea_id, body, caller, ctx, uuid4())
    return await _act(workshop_id, done, "participant.idea.edited")


@router.post("/workshops/{workshop_id}/ideas/{idea_id}/withdraw")
async def withdraw_idea(
    workshop_id: UUID, idea_id: UUID, caller: PageTakePart, ctx: Ctx, form: CheckedForm
) -> Response:
    done = acts.withdraw_idea(workshop_id, idea_id, caller, ctx, uuid4())
    return await _act(workshop_id, done, "participant.idea.withdrawn")


@router.post("/workshops/{workshop_id}/signup")
async def sign_up(workshop_id: UUID, caller: PageTakePart, ctx: Ctx, form: CheckedForm) -> Response:
    """Sign up to a group, or switch to it if already signed up to another."""
    try:
        body = SignUpBody(key_area_id=form.get("key_area_id", ""))  # type: ignore[arg-type]
    except ValidationError as error:
        return _invalid(workshop_id, error)
    me = caller.participant_id
    existing = me and await run(ctx.app.find, SignUp, sign_up_id(workshop_id, me))
    if existing:
        done = acts.switch_group(workshop_id, body, caller, ctx, uuid4())
        return await _act(workshop_id, done, "participant.group.switched")
    done = acts.sign_up(workshop_id, body, caller, ctx, uuid4())
    return await _act(workshop_id, done, "participant.group.joined")


@router.post("/workshops/{workshop_id}/projects")
async def propose_project(
    workshop_id: UUID, caller: PageTakePart, ctx: Ctx, form: CheckedForm
) -> Response:
    try:
        body = ProjectDraft(
            key_area_id=form.get("key_area_id", ""),  # type: ignore[arg-type]
            title=form.get("title", "").strip(),
            summary=form.get("summary", "").strip(),
            idea_ids=_ids(form, "idea:"),
        )
    except ValidationError as error:
        return _invalid(workshop_id, error)
    done = acts.propose_project(workshop_id, body, caller, ctx, uuid4())
    return await _act(workshop_id, done, "participant.project.proposed")


@router.post("/workshops/{workshop_id}/projects/{project_id}/revise")
async def revise_project(
    workshop_id: UUID, project_id: UUID, caller: PageTakePart, ctx: Ctx, form: CheckedForm
) -> Response:
    try:
        body = ProjectRevision(
            title=form.get("title", "").strip(),
            summary=form.get("summary", "").strip(),
            idea_ids=_ids(form, "idea:"),
            co_proposer_ids=_ids(form, "proposer:"),  # the proposers stay as they were
        )
    except ValidationError as error:
        return _invalid(workshop_id, error)
    done = acts.revise_project(workshop_id, project_id, body, caller, ctx, uuid4())
    return await _act(workshop_id, done, "participant.project.revised")


def _number(text: str) -> int | str:
    """A whole number as typed; anything else is passed on for the domain to refuse."""
    try:
        return int(text.strip())
    except ValueError:
        return text


def _choices(rules: VotingRules, form: dict[str, str]) -> dict[str, Any]:
    """The ballot form as the domain's choices for the workshop's method."""
    if rules.method == "approval":
        return {str(p): 1 for p in _ids(form, "approve:")}
    if rules.method == "dots":
        return {
            name[len("dots:") :]: _number(value)
            for name, value in form.items()
            if name.startswith("dots:") and value.strip() not in ("", "0")
        }
    scores: dict[str, dict[str, Any]] = {}
    for name, value in form.items():
        if not name.startswith("score:") or not value.strip():
            continue
        _, project, index = name.split(":", 2)
        if index.isdigit() and int(index) < len(rules.criteria):
            scores.setdefault(project, {})[rules.criteria[int(index)].name] = _number(value)
    return scores


@router.post("/workshops/{workshop_id}/ballot")
async def vote(workshop_id: UUID, caller: PageTakePart, ctx: Ctx, form: CheckedForm) -> Response:
    """Cast the ballot, or revise it if already cast."""
    await _scoped(ctx, caller, workshop_id)
    board: Board = await run(_board, ctx, workshop_id)
    try:
        body = BallotChoices(choices=_choices(board.voting, form))
    except ValidationError as error:
        return _invalid(workshop_id, error)
    me = caller.participant_id
    cast = me and await run(ctx.app.find, Ballot, ballot_id(workshop_id, me))
    if cast:
        done = acts.revise_ballot(workshop_id, body, caller, ctx, uuid4())
        return await _act(workshop_id, done, "participant.vote.revised")
    done = acts.cast_ballot(workshop_id, body, caller, ctx, uuid4())
    return await _act(workshop_id, done, "participant.vote.cast_done")
