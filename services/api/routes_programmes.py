"""Programmes and initiatives: what regional programme managers do, and what they read.

Managers act only on the programmes their token covers (one they launch is
added to it); admins on every one; auditors read every one and write nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Path, Query, Response
from pydantic import ValidationError

from domain import programme_commands as pc
from domain.initiative import Initiative, Stage
from domain.programme import Programme
from domain.workshop import Workshop
from projections.pipeline import PipelineProjection, PipelineView
from projections.pipeline_models import (
    InitiativeRow,
    PipelineSummary,
    ProgrammeRow,
    ProgrammeSummaryRow,
)

from ..report import ProgrammeReport, benefits_svg, funnel_svg, gather, initiatives_csv, markdown
from .auth import (
    EraseOwners,
    LaunchProgrammes,
    ManageProgrammes,
    ReadProgrammes,
    check_programme,
)
from .context import ApiContext, Correlation, Ctx, meta_for, record, run
from .models import Created, Recorded
from .problems import ProblemError
from .programme_models import (
    Adopted,
    Benefit,
    Criteria,
    Drafted,
    FollowUp,
    InitiativeWithTrail,
    MilestoneMove,
    MilestonePlan,
    NewInitiative,
    OwnerBody,
    OwnerErasure,
    ProgrammeWorkshop,
    Progress,
    Region,
    StageMove,
    command,
)
from .tokens import Caller, Role

router = APIRouter(tags=["programmes"])
ProgrammeId = Annotated[UUID, Path(description="the programme's id")]
InitiativeId = Annotated[UUID, Path(description="the initiative's id")]
WorkshopId = Annotated[UUID, Path(description="a workshop of the programme")]
MilestoneId = Annotated[UUID, Path(description="the milestone's id")]
ReportFile = Literal["report.md", "initiatives.csv", "pipeline.svg", "benefits.svg"]

# The report's files, each with the media type a browser or a spreadsheet expects.
REPORT_FILES: dict[str, tuple[str, Callable[[ProgrammeReport], str]]] = {
    "report.md": ("text/markdown; charset=utf-8", markdown),
    "initiatives.csv": ("text/csv; charset=utf-8", initiatives_csv),
    "pipeline.svg": ("image/svg+xml", lambda r: funnel_svg(r.summary)),
    "benefits.svg": ("image/svg+xml", benefits_svg),
}


# ----- scope ---------------------------------------------------------------------------


async def programme_in_scope(ctx: ApiContext, caller: Caller, programme_id: UUID) -> Programme:
    """The programme, if it exists and the caller's token covers it."""
    programme: Programme = await run(ctx.programmes.programme, programme_id)
    check_programme(caller, programme.id)
    return programme


async def initiative_in_scope(ctx: ApiContext, caller: Caller, initiative_id: UUID) -> Initiative:
    """The initiative, if it exists and its programme is in the caller's scope."""
    initiative: Initiative = await run(ctx.programmes.initiative, initiative_id)
    check_programme(caller, initiative.programme_id)
    return initiative


async def workshop_of(ctx: ApiContext, programme_id: UUID, workshop_id: UUID) -> Workshop:
    workshop: Workshop = await run(ctx.app.load, Workshop, workshop_id, "workshop_id")
    if workshop.programme_id != programme_id:
        raise ProblemError(404, "Not found", "no such workshop in this programme", "workshop_id")
    return workshop


def pipeline(ctx: ApiContext) -> PipelineView:
    return ctx.view(PipelineView, PipelineProjection.name)  # type: ignore[no-any-return]


def _aware(at: datetime | None) -> datetime:
    """`at` with a zone (UTC when it has none), or now."""
    if at is None:
        return datetime.now(UTC)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


# ----- programmes ------------------------------------------------------------------------


@router.post("/programmes", status_code=201, response_model=Created)
async def launch(
    cmd: pc.LaunchProgramme, caller: LaunchProgrammes, ctx: Ctx, corr: Correlation
) -> Created:
    """Launch a programme; a manager who launches it manages it from then on."""
    programme_id = await run(ctx.programmes.launch, cmd, meta_for(caller, corr))
    if caller.role == Role.MANAGER:
        await run(ctx.tokens.add_programme, caller.token_id, programme_id)
    return Created(id=programme_id, position=ctx.app.max_position())


@router.get("/programmes", response_model=list[ProgrammeSummaryRow])
async def list_programmes(caller: ReadProgrammes, ctx: Ctx) -> list[ProgrammeSummaryRow]:
    """The programmes your token covers, in the order launched."""
    rows: list[ProgrammeSummaryRow] = await run(lambda: pipeline(ctx).programmes())
    if caller.role == Role.MANAGER:
        return [row for row in rows if row.id in caller.programmes]
    return rows


