"""How to point an agent here: the one wording, naming the listener that is actually running.

`status`, `summary` and `sessions` all say it when they have nothing to show. The
ports come from the running listener's lock file (query.status.running_listener),
so a listener started with --http-port 5318 is what the hint names, not 4318.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentwatch.config import DEFAULT_HTTP_PORT

if TYPE_CHECKING:  # the type only: rendering needs no lock-file reader
    from agentwatch.query.status import ListenerInfo


def endpoint(http_port: int) -> str:
    return f"export OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:{http_port}"


def how_to_send(listener: ListenerInfo | None) -> str:
    """Two lines: whether a listener runs on this database, then the variable to set."""
    if listener is None:
        return (
            "No `agentwatch serve` is running on this database. Start it, then point an agent at it:\n"
            f"  {endpoint(DEFAULT_HTTP_PORT)}"
        )
    if listener.http_port is None:  # the lock is held, its ports not written yet
        return (
            f"`agentwatch serve` (pid {listener.pid}) is starting on this database; "
            "`agentwatch status` names its ports once it listens."
        )
    grpc = f" (gRPC: port {listener.grpc_port})" if listener.grpc_port is not None else ""
    return (
        f"`agentwatch serve` is running on this database{grpc}; point an agent at it:\n"
        f"  {endpoint(listener.http_port)}"
    )
