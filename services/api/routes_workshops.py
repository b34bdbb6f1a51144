"""Workshops: scheduling, the facilitator's acts, and the board."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path

from domain import commands as c
from domain.idea import Idea
from domain.project import Project
from domain.tally import Result
from domain.workshop import Workshop
from projections.board_models import Board

from .auth import ReadWorkshops, RunWorkshops, ScheduleWorkshops, check_workshop
from .context import ApiContext, Correlation, Ctx, meta_for, record, run
from .models import (
    Briefing,
    Capacity,
    Created,
    EarlierLink,
    Grouping,
    IdeaMerge,
    KeyAreaMerge,
    KeyAreaName,
    PitchSlot,
    Recorded,
    WorkshopSummary,
)
from .problems import ProblemError
from .tokens import Caller, Role

router = APIRouter(tags=["workshops"])
WorkshopId = Annotated[UUID, Path(description="the workshop's id")]


async def in_scope(ctx: ApiContext, caller: Caller, workshop_id: UUID) -> Workshop:
    """The workshop, if it exists and the caller's token covers it."""
    workshop: Workshop = await run(ctx.app.load, Workshop, workshop_id, "workshop_id")
    check_workshop(caller, workshop.id, workshop.programme_id)
    return workshop


async def idea_in(ctx: ApiContext, workshop_id: UUID, idea_id: UUID) -> Idea:
    idea: Idea = await run(ctx.app.load, Idea, idea_id, "idea_id")
    if idea.workshop_id != workshop_id:
        raise ProblemError(404, "Not found", "no such idea in this workshop", "idea_id")
    return idea


async def project_in(ctx: ApiContext, workshop_id: UUID, project_id: UUID) -> Project:
    project: Project = await run(ctx.app.load, Project, project_id, "project_id")
    if project.workshop_id != workshop_id:
        raise ProblemError(404, "Not found", "no such project in this workshop", "project_id")
    return project


@router.post("/workshops", status_code=201, response_model=Created)
async def schedule(
    cmd: c.ScheduleWorkshop, caller: ScheduleWorkshops, ctx: Ctx, corr: Correlation
) -> Created:
    """Schedule a workshop outside any programme.

    Programme workshops are scheduled with POST /programmes/{id}/workshops.
    """
    workshop_id = await run(ctx.app.schedule, cmd, meta_for(caller, corr))
    if caller.role == Role.FACILITATOR:
        await run(ctx.tokens.add_workshop, caller.token_id, workshop_id)
    return Created(id=workshop_id, position=ctx.app.max_position())


@router.get("/workshops", response_model=list[WorkshopSummary])
async def list_workshops(caller: ReadWorkshops, ctx: Ctx) -> list[WorkshopSummary]:
    """The workshops your token covers."""
    return await run(_summaries, ctx, caller)


def _summaries(ctx: ApiContext, caller: Caller) -> list[WorkshopSummary]:
    board = ctx.board()
    found = []
    for workshop_id in board.workshop_ids():
        whole = board.board(workshop_id)
        if whole is None or not _covers(ctx, caller, workshop_id):
            continue
        counts = board.counts(workshop_id)
        found.append(
            WorkshopSummary(
                id=whole.id,
                code=whole.code,
                title=whole.title,
                region=whole.region,
                starts_at=whole.starts_at,
                participants=whole.participants,
                ideas=counts.ideas if counts else 0,
                ballots_cast=whole.ballots_cast,
            )
        )
    return found


def _covers(ctx: ApiContext, caller: Caller, workshop_id: UUID) -> bool:
    try:
        workshop = ctx.app.load(Workshop, workshop_id, "workshop_id")
        check_workshop(caller, workshop_id, workshop.programme_id)
    except ProblemError:
        return False
    return True


@router.get("/workshops/{workshop_id}", response_model=Board)
async def board(workshop_id: WorkshopId, caller: ReadWorkshops, ctx: Ctx) -> Board:
    """The workshop's board: phase, key areas, ideas, sign-ups, projects, results."""
    await in_scope(ctx, caller, workshop_id)
    found = await run(lambda: ctx.board().board(workshop_id))
    if found is None:
        raise ProblemError(404, "Not found", "the board has not caught up yet", "workshop_id")
    return found  # type: ignore[no-any-return]


@router.post("/workshops/{workshop_id}/briefing", response_model=Recorded)
async def publish_briefing(
    workshop_id: WorkshopId, body: Briefing, caller: RunWorkshops, ctx: Ctx, corr: Correlation
) -> Recorded:
    await in_scope(ctx, caller, workshop_id)
    cmd = c.PublishBriefing(workshop_id=workshop_id, text=body.text)
    return await record(ctx.app.publish_briefing, cmd, caller, corr)


@router.post("/workshops/{workshop_id}/phases/{index}/open", response_model=Recorded)
async def open_phase(
    workshop_id: WorkshopId,
    index: Annotated[int, Path(ge=0, le=100)],
    caller: RunWorkshops,
    ctx: Ctx,
    corr: Correlation,
) -> Recorded:
    """Open a phase by hand (a workshop run without its agenda workflow)."""
    await in_scope(ctx, caller, workshop_id)
    cmd = c.OpenPhase(workshop_id=workshop_id, index=index)
    return await record(ctx.app.open_phase, cmd, caller, corr)


@router.post("/workshops/{workshop_id}/phases/{index}/close", response_model=Recorded)
async def close_phase(
    workshop_id: WorkshopId,
    index: Annotated[int, Path(ge=0, le=100)],
    caller: RunWorkshops,
    ctx: Ctx,
    corr: Correlation,
) -> Recorded:
    await in_scope(ctx, caller, workshop_id)
    cmd = c.ClosePhase(workshop_id=workshop_id, index=index)
    return await record(ctx.app.close_phase, cmd, caller, corr)