@router.get("/programmes/{programme_id}", response_model=ProgrammeRow)
async def show_programme(
    programme_id: ProgrammeId, caller: ReadProgrammes, ctx: Ctx
) -> ProgrammeRow:
    """One programme with its workshops, by start time."""
    await programme_in_scope(ctx, caller, programme_id)
    found: ProgrammeRow | None = await run(lambda: pipeline(ctx).programme(programme_id))
    if found is None:
        raise ProblemError(404, "Not found", "the pipeline has not caught up yet", "programme_id")
    return found


@router.post("/programmes/{programme_id}/workshops", status_code=201, response_model=Created)
async def schedule_workshop(
    programme_id: ProgrammeId,
    body: ProgrammeWorkshop,
    caller: ManageProgrammes,
    ctx: Ctx,
    corr: Correlation,
) -> Created:
    """Schedule a workshop in the programme, scored on the programme's criteria now in force."""
    await programme_in_scope(ctx, caller, programme_id)
    cmd = command(pc.ScheduleProgrammeWorkshop, body, programme_id=programme_id)
    workshop_id = await run(ctx.programmes.schedule_workshop, cmd, meta_for(caller, corr))
    return Created(id=workshop_id, position=ctx.app.max_position())


@router.post("/programmes/{programme_id}/criteria", response_model=Recorded)
async def revise_criteria(
    programme_id: ProgrammeId, body: Criteria, caller: ManageProgrammes, ctx: Ctx, corr: Correlation
) -> Recorded:
    """Revise the criteria; workshops scheduled from now on are scored on them."""
    await programme_in_scope(ctx, caller, programme_id)
    cmd = command(pc.ReviseCriteria, body, programme_id=programme_id)
    return await record(ctx.programmes.revise_criteria, cmd, caller, corr)


@router.post("/programmes/{programme_id}/close", response_model=Recorded)
async def close(
    programme_id: ProgrammeId, caller: ManageProgrammes, ctx: Ctx, corr: Correlation
) -> Recorded:
    await programme_in_scope(ctx, caller, programme_id)
    cmd = pc.CloseProgramme(programme_id=programme_id)
    return await record(ctx.programmes.close, cmd, caller, corr)


@router.post(
    "/programmes/{programme_id}/workshops/{workshop_id}/briefing-draft", response_model=Drafted
)
async def draft_briefing(
    programme_id: ProgrammeId,
    workshop_id: WorkshopId,
    caller: ManageProgrammes,
    ctx: Ctx,
    corr: Correlation,
) -> Drafted:
    """Draft the workshop's briefing from the programme so far (idempotent)."""
    await programme_in_scope(ctx, caller, programme_id)
    await workshop_of(ctx, programme_id, workshop_id)
    cmd = pc.DraftBriefing(workshop_id=workshop_id)
    text = await run(ctx.programmes.draft_briefing, cmd, meta_for(caller, corr))
    return Drafted(text=text, position=ctx.app.max_position())


@router.post("/programmes/{programme_id}/workshops/{workshop_id}/adopt", response_model=Adopted)
async def adopt_winners(
    programme_id: ProgrammeId,
    workshop_id: WorkshopId,
    caller: ManageProgrammes,
    ctx: Ctx,
    corr: Correlation,
) -> Adopted:
    """Carry the workshop's winners forward as initiatives; adopting again adds nothing."""
    await programme_in_scope(ctx, caller, programme_id)
    await workshop_of(ctx, programme_id, workshop_id)
    cmd = pc.AdoptWinners(workshop_id=workshop_id)
    adopted = await run(ctx.programmes.adopt_winners, cmd, meta_for(caller, corr))
    return Adopted(initiatives=adopted, position=ctx.app.max_position())


@router.post("/programmes/{programme_id}/initiatives", status_code=201, response_model=Created)
async def add_initiative(
    programme_id: ProgrammeId,
    body: NewInitiative,
    caller: ManageProgrammes,
    ctx: Ctx,
    corr: Correlation,
) -> Created:
    """Add an initiative that did not come from a workshop vote (say why)."""
    await programme_in_scope(ctx, caller, programme_id)
    cmd = command(pc.AddInitiative, body, programme_id=programme_id, initiative_id=uuid4())
    initiative_id = await run(ctx.programmes.add_initiative, cmd, meta_for(caller, corr))
    return Created(id=initiative_id, position=ctx.app.max_position())


