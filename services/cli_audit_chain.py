"""`quickwins audit verify | checkpoint | export`: tamper evidence for auditors.

`verify` exits 0 when every stored event matches the chain, 1 when it names
the first bad position; bad input exits 2 with one line, as everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from . import audit
from .bootstrap import Stack, bootstrap
from .cli_programmes import BadValue

console = Console()


@contextmanager
def _stack() -> Iterator[Stack]:
    from .cli import settings_from_environment

    with bootstrap(settings_from_environment(), temporal=False) as stack:
        yield stack


def verify(
    as_json: Annotated[bool, typer.Option("--json", help="print the verdict as JSON")] = False,
) -> None:
    """Re-read every stored event and check it against the hash chain and the checkpoints."""
    with _stack() as stack:
        verdict = audit.verify(stack)
    if as_json:
        print(
            json.dumps(
                {
                    "ok": verdict.ok,
                    "checked": verdict.checked,
                    "position": verdict.position,
                    "chain": verdict.chain.hex(),
                    "bad_position": verdict.bad_position,
                    "kind": verdict.kind,
                    "detail": verdict.detail or None,
                    "problems": verdict.problems,
                    "checkpoints": verdict.checkpoints,
                    "not_chained": verdict.not_chained,
                }
            )
        )
    else:
        console.print(("" if verdict.ok else "TAMPERED: ") + verdict.summary(), highlight=False)
    if not verdict.ok:
        raise typer.Exit(1)


def checkpoint() -> None:
    """Sign a checkpoint at the chain's head now, and print it."""
    with _stack() as stack:
        if not stack.app.max_position():
            raise BadValue("checkpoint: the log is empty, there is nothing to sign")
        recorded = audit.record_checkpoint(stack)
    print(json.dumps(recorded.as_json(), sort_keys=True))


def export(
    out: Annotated[Path, typer.Option(help="folder to write into (made if missing)")],
    log: Annotated[
        bool, typer.Option("--log", help="also write the stored events as events.csv")
    ] = False,
) -> None:
    """Write the signed checkpoints and the public key (and the log) for an offline audit."""
    if out.exists() and not out.is_dir():
        raise BadValue(f"--out: {out} exists and is not a folder")
    with _stack() as stack:
        done = audit.export(stack, out, with_log=log)
    console.print(
        f"{done.checkpoints} checkpoints, the public key"
        f"{' and the log' if done.log else ''} written to {done.folder}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add the audit chain's commands to `app` (mounted as `quickwins audit`)."""
    app.command("verify")(verify)
    app.command("checkpoint")(checkpoint)
    app.command("export")(export)
