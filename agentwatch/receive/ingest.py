"""The one ingest path both transports share: bytes → decode → rows → writer → outcome.

HTTP and gRPC differ only in how they read bytes and write a status; the
acknowledgement is returned only after the writer reports COMMITTED.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import traceback
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

from agentwatch.normalise.otlp_view import ViewPolicy
from agentwatch.receive.decode import DecodeError, Encoding, decode, record_count
from agentwatch.receive.outcome import Accepted, Outcome, Problem, Refused
from agentwatch.receive.row_worker import derived_batch
from agentwatch.receive.workers import RowWorkers
from agentwatch.records import Batch, Signal
from agentwatch.store.writer import Committed, WriteOutcome

log = logging.getLogger(__name__)


class BatchSink(Protocol):
    def submit(self, batch: Batch | Callable[[], Batch], records: int = 0) -> Future[WriteOutcome]: ...

    @property
    def busy(self) -> bool: ...


# Below this size a request is cheaper to build in-process than to ship to a worker.
POOL_MIN_BYTES = 32 * 1024
# JSON bodies this large are decoded on a thread, not on the event loop (seconds for MiBs).
DECODE_OFF_LOOP_BYTES = 256 * 1024
# Requests held at once over both transports (each may hold a body of up to the
# size limit); more are answered 503 / UNAVAILABLE at once, so memory stays bounded.
MAX_IN_FLIGHT = 32


class Ingest:
    def __init__(
        self,
        writer: BatchSink,
        policy: ViewPolicy = ViewPolicy(),
        clock: Callable[[], int] = time.time_ns,
        workers: RowWorkers | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self._workers = workers
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self._writer = writer
        self._policy = policy
        self._clock = clock

    too_busy = Refused(Problem.UNAVAILABLE, "too many concurrent requests")

    @contextlib.contextmanager
    def slot(self) -> Iterator[bool]:
        """Admit one more request if fewer than max_in_flight are held (event loop only)."""
        if self._in_flight >= self._max_in_flight:
            yield False
            return
        self._in_flight += 1
        try:
            yield True
        finally:
            self._in_flight -= 1

    async def __call__(self, signal: Signal, transport: str, encoding: Encoding, body: bytes) -> Outcome:
        received_ns = self._clock()
        try:
            work = await self._build(signal, encoding, body, transport, received_ns)
            if work.records == 0:
                return Accepted(0, 0, 0)
            result = await asyncio.wrap_future(self._writer.submit(work.batch, work.records))
        except DecodeError as exc:
            # The client gets the details; our log gets none, since a decode error can
            # quote the offending value and values may hold prompts (RELIABILITY V4).
            log.info("refused %s %s request: undecodable (%d bytes)", transport, signal.value, len(body))
            return Refused(Problem.BAD_DATA, str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug, answered as one (below)
            return _internal_error(exc, signal, transport, len(body))
        if isinstance(result, Committed):
            return Accepted(work.records, result.stored, result.duplicates)
        return Refused(Problem.UNAVAILABLE, result.reason)

    async def _build(
        self, signal: Signal, encoding: Encoding, body: bytes, transport: str, received_ns: int
    ) -> _Work:
        if self._worth_a_worker(body):
            built = await self._build_in_worker(signal, encoding, body, transport, received_ns)
            if built is not None:
                return built
        if encoding is Encoding.JSON and len(body) >= DECODE_OFF_LOOP_BYTES:
            # Decoding megabytes of JSON takes seconds; other requests must not wait on it.
            return await asyncio.to_thread(self._build_on_writer, signal, encoding, body, transport, received_ns)
        return self._build_on_writer(signal, encoding, body, transport, received_ns)

    def _build_on_writer(
        self, signal: Signal, encoding: Encoding, body: bytes, transport: str, received_ns: int
    ) -> _Work:
        """Decode here (to refuse bad input at once); the writer thread builds the rows.

        See Writer.submit for why rows are built on the writer thread.
        """
        message = decode(signal, body, encoding)
        rows = functools.partial(derived_batch, signal, message, transport, received_ns, self._policy)
        return _Work(rows, record_count(signal, message))

    def _worth_a_worker(self, body: bytes) -> bool:
        """Use the worker process only when the writer thread already has work.

        Building rows is most of ingest's CPU and the GIL keeps it on one core;
        a worker process runs it on another while the writer inserts. When the
        writer is idle the round trip to the worker (pickling the rows) only
        adds latency, so a lone client's request stays in-process.
        """
        workers = self._workers
        return workers is not None and workers.enabled and len(body) >= POOL_MIN_BYTES and self._writer.busy

    async def _build_in_worker(
        self, signal: Signal, encoding: Encoding, body: bytes, transport: str, received_ns: int
    ) -> _Work | None:
        """Rows built in a worker (a DecodeError comes back raised); None while none is running."""
        assert self._workers is not None
        batch = await self._workers.build(signal, encoding, body, transport, received_ns, self._policy)
        return None if batch is None else _Work(batch, batch.records)


@dataclass(frozen=True, slots=True)
class _Work:
    batch: Batch | Callable[[], Batch]  # rows, or how the writer thread builds them
    records: int


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
