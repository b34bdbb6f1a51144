"""The delivery workflow on a real Temporal dev server and a real PostgreSQL.

A scenario day passes in `DAY` real seconds. Each test runs its own worker
on a task queue of its own; the tests that react to recorded events run the
relay that follows the event log and signals the workflow. What the
workflow did is checked where it is recorded: as events on the initiative,
and as notices (on a loopback SMTP server, or in a list).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email
import email.policy
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest
from aiosmtpd.controller import Controller
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, Worker

from domain import programme_commands as pc
from domain.initiative import Rag, Stage
from domain.meta import Meta
from services.app import Workshops
from services.delivery_relay import RELAYED_EVENTS, DeliveryRelay
from services.embedded import free_port
from services.notifications import FanOutNotifier, LogNotifier, SmtpNotifier
from services.persistence import postgres_env
from services.programmes import Programmes
from workflows.delivery import (
    DeliveryInput,
    DeliveryPolicy,
    DeliveryStatus,
    InitiativeDelivery,
    delivery_workflow_id,
)
from workflows.delivery_activities import DeliveryActivities, NotifyAct
from workflows.delivery_worker import build_delivery_worker, delivery_handle, start_delivery
from workflows.notifier import Notice, Notifier, Recipient
from workflows.worker import connect

pytestmark = pytest.mark.workflow

T = TypeVar("T")
DAY = 0.2  # real seconds per scenario day
SCALE = 86_400 / DAY
# The server fires no timer sooner than about a second after it is set, so
# the acts in these tests are at least GAP scenario days (1.6 s) apart, and an
# act may be up to LATE after its moment on a busy machine.
GAP = 8
LATE = timedelta(days=2)
EPOCH = datetime(2010, 9, 1, 9, 0, tzinfo=UTC)  # the winners are carried forward
OWNER = "Ann Owner <ann@example.org>"
Handle = WorkflowHandle[InitiativeDelivery, DeliveryStatus]


# ----- the stack ---------------------------------------------------------------


@pytest.fixture
def programmes(fresh_database_url: str) -> Iterator[Programmes]:
    app = Workshops(env=postgres_env(fresh_database_url))
    try:
        yield Programmes(app)
    finally:
        app.close()


class Recorder:
    """A notifier that keeps what it is given."""

    def __init__(self) -> None:
        self.notices: list[Notice] = []
        self._lock = threading.Lock()

    def send(self, notice: Notice) -> None:
        with self._lock:
            self.notices.append(notice)

    def kinds(self) -> list[str]:
        with self._lock:
            return [n.kind for n in self.notices]


@contextmanager
def smtp_server() -> Iterator[tuple[int, list[EmailMessage]]]:
    """An SMTP server on a free loopback port, keeping the messages it receives."""
    received: list[EmailMessage] = []

    class Keep:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
            received.append(message)
            return "250 Message accepted for delivery"

    port = free_port()
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


@asynccontextmanager
async def worker_for(
    address: str, programmes: Programmes, notifier: Notifier, task_queue: str | None = None
) -> AsyncIterator[tuple[Client, str]]:
    client = await connect(address)
    queue = task_queue or f"delivery-test-{uuid4().hex[:12]}"
    async with build_delivery_worker(client, programmes, notifier, queue):
        yield client, queue


def new_worker(client: Client, programmes: Programmes, notifier: Notifier, queue: str) -> Worker:
    # A short sticky time-out: once a worker stops, the next one gets its tasks at once.
    return build_delivery_worker(
        client,
        programmes,
        notifier,
        queue,
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=1),
    )


# ----- the initiative ---------------------------------------------------------------


def meta(at: datetime, actor: str = "programme-manager") -> Meta:
    return Meta(actor=actor, at=at, correlation_id=uuid4(), causation_id=uuid4())


def new_initiative(
    programmes: Programmes, stage: Stage = Stage.IN_DELIVERY, owner: str | None = OWNER
) -> UUID:
    """An initiative adopted at EPOCH, moved on to `stage` at EPOCH."""
    programme_id = programmes.launch(
        pc.LaunchProgramme(
            name=f"South West ICT {uuid4().hex[:6]}", sponsor="SW RDA", regions=["South West"]
        ),
        meta(EPOCH),
    )
    initiative_id = uuid4()
    programmes.add_initiative(
        pc.AddInitiative(
            programme_id=programme_id,
            initiative_id=initiative_id,
            title="Regional workshop for chief executives",
            region="South West",
            reason="the vote's clear winner",
        ),
        meta(EPOCH),
    )
    if owner is not None:
        programmes.assign_owner(
            pc.AssignOwner(initiative_id=initiative_id, owner=owner), meta(EPOCH)
        )
    path = {
        Stage.PROPOSED: [],
        Stage.APPROVED: [Stage.APPROVED],
        Stage.IN_DELIVERY: [Stage.APPROVED, Stage.IN_DELIVERY],
    }[stage]
    for step in path:
        programmes.move(pc.MoveInitiative(initiative_id=initiative_id, stage=step), meta(EPOCH))
    return initiative_id


def plan(programmes: Programmes, initiative_id: UUID, title: str, due: datetime) -> UUID:
    milestone_id = uuid4()
    programmes.plan_milestone(
        pc.PlanMilestone(
            initiative_id=initiative_id, milestone_id=milestone_id, title=title, due=due
        ),
        meta(EPOCH),
    )
    return milestone_id


def recorded(programmes: Programmes, initiative_id: UUID, *names: str) -> list[Any]:
    """The initiative's events of the given kinds (all of them without names)."""
    events = list(programmes.app.repository.event_store.get(initiative_id))
    return [e for e in events if not names or type(e).__name__ in names]


