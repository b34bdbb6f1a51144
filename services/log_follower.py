"""Following the event log into a projection of one's own, for processes that act on events.

The read models, the delivery relay (which signals workflows) and the webhook
deliveries all follow the log the same way: the library's subscription, with a
tracking table of their own recording the last position handled. This base
runs that subscription in a thread and makes it robust. The PostgreSQL
subscription waits on LISTEN/NOTIFY without a time-out, so a fresh runner is
started every `poll_seconds` (it resumes from the tracked position: nothing
is skipped or repeated); after a failure it waits `retry_seconds` and starts
again from the tracked position.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from eventsourcing.persistence import TrackingRecorder
from eventsourcing.projection import BaseProjectionRunner, Projection

from .app import Workshops
from .persistence import schema_lock

log = logging.getLogger(__name__)
V = TypeVar("V", bound=TrackingRecorder)


class LogFollower(Generic[V]):
    """Subclasses say what to follow with (`projection`); this keeps it following."""

    def __init__(
        self,
        name: str,
        database_url: str,
        view: V,
        env: Mapping[str, str],
        *,
        poll_seconds: float,
        retry_seconds: float,
    ) -> None:
        self.follower_name = name
        self.database_url = database_url
        self.view = view
        self.env = env
        self.poll_seconds = poll_seconds
        self.retry_seconds = retry_seconds
        self.failures = 0  # runner restarts after an error
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._runner: BaseProjectionRunner[Workshops] | None = None
        self._follower = threading.Thread(target=self._follow, name=name, daemon=True)

    def projection(self) -> Projection[Any]:
        raise NotImplementedError

    def _start_following(self) -> None:
        self._follower.start()

    def _stop_following(self, timeout: float) -> None:
        """Stop after the event in flight."""
        self._stopping.set()
        with self._lock:
            if self._runner is not None:
                self._runner.stop()
        if self._follower.is_alive():
            self._follower.join(timeout=timeout)

    def _new_runner(self) -> BaseProjectionRunner[Workshops]:
        projection = self.projection()
        # Processes starting together must not race to create the same tables.
        with schema_lock(self.database_url):
            return BaseProjectionRunner[Workshops](
                projection=projection,
                application_class=Workshops,
                tracking_recorder=self.view,
                topics=projection.topics,
                env=self.env,
            )

    def _follow(self) -> None:
        while not self._stopping.is_set():
            try:
                runner = self._new_runner()
                with self._lock:
                    self._runner = runner
                if self._stopping.is_set():
                    runner.stop()
                with runner:
                    runner.run_forever(timeout=self.poll_seconds)
            except Exception:
                self.failures += 1
                log.exception("%s failed; restarting from its tracked position", self.follower_name)
                self._stopping.wait(self.retry_seconds)
            finally:
                with self._lock:
                    self._runner = None
