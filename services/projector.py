"""The projector process: keeps read models following the event log."""

from __future__ import annotations

from .bootstrap import PROJECTIONS, Stack


def follow(stack: Stack, poll_seconds: float) -> None:
    """Run every projection; restart its subscription every `poll_seconds`.

    The library's PostgreSQL subscription waits on LISTEN/NOTIFY without a
    time-out, so a lost notification or a dropped connection could stall it.
    A fresh runner resumes from the tracked position and catches up, so each
    restart is a poll that can skip or repeat nothing.
    """
    while True:
        runners = [stack.runner(projection, view) for projection, view in PROJECTIONS]
        try:
            runners[0].run_forever(timeout=poll_seconds)
            for runner in runners:
                runner.run_forever(timeout=0)  # re-raise any runner's error
        finally:
            for runner in runners:
                runner.__exit__(None, None, None)
