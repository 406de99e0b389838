"""Settings for `agentwatch serve`: flags over environment over defaults, frozen."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from agentwatch.receive.http import DEFAULT_MAX_BODY
from agentwatch.store.retention import RetentionPolicy

DEFAULT_HOSTS = ("127.0.0.1", "::1")
DEFAULT_HTTP_PORT = 4318
DEFAULT_GRPC_PORT = 4317


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
