"""A sender that trickles its body just inside the idle timeout is cut off at the total deadline.

Runs the real HTTP app and writer in-process with short timeouts (the served
defaults are 30 s idle, 60 s total), so the test takes seconds, not a minute.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from aiohttp.test_utils import TestServer

from agentwatch.receive.http import HttpLimits, make_app
from agentwatch.receive.ingest import Ingest
from agentwatch.store.writer import Writer


async def _trickle(port: int, every_s: float, for_s: float) -> tuple[bytes, float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (f"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
         "Content-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n").encode()
    )
    started = time.monotonic()
    answer = b""
    while time.monotonic() - started < for_s and not answer:
        writer.write(b"\x0a")
        await writer.drain()
        try:
            answer = await asyncio.wait_for(reader.read(200), every_s)
        except TimeoutError:
            pass
    writer.close()
    return answer, time.monotonic() - started


def test_a_trickling_body_is_refused_at_the_total_deadline(tmp_path: Path) -> None:
    store = Writer(tmp_path / "t.db")
    store.start()

    async def run() -> tuple[bytes, float]:
        limits = HttpLimits(body_idle_timeout_s=0.5, body_total_timeout_s=1.5)
        server = TestServer(make_app(Ingest(store), limits), host="127.0.0.1", auto_decompress=False)
        await server.start_server()
        try:
            # A byte every 0.3 s never trips the 0.5 s idle timeout; only the total one can end it.
            return await _trickle(server.port, every_s=0.3, for_s=6.0)
        finally:
            await server.close()

    try:
        answer, took = asyncio.run(run())
    finally:
        store.close()
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert 1.4 <= took < 3.0
