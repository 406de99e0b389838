"""A real `agentwatch serve` subprocess on ephemeral loopback ports, for tests and benches."""

from __future__ import annotations

import os
import selectors
import signal
import sqlite3
import subprocess
import sys
import threading
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
    _pump: threading.Thread | None = None

    def __post_init__(self) -> None:
        # Read stderr all the time: a listener that logs a line per refused request
        # would otherwise fill the 64 KiB pipe and block in write(), which looks
        # like a hang in the product.
        stream = self.proc.stderr
        assert stream is not None

        def pump() -> None:
            for line in stream:
                self.stderr_lines.append(line)

        self._pump = threading.Thread(target=pump, name="listener-stderr", daemon=True)
        self._pump.start()

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
        """What the listener wrote to stderr so far (all of it once it has exited)."""
        if self.proc.poll() is not None and self._pump is not None:
            self._pump.join(5)
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