@router.post("/programmes/{programme_id}/owners/erase", response_model=Recorded)
async def erase_owner(
    programme_id: ProgrammeId, body: OwnerErasure, caller: EraseOwners, ctx: Ctx, corr: Correlation
) -> Recorded:
    """Right to erasure for an initiative owner (admins): their key goes, the trail stays."""
    await programme_in_scope(ctx, caller, programme_id)
    try:
        cmd = command(pc.EraseOwner, body, programme_id=programme_id)
    except ValidationError:  # neither or both references: the command's own rule
        raise ProblemError(
            422, "Invalid input", "name the owner by the text assigned or by id, not both", "owner"
        ) from None
    return await record(ctx.programmes.erase_owner, cmd, caller, corr)


# ----- reading the pipeline ------------------------------------------------------------------


@router.get("/programmes/{programme_id}/pipeline", response_model=PipelineSummary)
async def pipeline_summary(
    programme_id: ProgrammeId,
    caller: ReadProgrammes,
    ctx: Ctx,
    at: Annotated[datetime | None, Query(description="as at this time (default now; UTC)")] = None,
) -> PipelineSummary:
    """The stage board, overdue milestones, stale initiatives, benefits and lead times."""
    await programme_in_scope(ctx, caller, programme_id)
    found: PipelineSummary | None = await run(
        lambda: pipeline(ctx).summary(programme_id, _aware(at))
    )
    if found is None:
        raise ProblemError(404, "Not found", "the pipeline has not caught up yet", "programme_id")
    return found


@router.get("/programmes/{programme_id}/initiatives", response_model=list[InitiativeRow])
async def list_initiatives(
    programme_id: ProgrammeId,
    caller: ReadProgrammes,
    ctx: Ctx,
    stage: Stage | None = None,
    region: Annotated[str | None, Query(max_length=120)] = None,
) -> list[InitiativeRow]:
    """The programme's initiatives in the order adopted, optionally of one stage or region."""
    await programme_in_scope(ctx, caller, programme_id)
    rows: list[InitiativeRow] = await run(
        lambda: pipeline(ctx).initiatives(programme_id, stage=stage, region=region)
    )
    return rows


@router.get("/initiatives/{initiative_id}", response_model=InitiativeWithTrail)
async def show_initiative(
    initiative_id: InitiativeId, caller: ReadProgrammes, ctx: Ctx
) -> InitiativeWithTrail:
    """One initiative and its whole trail, from the first idea to the latest benefit."""
    await initiative_in_scope(ctx, caller, initiative_id)
    view = await run(pipeline, ctx)
    row = await run(view.initiative, initiative_id)
    if row is None:
        raise ProblemError(404, "Not found", "the pipeline has not caught up yet", "initiative_id")
    return InitiativeWithTrail(initiative=row, trail=await run(view.trail, initiative_id))


