"""The facilitator's clock: start, advance, extend, pause and resume a workshop's agenda.

The agenda runs as a Temporal workflow (one per workshop); these routes send it
updates and read its status. Without a Temporal server they answer 503.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Path
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from workflows.agenda import AgendaInput, AgendaStatus, WorkshopAgenda
from workflows.worker import AgendaHandle, agenda_handle, start_agenda

from .auth import ReadWorkshops, RunWorkshops
from .context import ApiContext, Ctx
from .models import AgendaStart, Extension
from .problems import ProblemError
from .routes_workshops import in_scope

router = APIRouter(tags=["agenda"])
WorkshopId = Annotated[UUID, Path(description="the workshop's id")]


async def _handle(ctx: ApiContext, workshop_id: UUID) -> AgendaHandle:
    return agenda_handle(await ctx.temporal(), workshop_id)


async def _update(
    ctx: ApiContext, workshop_id: UUID, send: Callable[[AgendaHandle], Awaitable[Any]]
) -> AgendaStatus:
    handle = await _handle(ctx, workshop_id)
    try:
        return await send(handle)  # type: ignore[no-any-return]
    except WorkflowUpdateFailedError as error:
        cause = error.cause
        detail = getattr(cause, "message", None) or str(cause or error)
        raise ProblemError(409, "Agenda conflict", detail, "agenda") from None
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise ProblemError(
                404, "Not found", "this workshop's agenda is not running", "workshop_id"
            ) from None
        raise


@router.post("/workshops/{workshop_id}/agenda/start", response_model=AgendaStatus)
async def start(
    workshop_id: WorkshopId, body: AgendaStart, caller: RunWorkshops, ctx: Ctx
) -> AgendaStatus:
    """Start the agenda (idempotent: a running agenda is joined, not started twice)."""
    workshop = await in_scope(ctx, caller, workshop_id)
    agenda = AgendaInput(
        workshop_id=workshop_id,
        phases=list(workshop.agenda.phases),
        time_scale=body.time_scale,
        actor=f"agenda-timer:{caller.token_id}",
    )
    handle = await start_agenda(await ctx.temporal(), agenda, ctx.stack.settings.task_queue)
    return await handle.query(WorkshopAgenda.status)


@router.get("/workshops/{workshop_id}/agenda", response_model=AgendaStatus)
async def status(workshop_id: WorkshopId, caller: ReadWorkshops, ctx: Ctx) -> AgendaStatus:
    """Where the agenda is: phase, countdown, paused, finished."""
    await in_scope(ctx, caller, workshop_id)
    handle = await _handle(ctx, workshop_id)
    try:
        return await handle.query(WorkshopAgenda.status)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise ProblemError(
                404, "Not found", "this workshop's agenda has not started", "workshop_id"
            ) from None
        raise


@router.post("/workshops/{workshop_id}/agenda/advance", response_model=AgendaStatus)
async def advance(workshop_id: WorkshopId, caller: RunWorkshops, ctx: Ctx) -> AgendaStatus:
    """Close the open phase now and open the next."""
    await in_scope(ctx, caller, workshop_id)
    return await _update(ctx, workshop_id, lambda h: h.execute_update(WorkshopAgenda.advance))


@router.post("/workshops/{workshop_id}/agenda/extend", response_model=AgendaStatus)
async def extend(
    workshop_id: WorkshopId, body: Extension, caller: RunWorkshops, ctx: Ctx
) -> AgendaStatus:
    await in_scope(ctx, caller, workshop_id)
    return await _update(
        ctx,
        workshop_id,
        lambda h: h.execute_update(WorkshopAgenda.extend, body.minutes, id=f"extend-{uuid4()}"),
    )


@router.post("/workshops/{workshop_id}/agenda/pause", response_model=AgendaStatus)
async def pause(workshop_id: WorkshopId, caller: RunWorkshops, ctx: Ctx) -> AgendaStatus:
    await in_scope(ctx, caller, workshop_id)
    return await _update(ctx, workshop_id, lambda h: h.execute_update(WorkshopAgenda.pause))


@router.post("/workshops/{workshop_id}/agenda/resume", response_model=AgendaStatus)
async def resume(workshop_id: WorkshopId, caller: RunWorkshops, ctx: Ctx) -> AgendaStatus:
    await in_scope(ctx, caller, workshop_id)
    return await _update(ctx, workshop_id, lambda h: h.execute_update(WorkshopAgenda.resume))
