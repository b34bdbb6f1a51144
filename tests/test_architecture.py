"""Layering, enforced by reading the source.

The domain is pure: it imports nothing from workflows, projections or
services, no module that does I/O or reads a clock or randomness, and calls no
clock or `open`. Workflows and projections never import services.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

OUTER_LAYERS = frozenset({"workflows", "projections", "services"})

# Modules whose import alone means I/O, a clock, randomness or concurrency.
IMPURE_MODULES = frozenset(
    {
        "asyncio",
        "concurrent",
        "ctypes",
        "fcntl",
        "ftplib",
        "glob",
        "http",
        "httpx",
        "importlib",
        "io",
        "logging",
        "mmap",
        "multiprocessing",
        "os",
        "pathlib",
        "pickle",
        "psycopg",
        "psycopg2",
        "psycopg_pool",
        "random",
        "requests",
        "sched",
        "secrets",
        "select",
        "selectors",
        "shelve",
        "shutil",
        "signal",
        "smtplib",
        "socket",
        "socketserver",
        "sqlite3",
        "ssl",
        "subprocess",
        "sys",
        "tempfile",
        "temporalio",
        "threading",
        "time",
        "urllib",
        "urllib3",
        "uvicorn",
        "webbrowser",
        "zoneinfo",
    }
)
# The event sourcing library's persistence and runtime parts (the domain uses only
# eventsourcing.domain and its pure helpers).
IMPURE_PREFIXES = (
    "eventsourcing.application",
    "eventsourcing.persistence",
    "eventsourcing.postgres",
    "eventsourcing.sqlite",
    "eventsourcing.popo",
    "eventsourcing.projection",
    "eventsourcing.system",
    "eventsourcing.interface",
)
# Reading the clock, however datetime was imported or aliased.
CLOCK_ATTRIBUTES = frozenset({"now", "utcnow", "today", "time_ns", "monotonic", "perf_counter"})
# Built-ins that do I/O or import dynamically.
IMPURE_BUILTINS = frozenset({"open", "input", "print", "breakpoint", "__import__", "exec", "eval"})
# Ids that come from a clock or randomness (uuid5 of a natural key is fine).
IMPURE_UUIDS = frozenset({"uuid1", "uuid4", "uuid6", "uuid7"})


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str | None, level: int, importer: str, is_package: bool) -> str:
    """The absolute name a (possibly relative) `from ... import` refers to."""
    if level == 0:
        return module or ""
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    base = package[: len(package) - (level - 1)] if level - 1 <= len(package) else []
    return ".".join([*base, module] if module else base)


def imported_modules(source: str, importer: str, is_package: bool = False) -> list[str]:
    """Every module `source` imports, as absolute dotted names (`from a import b` gives a.b too)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module, node.level, importer, is_package)
            found.append(base)
            found.extend(f"{base}.{alias.name}" if base else alias.name for alias in node.names)
    return [name for name in found if name]


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def layer_violations(
    source: str, importer: str, forbidden: Iterable[str], is_package: bool = False
) -> list[str]:
    """Imports of any module under the `forbidden` top-level packages."""
    banned = set(forbidden)
    return sorted(
        {
            f"{importer} imports {name}"
            for name in imported_modules(source, importer, is_package)
            if _top(name) in banned
        }
    )


def purity_violations(source: str, importer: str, is_package: bool = False) -> list[str]:
    """Outer layers, I/O or clock modules imported; clock, I/O or random ids called."""
    problems = set(layer_violations(source, importer, OUTER_LAYERS, is_package))
    for name in imported_modules(source, importer, is_package):
        if _top(name) in IMPURE_MODULES or name.startswith(IMPURE_PREFIXES):
            problems.add(f"{importer} imports {name} (I/O, clock or randomness)")
        if name.rsplit(".", 1)[-1] in IMPURE_UUIDS:
            problems.add(f"{importer} imports {name} (ids from a clock or randomness)")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in CLOCK_ATTRIBUTES:
            problems.add(f"{importer} line {node.lineno}: reads the clock (.{node.attr})")
        if isinstance(node, ast.Attribute) and node.attr in IMPURE_UUIDS:
            problems.add(f"{importer} line {node.lineno}: makes a random id (.{node.attr})")
        if isinstance(node, ast.Name) and node.id in IMPURE_BUILTINS | IMPURE_UUIDS:
            problems.add(f"{importer} line {node.lineno}: uses {node.id}")
    return sorted(problems)


