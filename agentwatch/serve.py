"""`agentwatch serve`: wire the listeners to ingest and the writer, run until a signal.

Setup is paired with teardown on an AsyncExitStack, so on SIGTERM/SIGINT the
listeners stop accepting first, in-flight requests finish, and the writer
commits what it holds before the process exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
import sqlite3
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from contextlib import AsyncExitStack
from typing import Callable

import grpc
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from agentwatch.config import DEFAULT_HOSTS, ServeSettings
from agentwatch.normalise.otlp_view import ViewPolicy
from agentwatch.receive import guard
from agentwatch.receive.grpc import make_server
from agentwatch.receive.http import HttpLimits, make_app
from agentwatch.receive.ingest import Ingest
from agentwatch.store.connect import wal_reset_bug_affected
from agentwatch.reindex import rebuild
from agentwatch.store.lock import InstanceLock, ListenerInfo
from agentwatch.store.retention import RetentionPolicy, prune_step, release_free_pages
from agentwatch.store.writer import Unavailable, Writer

log = logging.getLogger("agentwatch")

PRUNE_EVERY_S = 600.0
SHUTDOWN_GRACE_S = 5.0


class _NoValuesFromAiohttp(logging.Filter):
    """aiohttp logs malformed requests with a traceback quoting the bad bytes.

    Those bytes are the client's (a header value, part of a body); our logs never
    carry values (RELIABILITY V4, L6), so keep only the exception's type.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return True
        kind = type(exc).__name__
        if isinstance(exc, HttpProcessingError):  # the client's malformed request
            record.msg, record.args = "refused a malformed HTTP request (%s)", (kind,)
            record.levelno, record.levelname = logging.INFO, "INFO"
        else:  # our bug: keep where it happened, not what it said
            frames = "".join(traceback.format_tb(exc.__traceback__))
            record.msg, record.args = "error handling a request (%s)\n%s", (kind, frames)
        record.exc_info, record.exc_text = None, None
        return True


class StartupError(Exception):
    """The listener cannot start; the message says why."""


def _startup_warnings(settings: ServeSettings) -> list[str]:
    warnings = []
    if wal_reset_bug_affected(sqlite3.sqlite_version):
        warnings.append(
            f"SQLite {sqlite3.sqlite_version} has the WAL-reset bug (fixed in 3.51.3); agentwatch "
            "keeps a single writer connection, which avoids it, but upgrading is advised"
        )
    exposed = [h for h in settings.hosts if not guard.is_loopback_address(h)]
    if exposed:
        warnings.append(
            f"listening on non-loopback address {', '.join(exposed)}: other machines can reach "
            "this listener (requests still need a loopback Host header)"
        )
    if settings.keep_content:
        warnings.append("--keep-content: prompts, responses and tool input/output are stored as sent")
    return warnings


async def _bind_http(runner: web.AppRunner, hosts: tuple[str, ...], port: int) -> int:
    for host in hosts:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise StartupError(f"cannot listen for OTLP/HTTP on {host} port {port}: {exc.strerror}") from None
        if port == 0:
            port = runner.addresses[-1][1]
    return port


def _bind_grpc(server: grpc.aio.Server, hosts: tuple[str, ...], port: int) -> int:
    for host in hosts:
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            bound = server.add_insecure_port(target)
        except RuntimeError:
            bound = 0
        if bound == 0:
            raise StartupError(f"cannot listen for OTLP/gRPC on {target}: address in use or unavailable")
        port = bound
    return port


def _ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def _usable_hosts(hosts: tuple[str, ...]) -> tuple[str, ...]:
    """By default, drop ::1 where loopback has no IPv6 (containers, some CI) instead of failing.

    A host the user named explicitly must bind or the start fails.
    """
    if hosts == DEFAULT_HOSTS and not _ipv6_loopback_available():
        log.warning("IPv6 loopback (::1) is not available; listening on 127.0.0.1 only")
        return tuple(h for h in hosts if h != "::1")
    return hosts


async def _prune_forever(writer: Writer, policy: RetentionPolicy, every_s: float = PRUNE_EVERY_S) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            await _prune_round(writer, policy)
        except Exception as exc:  # noqa: BLE001 - retention must outlive a locked or full disk
            log.warning("retention: this round failed (%s); trying again later", type(exc).__name__)


