"""Programme demo data for the manager's pages, recorded through the real application."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

from domain import programme_commands as pc
from domain.meta import Meta
from projections.pipeline import PipelineProjection, PipelineView
from services.programmes import Programmes
from tests.projections.programme_helpers import Story, south_west

from .conftest import Site

CATCH_UP_SECONDS = 30.0


def programme_story(site: Site) -> Story:
    """The South West story (two workshops, four initiatives, milestones, benefits), projected."""
    story = south_west(site.stack.app)
    caught_up(site)
    return story


def caught_up(site: Site) -> None:
    """Wait until the pipeline view reflects every recorded event."""
    ctx = site.api.state.ctx
    view = ctx.view(PipelineView, PipelineProjection.name)
    view.wait(site.stack.app.name, site.stack.app.max_position(), timeout=CATCH_UP_SECONDS)


def record_benefit(site: Site, initiative_id: UUID, measure: str, amount: float) -> None:
    """A benefit recorded now, as a manager would through the API."""
    cmd = pc.RecordBenefit(
        initiative_id=initiative_id, measure=measure, amount=amount, evidence="Printer contract"
    )
    Programmes(site.stack.app).record_benefit(cmd, _meta())


def erase_owner(site: Site, programme_id: UUID, owner: str) -> None:
    cmd = pc.EraseOwner(programme_id=programme_id, owner=owner)
    Programmes(site.stack.app).erase_owner(cmd, _meta())


def _meta() -> Meta:
    return Meta(
        actor="manager:jo", at=datetime.now(UTC), correlation_id=uuid4(), causation_id=uuid4()
    )
