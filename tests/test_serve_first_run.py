"""What a new user sees from the installed `agentwatch serve` when a port or host is wrong.

Each refusal is one line naming the flag to change, with no raw gRPC C-core log
line (`E1207 … add_port.cc:83]`) and no traceback; a gRPC exporter pointed at
the HTTP port is told which port is gRPC's.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import grpc
import pytest

from support.listener import Listener, start_listener

ENTRY_POINT = Path(sys.executable).parent / "agentwatch"  # the console script pip installed
TIMEOUT_S = 20.0


def _serve(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ENTRY_POINT), "serve", "--db", str(db), *args], capture_output=True, text=True, timeout=TIMEOUT_S
    )


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port some other program is listening on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def _assert_one_clear_line(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode != 0
    assert "listening" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if "cannot listen" in line or "both" in line]
    assert len(lines) == 1, result.stderr
    for phrase in phrases:
        assert phrase in lines[0], result.stderr
    for noise in ("E1207", "add_port.cc", "Traceback", "chttp2"):
        assert noise not in result.stderr, result.stderr


def test_a_taken_grpc_port_is_one_line_naming_grpc_port_without_grpc_core_lines(tmp_path: Path, taken_port: int) -> None:
    result = _serve(tmp_path / "g.db", "--http-port", "0", "--grpc-port", str(taken_port))
    _assert_one_clear_line(result, "OTLP/gRPC", f"127.0.0.1:{taken_port}", "--grpc-port")


def test_a_taken_http_port_is_one_line_naming_http_port(tmp_path: Path, taken_port: int) -> None:
    result = _serve(tmp_path / "h.db", "--http-port", str(taken_port), "--grpc-port", "0")
    _assert_one_clear_line(result, "OTLP/HTTP", f"port {taken_port}", "address already in use", "--http-port")


def test_equal_http_and_grpc_ports_are_named_as_such(tmp_path: Path) -> None:
    result = _serve(tmp_path / "e.db", "--http-port", "4999", "--grpc-port", "4999")
    _assert_one_clear_line(result, "--http-port and --grpc-port are both 4999")
    assert not (tmp_path / "e.db").exists()


def _loopback_name() -> str:
    """A host name (not an address, not `localhost`) that resolves to loopback addresses only."""
    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)}
    except socket.gaierror:
        pytest.skip(f"this machine's name {name} does not resolve")
    if not addresses or not all(a.startswith("127.") or a == "::1" for a in addresses):
        pytest.skip(f"this machine's name {name} resolves to {sorted(addresses)}, not loopback only")
    return name


def test_a_host_name_for_loopback_is_resolved_before_the_non_loopback_warning(tmp_path: Path) -> None:
    srv = start_listener(tmp_path / "n.db", "--host", _loopback_name())
    assert srv.stop() == 0
    assert "listening on non-loopback address" not in srv.stderr()


def test_a_grpc_exporter_on_the_http_port_is_told_the_grpc_port(listener: Listener) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{listener.http_port}") as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.logs.v1.LogsService/Export")
        with pytest.raises(grpc.RpcError):
            export(b"", timeout=5)
    listener.stop()
    assert f"a gRPC client connected to the OTLP/HTTP port; point gRPC exporters at port {listener.grpc_port}" in listener.stderr()