def reminders(programmes: Programmes, initiative_id: UUID, kind: str, about: str = "") -> list[Any]:
    return [
        e
        for e in recorded(programmes, initiative_id, "ReminderSent")
        if e.kind == kind and about in e.about
    ]


# ----- waiting -------------------------------------------------------------------------


async def eventually(check: Callable[[], T], timeout: float = 10.0, what: str = "") -> T:
    """Poll a synchronous `check` (off the loop) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        found = await asyncio.to_thread(check)
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        await asyncio.sleep(0.05)


async def status_when(
    handle: Handle, ready: Callable[[DeliveryStatus], bool], timeout: float = 10.0
) -> DeliveryStatus:
    deadline = time.monotonic() + timeout
    while True:
        status = await handle.query(InitiativeDelivery.status)
        if ready(status):
            return status
        assert time.monotonic() < deadline, f"status never became ready: {status}"
        await asyncio.sleep(0.05)


async def sim_now(handle: Handle) -> datetime:
    """The workflow's scenario time now (for acts the test records)."""
    status = await handle.query(InitiativeDelivery.status)
    return status.sim_time_at(datetime.now(UTC))


async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(fn, *args)


async def runs(client: Client, handle: Handle) -> list[WorkflowHandle[Any, Any]]:
    """Every run of the workflow's chain, first to last (following continue-as-new)."""
    chain: list[WorkflowHandle[Any, Any]] = []
    run_id: str | None = handle.first_execution_run_id or handle.result_run_id
    while run_id:
        run = client.get_workflow_handle(handle.id, run_id=run_id)
        chain.append(run)
        history = await run.fetch_history()
        last = history.events[-1]
        continued = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.event_type == continued
            else None
        )
    return chain


