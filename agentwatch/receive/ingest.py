"""The one ingest path both transports share: bytes → decode → rows → writer → outcome.

HTTP and gRPC differ only in how they read bytes and write a status; the
acknowledgement is returned only after the writer reports COMMITTED.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import traceback
from concurrent.futures import Future
from typing import Any, Callable, Protocol

from agentwatch.normalise.otlp_view import ViewPolicy, batch_of
from agentwatch.receive.decode import DecodeError, Encoding, decode, record_count
from agentwatch.receive.outcome import Accepted, Outcome, Problem, Refused
from agentwatch.records import Batch, Signal
from agentwatch.store.writer import Committed, WriteOutcome

log = logging.getLogger(__name__)


class BatchSink(Protocol):
    def submit(self, batch: Callable[[], Batch], records: int) -> Future[WriteOutcome]: ...


class Ingest:
    def __init__(
        self,
        writer: BatchSink,
        policy: ViewPolicy = ViewPolicy(),
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._writer = writer
        self._policy = policy
        self._clock = clock

    async def __call__(self, signal: Signal, transport: str, encoding: Encoding, body: bytes) -> Outcome:
        received_ns = self._clock()
        try:
            message = decode(signal, body, encoding)
        except DecodeError as exc:
            # The client gets the details; our log gets none, since a decode error can
            # quote the offending value and values may hold prompts (RELIABILITY V4).
            log.info("refused %s %s request: undecodable (%d bytes)", transport, signal.value, len(body))
            return Refused(Problem.BAD_DATA, str(exc))
        try:
            return await self._store(signal, message, transport, received_ns)
        except Exception as exc:  # noqa: BLE001 - a bug, answered as one (below)
            return _internal_error(exc, signal, transport, len(body))

    async def _store(self, signal: Signal, message: Any, transport: str, received_ns: int) -> Outcome:
        records = record_count(signal, message)
        if records == 0:
            return Accepted(0, 0, 0)
        # The writer thread builds the rows (see Writer.submit for why).
        prepare = functools.partial(batch_of, signal, message, transport, received_ns, self._policy)
        result = await asyncio.wrap_future(self._writer.submit(prepare, records))
        if isinstance(result, Committed):
            return Accepted(records, result.stored, result.duplicates)
        return Refused(Problem.UNAVAILABLE, result.reason)


def _internal_error(exc: Exception, signal: Signal, transport: str, size: int) -> Refused:
    """A bug while normalising or writing: answer 500 with a Status body, as the spec requires.

    Left alone, aiohttp answers a text/plain 500 and grpc an UNKNOWN carrying the
    exception text. The writer rolls a failed request back to its savepoint, so
    nothing of it is stored. The log gets the traceback's frames and the exception
    type but not its message, which may quote a value from the payload (V4).
    """
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error(
        "internal error storing %s %s request (%d bytes): %s\n%s",
        transport, signal.value, size, type(exc).__name__, frames,
    )
    return Refused(Problem.INTERNAL, f"internal error in agentwatch ({type(exc).__name__}); nothing was stored")
