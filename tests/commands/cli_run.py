"""Run the installed `agentwatch` entry point as a user would: a fresh HOME and XDG dirs, no TZ.

Each test gets its own home in tmp_path, so the per-user default database and any
lock file land there, and nothing from the machine's own agentwatch leaks in.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from agentwatch.store import schema
from agentwatch.store.connect import open_writer

ENTRY_POINT = Path(sys.executable).with_name("agentwatch")  # the console script pip installed


def user_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TZ", "AGENTWATCH_DB") and not k.startswith("XDG_")}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        XDG_CACHE_HOME=str(home / ".cache"),
    )
    env.update(extra)
    return env


def agentwatch(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ENTRY_POINT), *args], capture_output=True, text=True, timeout=60, env=user_env(home, **env)
    )


def usage_error(result: subprocess.CompletedProcess[str], command: str) -> str:
    """The message of an argparse error of `command`, after checking it came with that command's usage."""
    assert result.returncode == 2, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"usage: agentwatch {command} "), result.stderr
    prefix = f"agentwatch {command}: error: "
    assert lines[-1].startswith(prefix), result.stderr
    return lines[-1][len(prefix):]


def foreign_sqlite(path: Path) -> Path:
    """Another program's SQLite database: agentwatch must name it and leave it as it is."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.commit()
    conn.close()
    return path


def empty_store(path: Path) -> Path:
    """A migrated agentwatch database with nothing in it, as a first `serve` leaves it."""
    conn = open_writer(path)
    schema.migrate(conn)
    conn.close()
    return path
