"""The listener as an async context: `async with Listener(settings) as running: ...`.

Entering takes the instance lock, opens the store (one writer), gets the row
workers ready, binds HTTP and gRPC and starts the pruner; leaving undoes it in
reverse: both transports stop accepting, requests in flight finish and are
committed, the pruner stops, the writer commits what it holds, the lock goes.

It installs no signal handler and prints nothing, so it runs inside any asyncio
loop (`serve`'s, a Textual app's). Slow blocking steps (opening and migrating
the database) run on a thread, so the loop keeps turning while they do.
"""

from __future__ import annotations

import os

# grpc's C core writes its own log lines to stderr (`E1207 … add_port.cc:83]`) unless told
# not to before it is imported; our own message says what went wrong instead.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

import asyncio  # noqa: E402 - after GRPC_VERBOSITY
import ipaddress  # noqa: E402
import logging  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from contextlib import AsyncExitStack  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from types import TracebackType  # noqa: E402

import grpc  # noqa: E402
from aiohttp import web  # noqa: E402
from aiohttp.http_exceptions import HttpProcessingError  # noqa: E402

from agentwatch.config import DEFAULT_HOSTS, ServeSettings  # noqa: E402
from agentwatch.normalise.otlp_view import ViewPolicy  # noqa: E402
from agentwatch.receive import guard  # noqa: E402
from agentwatch.receive.grpc import make_server  # noqa: E402
from agentwatch.receive.http import HttpLimits, make_app  # noqa: E402
from agentwatch.receive.ingest import Ingest  # noqa: E402
from agentwatch.receive.workers import RowWorkers  # noqa: E402
from agentwatch.reindex import open_store  # noqa: E402
from agentwatch.store.lock import InstanceLock, ListenerInfo  # noqa: E402
from agentwatch.store.retention import RetentionPolicy, prune_step, release_free_pages  # noqa: E402
from agentwatch.store.writer import Unavailable, Writer  # noqa: E402

log = logging.getLogger("agentwatch")

PRUNE_EVERY_S = 600.0
SHUTDOWN_GRACE_S = 5.0


class StartupError(Exception):
    """The listener cannot start; the message says why (one line, naming the flag to change)."""


@dataclass(frozen=True, slots=True)
class Running:
    """What a started listener is bound to, and what its user should be told."""

    http_port: int
    grpc_port: int
    hosts: tuple[str, ...]  # the addresses both transports listen on, names resolved
    warnings: tuple[str, ...] = ()  # for the caller to show (serve logs them); the listener prints nothing


