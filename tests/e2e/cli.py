"""Run the `quickwins` command as a user would: a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def quickwins(
    *args: str, database_url: str, data_dir: Path, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "QUICKWINS_DATABASE_URL": database_url,
        "QUICKWINS_DATA_DIR": str(data_dir),
        "COLUMNS": "160",
    }
    env.pop("QUICKWINS_TEMPORAL_ADDRESS", None)  # the command starts its own dev server
    command = [sys.executable, "-c", "from services.cli import main; main()", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
