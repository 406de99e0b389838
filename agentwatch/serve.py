"""`agentwatch serve`: the Listener, signal handlers, the `listening` line, and the wait.

On SIGTERM/SIGINT the listener is left: both transports stop accepting, requests
in flight finish and are committed, the writer commits what it holds, and the
process exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Callable

from agentwatch.config import ServeSettings
from agentwatch.listener import Listener, StartupError

log = logging.getLogger("agentwatch")

__all__ = ["serve", "StartupError"]


async def serve(settings: ServeSettings, ready: Callable[[str], None] | None = None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Listener(settings) as running:
        for warning in running.warnings:
            log.warning("%s", warning)
        (ready or _print_now)(f"listening http={running.http_port} grpc={running.grpc_port}")
        await stop.wait()
        log.info("stopping: finishing in-flight requests")
    return 0


def _print_now(line: str) -> None:
    print(line, flush=True)
