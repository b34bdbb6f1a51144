"""Wiring for the services layer: a client, a worker, and an idempotent start.

Every client that talks to these workflows must use
`temporalio.contrib.pydantic.pydantic_data_converter` (`connect` does); a
worker takes its converter from the client it is given.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.worker import Worker

from workflows.activities import AgendaActivities, AgendaCommands
from workflows.agenda import AgendaInput, AgendaStatus, WorkshopAgenda, agenda_workflow_id
from workflows.threads import threaded_worker

DEFAULT_TASK_QUEUE = "quickwins-agenda"
# Activities hold a database connection each while they run; keep this at or
# below the application's pool size plus overflow.
DEFAULT_ACTIVITY_THREADS = 8

AgendaHandle = WorkflowHandle[WorkshopAgenda, AgendaStatus]


async def connect(target: str, namespace: str = "default") -> Client:
    """A client with the pydantic data converter, as every caller here needs."""
    return await Client.connect(target, namespace=namespace, data_converter=pydantic_data_converter)


def build_worker(
    client: Client,
    app: AgendaCommands,
    task_queue: str = DEFAULT_TASK_QUEUE,
    *,
    activity_executor: ThreadPoolExecutor | None = None,
    max_concurrent_activities: int = DEFAULT_ACTIVITY_THREADS,
) -> Worker:
    """A worker running `WorkshopAgenda` and its activities, bound to `app`.

    The activities are synchronous and run on `activity_executor`; without one,
    a thread pool of `max_concurrent_activities` threads is made and shut down
    when the worker is garbage collected. Run it with ``async with worker:`` or
    ``await worker.run()``.
    """
    return threaded_worker(
        client,
        task_queue,
        [WorkshopAgenda],
        AgendaActivities(app).all(),
        activity_executor=activity_executor,
        max_concurrent_activities=max_concurrent_activities,
        thread_name="agenda-activity",
    )


def agenda_start_options(
    input: AgendaInput, task_queue: str = DEFAULT_TASK_QUEUE
) -> dict[str, Any]:
    """The keyword arguments `start_agenda` passes to `Client.start_workflow`.

    One run per workshop: a start while a run is going joins it
    (USE_EXISTING); a start after a run completed is refused by the server
    (only a failed, cancelled or terminated run may be followed by a new one).
    """
    return {
        "id": agenda_workflow_id(input.workshop_id),
        "task_queue": task_queue,
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
        "id_reuse_policy": WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    }


async def start_agenda(
    client: Client, input: AgendaInput, task_queue: str = DEFAULT_TASK_QUEUE
) -> AgendaHandle:
    """Start a workshop's agenda, or return the handle of the one already started.

    Idempotent: starting twice yields one run; after a run completed, the
    handle of that completed run is returned rather than starting it again.
    """
    try:
        return await client.start_workflow(
            WorkshopAgenda.run, input, **agenda_start_options(input, task_queue)
        )
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle_for(
            WorkshopAgenda.run, agenda_workflow_id(input.workshop_id)
        )


def agenda_handle(client: Client, workshop_id: Any) -> AgendaHandle:
    """The handle of a workshop's agenda run (the latest one), for updates and queries."""
    return client.get_workflow_handle_for(WorkshopAgenda.run, agenda_workflow_id(workshop_id))
