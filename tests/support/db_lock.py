"""Another process holding the database's write lock, as a stray sqlite3 shell or tool would."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def hold_exclusive(db: Path, seconds: float) -> subprocess.Popen[str]:
    """Take the write lock (BEGIN EXCLUSIVE) for `seconds` in a child process; return once held."""
    script = textwrap.dedent(f"""
        import sqlite3, time
        conn = sqlite3.connect({str(db)!r}, isolation_level=None, timeout=10)
        conn.execute("BEGIN EXCLUSIVE")
        print("locked", flush=True)
        time.sleep({seconds})
        conn.execute("ROLLBACK")
        conn.close()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n", "could not take the lock"
    return proc
