"""Pages for the facilitator: the console that runs a workshop, and the big screen.

Every act goes through the API's own route functions (services.api.routes_workshops
and routes_agenda), so the scope checks, the agenda workflow's updates and the
domain rules are the very same ones a script meets. A form post answers with a
redirect carrying one message; the parts of each page re-read themselves from
`.../part/<name>` whenever the live channel says something changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.utils import get_topic
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from domain.agenda import PhaseKind
from domain.errors import DomainError, UnknownId
from projections.board import (
    PHASE_CLOSED,
    PHASE_EXTENDED,
    PHASE_OPENED,
    PHASE_PAUSED,
    PHASE_RESUMED,
)
from projections.board_models import Board
from workflows.agenda import AgendaStatus

from ..api import routes_agenda as agenda_api
from ..api import routes_workshops as workshops_api
from ..api.context import ApiContext, Ctx, run
from ..api.models import (
    AgendaStart,
    Briefing,
    Capacity,
    Extension,
    Grouping,
    IdeaMerge,
    KeyAreaName,
    PitchSlot,
)
from ..api.problems import ProblemError
from ..api.tokens import Caller
from ..decision import AgendaItem, agenda_as_it_ran, read_log
from .i18n import t
from .render import back, page
from .session import CheckedForm, PageError, PageReadWorkshops, PageRunWorkshops

router = APIRouter(prefix="/ui", include_in_schema=False)

PHASE_TOPICS = tuple(
    get_topic(cls)
    for cls in (PHASE_OPENED, PHASE_CLOSED, PHASE_EXTENDED, PHASE_PAUSED, PHASE_RESUMED)
)
CONSOLE_PARTS = ("clock", "agenda", "briefing", "areas", "merge", "pitch", "results", "counts")
SCREEN_PARTS = ("clock", "ideas", "signups", "pitch", "results")
START_WAIT_STEPS = 50  # tenths of a second
RECENT_IDEAS = 8  # the screen shows the newest few: it must stay readable from the back


# ----- reading what the pages show --------------------------------------------------------


async def _workshop(ctx: ApiContext, caller: Caller, workshop_id: UUID) -> None:
    """The API's scope check, answered with the error page instead of a problem document."""
    try:
        await workshops_api.in_scope(ctx, caller, workshop_id)
    except UnknownId:
        raise PageError(404, "error.not_found") from None
    except ProblemError as error:
        raise PageError(404 if error.status == 404 else 403, "error.forbidden") from None


async def _board(ctx: ApiContext, workshop_id: UUID) -> Board:
    found: Board | None = await run(lambda: ctx.board().board(workshop_id))
    if found is None:
        raise PageError(404, "error.not_found")
    return found


async def _agenda_status(ctx: ApiContext, caller: Caller, workshop_id: UUID) -> AgendaStatus | None:
    """The agenda workflow's status; None before it starts (or with no Temporal at all)."""
    try:
        return await agenda_api.status(workshop_id, caller, ctx)
    except ProblemError:
        return None


def _agenda_rows(ctx: ApiContext, board: Board) -> list[AgendaItem]:
    """The agenda as it ran so far: planned times from the schedule, actual ones from the log."""
    events = [
        (position, event)
        for position, event in read_log(ctx.app, topics=PHASE_TOPICS)
        if event.originator_id == board.id
    ]
    return agenda_as_it_ran(board, events)


def _clock(board: Board, status: AgendaStatus | None, now: datetime) -> dict[str, Any]:
    """What the countdown shows: a ticking end (real time and scale) or a frozen time left."""
    phase = board.phase
    clock: dict[str, Any] = {
        "kind": phase.kind.value if phase else None,
        "open": bool(phase and phase.open),
        "paused": bool(phase and phase.paused_at is not None),
        "end": None,
        "scale": 1.0,
        "left": None,
        "started": status is not None,
        "finished": bool(status and status.finished),
    }
    if status is not None and status.open and status.deadline and not status.paused:
        # The workflow knows the real deadline even when time runs faster than real time.
        clock.update(
            end=status.deadline.isoformat(),
            scale=status.time_scale,
            left=status.seconds_left_at(now),
        )
    elif (left := board.time_left(now)) is not None:
        # No workflow to ask (run by hand): the board's own clock, in real time.
        ends = board.ends_at
        clock.update(end=ends.isoformat() if ends else None, left=left.total_seconds())
    return clock


