"""Long-running commands (worker, projector, the local stack) as real subprocesses.

Each command starts in a session of its own (``start_new_session=True``), so a
test can signal its whole process group as a terminal's Ctrl-C would, and
`started` stops whatever is left of the group when the test ends, pass or
fail. Output goes to files rather than pipes: a chatty process can never block
on a full pipe, and a failing test can show the tail of what it said.

Processes outside the group (the embedded servers run in sessions of their
own) are tracked by `Pid`: a process id plus its start time, so a pid that the
system reused for an unrelated process is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from services.embedded import pid_alive

# The `quickwins` command, run by this interpreter as a user would run it.
CLI = (sys.executable, "-c", "from services.cli import main; main()")

POLL = 0.1


def _default_sigint() -> tuple[str, ...]:
    """A prefix that gives a command SIGINT's default back.

    A test run started in the background (as CI may start it) has SIGINT
    ignored, and a child inherits that: a bash script then cannot trap the
    Ctrl-C these tests send. GNU env can undo it.
    """
    probe = subprocess.run(["env", "--default-signal=INT", "true"], capture_output=True)
    return ("env", "--default-signal=INT") if probe.returncode == 0 else ()


DEFAULT_SIGINT = _default_sigint()


def cli_env(**variables: str) -> dict[str, str]:
    """This environment without any QUICKWINS_* setting, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKWINS_")}
    env["COLUMNS"] = "160"  # rich wraps long lines at the terminal's width
    env["PYTHONUNBUFFERED"] = "1"
    env.update(variables)
    return env


def wait_until(
    check: Callable[[], object], timeout: float, what: str, detail: Callable[[], str] = str
) -> object:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}\n{detail()}")
        time.sleep(POLL)


@dataclass(frozen=True)
class Pid:
    """A process by id and start time (so a reused pid is not mistaken for it)."""

    pid: int
    start: str | None

    @classmethod
    def of(cls, pid: int) -> Pid:
        return cls(pid, _start_time(pid))

    def alive(self) -> bool:
        return pid_alive(self.pid) and _start_time(self.pid) == self.start

    def stop(self, first: signal.Signals = signal.SIGTERM, grace: float = 5.0) -> None:
        """Send `first`, then SIGKILL if it is still there after `grace` seconds."""
        for sig, wait in ((first, grace), (signal.SIGKILL, 5.0)):
            if not self.alive():
                return
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)
            with contextlib.suppress(AssertionError):
                wait_until(lambda: not self.alive(), wait, f"pid {self.pid} gone")


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks), or None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _stat_fields(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def command_line(pid: int) -> list[str]:
    """The arguments process `pid` runs with (empty if it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def descendants(pid: int) -> set[Pid]:
    """Every live process below `pid` in the process tree (children, grandchildren...)."""
    parents: dict[int, int] = {}
    for candidate in _all_pids():
        fields = _stat_fields(candidate)
        if fields is not None:
            parents[candidate] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {Pid.of(child) for child in found if pid_alive(child)}


def group_members(pgid: int) -> set[Pid]:
    """Live processes whose process group is `pgid`."""
    members = set()
    for candidate in _all_pids():
        fields = _stat_fields(candidate)
        if fields is not None and int(fields[2]) == pgid and pid_alive(candidate):
            members.add(Pid.of(candidate))
    return members


def still_alive(pids: Iterable[Pid], timeout: float) -> set[Pid]:
    """Wait up to `timeout` seconds for `pids` to be gone; return those still there."""
    deadline = time.monotonic() + timeout
    left = {p for p in pids if p.alive()}
    while left and time.monotonic() < deadline:
        time.sleep(POLL)
        left = {p for p in left if p.alive()}
    return left


class Running:
    """A command started by `started`: its output so far, signals, and its exit."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        out: Path,
        err: Path,
        logs: Iterable[Path] = (),
    ) -> None:
        self.process = process
        self.pid = process.pid
        self._out, self._err = out, err
        self._logs = tuple(logs)

    @property
    def stdout(self) -> str:
        return self._out.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self._err.read_text(errors="replace")

    def tail(self, chars: int = 3000) -> str:
        """The end of what it said, and of the other `logs` it was started with."""
        parts = [
            f"--- stdout ---\n{self.stdout[-chars:]}",
            f"--- stderr ---\n{self.stderr[-chars:]}",
        ]
        for log in self._logs:
            with contextlib.suppress(OSError):
                parts.append(f"--- {log.name} ---\n{log.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    def still_running(self, what: str = "expected") -> None:
        """Fail at once if the process has exited (rather than waiting out a time-out)."""
        if self.process.poll() is not None:
            raise AssertionError(
                f"exited with {self.process.returncode} before {what}\n{self.tail()}"
            )

    def wait_for(self, text: str, timeout: float, stream: str = "stderr") -> None:
        """Wait until `text` appears on `stream`; fail at once if the process exits."""

        def said() -> bool:
            if text in getattr(self, stream):
                return True
            self.still_running(f"saying {text!r}")
            return False

        wait_until(said, timeout, f"{text!r} on {stream}", self.tail)

    def interrupt(self, sig: signal.Signals = signal.SIGINT) -> None:
        """Signal the whole process group, as Ctrl-C in a terminal does."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def exit_status(self, timeout: float) -> int:
        """Wait for the process to exit; fail after `timeout` seconds."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running after {timeout} s\n{self.tail()}") from None


@contextmanager
def started(
    command: Iterable[str],
    env: Mapping[str, str],
    logs: Path,
    name: str,
    cwd: Path | None = None,
    more_logs: Iterable[Path] = (),
) -> Iterator[Running]:
    """Start `command` in a new session; on the way out stop what is left of its group.

    `more_logs`: files the command writes elsewhere, shown with its output on failure.
    """
    logs.mkdir(parents=True, exist_ok=True)
    out, err = logs / f"{name}.out", logs / f"{name}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [*DEFAULT_SIGINT, *command],
            env=dict(env),
            cwd=cwd or logs,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        yield Running(process, out, err, more_logs)
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Stop a process started with start_new_session and every member of its group."""
    pgid = process.pid
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            process.wait(5.0)
    # Members that outlived the leader: by pid (the group id may be free for reuse).
    for member in group_members(pgid):
        member.stop(signal.SIGKILL)