@router.post("/workshops/{workshop_id}/key-areas", status_code=201, response_model=Created)
async def define_key_area(
    workshop_id: WorkshopId, body: KeyAreaName, caller: RunWorkshops, ctx: Ctx, corr: Correlation
) -> Created:
    await in_scope(ctx, caller, workshop_id)
    cmd = c.DefineKeyArea(workshop_id=workshop_id, name=body.name)
    area = await run(ctx.app.define_key_area, cmd, meta_for(caller, corr))
    return Created(id=area, position=ctx.app.max_position())


@router.post("/workshops/{workshop_id}/key-areas/{key_area_id}/rename", response_model=Recorded)
async def rename_key_area(
    workshop_id: WorkshopId,
    key_area_id: UUID,
    body: KeyAreaName,
    caller: RunWorkshops,
    ctx: Ctx,
    corr: Correlation,
) -> Recorded:
    await in_scope(ctx, caller, workshop_id)
    cmd = c.RenameKeyArea(workshop_id=workshop_id, key_area_id=key_area_id, name=body.name)
    return await record(ctx.app.rename_key_area, cmd, caller, corr)


@router.post("/workshops/{workshop_id}/key-areas/{key_area_id}/merge", response_model=Recorded)
async def merge_key_areas(
    workshop_id: WorkshopId,
    key_area_id: UUID,
    body: KeyAreaMerge,
    caller: RunWorkshops,
    ctx: Ctx,
    corr: Correlation,
) -> Recorded:
    await in_scope(ctx, caller, workshop_id)
    cmd = c.MergeKeyAreas(workshop_id=workshop_id, source_id=key_area_id, target_id=body.into)
    return await record(ctx.app.merge_key_areas, cmd, caller, corr)


@router.post("/workshops/{workshop_id}/key-areas/{key_area_id}/capacity", response_model=Recorded)
async def set_capacity(
    workshop_id: WorkshopId,
    key_area_id: UUID,
    body: Capacity,
    caller: RunWorkshops,
    ctx: Ctx,
    corr: Correlation,
) -> Recorded:
    await in_scope(ctx, caller, workshop_id)
    cmd = c.SetGroupCapacity(
        workshop_id=workshop_id, key_area_id=key_area_id, capacity=body.capacity
    )
    return await record(ctx.app.set_group_capacity, cmd, caller, corr)


@router.post("/workshops/{workshop_id}/ideas/{idea_id}/group", response_model=Recorded)
async def group_idea(
    workshop_id: WorkshopId,
    idea_id: UUID,
    body: Grouping,
    caller: RunWorkshops,
    ctx: Ctx,
    corr: Correlation,
) -> Recorded:
    await in_scope(ctx, caller, workshop_id)
    await idea_in(ctx, workshop_id, idea_id)
    cmd = c.GroupIdea(idea_id=idea_id, key_area_id=body.key_area_id)
    return await record(ctx.app.group_idea, cmd, caller, corr)


@router.post("/workshops/{workshop_id}/ideas/{idea_id}/merge", response_model=Recorded)
async def merge_idea(
    workshop_id: WorkshopId,
    idea_id: UUID,
    body: IdeaMerge,
    caller: RunWorkshops,
    ctx: Ctx,
    corr: Correlation,
) -> Recorded:
    """Fold a duplicate into the idea that survives."""
    await in_scope(ctx, caller, workshop_id)
    await idea_in(ctx, workshop_id, idea_id)
    cmd = c.MergeIdea(idea_id=idea_id, target_id=body.target_id)
    return await record(ctx.app.merge_idea, cmd, caller, corr)


@router.post("/workshops/{workshop_id}/ideas/{idea_id}/link", response_model=Recorded)
async def link_to_earlier(
    workshop_id: WorkshopId,
    idea_id: UUID,
    body: EarlierLink,
    caller: RunWorkshops,
    ctx: Ctx,
    corr: Correlation,
) -> Recorded:
    """Record that this idea came up at an earlier workshop of the programme."""
    await in_scope(ctx, caller, workshop_id)
    await idea_in(ctx, workshop_id, idea_id)
    cmd = c.LinkToEarlierIdea(idea_id=idea_id, earlier_id=body.earlier_id)
    return await record(ctx.app.link_to_earlier, cmd, caller, corr)


@router.post("/workshops/{workshop_id}/pitch/start", response_model=Recorded)
async def start_pitch(
    workshop_id: WorkshopId, body: PitchSlot, caller: RunWorkshops, ctx: Ctx, corr: Correlation
) -> Recorded:
    await in_scope(ctx, caller, workshop_id)
    cmd = c.StartPitch(workshop_id=workshop_id, project_id=body.project_id)
    return await record(ctx.app.start_pitch, cmd, caller, corr)


@router.post("/workshops/{workshop_id}/pitch/end", response_model=Recorded)
async def end_pitch(
    workshop_id: WorkshopId, body: PitchSlot, caller: RunWorkshops, ctx: Ctx, corr: Correlation
) -> Recorded:
    await in_scope(ctx, caller, workshop_id)
    cmd = c.EndPitch(workshop_id=workshop_id, project_id=body.project_id)
    return await record(ctx.app.end_pitch, cmd, caller, corr)


@router.post("/workshops/{workshop_id}/results", response_model=Result)
async def declare_results(
    workshop_id: WorkshopId, caller: RunWorkshops, ctx: Ctx, corr: Correlation
) -> Result:
    """Declare the results (idempotent: a second call returns the recorded result)."""
    await in_scope(ctx, caller, workshop_id)
    cmd = c.DeclareResults(workshop_id=workshop_id)
    return await run(ctx.app.declare_results, cmd, meta_for(caller, corr))  # type: ignore[no-any-return]