@router.get(
    "/programmes/{programme_id}/report/{name}",
    response_class=Response,
    responses={
        200: {
            "description": "one file of the programme report",
            "content": {"text/markdown": {}, "text/csv": {}, "image/svg+xml": {}},
        }
    },
)
async def report(
    programme_id: ProgrammeId,
    name: ReportFile,
    caller: ReadProgrammes,
    ctx: Ctx,
    at: Annotated[datetime | None, Query(description="as at this time (default now; UTC)")] = None,
) -> Response:
    """The programme report: report.md, initiatives.csv, pipeline.svg or benefits.svg."""
    await programme_in_scope(ctx, caller, programme_id)
    gathered = await run(lambda: gather(pipeline(ctx), programme_id, _aware(at)))
    if gathered is None:
        raise ProblemError(404, "Not found", "the pipeline has not caught up yet", "programme_id")
    media_type, render = REPORT_FILES[name]
    return Response(
        render(gathered),
        media_type=media_type,
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


# ----- one initiative -------------------------------------------------------------------------


@router.post("/initiatives/{initiative_id}/owner", response_model=Recorded)
async def assign_owner(
    initiative_id: InitiativeId,
    body: OwnerBody,
    caller: ManageProgrammes,
    ctx: Ctx,
    corr: Correlation,
) -> Recorded:
    """Assign (or change) the owner; their name is stored encrypted, as a person's data."""
    await initiative_in_scope(ctx, caller, initiative_id)
    cmd = command(pc.AssignOwner, body, initiative_id=initiative_id)
    return await record(ctx.programmes.assign_owner, cmd, caller, corr)


@router.post("/initiatives/{initiative_id}/stage", response_model=Recorded)
async def move(
    initiative_id: InitiativeId,
    body: StageMove,
    caller: ManageProgrammes,
    ctx: Ctx,
    corr: Correlation,
) -> Recorded:
    """Move the initiative to another stage (pausing or dropping needs a reason)."""
    await initiative_in_scope(ctx, caller, initiative_id)
    cmd = command(pc.MoveInitiative, body, initiative_id=initiative_id)
    return await record(ctx.programmes.move, cmd, caller, corr)


@router.post("/initiatives/{initiative_id}/milestones", status_code=201, response_model=Created)
async def plan_milestone(
    initiative_id: InitiativeId,
    body: MilestonePlan,
    caller: ManageProgrammes,
    ctx: Ctx,
    corr: Correlation,
) -> Created:
    await initiative_in_scope(ctx, caller, initiative_id)
    milestone_id = uuid4()
    cmd = command(pc.PlanMilestone, body, initiative_id=initiative_id, milestone_id=milestone_id)
    position = await run(ctx.programmes.plan_milestone, cmd, meta_for(caller, corr))
    return Created(id=milestone_id, position=position)


@router.post(
    "/initiatives/{initiative_id}/milestones/{milestone_id}/reschedule", response_model=Recorded
)
async def reschedule_milestone(
    initiative_id: InitiativeId,
    milestone_id: MilestoneId,
    body: MilestoneMove,
    caller: ManageProgrammes,
    ctx: Ctx,
    corr: Correlation,
) -> Recorded:
    await initiative_in_scope(ctx, caller, initiative_id)
    cmd = command(
        pc.RescheduleMilestone, body, initiative_id=initiative_id, milestone_id=milestone_id
    )
    position = await run(ctx.programmes.reschedule_milestone, cmd, meta_for(caller, corr))
    return Recorded(position=position)


@router.post(
    "/initiatives/{initiative_id}/milestones/{milestone_id}/complete", response_model=Recorded
)
async def complete_milestone(
    initiative_id: InitiativeId,
    milestone_id: MilestoneId,
    caller: ManageProgrammes,
    ctx: Ctx,
    corr: Correlation,
) -> Recorded:
    await initiative_in_scope(ctx, caller, initiative_id)
    cmd = pc.CompleteMilestone(initiative_id=initiative_id, milestone_id=milestone_id)
    position = await run(ctx.programmes.complete_milestone, cmd, meta_for(caller, corr))
    return Recorded(position=position)


@router.post("/initiatives/{initiative_id}/progress", response_model=Recorded)
async def report_progress(
    initiative_id: InitiativeId,
    body: Progress,
    caller: ManageProgrammes,
    ctx: Ctx,
    corr: Correlation,
) -> Recorded:
    await initiative_in_scope(ctx, caller, initiative_id)
    cmd = command(pc.ReportProgress, body, initiative_id=initiative_id)
    return await record(ctx.programmes.report_progress, cmd, caller, corr)


@router.post("/initiatives/{initiative_id}/benefits", status_code=201, response_model=Recorded)
async def record_benefit(
    initiative_id: InitiativeId,
    body: Benefit,
    caller: ManageProgrammes,
    ctx: Ctx,
    corr: Correlation,
) -> Recorded:
    """Record a benefit against one of the programme's outcome measures ("is it better?")."""
    await initiative_in_scope(ctx, caller, initiative_id)
    cmd = command(pc.RecordBenefit, body, initiative_id=initiative_id)
    return await record(ctx.programmes.record_benefit, cmd, caller, corr)


@router.post("/initiatives/{initiative_id}/follow-ups", response_model=Recorded)
async def link_follow_up(
    initiative_id: InitiativeId,
    body: FollowUp,
    caller: ManageProgrammes,
    ctx: Ctx,
    corr: Correlation,
) -> Recorded:
    """Link a further workshop that follows the initiative up."""
    await initiative_in_scope(ctx, caller, initiative_id)
    cmd = command(pc.LinkFollowUp, body, initiative_id=initiative_id)
    return await record(ctx.programmes.link_follow_up, cmd, caller, corr)


@router.post("/initiatives/{initiative_id}/regions", response_model=Recorded)
async def adopt_in_region(
    initiative_id: InitiativeId, body: Region, caller: ManageProgrammes, ctx: Ctx, corr: Correlation
) -> Recorded:
    """Adopt the initiative in another of the programme's regions."""
    await initiative_in_scope(ctx, caller, initiative_id)
    cmd = command(pc.AdoptInRegion, body, initiative_id=initiative_id)
    return await record(ctx.programmes.adopt_in_region, cmd, caller, corr)