async def _prune_round(writer: Writer, policy: RetentionPolicy) -> None:
    pruned = 0
    while True:
        step = await asyncio.wrap_future(writer.call(lambda c: prune_step(c, policy, time.time_ns())))
        if isinstance(step, Unavailable):  # the writer's queue is full: ingest comes first
            return
        pruned += step.rows
        if not step.more:
            break
    if pruned:
        left = await asyncio.wrap_future(writer.call(release_free_pages))
        while isinstance(left, int) and left > 0:  # a step at a time; queued requests go between
            left = await asyncio.wrap_future(writer.call(release_free_pages))
        log.info("retention: pruned %d raw rows", pruned)


async def _stop_listening(runner: web.AppRunner, server: grpc.aio.Server) -> None:
    """Both transports stop accepting at once; runner.cleanup then waits for HTTP in flight.

    Stopping gRPC alone first would keep the HTTP port taking new requests through
    gRPC's whole grace period (seconds, if the database is locked).
    """
    await asyncio.gather(*(site.stop() for site in list(runner.sites)), server.stop(SHUTDOWN_GRACE_S))


def _worker_init(parent: int) -> None:
    # Ctrl-C reaches the whole process group; the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """A worker must not outlive a listener killed with -9 (nothing else would stop it)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _row_workers(count: int) -> ProcessPoolExecutor | None:
    """A process for building rows beside the writer thread (see Ingest._worth_a_worker)."""
    if count <= 0:
        return None
    pool = ProcessPoolExecutor(
        count,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_init,
        initargs=(os.getpid(),),
    )
    pool.submit(int).result()  # start it now: the first busy request should not pay for the spawn
    return pool


def _open_store(stack: AsyncExitStack, settings: ServeSettings) -> tuple[InstanceLock, Writer]:
    lock = InstanceLock(settings.db)
    lock.acquire()
    stack.callback(lock.release)
    writer = Writer(settings.db)
    writer.start()
    stack.callback(writer.close)
    if writer.migrated_from == 1:  # rows stored by agentwatch 0.1, before figures existed
        _derive_stored_rows(writer)
    return lock, writer


def _derive_stored_rows(writer: Writer) -> None:
    """One-time upgrade: derive the figures of the rows stored before they existed."""
    log.info("deriving sessions and figures from the rows stored before this version (once)")
    result = writer.call(rebuild).result()
    log.info("derived %d facts from %d stored batches", result.facts, result.batches)


async def _start_listeners(stack: AsyncExitStack, settings: ServeSettings, ingest: Ingest) -> tuple[int, int]:
    hosts = _usable_hosts(settings.hosts)
    runner = web.AppRunner(
        make_app(ingest, HttpLimits(max_body=settings.max_body), guard.allowed_host_names(hosts, settings.allow_hosts)),
        auto_decompress=False,  # read_body inflates under its own cap
        access_log=None,
        handle_signals=False,
        keepalive_timeout=75,
        shutdown_timeout=SHUTDOWN_GRACE_S,
    )
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    http_port = await _bind_http(runner, hosts, settings.http_port)
    server = make_server(ingest, settings.max_body)
    grpc_port = _bind_grpc(server, hosts, settings.grpc_port)
    await server.start()
    stack.push_async_callback(_stop_listening, runner, server)
    return http_port, grpc_port


async def serve(settings: ServeSettings, ready: Callable[[str], None] | None = None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    logging.getLogger("aiohttp.server").addFilter(_NoValuesFromAiohttp())
    # Teardown runs in reverse: stop accepting, let requests in flight finish,
    # stop the worker, commit what the writer holds, release the lock.
    async with AsyncExitStack() as stack:
        lock, writer = _open_store(stack, settings)
        for warning in _startup_warnings(settings):
            log.warning("%s", warning)
        pool = _row_workers(settings.workers)
        if pool is not None:
            stack.callback(pool.shutdown, True, cancel_futures=True)
        ingest = Ingest(writer, ViewPolicy(keep_content=settings.keep_content), pool=pool)
        http_port, grpc_port = await _start_listeners(stack, settings, ingest)
        lock.write(ListenerInfo(os.getpid(), http_port, grpc_port, keep_content=settings.keep_content))
        pruner = asyncio.create_task(_prune_forever(writer, settings.retention))
        stack.callback(pruner.cancel)
        (ready or _print_now)(f"listening http={http_port} grpc={grpc_port}")
        await stop.wait()
        log.info("stopping: finishing in-flight requests")
    return 0


def _print_now(line: str) -> None:
    print(line, flush=True)
