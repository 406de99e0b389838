"""Outcomes → HTTP status, gRPC code and Retry-After, in one place (OTLP spec tables)."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from agentwatch.receive.outcome import Problem

RETRY_AFTER_S = 1  # small, so the JS exporter (Claude Code) still retries within its 10 s deadline
MAX_MESSAGE_CHARS = 2000  # keeps every response far below the spec's 4 MiB


@dataclass(frozen=True, slots=True)
class Mapping:
    http: int
    grpc: grpc.StatusCode
    retry_after: int | None = None


_MAP: dict[Problem, Mapping] = {
    Problem.BAD_DATA: Mapping(400, grpc.StatusCode.INVALID_ARGUMENT),
    Problem.TOO_LARGE: Mapping(413, grpc.StatusCode.RESOURCE_EXHAUSTED),
    Problem.UNSUPPORTED_MEDIA: Mapping(415, grpc.StatusCode.INVALID_ARGUMENT),
    Problem.NOT_FOUND: Mapping(404, grpc.StatusCode.UNIMPLEMENTED),
    Problem.METHOD: Mapping(405, grpc.StatusCode.UNIMPLEMENTED),
    Problem.MISDIRECTED: Mapping(421, grpc.StatusCode.PERMISSION_DENIED),
    Problem.FORBIDDEN: Mapping(403, grpc.StatusCode.PERMISSION_DENIED),
    Problem.UNAVAILABLE: Mapping(503, grpc.StatusCode.UNAVAILABLE, RETRY_AFTER_S),
    # Not retryable: the same request would hit the same bug (spec: only 429/502/503/504 are).
    Problem.INTERNAL: Mapping(500, grpc.StatusCode.INTERNAL),
}


def mapping(problem: Problem) -> Mapping:
    return _MAP[problem]


def short(message: str) -> str:
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 1] + "…"
