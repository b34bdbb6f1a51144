"""`quickwins audit ...`: what an auditor runs, gathered from the modules that hold it."""

from __future__ import annotations

import typer

from .cli_audit_chain import register as register_chain
from .cli_audit_decisions import register as register_decisions
from .cli_audit_trail import register as register_trail

audit_cli = typer.Typer(
    help="Replay decisions, see the room at any moment, prove nothing was altered.",
    no_args_is_help=True,
)
register_decisions(audit_cli)
register_trail(audit_cli)
register_chain(audit_cli)
