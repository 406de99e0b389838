"""A real `agentwatch serve` subprocess on ephemeral loopback ports, for tests and benches."""

from __future__ import annotations

import os
import selectors
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

STARTUP_TIMEOUT_S = 20.0


@dataclass
class Listener:
    proc: subprocess.Popen[str]
    db: Path
    http_port: int
    grpc_port: int
    stderr_lines: list[str] = field(default_factory=list)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def stderr(self) -> str:
        """Everything the listener wrote to stderr (only after it has exited)."""
        assert self.proc.stderr is not None
        if self.proc.poll() is not None:
            self.stderr_lines.append(self.proc.stderr.read())
        return "".join(self.stderr_lines)

    def count(self, table: str) -> int:
        """Rows in a raw table, through a read-only connection (as every reader does)."""
        return query(self.db, f"SELECT count(*) FROM {table}")[0][0]


def query(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def start_listener(db: Path, *extra: str, env: dict[str, str] | None = None) -> Listener:
    """Start `python -m agentwatch serve` on ports 0 and wait for its `listening` line."""
    cmd = [sys.executable, "-m", "agentwatch", "serve", "--http-port", "0", "--grpc-port", "0",
           "--db", str(db), *extra]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not sel.select(timeout=deadline - time.monotonic()):
            break
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("listening "):
            parts = dict(p.split("=") for p in line.split()[1:])
            return Listener(proc, db, int(parts["http"]), int(parts["grpc"]))
    proc.kill()
    _, err = proc.communicate()
    raise RuntimeError(f"agentwatch serve did not start: {err}")
