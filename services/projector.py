"""The projector process: keeps every read model following the event log."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import ExitStack
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError

from projections.audit_chain import AuditChainProjection

from .audit import key_path, signing_projection
from .bootstrap import PROJECTIONS, Stack

log = logging.getLogger(__name__)


def follow(stack: Stack, poll_seconds: float, stop: threading.Event | None = None) -> None:
    """Run every projection; restart their subscriptions every `poll_seconds`.

    The library's PostgreSQL subscription waits on LISTEN/NOTIFY without a
    time-out, so a lost notification or a dropped connection could stall it.
    A fresh runner resumes from the tracked position and catches up, so each
    restart is a poll that can skip or repeat nothing; a lost connection is
    logged and the runners start again once the database answers. Setting
    `stop` ends it after the current poll.
    """
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            _follow_once(stack, poll_seconds, stop)
        except (PersistenceError, psycopg.Error) as error:  # a dropped connection, a restart
            log.warning("projector lost the database (%s); starting again", error)
            stop.wait(min(poll_seconds, 2.0))


def _follow_once(stack: Stack, poll_seconds: float, stop: threading.Event) -> None:
    runners: list[Any] = []
    try:
        with ExitStack() as running:
            for projection, view in _projections(stack):
                if stop.is_set():
                    return
                runners.append(running.enter_context(stack.runner(projection, view)))
            _wait(runners[0], poll_seconds, stop)
            for runner in runners:
                runner.run_forever(timeout=0)  # re-raise any runner's error
    finally:
        # A runner whose connection dropped can fail to stop before its event
        # thread ends; wait for it, so the next runners never write beside it.
        for runner in runners:
            thread = getattr(runner, "_processing_thread", None)
            if thread is not None:
                thread.join(timeout=10)


def _projections(stack: Stack) -> list[tuple[type[Any], type[Any]]]:
    """Every read model; the audit chain signs its checkpoints as it records them."""
    signing = signing_projection(key_path(stack.settings.data_dir))
    return [(signing if p is AuditChainProjection else p, v) for p, v in PROJECTIONS]


def _wait(runner: Any, seconds: float, stop: threading.Event) -> None:
    """Let the runners work for `seconds`, or until `stop` is set."""
    deadline = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < deadline:
        if runner.is_interrupted.is_set():  # stopped or failed: re-raise any error
            runner.run_forever(timeout=0)
            return
        runner.run_forever(timeout=min(0.25, max(deadline - time.monotonic(), 0.0)))
