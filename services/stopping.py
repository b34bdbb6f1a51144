"""How long-running commands stop on Ctrl-C (SIGINT) and SIGTERM.

A signal turned into KeyboardInterrupt lands wherever the main thread happens
to be: half-way through building a projection runner, it leaves that runner's
threads running unstopped and the process never exits. So the commands ask
for the signals themselves and stop in order at a point of their choosing.

A stop that takes longer than `grace` seconds prints every thread's stack to
stderr, so a hang shows where it is instead of being killed silently.
"""

from __future__ import annotations

import asyncio
import faulthandler
import signal
import sys
import threading
from collections.abc import Callable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _stopping(stop: Callable[[], None], grace: float) -> Callable[[], None]:
    stopped = threading.Event()

    def first_signal() -> None:
        if not stopped.is_set():
            stopped.set()
            faulthandler.dump_traceback_later(grace, exit=False, file=sys.stderr)
        stop()

    return first_signal


def stop_on_signals(stop: Callable[[], None], grace: float = 10.0) -> None:
    """Call `stop` (from the main thread) on SIGINT or SIGTERM."""
    on_signal = _stopping(stop, grace)
    for sig in STOP_SIGNALS:
        signal.signal(sig, lambda *_: on_signal())


def stop_loop_on_signals(
    loop: asyncio.AbstractEventLoop, stop: Callable[[], None], grace: float = 20.0
) -> None:
    """Call `stop` on `loop` on SIGINT or SIGTERM (instead of cancelling its main task)."""
    on_signal = _stopping(stop, grace)
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal)


def stopped() -> None:
    """The command stopped in time: no stacks to print."""
    faulthandler.cancel_dump_traceback_later()
