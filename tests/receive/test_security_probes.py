"""What a web page or another machine can do to the listener (RELIABILITY S1–S4; T14, T16, T17, T19, T20).

Requests go over raw sockets where an HTTP client would fix up what is being
probed (Host). "Refused" means refused with nothing stored and the server still
serving; a refusal is never a 5xx.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Iterator

import grpc
import pytest

from support import rawhttp
from support.listener import Listener, start_listener
from support.otlp_build import JSON, PROTOBUF, decode_status, simple_logs, simple_logs_json
from support.probe import alive, table_counts
from support.replay import GRPC_METHODS

LISTEN = "0A"  # TCP state in /proc/net/tcp*


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listener]:
    listener = start_listener(tmp_path_factory.mktemp("security") / "agentwatch.db")
    yield listener
    assert listener.stop() == 0, "".join(listener.stderr_lines)


def _assert_alive(srv: Listener, tag: str) -> None:
    assert alive(srv)
    before = srv.count("log_records")
    assert rawhttp.post(srv.http_port, "/v1/logs", simple_logs(1, tag=tag)).status == 200
    assert srv.count("log_records") == before + 1


# T16 --------------------------------------------------------------------------------------------

ORIGINS = [
    "https://evil.example",
    "null",
    "http://localhost:3000",
    "http://127.0.0.1",
    "http://[::1]:4318",
    "",
]


@pytest.mark.parametrize("origin", ORIGINS)
@pytest.mark.parametrize("encoding", [PROTOBUF, JSON])
def test_a_request_carrying_any_origin_is_forbidden_and_stores_nothing(srv: Listener, origin: str, encoding: str) -> None:
    body = simple_logs(2, tag=f"origin {origin}") if encoding == PROTOBUF else simple_logs_json(2, tag=f"origin {origin}")
    before = table_counts(srv)
    resp = rawhttp.post(srv.http_port, "/v1/logs", body, encoding, extra=[("Origin", origin)])
    assert resp.status == 403
    assert decode_status(resp.media_type, resp.body).message
    assert not [h for h in resp.header_names() if h.startswith("access-control-")]
    assert table_counts(srv) == before


def test_the_origin_header_name_is_matched_in_any_case(srv: Listener) -> None:
    before = table_counts(srv)
    resp = rawhttp.post(srv.http_port, "/v1/logs", simple_logs(1, "oRiGiN"), extra=[("oRiGiN", "https://evil.example")])
    assert resp.status == 403
    assert table_counts(srv) == before


def test_a_cors_preflight_from_a_page_gets_no_cors_headers(srv: Listener) -> None:
    headers = [
        ("Host", f"localhost:{srv.http_port}"),
        ("Origin", "https://evil.example"),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "content-type"),
        ("Connection", "close"),
    ]
    resp = rawhttp.exchange(srv.http_port, rawhttp.head("OPTIONS", "/v1/logs", headers), method="OPTIONS")
    assert resp.status in (403, 405)
    assert not [h for h in resp.header_names() if h.startswith("access-control-")]


# T17 --------------------------------------------------------------------------------------------

def _refused_hosts(port: int) -> list[str]:
    return [
        f"evil.example:{port}",
        "evil.example:4318",
        "evil.example",
        f"0.0.0.0:{port}",
        "127.1",
        f"127.0.0.2:{port}",
        f"2130706433:{port}",
        f"[::ffff:127.0.0.1]:{port}",
        f"localhost.:{port}",
        f"localhost.evil.example:{port}",
        f"evil.example@localhost:{port}",
        "[::1",
        f"[::1]:{port}:1",
        f"localhost:{port}0000",
        f"localhost:{port}x",
        "",
        "x" * 10_000,
        "localhost:" + "9" * 10_000,
    ]


@pytest.mark.parametrize("index", range(18))
def test_a_non_loopback_or_malformed_host_is_refused_without_a_server_error(srv: Listener, index: int) -> None:
    host = _refused_hosts(srv.http_port)[index]
    before = table_counts(srv)
    resp = rawhttp.post(srv.http_port, "/v1/logs", simple_logs(1, tag=f"host {index}"), host_header=host)
    assert resp.status in (400, 421), (host[:60], resp.status, resp.body[:200])
    if resp.status == 421:
        assert "localhost" in decode_status(resp.media_type, resp.body).message
    assert table_counts(srv) == before
    _assert_alive(srv, f"after host {index}")


def test_a_request_without_host_is_refused(srv: Listener) -> None:
    before = table_counts(srv)
    for version in ("HTTP/1.0", "HTTP/1.1"):  # HTTP/1.0 may omit Host; 1.1 must not (RFC 9112)
        body = simple_logs(1, tag=f"no host {version}")
        headers = [("Content-Type", PROTOBUF), ("Content-Length", str(len(body))), ("Connection", "close")]
        resp = rawhttp.exchange(srv.http_port, rawhttp.head("POST", "/v1/logs", headers, version), body)
        assert resp.status in (400, 421), (version, resp.status)
    assert table_counts(srv) == before
    _assert_alive(srv, "after no host")


def test_two_host_headers_are_refused(srv: Listener) -> None:
    before = table_counts(srv)
    for hosts in ([f"localhost:{srv.http_port}", "evil.example"], ["evil.example", f"localhost:{srv.http_port}"]):
        body = simple_logs(1, tag=f"two hosts {hosts}")
        headers = [("Host", h) for h in hosts] + [
            ("Content-Type", PROTOBUF), ("Content-Length", str(len(body))), ("Connection", "close"),
        ]
        resp = rawhttp.exchange(srv.http_port, rawhttp.head("POST", "/v1/logs", headers), body)
        assert resp.status in (400, 421)
    assert table_counts(srv) == before


def test_a_dns_rebinding_request_is_refused_even_with_a_page_like_content_type(srv: Listener) -> None:
    # What a rebinding page sends: its own name as Host, a simple content type, its Origin.
    before = table_counts(srv)
    resp = rawhttp.post(
        srv.http_port, "/v1/logs", simple_logs_json(1, "rebinding"), "text/plain;charset=UTF-8",
        host_header=f"rebind.evil.example:{srv.http_port}", extra=[("Origin", f"http://rebind.evil.example:{srv.http_port}")],
    )
    assert resp.status in (403, 415, 421)
    assert table_counts(srv) == before


@pytest.mark.parametrize(
    "host_template", ["localhost:{port}", "127.0.0.1:{port}", "[::1]:{port}", "LOCALHOST:{port}", "localhost", "LocalHost:{port}"]
)
def test_loopback_hosts_are_accepted(srv: Listener, host_template: str) -> None:
    host = host_template.format(port=srv.http_port)
    before = srv.count("log_records")
    resp = rawhttp.post(srv.http_port, "/v1/logs", simple_logs(2, tag=f"accepted {host}"), host_header=host)
    assert resp.status == 200, resp.body
    assert srv.count("log_records") == before + 2


# T19 --------------------------------------------------------------------------------------------

def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _proc_net_address(hex_address: str) -> str:
    # /proc/net/tcp* prints each 32-bit word of the address in host byte order.
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(words)
    # grpcio binds 127.0.0.1 with an IPv6 socket, shown as ::ffff:127.0.0.1.
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


def _listening_sockets(pid: int) -> set[tuple[str, int]]:
    inodes = _socket_inodes(pid)
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == LISTEN and inode in inodes:
                address, port = local.split(":")
                found.add((_proc_net_address(address), int(port, 16)))
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_the_listener_listens_on_loopback_only(srv: Listener) -> None:
    expected = {(address, port) for address in ("127.0.0.1", "::1") for port in (srv.http_port, srv.grpc_port)}
    assert _listening_sockets(srv.proc.pid) == expected


def _non_loopback_addresses() -> list[str]:
    addresses: set[str] = set()
    if shutil.which("hostname"):
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout
        addresses.update(out.split())
    try:
        addresses.add(socket.gethostbyname(socket.gethostname()))
    except OSError:
        pass
    usable = []
    for text in addresses:
        address = ipaddress.ip_address(text.split("%")[0])
        if not (address.is_loopback or address.is_link_local or address.is_unspecified):
            usable.append(str(address))
    return sorted(usable)


@pytest.mark.parametrize("which", ["http", "grpc"])
def test_connecting_through_a_non_loopback_address_is_refused(srv: Listener, which: str) -> None:
    addresses = _non_loopback_addresses()
    if not addresses:
        pytest.skip("this machine has no non-loopback address to connect through")
    port = srv.http_port if which == "http" else srv.grpc_port
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            with pytest.raises(ConnectionRefusedError):
                sock.connect((address, port))


# T20 --------------------------------------------------------------------------------------------

@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 on this machine")
def test_http_over_ipv6_loopback_is_served(srv: Listener) -> None:
    before = srv.count("log_records")
    resp = rawhttp.post(srv.http_port, "/v1/logs", simple_logs(3, "ipv6 http"), host="::1")
    assert resp.status == 200, resp.body
    assert srv.count("log_records") == before + 3


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 on this machine")
def test_grpc_over_ipv6_loopback_is_served(srv: Listener) -> None:
    before = srv.count("log_records")
    with grpc.insecure_channel(f"ipv6:[::1]:{srv.grpc_port}") as channel:
        reply = channel.unary_unary(GRPC_METHODS["logs"])(simple_logs(3, "ipv6 grpc"), timeout=10)
    assert reply == b""
    assert srv.count("log_records") == before + 3


def test_the_grpc_port_does_not_answer_http_1(srv: Listener) -> None:
    # A browser can only speak HTTP/1.1 (or TLS) to this port; grpcio answers with HTTP/2 frames.
    body = simple_logs(1, "http1 on grpc port")
    before = table_counts(srv)
    with rawhttp.open_socket(srv.grpc_port, timeout=5) as sock:
        sock.sendall(
            rawhttp.head("POST", "/opentelemetry.proto.collector.logs.v1.LogsService/Export", [
                ("Host", f"localhost:{srv.grpc_port}"), ("Content-Type", "application/grpc"),
                ("Content-Length", str(len(body))),
            ]) + body
        )
        try:
            reply = sock.recv(4096)
        except (ConnectionResetError, TimeoutError):
            reply = b""
    assert not reply.startswith(b"HTTP/1.")
    assert table_counts(srv) == before


# --host / --allow-host ---------------------------------------------------------------------------

def test_allow_host_names_are_accepted_and_others_still_refused(tmp_path: Path) -> None:
    # A user who serves a container or VM names the Host its clients will use.
    extra = start_listener(tmp_path / "allow.db", "--allow-host", "agentwatch.internal")
    try:
        accepted = rawhttp.post(extra.http_port, "/v1/logs", simple_logs(3, tag="allowed"),
                                host_header=f"agentwatch.internal:{extra.http_port}")
        refused = rawhttp.post(extra.http_port, "/v1/logs", simple_logs(3, tag="refused"),
                               host_header=f"evil.example:{extra.http_port}")
        assert (accepted.status, refused.status) == (200, 421)
        assert extra.count("log_records") == 3
    finally:
        extra.stop()


def test_a_non_loopback_host_warns_and_accepts_its_own_address_as_host(tmp_path: Path) -> None:
    addresses = [a for a in _non_loopback_addresses() if ":" not in a]
    if not addresses:
        pytest.skip("this machine has no non-loopback IPv4 address to listen on")
    address = addresses[0]
    lan = start_listener(tmp_path / "lan.db", "--host", address)
    try:
        sock_port = lan.http_port
        with socket.create_connection((address, sock_port), timeout=5):
            pass  # reachable on the chosen address
        resp = rawhttp.post(sock_port, "/v1/logs", simple_logs(2, tag="lan"), host=address,
                            host_header=f"{address}:{sock_port}")
        assert resp.status == 200, resp.body
    finally:
        lan.stop()
    assert "non-loopback address" in lan.stderr()
