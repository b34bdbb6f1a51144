"""Scenario time: a demo run today records its acts at the times of the story."""

from __future__ import annotations

import time
from datetime import datetime, timedelta


class ScenarioClock:
    """Maps real seconds to scenario time, `scale` scenario seconds per real second."""

    def __init__(self, epoch: datetime, scale: float) -> None:
        self.epoch = epoch
        self.scale = scale
        self._real_start = time.monotonic()

    def now(self) -> datetime:
        elapsed = time.monotonic() - self._real_start
        return self.epoch + timedelta(seconds=elapsed * self.scale)

    def real_seconds(self, scenario_minutes: float) -> float:
        return scenario_minutes * 60 / self.scale
