"""Settings for `agentwatch serve`: flags over environment over defaults, frozen.

Standard library only: the CLI reads these defaults to build its help and its
checks before deciding what to run, so importing this module must not load
aiohttp, grpc or protobuf (tests/test_config.py checks it in a subprocess).
The receive and store layers import their defaults from here, not the reverse.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024

DEFAULT_HOSTS = ("127.0.0.1", "::1")
DEFAULT_HTTP_PORT = 4318
DEFAULT_GRPC_PORT = 4317
DEFAULT_MAX_BODY = 16 * MIB  # request size limit after decompression, both transports
DEFAULT_RETAIN_DAYS = 30.0
DEFAULT_RETAIN_BYTES = 2048 * MIB


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long raw rows are kept; None means no limit of that kind."""

    max_age_days: float | None = DEFAULT_RETAIN_DAYS
    max_bytes: int | None = DEFAULT_RETAIN_BYTES


@dataclass(frozen=True, slots=True)
class ServeSettings:
    db: Path
    hosts: tuple[str, ...] = DEFAULT_HOSTS
    allow_hosts: tuple[str, ...] = ()  # extra Host header names accepted (besides loopback)
    http_port: int = DEFAULT_HTTP_PORT
    grpc_port: int = DEFAULT_GRPC_PORT
    keep_content: bool = False
    max_body: int = DEFAULT_MAX_BODY
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    workers: int = field(default_factory=lambda: default_workers())


def default_workers() -> int:
    """One row-building process where there is a second core to run it on."""
    return 1 if (os.cpu_count() or 1) >= 2 else 0