def _python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


# ----- the project's own code -----------------------------------------------


def test_the_domain_exists() -> None:
    assert len(_python_files("domain")) >= 5


@pytest.mark.parametrize("path", _python_files("domain"), ids=lambda p: p.name)
def test_the_domain_is_pure(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    problems = purity_violations(source, _module_name(path), path.name == "__init__.py")
    assert problems == []


@pytest.mark.parametrize("folder", ["workflows", "projections"])
def test_workflows_and_projections_never_import_services(folder: str) -> None:
    files = _python_files(folder)  # none yet: nothing to check, and nothing to report
    problems = []
    for path in files:
        source = path.read_text(encoding="utf-8")
        importer = _module_name(path)
        problems += layer_violations(source, importer, {"services"}, path.name == "__init__.py")
    assert problems == []


# ----- the checker catches what it should -----------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "import services.app\n",
        "from services.app import Workshops\n",
        "from services import app\n",
        "from ..services import app\n",
        "from .. import workflows\n",
        "import projections.views as views\n",
        "from workflows.day import run\n",
    ],
)
def test_the_checker_catches_an_outer_layer_import(source: str) -> None:
    problems = purity_violations(source, "domain.bad")
    assert problems, source
    assert any("imports" in p for p in problems)


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import datetime\nstamp = datetime.now()\n",
        "import datetime\nstamp = datetime.datetime.utcnow()\n",
        "from datetime import date\nday = date.today()\n",
        "from datetime import datetime as dt\nclock = dt.now\n",
        "import time\n",
        "from time import monotonic\n",
        "import os\n",
        "from os import environ\n",
        "import socket, json\n",
        "import subprocess\n",
        "from pathlib import Path\n",
        "import io\n",
        "import random\n",
        "import asyncio\n",
        "import threading\n",
        "import requests\n",
        "import httpx\n",
        "import psycopg\n",
        "from urllib.request import urlopen\n",
        "from temporalio import workflow\n",
        "from eventsourcing.application import Application\n",
        "from uuid import uuid4\n",
        "import uuid\nnew = uuid.uuid4()\n",
        "text = open('notes.txt').read()\n",
        "print('debugging')\n",
    ],
)
def test_the_checker_catches_io_and_clocks(source: str) -> None:
    assert purity_violations(source, "domain.bad"), source


def test_the_checker_accepts_pure_code() -> None:
    source = (
        "from __future__ import annotations\n"
        "import hashlib, json\n"
        "from datetime import datetime, timedelta\n"
        "from uuid import UUID, uuid5\n"
        "from eventsourcing.domain import Aggregate, event\n"
        "from pydantic import BaseModel\n"
        "from .meta import Meta\n"
        "from . import errors\n"
        "def later(at: datetime) -> datetime:\n"
        "    return at + timedelta(minutes=5)\n"
    )
    assert purity_violations(source, "domain.good") == []


def test_relative_imports_resolve_against_the_importer() -> None:
    assert imported_modules("from .meta import Meta\n", "domain.workshop") == [
        "domain.meta",
        "domain.meta.Meta",
    ]
    assert "services.app" in imported_modules("from ..services import app\n", "domain.x")
    assert "domain.errors" in imported_modules("from . import errors\n", "domain", True)
    assert layer_violations("from services import app\n", "workflows.day", {"services"})
    assert layer_violations("from domain import tally\n", "workflows.day", {"services"}) == []