async def history_text(client: Client, handle: Handle) -> str:
    """Every string in the chain's histories, payloads decoded: what Temporal keeps."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "data" and isinstance(value, str):
                    try:
                        found.append(base64.b64decode(value).decode("utf-8", "replace"))
                    except (binascii.Error, ValueError):
                        found.append(value)
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            found.append(node)

    for run in await runs(client, handle):
        walk((await run.fetch_history()).to_json_dict())
    return "\n".join(found)


async def replay_all(client: Client, handle: Handle) -> int:
    """Replay every run of the chain; returns how many there were."""
    replayer = Replayer(workflows=[InitiativeDelivery], data_converter=pydantic_data_converter)
    chain = await runs(client, handle)
    for run in chain:
        result = await replayer.replay_workflow(await run.fetch_history())
        assert result.replay_failure is None, result.replay_failure
    return len(chain)


def until(scenario: Coroutine[Any, Any, T]) -> T:
    """Run a scenario on a fresh loop; a hung one fails rather than stalls the suite."""

    async def bounded() -> T:
        return await asyncio.wait_for(scenario, timeout=80)

    return asyncio.run(bounded())


# ----- tests ---------------------------------------------------------------------------


def test_input_is_checked() -> None:
    initiative = UUID(int=7)
    assert delivery_workflow_id(initiative) == f"delivery-{initiative}"
    naive = DeliveryInput(initiative_id=initiative, sim_epoch=datetime(2010, 9, 1, 9))
    assert naive.sim_epoch == EPOCH
    assert naive.policy == DeliveryPolicy(
        remind_days_before=3, progress_every_days=14, stale_after_days=21, review_after_days=42
    )
    with pytest.raises(ValueError):
        DeliveryInput(initiative_id=initiative, time_scale=0)
    with pytest.raises(ValueError):
        DeliveryPolicy(progress_every_days=0)
    with pytest.raises(ValueError):
        DeliveryPolicy(stale_after_days=float("nan"))
    with pytest.raises(ValueError):
        DeliveryInput(initiative_id=initiative, max_history_length=5)


def test_reminds_flags_and_reviews_by_mail(
    temporal_server: Any, programmes: Programmes, fresh_database_url: str
) -> None:
    """Milestones and the benefits review, through the relay and a loopback SMTP server."""
    initiative = new_initiative(programmes)
    venue = plan(programmes, initiative, "Venue booked", EPOCH + timedelta(days=2 * GAP))
    invites = plan(programmes, initiative, "Invitations out", EPOCH + timedelta(days=60))
    # Reports are another test's business; "some weeks later" is two here.
    policy = DeliveryPolicy(
        remind_days_before=GAP, progress_every_days=100, stale_after_days=200, review_after_days=14
    )

    async def scenario(port: int) -> tuple[DeliveryStatus, datetime, int, str]:
        notifier = FanOutNotifier(
            [
                LogNotifier(),
                SmtpNotifier("127.0.0.1", port, "quickwins@example.org", "pmo@example.org"),
            ]
        )
        async with worker_for(temporal_server.address, programmes, notifier) as (client, queue):
            with DeliveryRelay(fresh_database_url, client, poll_seconds=2.0) as relay:
                handle = await start_delivery(
                    client,
                    DeliveryInput(
                        initiative_id=initiative, time_scale=SCALE, sim_epoch=EPOCH, policy=policy
                    ),
                    queue,
                )
                again = await start_delivery(
                    client, DeliveryInput(initiative_id=initiative, time_scale=SCALE), queue
                )
                assert again.result_run_id == handle.result_run_id  # one run per initiative
                status = await status_when(handle, lambda s: s.next_due is not None)
                assert status.next_due is not None
                assert status.next_due.kind == "milestone-reminder"
                assert status.next_due.milestone_id == venue
                assert status.next_due.at == EPOCH + timedelta(days=GAP)

                # Eight days before the venue is due, its owner is reminded.
                await eventually(
                    lambda: reminders(programmes, initiative, "milestone-reminder", str(venue)),
                    what="the venue's reminder",
                )
                # The invitations go out early: the relay tells the workflow, which
                # drops their reminder (due at day 52) and overdue flag (day 60).
                at = await sim_now(handle)
                assert at < EPOCH + timedelta(days=2 * GAP)
                await off_loop(
                    programmes.complete_milestone,
                    pc.CompleteMilestone(initiative_id=initiative, milestone_id=invites),
                    meta(at, "ann"),
                )
                status = await status_when(
                    handle, lambda s: all(u.milestone_id != invites for u in s.upcoming), timeout=5
                )
                assert status.signals >= 1
                assert [u.kind for u in status.upcoming] == [
                    "milestone-overdue",
                    "progress-request",
                    "stale",
                ]

                # The venue is not booked by its due date: flagged overdue.
                await eventually(
                    lambda: recorded(programmes, initiative, "MilestoneOverdue"),
                    what="the overdue flag",
                )
                # Delivered: the review is scheduled two weeks on.
                at = await sim_now(handle)
                await off_loop(
                    programmes.move,
                    pc.MoveInitiative(initiative_id=initiative, stage=Stage.DELIVERED),
                    meta(at, "ann"),
                )
                scheduled = await eventually(
                    lambda: recorded(programmes, initiative, "BenefitsReviewScheduled"),
                    what="the review",
                )
                review_due = at + timedelta(days=14)
                assert scheduled[0].due == review_due
                status = await status_when(
                    handle, lambda s: s.next_due is not None and s.stage == Stage.DELIVERED
                )
                assert status.next_due is not None
                assert status.next_due.kind == "benefits-review"
                assert status.next_due.at == review_due
                # Is it better? The owner is asked when the review falls due.
                await eventually(
                    lambda: reminders(programmes, initiative, "benefits-review"),
                    what="the review's reminder",
                )

                # Evaluated: the watch is over.
                await off_loop(
                    programmes.move,
                    pc.MoveInitiative(initiative_id=initiative, stage=Stage.EVALUATED),
                    meta(await sim_now(handle)),
                )
                final = await handle.result()
                assert relay.signalled >= 3  # completed, delivered, evaluated
                replayed = await replay_all(client, handle)
                return final, review_due, replayed, await history_text(client, handle)

    with smtp_server() as (port, mail):
        final, review_due, replayed, history = until(scenario(port))

    assert final.finished and final.stage == Stage.EVALUATED and final.next_due is None
    assert final.notices == 3 and replayed == 1

    # What the workflow recorded, once each, at scenario time: the reminder
    # before the due date, the flag after it.
    venue_due = EPOCH + timedelta(days=2 * GAP)
    reminded = reminders(programmes, initiative, "milestone-reminder")
    assert len(reminded) == 1 and str(venue) in reminded[0].about
    owner_id = programmes.initiative(initiative).owner_id
    assert owner_id is not None and reminded[0].owner_id == owner_id
    # Temporal's history names the owner by id only; the activity looked them up to send.
    assert str(owner_id) in history and "Venue booked" in history
    for personal in ("Ann Owner", "ann@example.org"):
        assert personal not in history, personal
    assert EPOCH + timedelta(days=GAP) <= reminded[0].meta.at < EPOCH + timedelta(days=GAP) + LATE
    overdue = recorded(programmes, initiative, "MilestoneOverdue")
    assert [e.milestone_id for e in overdue] == [venue]
    assert venue_due <= overdue[0].meta.at < venue_due + LATE
    assert len(recorded(programmes, initiative, "BenefitsReviewScheduled")) == 1
    review = reminders(programmes, initiative, "benefits-review")
    assert len(review) == 1
    assert review_due <= review[0].meta.at < review_due + LATE
    acts = recorded(
        programmes, initiative, "ReminderSent", "MilestoneOverdue", "BenefitsReviewScheduled"
    )
    assert {e.meta.actor for e in acts} == {"delivery-timer"}
    assert len({e.meta.correlation_id for e in acts}) == 1

    # The mail: to the owner's address, one per notice, in order.
    assert [m["X-Quickwins-Kind"] for m in mail] == [
        "milestone-reminder",
        "milestone-overdue",
        "benefits-review",
    ]
    assert {m["X-Envelope-To"] for m in mail} == {"ann@example.org"}
    assert {m["To"] for m in mail} == {OWNER}
    assert {m["From"] for m in mail} == {"quickwins@example.org"}
    assert mail[0]["Subject"] == "Reminder: 'Venue booked' is due on 17 September 2010"
    assert mail[1]["Subject"] == "Overdue: 'Venue booked' was due on 17 September 2010"
    assert str(mail[2]["Subject"]).endswith("is it better?")
    assert "Invitations out" not in " ".join(str(m["Subject"]) for m in mail)
    assert len({m["Message-ID"] for m in mail}) == 3


def test_asks_for_reports_and_flags_the_silent_stale(
    temporal_server: Any, programmes: Programmes, fresh_database_url: str
) -> None:
    """A request every week without a report, a stale flag after two; a report clears it."""
    initiative = new_initiative(programmes, owner="Bob (no e-mail)")
    policy = DeliveryPolicy(progress_every_days=GAP, stale_after_days=2 * GAP)
    recorder = Recorder()

    async def scenario() -> tuple[DeliveryStatus, DeliveryStatus, datetime]:
        async with worker_for(temporal_server.address, programmes, recorder) as (client, queue):
            with DeliveryRelay(fresh_database_url, client, poll_seconds=2.0):
                handle = await start_delivery(
                    client,
                    DeliveryInput(
                        initiative_id=initiative, time_scale=SCALE, sim_epoch=EPOCH, policy=policy
                    ),
                    queue,
                )
                await eventually(
                    lambda: recorded(programmes, initiative, "FlaggedStale"),
                    what="the stale flag",
                )
                # A report clears the flag and restarts the cadence from it.
                reported = await sim_now(handle)
                await off_loop(
                    programmes.report_progress,
                    pc.ReportProgress(
                        initiative_id=initiative, percent=40, status=Rag.AMBER, note="slow"
                    ),
                    meta(reported, "bob"),
                )
                status = await status_when(
                    handle,
                    lambda s: (
                        s.next_due is not None and s.next_due.at == reported + timedelta(days=GAP)
                    ),
                )
                at = status.sim_time_at(datetime.now(UTC))
                await off_loop(
                    programmes.move,
                    pc.MoveInitiative(
                        initiative_id=initiative, stage=Stage.DROPPED, reason="folded into another"
                    ),
                    meta(at),
                )
                final = await handle.result()
                await replay_all(client, handle)
                return status, final, reported

    status, final, reported = until(scenario())
    assert final.finished and final.stage == Stage.DROPPED
    assert status.next_due is not None and status.next_due.kind == "progress-request"
    assert status.next_due.at == reported + timedelta(days=GAP)
    assert [u.kind for u in status.upcoming] == ["progress-request", "stale"]
    assert status.upcoming[1].at == reported + timedelta(days=2 * GAP)

    requests = reminders(programmes, initiative, "progress-request")
    assert len(requests) == 2
    for n, request in enumerate(requests, start=1):
        moment = EPOCH + timedelta(days=n * GAP)  # every GAP days since the adoption
        assert moment <= request.meta.at < moment + LATE
    stale = recorded(programmes, initiative, "FlaggedStale")
    assert len(stale) == 1
    moment = EPOCH + timedelta(days=2 * GAP)
    assert moment <= stale[0].meta.at < moment + LATE
    assert stale[0].last_report_at is None
    assert recorder.kinds() == ["progress-request", "progress-request", "stale"]
    owner_id = programmes.initiative(initiative).owner_id
    assert {n.owner_id for n in recorder.notices} == {owner_id}
    assert {n.recipient for n in recorder.notices} == {
        Recipient(name="Bob (no e-mail)", address=None)
    }
    assert programmes.initiative(initiative).stale is False  # the report cleared it


def test_recorded_events_replan_and_dropping_ends_the_watch(
    temporal_server: Any, programmes: Programmes, fresh_database_url: str
) -> None:
    """A milestone planned later is reminded of at once; dropping finishes the run at once."""
    policy = DeliveryPolicy(remind_days_before=25, progress_every_days=60, stale_after_days=90)
    recorder = Recorder()

    async def scenario() -> tuple[DeliveryStatus, float, int]:
        async with worker_for(temporal_server.address, programmes, recorder) as (client, queue):
            with DeliveryRelay(fresh_database_url, client, poll_seconds=2.0) as relay:
                # Recorded before the workflow exists: the relay finds no one to tell.
                initiative = await off_loop(new_initiative, programmes, Stage.APPROVED)
                await eventually(lambda: relay.missing >= 2, what="signals to no workflow")
                handle = await start_delivery(
                    client,
                    DeliveryInput(
                        initiative_id=initiative, time_scale=SCALE, sim_epoch=EPOCH, policy=policy
                    ),
                    queue,
                )
                status = await status_when(handle, lambda s: s.next_due is not None)
                assert status.next_due is not None and status.next_due.kind == "progress-request"
                assert status.next_due.at == EPOCH + timedelta(days=60)

                # Planned now, due in twenty days: inside the reminder window.
                due = await sim_now(handle) + timedelta(days=20)
                milestone = await off_loop(plan, programmes, initiative, "Speakers booked", due)
                await eventually(
                    lambda: reminders(programmes, initiative, "milestone-reminder", str(milestone)),
                    timeout=3,
                    what="the new milestone's reminder",
                )
                status = await status_when(
                    handle, lambda s: s.next_due is not None and s.next_due.at == due
                )
                assert status.next_due is not None
                assert status.next_due.kind == "milestone-overdue"

                # Dropped: the run ends now, long before anything else falls due.
                dropped = time.monotonic()
                at = await sim_now(handle)
                await off_loop(
                    programmes.move,
                    pc.MoveInitiative(
                        initiative_id=initiative, stage=Stage.DROPPED, reason="no sponsor"
                    ),
                    meta(at),
                )
                final = await handle.result()
                took = time.monotonic() - dropped
                # The same handle, by id, sees the finished run.
                described = await delivery_handle(client, initiative).describe()
                assert described.status is not None and described.status.name == "COMPLETED"
                await replay_all(client, handle)
                return final, took, relay.signalled

    final, took, signalled = until(scenario())
    assert final.finished and final.stage == Stage.DROPPED
    assert took < 2.0, took  # the next timer was twenty scenario days (4 s) away
    assert signalled >= 2  # planned, dropped
    assert recorder.kinds() == ["milestone-reminder"]


def test_continue_as_new_keeps_its_state(temporal_server: Any, programmes: Programmes) -> None:
    """Small histories: the run continues as new and nothing is done twice."""
    initiative = new_initiative(programmes)
    # Every GAP days one falls due and the next one's reminder goes out.
    milestones = [
        plan(programmes, initiative, f"Step {n}", EPOCH + timedelta(days=GAP * n))
        for n in (1, 2, 3)
    ]
    policy = DeliveryPolicy(remind_days_before=GAP, progress_every_days=100, stale_after_days=200)
    recorder = Recorder()
    limit = 40

    async def scenario() -> tuple[list[int], DeliveryStatus, DeliveryStatus]:
        async with worker_for(temporal_server.address, programmes, recorder) as (client, queue):
            handle = await start_delivery(
                client,
                DeliveryInput(
                    initiative_id=initiative,
                    time_scale=SCALE,
                    sim_epoch=EPOCH,
                    policy=policy,
                    max_history_length=limit,
                ),
                queue,
            )
            first_run = handle.result_run_id
            await eventually(
                lambda: len(recorded(programmes, initiative, "MilestoneOverdue")) == 3,
                what="three overdue flags",
            )
            status = await status_when(
                handle, lambda s: s.next_due is not None and s.next_due.kind == "progress-request"
            )
            assert (await handle.describe()).run_id != first_run
            # Dropped (signalled by hand here: no relay in this test).
            at = status.sim_time_at(datetime.now(UTC))
            await off_loop(
                programmes.move,
                pc.MoveInitiative(initiative_id=initiative, stage=Stage.DROPPED, reason="merged"),
                meta(at),
            )
            await handle.signal(InitiativeDelivery.initiative_changed, "StageChanged")
            final = await handle.result()
            lengths = [
                len((await run.fetch_history()).events) for run in await runs(client, handle)
            ]
            assert await replay_all(client, handle) == len(lengths)
            return lengths, status, final

    lengths, status, final = until(scenario())
    assert len(lengths) >= 3, lengths
    # Bounded: a run ends at its first quiet moment past the limit.
    assert max(lengths) < limit + 40, lengths
    assert status.run == len(lengths) and final.run == len(lengths)
    assert status.sim_origin == EPOCH  # the scenario clock carried over
    assert final.finished and final.cycles >= 3
    # Once each, across the runs.
    for milestone in milestones:
        assert len(reminders(programmes, initiative, "milestone-reminder", str(milestone))) == 1
    overdue = recorded(programmes, initiative, "MilestoneOverdue")
    assert sorted(str(e.milestone_id) for e in overdue) == sorted(map(str, milestones))
    for event in overdue:
        assert event.due <= event.meta.at < event.due + LATE
    assert sorted(recorder.kinds()) == sorted(["milestone-reminder", "milestone-overdue"] * 3)
    assert final.notices == 6


def test_a_worker_restart_loses_nothing(temporal_server: Any, programmes: Programmes) -> None:
    """Kill the worker mid-flight; a new one on the same queue carries on, nothing twice."""
    initiative = new_initiative(programmes)
    due = EPOCH + timedelta(days=2 * GAP)
    milestone = plan(programmes, initiative, "Venue booked", due)
    policy = DeliveryPolicy(remind_days_before=GAP, progress_every_days=100, stale_after_days=200)
    recorder = Recorder()

    async def scenario() -> tuple[str, str, DeliveryStatus]:
        client = await connect(temporal_server.address)
        queue = f"delivery-test-{uuid4().hex[:12]}"
        first = new_worker(client, programmes, recorder, queue)
        running = asyncio.create_task(first.run())
        handle = await start_delivery(
            client,
            DeliveryInput(
                initiative_id=initiative, time_scale=SCALE, sim_epoch=EPOCH, policy=policy
            ),
            queue,
        )
        await eventually(
            lambda: reminders(programmes, initiative, "milestone-reminder"),
            what="the reminder",
        )
        # Mid-flight: the workflow sleeps on the overdue flag's timer. Kill the
        # worker. (Killed while it holds a workflow task, the task would time out
        # first: ten seconds by default, then the next worker takes over.)
        await status_when(
            handle,
            lambda s: (
                s.next_due is not None
                and s.next_due.kind == "milestone-overdue"
                and s.deadline is not None
            ),
        )
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        before = (await handle.describe()).run_id
        # The due date passes with no worker: nothing can be recorded.
        await asyncio.sleep((GAP + 2) * DAY)
        assert recorded(programmes, initiative, "MilestoneOverdue") == []

        async with new_worker(client, programmes, recorder, queue):
            flagged = await eventually(
                lambda: recorded(programmes, initiative, "MilestoneOverdue"),
                what="the overdue flag after the restart",
            )
            assert flagged[0].milestone_id == milestone
            # Done with the milestone: next comes the (far) progress request.
            status = await status_when(
                handle, lambda s: s.next_due is not None and s.next_due.kind == "progress-request"
            )
            assert [u.kind for u in status.upcoming] == ["progress-request", "stale"]
            after = (await handle.describe()).run_id
            await off_loop(
                programmes.move,
                pc.MoveInitiative(initiative_id=initiative, stage=Stage.DROPPED, reason="merged"),
                meta(status.sim_time_at(datetime.now(UTC))),
            )
            await handle.signal(InitiativeDelivery.initiative_changed, "StageChanged")
            final = await handle.result()
            await replay_all(client, handle)
        return before, after, final

    before, after, final = until(scenario())
    assert before == after  # the same run carried on
    assert final.finished and final.stage == Stage.DROPPED
    overdue = recorded(programmes, initiative, "MilestoneOverdue")
    assert len(overdue) == 1 and overdue[0].meta.at >= due
    assert len(reminders(programmes, initiative, "milestone-reminder")) == 1
    assert recorder.kinds() == ["milestone-reminder", "milestone-overdue"]


def test_the_relay_resumes_from_its_tracked_position(
    programmes: Programmes, fresh_database_url: str
) -> None:
    """Signal, then track: a restart repeats nothing done and skips nothing."""
    signals: list[tuple[UUID, str]] = []
    lock = threading.Lock()

    def signal(initiative_id: UUID, kind: str) -> bool:
        with lock:
            signals.append((initiative_id, kind))
        return True

    initiative = new_initiative(programmes)
    planned = programmes.plan_milestone(
        pc.PlanMilestone(initiative_id=initiative, milestone_id=uuid4(), title="Venue", due=EPOCH),
        meta(EPOCH),
    )
    with DeliveryRelay(fresh_database_url, signaller=signal, poll_seconds=0.5) as relay:
        relay.wait(planned, timeout=10)
        assert relay.position() == planned
    assert signals == [
        (initiative, "OwnerAssigned"),
        (initiative, "StageChanged"),
        (initiative, "StageChanged"),
        (initiative, "MilestonePlanned"),
    ]

    # Meanwhile: an event the relay leaves alone, and one it relays.
    programmes.record_reminder(
        pc.RecordReminder(initiative_id=initiative, kind="milestone-reminder"), meta(EPOCH)
    )
    reported = programmes.report_progress(
        pc.ReportProgress(initiative_id=initiative, percent=10, status=Rag.AMBER), meta(EPOCH)
    )
    failed = threading.Event()

    def flaky(initiative_id: UUID, kind: str) -> bool:
        if not failed.is_set():  # Temporal is unreachable, once
            failed.set()
            raise ConnectionError("no Temporal")
        return signal(initiative_id, kind)

    with DeliveryRelay(
        fresh_database_url, signaller=flaky, poll_seconds=0.5, retry_seconds=0.1
    ) as relay:
        relay.wait(reported, timeout=10)
        assert relay.failures == 1 and relay.signalled == 1
    assert signals[4:] == [(initiative, "ProgressReported")]
    assert "ProgressReported" in RELAYED_EVENTS and "ReminderSent" not in RELAYED_EVENTS


class Refusing:
    """A notifier whose error quotes the address, as a mail server's might."""

    def send(self, notice: Notice) -> None:
        assert notice.recipient is not None
        raise ValueError(f"550 mailbox unavailable: {notice.recipient.address}")


