"""A Temporal worker whose synchronous activities run on a thread pool.

The eventsourcing library is synchronous, so every activity is a plain `def`
and needs threads; a worker given no pool makes its own and shuts it down
when the worker is garbage collected.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker


def threaded_worker(
    client: Client,
    task_queue: str,
    workflows: Sequence[type],
    activities: Sequence[Callable[..., Any]],
    *,
    activity_executor: ThreadPoolExecutor | None,
    max_concurrent_activities: int,
    thread_name: str,
    **worker_options: Any,
) -> Worker:
    executor = activity_executor or ThreadPoolExecutor(
        max_workers=max_concurrent_activities, thread_name_prefix=thread_name
    )
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=list(workflows),
        activities=list(activities),
        activity_executor=executor,
        max_concurrent_activities=max_concurrent_activities,
        **worker_options,
    )
    if activity_executor is None:
        weakref.finalize(worker, executor.shutdown, wait=False)
    return worker