def mmss(seconds: float | None) -> str:
    """Minutes and seconds, as the countdown script writes them (so a refresh does not jump)."""
    if seconds is None:
        return ""
    whole = max(0, round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def number(value: float) -> str:
    """2.0 -> "2", 1.5 -> "1.5"."""
    return f"{value:.1f}".removesuffix(".0")


def span(minutes: float) -> str:
    """A length of time for the agenda table: seconds when under a minute."""
    if 0 < minutes < 1:
        return t("facilitator.agenda.seconds", seconds=round(minutes * 60))
    return t("facilitator.agenda.minutes", minutes=number(minutes))


def _pitch(board: Board, now: datetime) -> dict[str, Any] | None:
    """The project pitching now and when its slot runs out (pitches are acted in real time)."""
    if board.pitching is None:
        return None
    project = next((p for p in board.projects if p.id == board.pitching), None)
    if project is None:
        return None
    if project.pitched_at is None:
        return {"project": project, "end": None, "left": None}
    end = project.pitched_at + timedelta(minutes=board.voting.pitch_minutes)
    left = max((end - now).total_seconds(), 0.0)
    return {"project": project, "end": end.isoformat(), "left": left}


def _results(board: Board) -> list[dict[str, Any]]:
    """The declared ranking, one row per project, with its support."""
    if not board.results:
        return []
    totals = {str(row["project_id"]): row for row in board.results.get("totals", [])}
    winners = {str(w) for w in board.results.get("winners", [])}
    rows = []
    for entry in board.results.get("ranking", []):
        for project_id in entry["project_ids"]:
            total = totals.get(str(project_id), {})
            rows.append(
                {
                    "rank": entry["rank"],
                    "tied": entry["tied"],
                    "title": total.get("title", ""),
                    "total": total.get("total", 0),
                    "supporters": total.get("supporters", 0),
                    "share": total.get("share", 0.0),
                    "winner": str(project_id) in winners,
                }
            )
    return rows


def _vote_state(board: Board) -> str:
    """'before', 'open', 'closed' (not yet declared) or 'declared'."""
    if board.results:
        return "declared"
    kinds = [p.kind for p in board.agenda.phases]
    if PhaseKind.VOTE not in kinds or board.phase is None:
        return "before"
    vote_index = kinds.index(PhaseKind.VOTE)
    if board.phase.index < vote_index:
        return "before"
    if board.phase.index == vote_index and board.phase.open:
        return "open"
    return "closed"


def _ideas(board: Board) -> list[Any]:
    every = list(board.ungrouped) + [idea for area in board.key_areas for idea in area.ideas]
    return sorted(every, key=lambda idea: idea.position)


def _area_names(board: Board) -> dict[UUID, str]:
    return {area.id: area.name for area in board.key_areas}


async def _context(
    ctx: ApiContext, caller: Caller, workshop_id: UUID, clock: bool = True
) -> dict[str, Any]:
    """Everything a page or part shows; `clock=False` spares a part the workflow query."""
    await _workshop(ctx, caller, workshop_id)
    board = await _board(ctx, workshop_id)
    status = await _agenda_status(ctx, caller, workshop_id) if clock else None
    now = datetime.now(UTC)
    ideas = _ideas(board)
    open_kind = board.phase.kind if board.phase and board.phase.open else None
    return {
        # Offer only the acts the open phase allows (the domain checks again anyway).
        "grouping": open_kind == PhaseKind.GROUPING,
        "merging": open_kind in (PhaseKind.BRAINSTORM, PhaseKind.GROUPING),
        "pitching": open_kind == PhaseKind.PITCHES,
        "over": open_kind == PhaseKind.CLOSED or bool(board.results),
        "board": board,
        "agenda_status": status,  # not "status": page() takes that as the HTTP status
        "clock": _clock(board, status, now),
        "pitch": _pitch(board, now),
        "results": _results(board),
        "vote": _vote_state(board),
        "ideas": ideas,
        "recent": list(reversed(ideas))[:RECENT_IDEAS],
        "area_names": _area_names(board),
        "mmss": mmss,
        "number": number,
        "span": span,
        "kinds": [phase.kind.value for phase in board.agenda.phases],
        "base": f"/ui/facilitate/{workshop_id}",
        "live": f"/ui/live?workshop={workshop_id}",
    }


# ----- the console ------------------------------------------------------------------------


@router.get("/facilitate/{workshop_id}")
async def console(
    request: Request, workshop_id: UUID, caller: PageRunWorkshops, ctx: Ctx
) -> Response:
    context = await _context(ctx, caller, workshop_id)
    context["agenda"] = await run(_agenda_rows, ctx, context["board"])
    return page(request, "facilitator/console.html", **context)


@router.get("/facilitate/{workshop_id}/part/{part}")
async def console_part(
    request: Request, workshop_id: UUID, part: str, caller: PageRunWorkshops, ctx: Ctx
) -> Response:
    if part not in CONSOLE_PARTS:
        raise PageError(404, "error.not_found")
    context = await _context(ctx, caller, workshop_id, clock=part == "clock")
    if part == "agenda":
        context["agenda"] = await run(_agenda_rows, ctx, context["board"])
    return page(request, f"facilitator/_{part}.html", **context)


# ----- the big screen ---------------------------------------------------------------------


@router.get("/screen/{workshop_id}")
async def screen(
    request: Request, workshop_id: UUID, caller: PageReadWorkshops, ctx: Ctx
) -> Response:
    context = await _context(ctx, caller, workshop_id)
    return page(request, "facilitator/screen.html", **context)


@router.get("/screen/{workshop_id}/part/{part}")
async def screen_part(
    request: Request, workshop_id: UUID, part: str, caller: PageReadWorkshops, ctx: Ctx
) -> Response:
    if part not in SCREEN_PARTS:
        raise PageError(404, "error.not_found")
    context = await _context(ctx, caller, workshop_id, clock=part == "clock")
    return page(request, f"facilitator/_screen_{part}.html", **context)


# ----- the facilitator's acts -------------------------------------------------------------


async def _act(url: str, act: Callable[[], Awaitable[Any]], notice: str) -> Response:
    """Do one act; back to the console with its outcome (a broken rule is said, not raised)."""
    try:
        await act()
    except ValidationError as error:
        first = error.errors()[0]
        return back(url, error=f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    except DomainError as error:
        return back(url, error=error.message)
    except ProblemError as error:
        if error.status == 403:
            raise PageError(403, "error.forbidden") from None
        return back(url, error=error.detail)
    return back(url, notice=t(notice))


def _uuid(form: dict[str, str], name: str) -> UUID:
    try:
        return UUID(form.get(name, ""))
    except ValueError:
        raise DomainError(t("facilitator.pick_one"), name) from None


def _number(form: dict[str, str], name: str) -> float:
    try:
        return float(form.get(name, ""))
    except ValueError:
        raise DomainError(t("facilitator.number_needed"), name) from None


async def _first_phase_open(ctx: ApiContext, caller: Caller, workshop_id: UUID) -> None:
    """Wait (briefly) until the new run has recorded its first phase opening, so the page
    the facilitator lands on already shows it rather than waiting for the live channel."""
    for _ in range(START_WAIT_STEPS):
        status = await agenda_api.status(workshop_id, caller, ctx)
        if status.open or status.finished:
            return
        await asyncio.sleep(0.1)


@router.post("/facilitate/{workshop_id}/agenda/{step}")
async def agenda_step(
    workshop_id: UUID, step: str, form: CheckedForm, caller: PageRunWorkshops, ctx: Ctx
) -> Response:
    """Start, advance, extend, pause or resume the agenda workflow."""
    url = f"/ui/facilitate/{workshop_id}"

    async def act() -> Any:
        if step == "start":
            body = AgendaStart(time_scale=_number(form, "time_scale"))
            await agenda_api.start(workshop_id, body, caller, ctx)
            return await _first_phase_open(ctx, caller, workshop_id)
        if step == "extend":
            extension = Extension(minutes=_number(form, "minutes"))
            return await agenda_api.extend(workshop_id, extension, caller, ctx)
        if step in ("advance", "pause", "resume"):
            return await getattr(agenda_api, step)(workshop_id, caller, ctx)
        raise PageError(404, "error.not_found")

    return await _act(url, act, f"facilitator.done.{step}")


@router.post("/facilitate/{workshop_id}/briefing")
async def briefing(
    workshop_id: UUID, form: CheckedForm, caller: PageRunWorkshops, ctx: Ctx
) -> Response:
    async def act() -> Any:
        body = Briefing(text=form.get("text", "").strip())
        return await workshops_api.publish_briefing(workshop_id, body, caller, ctx, uuid4())

    return await _act(f"/ui/facilitate/{workshop_id}", act, "facilitator.done.briefing")


@router.post("/facilitate/{workshop_id}/key-areas")
async def define_area(
    workshop_id: UUID, form: CheckedForm, caller: PageRunWorkshops, ctx: Ctx
) -> Response:
    async def act() -> Any:
        body = KeyAreaName(name=form.get("name", "").strip())
        return await workshops_api.define_key_area(workshop_id, body, caller, ctx, uuid4())

    return await _act(f"/ui/facilitate/{workshop_id}#areas", act, "facilitator.done.area")


@router.post("/facilitate/{workshop_id}/key-areas/{area_id}/{change}")
async def change_area(
    workshop_id: UUID,
    area_id: UUID,
    change: str,
    form: CheckedForm,
    caller: PageRunWorkshops,
    ctx: Ctx,
) -> Response:
    """Rename a key area or set its group's capacity."""

    async def act() -> Any:
        if change == "rename":
            body = KeyAreaName(name=form.get("name", "").strip())
            return await workshops_api.rename_key_area(
                workshop_id, area_id, body, caller, ctx, uuid4()
            )
        if change == "capacity":
            capacity = Capacity(capacity=int(_number(form, "capacity")))
            return await workshops_api.set_capacity(
                workshop_id, area_id, capacity, caller, ctx, uuid4()
            )
        raise PageError(404, "error.not_found")

    return await _act(f"/ui/facilitate/{workshop_id}#areas", act, f"facilitator.done.{change}")


@router.post("/facilitate/{workshop_id}/ideas/{idea_id}/group")
async def group_idea(
    workshop_id: UUID, idea_id: UUID, form: CheckedForm, caller: PageRunWorkshops, ctx: Ctx
) -> Response:
    """One form for both ways of grouping: the select and button, or a drop (facilitator.js)."""

    async def act() -> Any:
        body = Grouping(key_area_id=_uuid(form, "key_area_id"))
        return await workshops_api.group_idea(workshop_id, idea_id, body, caller, ctx, uuid4())

    return await _act(f"/ui/facilitate/{workshop_id}#areas", act, "facilitator.done.group")


@router.post("/facilitate/{workshop_id}/ideas/merge")
async def merge_ideas(
    workshop_id: UUID, form: CheckedForm, caller: PageRunWorkshops, ctx: Ctx
) -> Response:
    async def act() -> Any:
        duplicate = _uuid(form, "idea_id")
        body = IdeaMerge(target_id=_uuid(form, "target_id"))
        return await workshops_api.merge_idea(workshop_id, duplicate, body, caller, ctx, uuid4())

    return await _act(f"/ui/facilitate/{workshop_id}#merge", act, "facilitator.done.merge")


@router.post("/facilitate/{workshop_id}/pitch/{step}")
async def pitch(
    workshop_id: UUID, step: str, form: CheckedForm, caller: PageRunWorkshops, ctx: Ctx
) -> Response:
    async def act() -> Any:
        slot = PitchSlot(project_id=_uuid(form, "project_id"))
        if step == "start":
            return await workshops_api.start_pitch(workshop_id, slot, caller, ctx, uuid4())
        if step == "end":
            return await workshops_api.end_pitch(workshop_id, slot, caller, ctx, uuid4())
        raise PageError(404, "error.not_found")

    return await _act(f"/ui/facilitate/{workshop_id}#pitch", act, f"facilitator.done.pitch_{step}")


@router.post("/facilitate/{workshop_id}/results")
async def declare(
    workshop_id: UUID, form: CheckedForm, caller: PageRunWorkshops, ctx: Ctx
) -> Response:
    """Declare the results; during the vote this first closes it through the agenda."""

    async def act() -> Any:
        board = await _board(ctx, workshop_id)
        if _vote_state(board) == "open":
            # The agenda workflow closes the vote (and declares); the declaration
            # below is idempotent, so it returns what was recorded either way.
            await agenda_api.advance(workshop_id, caller, ctx)
        return await workshops_api.declare_results(workshop_id, caller, ctx, uuid4())

    return await _act(f"/ui/facilitate/{workshop_id}#results", act, "facilitator.done.results")