class Listener:
    """lock → store → row workers → HTTP + gRPC → pruner, undone in reverse on leaving."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self._stack: AsyncExitStack | None = None

    async def __aenter__(self) -> Running:
        check_ports(self.settings)
        stack = AsyncExitStack()
        try:
            running = await self._start(stack)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return running

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def _start(self, stack: AsyncExitStack) -> Running:
        settings = self.settings
        hosts = await asyncio.to_thread(resolve_hosts, settings.hosts)
        lock = InstanceLock(settings.db)
        await asyncio.to_thread(lock.acquire)
        stack.callback(lock.release)
        writer = await asyncio.to_thread(open_store, settings.db)
        stack.push_async_callback(asyncio.to_thread, writer.close)  # after the transports: commits what they handed it
        await asyncio.to_thread(lock.hold_file)  # a database this serve just made
        workers = RowWorkers(settings.workers)
        stack.push_async_callback(workers.aclose)
        ingest = Ingest(writer, ViewPolicy(keep_content=settings.keep_content), workers=workers)
        http_port, grpc_port = await _start_transports(stack, settings, hosts, ingest)
        lock.write(ListenerInfo(os.getpid(), http_port, grpc_port, keep_content=settings.keep_content))
        pruner = asyncio.create_task(_prune_forever(writer, settings.retention))
        stack.push_async_callback(_cancelled, pruner)
        return Running(http_port, grpc_port, hosts, tuple(startup_warnings(settings, hosts)))


def check_ports(settings: ServeSettings) -> None:
    if settings.http_port == settings.grpc_port != 0:
        raise StartupError(
            f"--http-port and --grpc-port are both {settings.http_port}; OTLP/HTTP and OTLP/gRPC "
            "need a port each (the usual pair is 4318 and 4317)"
        )


# -- hosts and warnings ------------------------------------------------------------------------
def resolve_hosts(hosts: tuple[str, ...]) -> tuple[str, ...]:
    """Addresses to bind: names resolved to their addresses; ::1 dropped where IPv6 has no loopback.

    Resolving first means the non-loopback warning (and the Host header allowlist)
    judge the addresses really listened on, not the names that led to them.
    """
    if hosts == DEFAULT_HOSTS and not _ipv6_loopback_available():
        log.warning("IPv6 loopback (::1) is not available; listening on 127.0.0.1 only")
        return tuple(h for h in hosts if h != "::1")
    resolved: list[str] = []
    for host in hosts:
        for address in _addresses(host):
            if address not in resolved:
                resolved.append(address)
    return tuple(resolved)


def _addresses(host: str) -> list[str]:
    bare = host.strip("[]")
    if bare in ("", "0.0.0.0", "::") or _is_address(bare):
        return [bare]
    try:
        infos = socket.getaddrinfo(bare, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on --host {host}: {exc.strerror or exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def startup_warnings(settings: ServeSettings, hosts: tuple[str, ...]) -> list[str]:
    warnings = []
    exposed = [h for h in hosts if not guard.is_loopback_address(h)]
    if exposed:
        warnings.append(
            f"listening on non-loopback address {', '.join(exposed)}: other machines can reach "
            "this listener (requests still need a loopback Host header)"
        )
    if settings.keep_content:
        warnings.append("--keep-content: prompts, responses and tool input/output are stored as sent")
    return warnings


# -- the transports ----------------------------------------------------------------------------
async def _start_transports(
    stack: AsyncExitStack, settings: ServeSettings, hosts: tuple[str, ...], ingest: Ingest
) -> tuple[int, int]:
    runner = web.AppRunner(
        make_app(
            ingest,
            HttpLimits(max_body=settings.max_body),
            # The names given to --host, too: clients may address the listener by them.
            guard.allowed_host_names((*settings.hosts, *hosts), settings.allow_hosts),
        ),
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
    grpc_port = _bind_grpc(server, hosts, settings.grpc_port, http_port)
    _filtered_aiohttp_logs(stack, grpc_port)
    await server.start()
    stack.push_async_callback(_stop_listening, runner, server)
    return http_port, grpc_port


async def _bind_http(runner: web.AppRunner, hosts: tuple[str, ...], port: int) -> int:
    for host in hosts:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise StartupError(
                f"cannot listen for OTLP/HTTP on {host} port {port}: {_reason(exc)} "
                "(choose another --http-port, 0 for any free port)"
            ) from None
        if port == 0:
            port = runner.addresses[-1][1]
    return port


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def _bind_grpc(server: grpc.aio.Server, hosts: tuple[str, ...], port: int, http_port: int) -> int:
    for host in hosts:
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            bound = server.add_insecure_port(target)
        except RuntimeError:
            bound = 0
        if bound == 0:
            taken = " (it is this listener's --http-port)" if port == http_port else ""
            raise StartupError(
                f"cannot listen for OTLP/gRPC on {target}: address in use or unavailable{taken} "
                "(choose another --grpc-port, 0 for any free port)"
            )
        port = bound
    return port


async def _stop_listening(runner: web.AppRunner, server: grpc.aio.Server) -> None:
    """Both transports stop accepting at once; runner.cleanup then waits for HTTP in flight.

    Stopping gRPC alone first would keep the HTTP port taking new requests through
    gRPC's whole grace period (seconds, if the database is locked).
    """
    await asyncio.gather(*(site.stop() for site in list(runner.sites)), server.stop(SHUTDOWN_GRACE_S))


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


# -- retention ---------------------------------------------------------------------------------
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


# -- logs --------------------------------------------------------------------------------------
class _NoValuesFromAiohttp(logging.Filter):
    """aiohttp logs malformed requests with a traceback quoting the bad bytes.

    Those bytes are the client's (a header value, part of a body); our logs never
    carry values (RELIABILITY V4, L6), so keep only the exception's type. A gRPC
    exporter pointed at the HTTP port shows up here too (its HTTP/2 preface is a
    malformed HTTP/1 request): that one is named, with the port it should use.
    """

    def __init__(self, grpc_port: int) -> None:
        super().__init__()
        self.grpc_port = grpc_port
        self._told = False

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return True
        kind = type(exc).__name__
        if isinstance(exc, HttpProcessingError) and _is_http2_preface(exc):
            record.msg, record.args = (
                "a gRPC client connected to the OTLP/HTTP port; point gRPC exporters at port %d "
                "(this port takes OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)", (self.grpc_port,)
            )
            level = logging.INFO if self._told else logging.WARNING  # it retries: say it loudly once
            record.levelno, record.levelname = level, logging.getLevelName(level)
            self._told = True
        elif isinstance(exc, HttpProcessingError):  # the client's malformed request
            record.msg, record.args = "refused a malformed HTTP request (%s)", (kind,)
            record.levelno, record.levelname = logging.INFO, "INFO"
        else:  # our bug: keep where it happened, not what it said
            frames = "".join(traceback.format_tb(exc.__traceback__))
            record.msg, record.args = "error handling a request (%s)\n%s", (kind, frames)
        record.exc_info, record.exc_text = None, None
        return True


def _is_http2_preface(exc: HttpProcessingError) -> bool:
    """`PRI * HTTP/2.0`: llhttp stops with "Pause on PRI/Upgrade", aiohttp's Python parser names the version."""
    message = str(getattr(exc, "message", "") or exc)
    return "PRI/Upgrade" in message or "HTTP/2.0" in message


def _filtered_aiohttp_logs(stack: AsyncExitStack, grpc_port: int) -> None:
    server_log = logging.getLogger("aiohttp.server")
    log_filter = _NoValuesFromAiohttp(grpc_port)
    server_log.addFilter(log_filter)
    stack.callback(server_log.removeFilter, log_filter)
