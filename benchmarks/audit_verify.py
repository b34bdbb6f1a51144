"""`quickwins audit verify` over a generated log: events per second against a raw read.

    .venv/bin/python -m benchmarks.audit_verify --events 1000000 --sizes 100000

Needs a PostgreSQL (QUICKWINS_BENCH_URL, default the local server on
127.0.0.1:5432); makes and drops its own database. Rows are bulk-inserted
straight into the application's stored events table (the library's table
shape, made by the library), about 330 bytes of state each, 10 events per
stream; the chain is built with the projection's own code
(`AuditChainView.extend`). At each size (the `--sizes` and then `--events`)
two measurements run, each in a fresh process so its peak RSS is its own:

- raw: the same SELECT that verify streams, through a server-side cursor
  (10,000 rows a round trip), rows only counted;
- verify: `AuditChainView.verify`, the code behind `quickwins audit verify`
  once the chain is caught up (rows and links streamed, every hash recomputed).

Printed: events/s of each, verify/raw, and peak RSS per process (KiB).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from uuid import uuid4

import psycopg
from psycopg.rows import tuple_row
from psycopg.sql import SQL

from projections.audit_chain import ITERSIZE, AuditChainView, audit_chain_view
from services.app import Workshops
from services.persistence import postgres_env

APP = Workshops.name
CHUNK = 50_000

FILL = """
INSERT INTO quickwins_events (originator_id, originator_version, topic, state, notification_id)
SELECT md5('stream' || (g / 10)::text)::uuid, g %% 10 + 1, 'domain.ballot:Ballot.Cast',
       convert_to('{"choices":{"' || repeat(md5(g::text), 10) || '":1}}', 'UTF8'), g
FROM generate_series(%s::bigint, %s::bigint) AS g
"""


def fill(url: str, start: int, stop: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for first in range(start, stop + 1, CHUNK * 4):
            conn.execute(FILL, (first, min(stop, first + CHUNK * 4 - 1)))
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('quickwins_events', 'notification_id'), %s)",
            (stop,),
        )
        conn.execute("VACUUM ANALYZE quickwins_events")


def chain(view: AuditChainView, stop: int) -> None:
    position = view.head()[0]
    while position < stop:
        position = view.extend(APP, min(stop, position + CHUNK))[0]


def measure(url: str, mode: str) -> dict[str, float]:
    view = audit_chain_view(postgres_env(url))
    started = time.perf_counter()
    if mode == "raw":
        statement = SQL(
            "SELECT notification_id, originator_id::text, originator_version, topic, state"
            " FROM {} ORDER BY notification_id"
        ).format(view.events_table(APP))
        rows = 0
        with (
            psycopg.connect(url) as conn,
            conn.transaction(),
            conn.cursor("raw", row_factory=tuple_row) as cursor,
        ):
            cursor.itersize = ITERSIZE
            cursor.execute(statement)
            for _ in cursor:
                rows += 1
    else:
        verdict = view.verify(APP)
        if not verdict.ok:
            raise SystemExit(f"verify failed: {verdict.summary()}")
        rows = verdict.checked
    seconds = time.perf_counter() - started
    view.close()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"rows": rows, "seconds": seconds, "peak_kib": peak_kib}


def run_child(url: str, mode: str) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks.audit_verify", "--measure", mode, "--url", url]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000])
    parser.add_argument("--measure", choices=("raw", "verify"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.url, args.measure)))
        return
    server = os.environ.get("QUICKWINS_BENCH_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"qw_bench_{uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + f"/{name}"
    try:
        Workshops(env=postgres_env(url)).close()  # the library makes its tables
        view = audit_chain_view(postgres_env(url))
        done = 0
        for size in sorted({*[s for s in args.sizes if s < args.events], args.events}):
            previous, started = done, time.perf_counter()
            fill(url, done + 1, size)
            filled = time.perf_counter()
            chain(view, size)
            chained = time.perf_counter()
            done = size
            raw = run_child(url, "raw")
            verified = run_child(url, "verify")
            raw_rate = raw["rows"] / raw["seconds"]
            verify_rate = verified["rows"] / verified["seconds"]
            print(
                f"{size:>9,} events: generated in {filled - started:.1f} s, chained in"
                f" {chained - filled:.1f} s"
                f" ({(size - previous) / max(chained - filled, 1e-9):,.0f} events/s)"
            )
            print(
                f"{'':>9}  raw read {raw_rate:>10,.0f} events/s  peak RSS {raw['peak_kib']:>8,} KiB"
            )
            print(
                f"{'':>9}  verify   {verify_rate:>10,.0f} events/s  peak RSS"
                f" {verified['peak_kib']:>8,} KiB   verify/raw = {verify_rate / raw_rate:.2f}"
            )
        view.close()
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
