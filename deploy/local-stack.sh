#!/usr/bin/env bash
# Start the whole local stack without Docker: embedded PostgreSQL and the
# Temporal dev server (one process), then a worker and a projector using them.
# Ctrl-C stops everything this script started, by process id.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
QW=${QW:-.venv/bin/quickwins}
DATA=${QUICKWINS_DATA_DIR:-.quickwins}
pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all EXIT INT TERM

rm -f "$DATA/stack.env"
"$QW" servers & pids+=($!)
for _ in $(seq 1 600); do [ -s "$DATA/stack.env" ] && break; sleep 0.1; done
[ -s "$DATA/stack.env" ] || { echo "servers did not start" >&2; exit 1; }
set -a; . "$DATA/stack.env"; set +a

"$QW" worker & pids+=($!)
"$QW" projector & pids+=($!)
echo "local stack up: worker and projector running; Ctrl-C to stop"
wait -n
