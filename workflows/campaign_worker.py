"""Wiring for the campaign: a worker for it and its agendas, and an idempotent start.

Every client that talks to these workflows must use
`temporalio.contrib.pydantic.pydantic_data_converter` (`workflows.worker.connect`
makes one); a worker takes its converter from the client it is given.

The campaign starts each workshop's agenda as a child on `agenda_task_queue`
(by default its own), so this worker runs `WorkshopAgenda` and its activities
too. The delivery workflows it starts are not registered here: the services
layer composes a worker that runs them (pass them in `workflows` and
`activities`), or runs one on `delivery_task_queue`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.worker import Worker

from workflows.activities import AgendaActivities, AgendaCommands
from workflows.agenda import WorkshopAgenda
from workflows.campaign import (
    CampaignInput,
    CampaignStatus,
    ProgrammeCampaign,
    campaign_workflow_id,
)
from workflows.campaign_activities import CampaignActivities, CampaignCommands
from workflows.threads import threaded_worker
from workflows.worker import DEFAULT_ACTIVITY_THREADS

DEFAULT_CAMPAIGN_TASK_QUEUE = "quickwins-campaign"

CampaignHandle = WorkflowHandle[ProgrammeCampaign, CampaignStatus]


def build_campaign_worker(
    client: Client,
    app: AgendaCommands,
    programmes: CampaignCommands,
    task_queue: str = DEFAULT_CAMPAIGN_TASK_QUEUE,
    *,
    workflows: Sequence[type] = (),
    activities: Sequence[Callable[..., Any]] = (),
    activity_executor: ThreadPoolExecutor | None = None,
    max_concurrent_activities: int = DEFAULT_ACTIVITY_THREADS,
) -> Worker:
    """A worker running `ProgrammeCampaign` and `WorkshopAgenda` with their activities.

    `app` backs the agenda's activities (`services.app.Workshops`), `programmes`
    the campaign's (`services.programmes.Programmes`). `workflows` and
    `activities` are registered as well (for example the delivery workflow and
    its activities, when one worker is to run everything). The activities are
    synchronous and run on `activity_executor`; without one, a thread pool of
    `max_concurrent_activities` threads is made and shut down when the worker
    is garbage collected. Run it with ``async with worker:`` or ``await worker.run()``.
    """
    return threaded_worker(
        client,
        task_queue,
        [ProgrammeCampaign, WorkshopAgenda, *workflows],
        [*AgendaActivities(app).all(), *CampaignActivities(programmes).all(), *activities],
        activity_executor=activity_executor,
        max_concurrent_activities=max_concurrent_activities,
        thread_name="campaign-activity",
    )


def campaign_start_options(
    input: CampaignInput, task_queue: str = DEFAULT_CAMPAIGN_TASK_QUEUE
) -> dict[str, Any]:
    """The keyword arguments `start_campaign` passes to `Client.start_workflow`.

    One run per programme at a time: a start while a run is going joins it
    (USE_EXISTING, whatever its input). A start after a run closed begins a
    new run (ALLOW_DUPLICATE): every step is idempotent, so a campaign run
    again, for example with workshops added to the plan, records nothing
    twice and runs no workshop twice.
    """
    return {
        "id": campaign_workflow_id(input.programme_id),
        "task_queue": task_queue,
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
        "id_reuse_policy": WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    }


async def start_campaign(
    client: Client, input: CampaignInput, task_queue: str = DEFAULT_CAMPAIGN_TASK_QUEUE
) -> CampaignHandle:
    """Start a programme's campaign, or return the handle of the run going already."""
    return await client.start_workflow(
        ProgrammeCampaign.run, input, **campaign_start_options(input, task_queue)
    )


def campaign_handle(client: Client, programme_id: UUID) -> CampaignHandle:
    """The handle of a programme's campaign (its latest run), for queries and results."""
    return client.get_workflow_handle_for(ProgrammeCampaign.run, campaign_workflow_id(programme_id))
