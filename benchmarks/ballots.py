"""Ballots per second: one transaction each, group commit, and raw PostgreSQL inserts.

    .venv/bin/python -m benchmarks.ballots --voters 2000 --threads 16

Needs a PostgreSQL (QUICKWINS_BENCH_URL, default the local server on
127.0.0.1:5432); makes and drops its own database. The figures are ratios
against a baseline measured in the same run: single-row INSERT transactions
of the same payload size through psycopg from the same number of threads.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID, uuid4

import psycopg

from domain import commands as c
from domain.agenda import PhaseKind
from services.app import Workshops
from services.group_commit import BallotBox
from services.persistence import postgres_env
from tests.services.walk import Walk, ready_to_vote


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--voters", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    server = os.environ.get("QUICKWINS_BENCH_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"qw_bench_{uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + f"/{name}"
    try:
        print(json.dumps(run(url, args.voters, args.threads), indent=2))
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def run(url: str, voters: int, threads: int) -> dict[str, float]:
    raw = _rate(voters, threads, _raw_inserter(url))
    app = Workshops(env={**postgres_env(url), "POSTGRES_POOL_SIZE": str(threads)})
    try:
        single = _rate(voters, threads, _voter(app, voters, None))
        with BallotBox(app) as box:
            grouped = _rate(voters, threads, _voter(app, voters, box))
            batches = box.batches
    finally:
        app.close()
    return {
        "raw_inserts_per_s": round(raw),
        "single_ballots_per_s": round(single),
        "group_commit_ballots_per_s": round(grouped),
        "group_commit_transactions": batches,
        "single_vs_raw": round(single / raw, 3),
        "group_vs_raw": round(grouped / raw, 3),
        "group_vs_single": round(grouped / single, 2),
    }


def _rate(count: int, threads: int, act: Callable[[int], object]) -> float:
    with ThreadPoolExecutor(max_workers=threads) as pool:
        started = time.perf_counter()
        list(pool.map(act, range(count)))
        return count / (time.perf_counter() - started)


def _raw_inserter(url: str) -> Callable[[int], object]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE raw_ballots (id uuid PRIMARY KEY, body bytea)")
    pool: list[psycopg.Connection] = []

    def insert(_: int) -> None:
        conn = pool.pop() if pool else psycopg.connect(url, autocommit=True)
        conn.execute("INSERT INTO raw_ballots VALUES (%s, %s)", (uuid4(), os.urandom(300)))
        pool.append(conn)

    return insert


def _voter(app: Workshops, voters: int, box: BallotBox | None) -> Callable[[int], object]:
    walk, people, projects = ready_to_vote(app, voters=voters)
    choices = {str(projects[0]): 1}

    def cast(n: int) -> int:
        command = c.CastBallot(workshop_id=walk.id, participant_id=people[n], choices=choices)
        meta = walk.meta(f"participant:{people[n]}")
        return box.cast(command, meta) if box else app.cast_ballot(command, meta)

    return cast


__all__ = ["PhaseKind", "UUID", "Walk", "main"]

if __name__ == "__main__":
    main()
