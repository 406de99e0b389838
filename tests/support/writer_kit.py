"""In-process Writer helpers: real batches from real request messages, and a gate.

The gate is a `Writer.call` that holds the writer thread until the test opens
it, so jobs submitted meanwhile are provably waiting in the queue together.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from agentwatch.normalise.otlp_view import ViewPolicy, batch_of
from agentwatch.records import Batch, Signal
from agentwatch.store.writer import Writer

from support.tagged import RECORDS_PER_REQUEST, log_request

GATE_TIMEOUT_S = 20.0


def tagged_batch(
    run: str,
    req: int,
    records: int = RECORDS_PER_REQUEST,
    received_ns: int | None = None,
    service: str | None = None,
    body_chars: int = 0,
) -> Batch:
    message = log_request(run, req, records, service=service, body_chars=body_chars)
    return batch_of(Signal.LOGS, message, "http", received_ns or time.time_ns(), ViewPolicy())


@contextmanager
def running_writer(path: Path, **kwargs: Any) -> Iterator[Writer]:
    writer = Writer(path, **kwargs)
    writer.start()
    try:
        yield writer
    finally:
        writer.close()


class Gate:
    """Holds the writer thread inside a call until `open()`."""

    def __init__(self, writer: Writer) -> None:
        self._entered = threading.Event()
        self._release = threading.Event()
        self.future = writer.call(self._hold)
        assert self._entered.wait(GATE_TIMEOUT_S), "the writer never reached the gate"

    def _hold(self, conn: object) -> None:
        self._entered.set()
        self._release.wait(GATE_TIMEOUT_S)

    def open(self) -> None:
        self._release.set()
        self.future.result(GATE_TIMEOUT_S)
