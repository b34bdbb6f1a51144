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

# Run a command in the background in a process group of its own, with SIGINT
# left as it is. Without job control (set -m), bash starts background commands
# with SIGINT ignored, so the only way left to stop them is SIGTERM, which ends
# a Python process without its clean-up: `quickwins servers` would die leaving
# PostgreSQL and Temporal running (they run in sessions of their own). Its own
# process group also keeps a terminal's Ctrl-C away from it: the trap below
# forwards one SIGINT to each, in order, and a second SIGINT in the middle of
# a clean-up would cut that clean-up short.
launch() {
  set -m
  "$@" </dev/null &
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
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

stop_all() {
  trap - EXIT INT TERM HUP
  [ "${#pids[@]}" -gt 0 ] || return 0
  # The worker and the projector use the servers: they go first.
  if [ "${#pids[@]}" -gt 1 ]; then stop 20 "${pids[@]:1}"; fi
  # The servers command stops PostgreSQL and Temporal by pid on its way out.
  stop 60 "${pids[0]}"
}
trap stop_all EXIT
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'stop_all; exit 129' HUP

ready() { grep -qs '^QUICKWINS_TEMPORAL_ADDRESS=' "$DATA/stack.env"; }  # both lines written
rm -f "$DATA/stack.env"
launch "$QW" servers
for _ in $(seq 1 600); do
  ready && break
  kill -0 "${pids[0]}" 2>/dev/null || break  # it failed: no use waiting
  sleep 0.1
done
ready || { echo "servers did not start" >&2; exit 1; }
set -a; . "$DATA/stack.env"; set +a

launch "$QW" worker
launch "$QW" projector
echo "local stack up: worker and projector running; Ctrl-C to stop"
# Until interrupted, or until one of them exits (then the others are stopped).
status=0
wait -n || status=$?
echo "a process of the local stack exited (status $status): stopping the others" >&2
exit "$status"
