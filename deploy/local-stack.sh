#!/usr/bin/env bash
# Start the whole local stack without Docker: embedded PostgreSQL and the
# Temporal dev server (one process), then a worker and a projector using them.
# Ctrl-C (or SIGTERM, SIGHUP) stops everything this script started, by
# process id: the worker and the projector first, then the servers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
QW=${QW:-.venv/bin/quickwins}
DATA=${QUICKWINS_DATA_DIR:-.quickwins}
pids=()
# The servers write both addresses to stack.env once both are up.
ready() { grep -qs '^QUICKWINS_TEMPORAL_ADDRESS=' "$DATA/stack.env"; }

# Run a command in the background in a process group of its own, with SIGINT
# left as it is. Without job control (set -m), bash starts background commands
# with SIGINT ignored, so the only way left to stop them is SIGTERM, which ends
# a Python process without its clean-up: `quickwins servers` would die leaving
# PostgreSQL and Temporal running (they run in sessions of their own). Its own
# process group also keeps a terminal's Ctrl-C away from it: the trap below
# forwards one SIGINT to each, in order, and a second SIGINT in the middle of
# a clean-up would cut that clean-up short.
#
# A script started in the background by another shell inherits SIGINT ignored,
# and passes that on; GNU env can give the commands the default back.
DEFAULT_INT=()
if env --default-signal=INT true 2>/dev/null; then DEFAULT_INT=(env --default-signal=INT); fi
launch() {
  set -m
  "${DEFAULT_INT[@]}" "$@" </dev/null &
  pids+=($!)
  set +m
}

# Stop these processes: SIGINT (a clean stop), then SIGTERM after $1 seconds.
stop() {
  local seconds=$1 pid left alive
  shift
  for pid in "$@"; do kill -INT "$pid" 2>/dev/null || true; done
  for ((left = seconds * 10; left > 0; left--)); do
    alive=0
    for pid in "$@"; do if kill -0 "$pid" 2>/dev/null; then alive=1; fi; done
    [ "$alive" = 1 ] || break
    sleep 0.1
  done
  for pid in "$@"; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "still running after ${seconds}s, sending SIGTERM: $(ps -o args= -p "$pid" 2>/dev/null)" >&2
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

stop_all() {
  # Once: a second Ctrl-C must not cut the clean-up short and orphan the servers.
  trap - EXIT
  trap '' INT TERM HUP
  [ "${#pids[@]}" -gt 0 ] || return 0
  echo "stopping the local stack" >&2
  # The worker and the projector use the servers: they go first.
  if [ "${#pids[@]}" -gt 1 ]; then stop 20 "${pids[@]:1}"; fi
  # The servers command stops PostgreSQL and Temporal by pid on its way out,
  # but only once it has started them both: interrupted while it starts them,
  # it leaves behind those already started. So let it finish starting first
  # (stack.env is written once both are up).
  local tries
  for ((tries = 600; tries > 0; tries--)); do
    if ready || ! kill -0 "${pids[0]}" 2>/dev/null; then break; fi
    sleep 0.1
  done
  stop 60 "${pids[0]}"
}
trap stop_all EXIT
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'stop_all; exit 129' HUP

rm -f "$DATA/stack.env"
launch "$QW" servers
for _ in $(seq 1 600); do
  ready && break
  kill -0 "${pids[0]}" 2>/dev/null || break  # it failed: no use waiting
  sleep 0.1
done
ready || { echo "servers did not start" >&2; exit 1; }
set -a; . "$DATA/stack.env"; set +a

# Each command runs the event store's CREATE statements as it starts (CREATE
# OR REPLACE FUNCTION among them, even when the tables exist), and two doing so
# at the same moment can fail ("tuple concurrently updated"). The worker does
# it before it says it is up, so the others wait for that. Its standard error
# is copied to worker.log for the purpose,
# by a tee deaf to the signals meant for the stack: the worker has its say
# ("stopped") until it exits, and a dead pipe would break its clean-up.
launch "$QW" worker 2> >(trap '' INT TERM HUP; exec tee "$DATA/worker.log" >&2)
for _ in $(seq 1 600); do
  grep -qs "worker on task queue" "$DATA/worker.log" && break
  kill -0 "${pids[1]}" 2>/dev/null || break
  sleep 0.1
done
kill -0 "${pids[1]}" 2>/dev/null || { echo "the worker did not start" >&2; exit 1; }
launch "$QW" projector
launch "$QW" relay
echo "local stack up: worker, projector and relay running; Ctrl-C to stop"
# Until interrupted, or until one of them exits (then the others are stopped).
status=0
wait -n || status=$?
echo "a process of the local stack exited (status $status): stopping the others" >&2
exit "$status"
