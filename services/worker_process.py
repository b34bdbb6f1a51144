"""One Temporal worker for every workflow: agendas, campaigns and deliveries."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker

from workflows.campaign_worker import build_campaign_worker
from workflows.delivery import InitiativeDelivery
from workflows.delivery_activities import DeliveryActivities

from .bootstrap import Stack, build_notifier
from .programmes import Programmes


def build_all_workers(
    stack: Stack, client: Client, activity_executor: ThreadPoolExecutor | None = None
) -> Worker:
    """Pass an `activity_executor` to shut its threads down yourself (and wait for them)."""
    programmes = Programmes(stack.app)
    delivery = DeliveryActivities(programmes, build_notifier(stack.settings))
    return build_campaign_worker(
        client,
        stack.app,
        programmes,
        stack.settings.task_queue,
        workflows=[InitiativeDelivery],
        activities=delivery.all(),
        activity_executor=activity_executor,
    )