def test_notices_are_addressed_at_send_time_and_an_erased_owner_has_no_address(
    programmes: Programmes,
) -> None:
    """The notify activity looks the owner up; after an erasure it finds only the marker."""
    initiative = new_initiative(programmes)
    found = programmes.initiative(initiative)
    assert found.owner_id is not None
    notice = Notice(
        kind="stale",
        initiative_id=initiative,
        title=found.title,
        owner_id=found.owner_id,
        subject="Stale",
        body="No report",
        at=EPOCH,
    )
    recorder = Recorder()
    activities = DeliveryActivities(programmes, recorder)
    activities.notify(NotifyAct(notice=notice))
    activities.notify(NotifyAct(notice=notice.model_copy(update={"owner_id": uuid4()})))

    # A failure names the error's type only: it goes into the workflow's history.
    with pytest.raises(RuntimeError) as raised:
        DeliveryActivities(programmes, Refusing()).notify(NotifyAct(notice=notice))
    assert "ann" not in str(raised.value).lower() and raised.value.__cause__ is None

    programmes.erase_owner(
        pc.EraseOwner(programme_id=found.programme_id, owner_id=found.owner_id),
        meta(EPOCH, "admin:dpo"),
    )
    activities.notify(NotifyAct(notice=notice))
    assert [n.recipient for n in recorder.notices] == [
        Recipient(name="Ann Owner", address=OWNER),
        None,  # not an owner: the fallback
        Recipient(name="erased owner", address=None),  # erased: the fallback too
    ]
    assert all("recipient" not in n.model_dump() for n in recorder.notices)
