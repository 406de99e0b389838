"""OTLP/HTTP on aiohttp: guard the request, stream the body under a cap, ingest, answer.

The body is read as a stream and inflated by us with a hard output cap, so a
1 GiB gzip bomb costs no more memory than the cap (aiohttp's own `read()`
buffers far more; RELIABILITY §4). Claude Code sends every request chunked,
without Content-Length, so the cap is enforced on the bytes, not the header.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from dataclasses import dataclass

from aiohttp import web
from google.protobuf import json_format
from google.rpc import status_pb2

from agentwatch.config import DEFAULT_MAX_BODY
from agentwatch.receive import guard
from agentwatch.receive.decode import Encoding
from agentwatch.receive.ingest import Ingest
from agentwatch.receive.outcome import Accepted, Outcome, Problem, Refused
from agentwatch.receive.status import mapping, short

log = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024
BODY_IDLE_TIMEOUT_S = 30.0
BODY_TOTAL_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_body: int = DEFAULT_MAX_BODY
    body_idle_timeout_s: float = BODY_IDLE_TIMEOUT_S
    # A sender trickling a byte just inside the idle timeout would otherwise hold
    # one of the in-flight slots for as long as it liked (RELIABILITY L5).
    body_total_timeout_s: float = BODY_TOTAL_TIMEOUT_S


def _too_large(limit: int) -> Refused:
    return Refused(Problem.TOO_LARGE, f"request body exceeds the {limit} byte limit (after decompression)")


GZIP_MAGIC = b"\x1f\x8b"


class _Inflater:
    def __init__(self, gzipped: bool, limit: int) -> None:
        self._z = zlib.decompressobj(wbits=31) if gzipped else None
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> Refused | None:
        if self._z is None:
            return self._add(chunk)
        while chunk:
            if self._z.eof:
                # RFC 1952: a gzip body is one or more members, one after the other.
                if not chunk.startswith(GZIP_MAGIC[: len(chunk)]):
                    return Refused(Problem.BAD_DATA, "corrupt gzip body: trailing bytes after the stream")
                self._z = zlib.decompressobj(wbits=31)
            try:
                out = self._z.decompress(chunk, self._limit - self._size + 1)
            except zlib.error as exc:
                return Refused(Problem.BAD_DATA, f"corrupt gzip body: {exc}")
            refusal = self._add(out)
            if refusal:
                return refusal
            chunk = self._z.unconsumed_tail or (self._z.unused_data if self._z.eof else b"")
        return None

    def finish(self) -> bytes | Refused:
        if self._z is not None:
            if not self._z.eof:
                return Refused(Problem.BAD_DATA, "corrupt gzip body: truncated stream")
            if self._z.unused_data:
                return Refused(Problem.BAD_DATA, "corrupt gzip body: trailing bytes after the stream")
        return b"".join(self._parts)

    def _add(self, data: bytes) -> Refused | None:
        self._size += len(data)
        if self._size > self._limit:
            return _too_large(self._limit)
        self._parts.append(data)
        return None


async def read_body(request: web.Request, gzipped: bool, limits: HttpLimits) -> bytes | Refused:
    # The wire bytes are capped too: empty deflate blocks inflate to nothing.
    declared = request.content_length
    if declared is not None and declared > limits.max_body:
        return _too_large(limits.max_body)
    inflater = _Inflater(gzipped, limits.max_body)
    wire = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.body_total_timeout_s
    try:
        while True:
            async with asyncio.timeout_at(min(deadline, loop.time() + limits.body_idle_timeout_s)):
                chunk = await request.content.read(READ_CHUNK)
            if not chunk:
                break
            wire += len(chunk)
            if wire > limits.max_body:
                return _too_large(limits.max_body)
            refusal = inflater.feed(chunk)
            if refusal:
                return refusal
    except TimeoutError:
        return Refused(Problem.BAD_DATA, "request body stalled; timed out reading it")
    except ConnectionResetError:
        # The client went away mid-body (its own timeout, a cancelled export). Nobody
        # reads this answer; returning it keeps a routine event out of the error log.
        return Refused(Problem.BAD_DATA, "connection lost while reading the request body")
    return inflater.finish()


def _error_body(refused: Refused, encoding: Encoding | None) -> tuple[bytes, str]:
    status = status_pb2.Status(code=mapping(refused.problem).grpc.value[0], message=short(refused.message))
    if encoding is Encoding.PROTOBUF:
        return status.SerializeToString(), Encoding.PROTOBUF.value
    return json_format.MessageToJson(status, indent=None).encode(), Encoding.JSON.value


# A full success is an empty Export*ServiceResponse (partial_success unset), the same bytes
# for every signal: nothing in protobuf, an empty object in JSON.
_SUCCESS_BODY = {Encoding.PROTOBUF: b"", Encoding.JSON: b"{}"}


def respond(outcome: Outcome, encoding: Encoding | None) -> web.Response:
    if isinstance(outcome, Accepted):
        assert encoding is not None
        return web.Response(body=_SUCCESS_BODY[encoding], content_type=encoding.value)
    body, content_type = _error_body(outcome, encoding)
    m = mapping(outcome.problem)
    headers = {"Content-Type": content_type}
    if m.retry_after is not None:
        headers["Retry-After"] = str(m.retry_after)
    if outcome.problem is Problem.METHOD:
        headers["Allow"] = "POST"
    return web.Response(status=m.http, body=body, headers=headers)


class OtlpHttpHandler:
    def __init__(
        self,
        ingest: Ingest,
        limits: HttpLimits = HttpLimits(),
        allowed_hosts: frozenset[str] = guard.LOOPBACK_NAMES,
    ) -> None:
        self._ingest = ingest
        self._limits = limits
        self._allowed_hosts = allowed_hosts

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        outcome, encoding = await self._handle(request)
        if isinstance(outcome, Refused) and outcome.problem not in (Problem.UNAVAILABLE,):
            # The path is the client's string: name it only if it is one of ours (L6).
            path = request.path if request.path in guard.SIGNAL_PATHS else "(other path)"
            log.info("refused %s %s: %s", request.method, path, outcome.problem.value)
        return respond(outcome, encoding)

    async def _handle(self, request: web.Request) -> tuple[Outcome, Encoding | None]:
        """The request's outcome, and its encoding once known (the answer uses the same)."""
        headers = request.headers
        refusal = guard.check_host(headers.get("Host"), self._allowed_hosts) or guard.check_origin(headers)
        if refusal:
            return refusal, None
        signal = guard.route(request.path, request.method)
        if isinstance(signal, Refused):
            return signal, None
        encoding = guard.media_type(headers.get("Content-Type"))
        if isinstance(encoding, Refused):
            return encoding, None
        gzipped = guard.content_encoding(headers.get("Content-Encoding"))
        if isinstance(gzipped, Refused):
            return gzipped, encoding
        with self._ingest.slot() as admitted:  # before reading: a body may be 16 MiB
            if not admitted:
                return self._ingest.too_busy, encoding
            body = await read_body(request, gzipped, self._limits)
            if isinstance(body, Refused):
                return body, encoding
            return await self._ingest(signal, "http", encoding, body), encoding


def make_app(
    ingest: Ingest,
    limits: HttpLimits = HttpLimits(),
    allowed_hosts: frozenset[str] = guard.LOOPBACK_NAMES,
) -> web.Application:
    # client_max_size is a backstop only: bodies are read by read_body under our own cap.
    app = web.Application(client_max_size=limits.max_body + 1)
    handler = OtlpHttpHandler(ingest, limits, allowed_hosts)
    app.router.add_route("*", "/{tail:.*}", handler.__call__)  # a coroutine function, as aiohttp wants
    return app
