"""Pages for the programme manager: the pipeline, one initiative's trail, the report.

Everything is read from the pipeline read model (projections.pipeline) through
the API's own scope checks and report renderers (services.api.routes_programmes,
services.report); the pages add only the layout and the milestones chart.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from domain.errors import DomainError
from domain.initiative import Stage
from domain.owner import ERASED_OWNER
from projections.pipeline_models import (
    InitiativeRow,
    PipelineSummary,
    ProgrammeRow,
    TrailEntry,
)

from ..api.context import ApiContext, Ctx, run
from ..api.problems import ProblemError
from ..api.routes_programmes import (
    REPORT_FILES,
    initiative_in_scope,
    pipeline,
    programme_in_scope,
)
from ..report import ProgrammeReport, benefits_svg, funnel_svg, gather
from .charts import milestones_svg
from .render import page
from .session import PageError, PageReadProgrammes

router = APIRouter(prefix="/ui", include_in_schema=False)
RegionQuery = Annotated[str | None, Query(max_length=120)]


# ----- scope ---------------------------------------------------------------------------


async def _in_scope(check: Awaitable[Any]) -> Any:
    """The API's scope check, answered with the error page instead of a problem document."""
    try:
        return await check
    except ProblemError as error:
        raise PageError(403 if error.status == 403 else 404, _message(error.status)) from None
    except DomainError:  # no such programme or initiative
        raise PageError(404, "error.not_found") from None


def _message(status: int) -> str:
    return "error.forbidden" if status == 403 else "error.not_found"


# ----- the programme ---------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    """What the programme page shows, read at one moment."""

    programme: ProgrammeRow
    summary: PipelineSummary
    region: str | None  # the board's filter, as the programme spells it
    board: dict[Stage, list[InitiativeRow]]
    overdue: dict[UUID, int]  # overdue milestones per initiative
    charts: dict[str, Markup]


def _overview(ctx: ApiContext, programme_id: UUID, region: str | None) -> Overview | None:
    view = pipeline(ctx)
    now = datetime.now(UTC)
    programme = view.programme(programme_id)
    summary = view.summary(programme_id, now)
    if programme is None or summary is None:
        return None
    rows = view.initiatives(programme_id)
    known = _region(programme, region)
    shown = view.initiatives(programme_id, region=known) if known else rows
    board: dict[Stage, list[InitiativeRow]] = {stage: [] for stage in Stage}
    for row in shown:
        board[row.stage].append(row)
    # The report's renderers need no trails for these charts: skip reading them.
    report = ProgrammeReport(programme, summary, rows, {})
    return Overview(
        programme=programme,
        summary=summary,
        region=known,
        board=board,
        overdue={row.id: sum(m.overdue_at(now) for m in row.milestones) for row in rows},
        charts={
            # Safe markup: the report's and our SVG writers escape every text they draw.
            "pipeline": Markup(funnel_svg(summary)),  # noqa: S704
            "milestones": Markup(milestones_svg(rows, now)),  # noqa: S704
            "benefits": Markup(benefits_svg(report)),  # noqa: S704
        },
    )


def _region(programme: ProgrammeRow, region: str | None) -> str | None:
    """The programme's spelling of `region`, or None (every region) when it has no such one."""
    wanted = (region or "").strip().lower()
    return next((r for r in programme.regions if r.lower() == wanted), None)


async def _programme_page(
    request: Request,
    ctx: Ctx,
    caller: PageReadProgrammes,
    programme_id: UUID,
    region: str | None,
    name: str,
) -> HTMLResponse:
    await _in_scope(programme_in_scope(ctx, caller, programme_id))
    found: Overview | None = await run(_overview, ctx, programme_id, region)
    if found is None:
        raise PageError(404, "manager.not_caught_up")
    part = f"/ui/programmes/{programme_id}/part/pipeline"
    if found.region:
        part += f"?region={quote(found.region)}"
    return page(
        request,
        name,
        o=found,
        part=part,
        files=list(REPORT_FILES),
        erased_owner=ERASED_OWNER,
    )


@router.get("/programmes/{programme_id}")
async def programme_page(
    request: Request,
    programme_id: UUID,
    caller: PageReadProgrammes,
    ctx: Ctx,
    region: RegionQuery = None,
) -> HTMLResponse:
    """The pipeline board, what needs attention, benefits, charts and the report's files."""
    return await _programme_page(
        request, ctx, caller, programme_id, region, "manager/programme.html"
    )


@router.get("/programmes/{programme_id}/part/pipeline")
async def programme_part(
    request: Request,
    programme_id: UUID,
    caller: PageReadProgrammes,
    ctx: Ctx,
    region: RegionQuery = None,
) -> HTMLResponse:
    """The page's live part, re-read whenever the programme's feed says something changed."""
    return await _programme_page(
        request, ctx, caller, programme_id, region, "manager/_pipeline.html"
    )


@router.get("/programmes/{programme_id}/report/{name}")
async def report_file(
    programme_id: UUID, name: str, caller: PageReadProgrammes, ctx: Ctx
) -> Response:
    """One file of the programme report, as the API serves it, but as a download for a browser."""
    if name not in REPORT_FILES:
        raise PageError(404, "error.not_found")
    await _in_scope(programme_in_scope(ctx, caller, programme_id))
    gathered = await run(lambda: gather(pipeline(ctx), programme_id, datetime.now(UTC)))
    if gathered is None:
        raise PageError(404, "manager.not_caught_up")
    media_type, render = REPORT_FILES[name]
    return Response(
        render(gathered),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ----- one initiative ---------------------------------------------------------------------


@dataclass(frozen=True)
class Trail:
    """One initiative, its programme (for names), and its trail from the first idea."""

    row: InitiativeRow
    programme: ProgrammeRow | None
    trail: list[TrailEntry]
    now: datetime

    @property
    def origin_workshop(self) -> str | None:
        workshops = self.programme.workshops if self.programme else []
        found = next((w for w in workshops if w.id == self.row.origin.workshop_id), None)
        return found.title if found else None

    @property
    def measure_names(self) -> dict[str, str]:
        measures = self.programme.measures if self.programme else []
        return {m.key: m.name for m in measures}


def _trail(ctx: ApiContext, initiative_id: UUID) -> Trail | None:
    view = pipeline(ctx)
    row = view.initiative(initiative_id)
    if row is None:
        return None
    return Trail(
        row, view.programme(row.programme_id), view.trail(initiative_id), datetime.now(UTC)
    )


async def _initiative_page(
    request: Request, ctx: Ctx, caller: PageReadProgrammes, initiative_id: UUID, name: str
) -> HTMLResponse:
    await _in_scope(initiative_in_scope(ctx, caller, initiative_id))
    found: Trail | None = await run(_trail, ctx, initiative_id)
    if found is None:
        raise PageError(404, "manager.not_caught_up")
    return page(request, name, i=found, erased_owner=ERASED_OWNER)


@router.get("/initiatives/{initiative_id}")
async def initiative_page(
    request: Request, initiative_id: UUID, caller: PageReadProgrammes, ctx: Ctx
) -> HTMLResponse:
    """One initiative: owner, milestones, progress, benefits, and the whole trail."""
    return await _initiative_page(request, ctx, caller, initiative_id, "manager/initiative.html")


@router.get("/initiatives/{initiative_id}/part/detail")
async def initiative_part(
    request: Request, initiative_id: UUID, caller: PageReadProgrammes, ctx: Ctx
) -> HTMLResponse:
    return await _initiative_page(request, ctx, caller, initiative_id, "manager/_initiative.html")
