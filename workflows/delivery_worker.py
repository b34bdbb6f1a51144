"""Wiring for the delivery workflow: a worker, an idempotent start, a handle.

Every client that talks to these workflows must use
`temporalio.contrib.pydantic.pydantic_data_converter`
(`workflows.worker.connect` makes such a client); a worker takes its
converter from the client it is given.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.worker import Worker

from workflows.delivery import (
    DeliveryInput,
    DeliveryStatus,
    InitiativeDelivery,
    delivery_workflow_id,
)
from workflows.delivery_activities import DeliveryActivities, DeliveryCommands
from workflows.notifier import Notifier
from workflows.threads import threaded_worker

DELIVERY_TASK_QUEUE = "quickwins-delivery"
# Activities hold a database connection each while they run; keep this at or
# below the application's pool size plus overflow.
DEFAULT_ACTIVITY_THREADS = 8

DeliveryHandle = WorkflowHandle[InitiativeDelivery, DeliveryStatus]


def build_delivery_worker(
    client: Client,
    programmes: DeliveryCommands,
    notifier: Notifier,
    task_queue: str = DELIVERY_TASK_QUEUE,
    *,
    activity_executor: ThreadPoolExecutor | None = None,
    max_concurrent_activities: int = DEFAULT_ACTIVITY_THREADS,
    **worker_options: Any,
) -> Worker:
    """A worker running `InitiativeDelivery` and its activities.

    The activities are synchronous and run on `activity_executor`; without
    one, a thread pool of `max_concurrent_activities` threads is made and shut
    down when the worker is garbage collected. Run it with ``async with
    worker:`` or ``await worker.run()``. `worker_options` go to `Worker` as
    they are (for example a short `sticky_queue_schedule_to_start_timeout`,
    so another worker takes over quickly after this one stops).
    """
    return threaded_worker(
        client,
        task_queue,
        [InitiativeDelivery],
        DeliveryActivities(programmes, notifier).all(),
        activity_executor=activity_executor,
        max_concurrent_activities=max_concurrent_activities,
        thread_name="delivery-activity",
        **worker_options,
    )


def delivery_start_options(
    input: DeliveryInput, task_queue: str = DELIVERY_TASK_QUEUE
) -> dict[str, Any]:
    """The keyword arguments `start_delivery` passes to `Client.start_workflow`.

    One chain of runs per initiative: a start while one is going joins it
    (USE_EXISTING); after it completed (evaluated or dropped) the server
    refuses a new one (only a failed, cancelled or terminated run may be
    followed by a new one).
    """
    return {
        "id": delivery_workflow_id(input.initiative_id),
        "task_queue": task_queue,
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
        "id_reuse_policy": WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    }


async def start_delivery(
    client: Client, input: DeliveryInput, task_queue: str = DELIVERY_TASK_QUEUE
) -> DeliveryHandle:
    """Start an initiative's delivery workflow, or return the handle of the one started.

    Idempotent: starting twice yields one run; after the run completed, the
    handle of that completed run is returned rather than starting it again.
    """
    try:
        return await client.start_workflow(
            InitiativeDelivery.run, input, **delivery_start_options(input, task_queue)
        )
    except WorkflowAlreadyStartedError:
        return delivery_handle(client, input.initiative_id)


def delivery_handle(client: Client, initiative_id: UUID) -> DeliveryHandle:
    """The handle of an initiative's delivery workflow (its latest run)."""
    return client.get_workflow_handle_for(
        InitiativeDelivery.run, delivery_workflow_id(initiative_id)
    )
