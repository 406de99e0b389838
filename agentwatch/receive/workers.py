"""Row-building worker processes, started when load needs them and retired when idle.

Building rows is most of ingest's CPU and the GIL keeps it on one core; a worker
process (receive/row_worker.py) runs it on another while the writer inserts.
An idle listener needs none, so none runs at start: the first large request
that finds the writer busy starts one (that request and the next few are built
in-process while it starts), and a worker unused for IDLE_RETIRE_S is stopped.

Workers are plain subprocesses on pipes: no multiprocessing resource tracker,
and a worker exits when its stdin closes, so it cannot outlive the listener.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import pickle
import subprocess
import sys
import time
from typing import Any

from agentwatch.normalise.otlp_view import ViewPolicy
from agentwatch.receive import row_worker
from agentwatch.receive.decode import Encoding
from agentwatch.records import Batch, Signal

log = logging.getLogger(__name__)

IDLE_RETIRE_S = 60.0
STOP_WAIT_S = 5.0
COMMAND = (sys.executable, "-m", "agentwatch.receive.row_worker")


class WorkerGone(Exception):
    """The worker process died (killed, out of memory) or never came up."""


class _Worker:
    """One worker process; its pipe is used by one request at a time (on a thread)."""

    def __init__(self, command: tuple[str, ...]) -> None:
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            process_group=0,  # Ctrl-C reaches the listener's group only; the listener decides when we stop
        )
        self.last_used = time.monotonic()

    def wait_ready(self) -> None:
        assert self.proc.stdout is not None
        if self.proc.stdout.read(1) != row_worker.READY:
            raise WorkerGone("the worker exited while starting")

    def build(self, args: tuple[Any, ...]) -> Batch:
        """Send one request, wait for its rows; blocking, so it runs on a thread."""
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        data = pickle.dumps(args, pickle.HIGHEST_PROTOCOL)
        try:
            stdin.write(row_worker.LENGTH.pack(len(data)))
            stdin.write(data)
            stdin.flush()
        except (BrokenPipeError, ValueError):
            raise WorkerGone("the worker is gone") from None
        header = row_worker.read_exactly(stdout, row_worker.ANSWER.size)
        kind, size = row_worker.ANSWER.unpack(header) if header else (None, 0)
        payload = row_worker.read_exactly(stdout, size) if header else None
        if payload is None:
            raise WorkerGone("the worker is gone")
        value = pickle.loads(payload)
        if kind == row_worker.RAISED:
            raise value
        return value

    def stop(self) -> None:
        """Close its stdin (it exits at end of input); kill it if it does not."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class RowWorkers:
    """Up to `count` workers; used from the event loop only."""

    def __init__(self, count: int, idle_s: float = IDLE_RETIRE_S, command: tuple[str, ...] = COMMAND) -> None:
        self._count = count
        self._idle_s = idle_s
        self._command = command
        self._started: list[_Worker] = []
        self._free: list[_Worker] = []
        self._waiting: collections.deque[asyncio.Future[_Worker]] = collections.deque()
        self._starting = 0
        self._gone = False  # once one died, rows are built in-process from then on
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pids(self) -> tuple[int, ...]:
        """The worker processes running now (started and ready)."""
        return tuple(w.proc.pid for w in self._started)

    @property
    def enabled(self) -> bool:
        return self._count > 0 and not self._gone and not self._closed

    async def build(
        self, signal: Signal, encoding: Encoding, body: bytes, transport: str, received_ns: int, policy: ViewPolicy
    ) -> Batch | None:
        """The request's rows built in a worker; None when no worker is running yet (or any more).

        A DecodeError (or any error building the rows) comes back raised, as if built here.
        """
        if not self.enabled:
            return None
        if not self._free:
            self._start_one()  # one more, up to count: they are all busy
        if not self._started:
            return None
        try:
            worker = await self._acquire()
        except WorkerGone:
            return None
        # The pipe carries one request at a time: the worker goes back only when its answer
        # has been read, even if the request that sent it gave up meanwhile (a cancelled call).
        roundtrip = asyncio.ensure_future(
            asyncio.to_thread(worker.build, (signal, encoding, body, transport, received_ns, policy))
        )
        roundtrip.add_done_callback(lambda done: self._returned(worker, done))
        try:
            return await asyncio.shield(roundtrip)
        except WorkerGone:
            return None

    def _returned(self, worker: _Worker, roundtrip: asyncio.Future[Batch]) -> None:
        worker.last_used = time.monotonic()
        if worker not in self._started:  # stopped meanwhile (closing)
            return
        if roundtrip.cancelled() or isinstance(roundtrip.exception(), WorkerGone):
            self._lost(worker)
        else:
            self._release(worker)

    def _start_one(self) -> None:
        if not self.enabled or len(self._started) + self._starting >= self._count:
            return
        self._starting += 1
        self._spawn(self._start())

    async def _start(self) -> None:
        worker: _Worker | None = None
        try:
            worker = await asyncio.to_thread(_Worker, self._command)
            await asyncio.to_thread(worker.wait_ready)
        except (OSError, WorkerGone) as exc:
            log.warning("cannot start a row-building worker process (%s); building rows in-process", type(exc).__name__)
            self._gone = True
            if worker is not None:
                await asyncio.to_thread(worker.stop)
            return
        finally:
            self._starting -= 1
        if self._closed:
            await asyncio.to_thread(worker.stop)
            return
        worker.last_used = time.monotonic()  # idle from now, not from the spawn
        self._started.append(worker)
        self._release(worker)
        if len(self._started) == 1:
            self._spawn(self._retire_idle())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)  # the loop holds tasks weakly
        task.add_done_callback(self._tasks.discard)

    async def _acquire(self) -> _Worker:
        if self._free:
            return self._free.pop()
        waiter: asyncio.Future[_Worker] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release(waiter.result())  # handed over just as the request gave up
            raise

    def _release(self, worker: _Worker) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return
        self._free.append(worker)

    def _lost(self, worker: _Worker) -> None:
        if not self._gone and not self._closed:
            log.warning("row-building worker process is gone; building rows in-process from now on")
        self._gone = True
        self._started.remove(worker)
        self._spawn(asyncio.to_thread(worker.stop))
        if not self._started:  # requests waiting for a worker get none: they build in-process
            self._fail_waiters()

    def _fail_waiters(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(WorkerGone("no worker left"))

    async def _retire_idle(self) -> None:
        """Stop workers unused for idle_s; the next busy spell starts one again."""
        while self._started:
            now = time.monotonic()
            for worker in [w for w in self._free if now - w.last_used >= self._idle_s]:
                self._free.remove(worker)
                self._started.remove(worker)
                await asyncio.to_thread(worker.stop)
            # Wake when the longest-idle worker is due (a busy one is looked at again then too).
            oldest = min((w.last_used for w in self._free), default=now)
            await asyncio.sleep(max(self._idle_s - (now - oldest), self._idle_s / 20))

    async def aclose(self) -> None:
        """Stop every worker (requests in flight have finished: the transports stopped first)."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        workers, self._started, self._free = self._started, [], []
        self._fail_waiters()
        await asyncio.gather(*(asyncio.to_thread(w.stop) for w in workers))
