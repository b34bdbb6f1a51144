"""`quickwins audit trail`: who did what, when, through which act, caused by what.

`register(app)` adds the `trail` command to a typer app (mounted as
`quickwins audit`). Filters combine (every one given must match); rows come
in log order. `--format table` prints a page (`--limit`, default 100; go on
with `--after POSITION`), `csv` and `jsonl` stream every matching row (up
to `--limit` when given) to standard output or to `--out FILE` (written
beside it first, then moved into place).
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TextIO
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table

from domain.programme import programme_id
from domain.workshop import workshop_id
from projections.audit_trail import (
    MAX_LIMIT,
    AuditTrailProjection,
    AuditTrailView,
    TrailRow,
    write_csv,
    write_jsonl,
)

from .cli_programmes import BadValue, _service, _uuid

__all__ = ["Format", "register", "trail"]

TABLE_LIMIT = 100


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSONL = "jsonl"


def register(app: typer.Typer) -> None:
    """Add the `trail` command to `app`."""
    app.command("trail")(trail)


def _workshop(ref: str) -> UUID:
    """A workshop by its id or its code."""
    try:
        return UUID(ref)
    except ValueError:
        return workshop_id(ref)


def _programme(ref: str) -> UUID:
    """A programme by its id or its name."""
    try:
        return UUID(ref)
    except ValueError:
        return programme_id(ref)


def _moment(value: str, what: str, end_of_day: bool) -> datetime:
    """An ISO date or date-time (UTC unless it says otherwise).

    A bare date is the start of that day for --since and the end of it for
    --until, so `--since 2010-07-02 --until 2010-07-02` is that whole day.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadValue(f"{what}: {value!r} is not an ISO date such as 2010-07-02") from None
    if len(value.strip()) <= 10:
        parsed = datetime.combine(parsed.date(), time(0, 0))
        if end_of_day:
            parsed += timedelta(days=1)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _optional(value: str | None, what: str) -> UUID | None:
    return None if value is None else _uuid(value, what)


def trail(
    workshop: Annotated[str | None, typer.Option(help="workshop code or id")] = None,
    participant: Annotated[str | None, typer.Option(help="participant id")] = None,
    initiative: Annotated[str | None, typer.Option(help="initiative id")] = None,
    key_area: Annotated[str | None, typer.Option("--key-area", help="key area id")] = None,
    programme: Annotated[str | None, typer.Option(help="programme name or id")] = None,
    actor: Annotated[str | None, typer.Option(help="who acted, e.g. manager:jo")] = None,
    correlation: Annotated[str | None, typer.Option(help="correlation id")] = None,
    search: Annotated[
        str | None, typer.Option(help='words in the summary: cloud -hosting, "open data"')
    ] = None,
    since: Annotated[str | None, typer.Option(help="acts at or after this ISO date")] = None,
    until: Annotated[
        str | None, typer.Option(help="acts before this ISO date-time (a date: its end)")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(min=1, max=MAX_LIMIT * 100, help="at most this many rows (table: 100)"),
    ] = None,
    after: Annotated[
        int | None, typer.Option(min=0, help="only rows after this log position (paging)")
    ] = None,
    output: Annotated[Format, typer.Option("--format", help="table, csv or jsonl")] = Format.TABLE,
    out: Annotated[Path | None, typer.Option(help="write to this file instead")] = None,
) -> None:
    """The audit trail: every recorded act with its actor, time, ids and subjects."""
    filters: dict[str, Any] = {
        "workshop_id": _workshop(workshop) if workshop is not None else None,
        "participant_id": _optional(participant, "--participant"),
        "initiative_id": _optional(initiative, "--initiative"),
        "key_area_id": _optional(key_area, "--key-area"),
        "programme_id": _programme(programme) if programme is not None else None,
        "actor": actor,
        "correlation_id": _optional(correlation, "--correlation"),
        "text": search,
        "since": _moment(since, "--since", end_of_day=False) if since else None,
        "until": _moment(until, "--until", end_of_day=True) if until else None,
        "after_position": after,
    }
    if filters["since"] and filters["until"] and filters["since"] >= filters["until"]:
        raise BadValue("--since: must be before --until")
    if out is not None and (out.is_dir() or not out.parent.is_dir()):
        raise BadValue(f"--out: {out} is not a file in an existing folder")
    if output == Format.TABLE:
        filters["limit"] = limit or TABLE_LIMIT
    elif limit is not None:
        filters["limit"] = limit
    with _service() as (stack, _), stack.caught_up(AuditTrailProjection, AuditTrailView) as view:
        rows = view.search_all(**filters)
        if out is None:
            count = _write(output, rows, sys.stdout)
        else:
            part = out.with_name(f".{out.name}.part")
            try:
                with part.open("w", encoding="utf-8", newline="") as file:
                    count = _write(output, rows, file)
                os.replace(part, out)
            finally:
                part.unlink(missing_ok=True)
    if out is not None:
        Console(stderr=True).print(f"{count} rows written to {out}")


def _write(output: Format, rows: Any, file: TextIO) -> int:
    if output == Format.CSV:
        return write_csv(rows, file)
    if output == Format.JSONL:
        return write_jsonl(rows, file)
    return _table(list(rows), file)


def _table(rows: list[TrailRow], file: TextIO) -> int:
    table = Table(title="Audit trail")
    for column in ("position", "at (UTC)", "actor", "kind", "summary", "correlation"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            str(row.position),
            f"{row.at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
            row.actor,
            row.kind,
            row.summary,
            str(row.correlation_id or "-")[:8],
        )
    console = Console(file=file, width=None if file is sys.stdout else 200)
    console.print(table)
    if rows:
        console.print(f"{len(rows)} rows; next page: --after {rows[-1].position}")
    else:
        console.print("no rows")
    return len(rows)
