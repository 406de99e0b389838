"""Size limits and memory under hostile bodies (RELIABILITY L1–L3, P6, P13; T8–T12).

The cap counts bytes after decompression. A refused body stores nothing, and
the server's peak resident memory (VmHWM, reset before each attack where the
kernel allows) must stay far below what the attack would inflate to.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import grpc
import pytest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from support import rawhttp
from support.listener import Listener, query, start_listener
from support.otlp_build import (
    BASE_NS,
    PROTOBUF,
    decode_status,
    gzip_of_zeros,
    length_delimited,
    logs_request,
    simple_logs,
    string_kv,
    varint,
)
from support.probe import alive, peak_rss_bytes, reset_peak_rss, rss_bytes, table_counts
from support.replay import GRPC_METHODS

MIB = 1024 * 1024
HTTP_CAP_MIB = 8  # small enough to keep the bombs quick, large enough that a buffering reader shows
GRPC_CAP_MIB = 4  # grpcio's own default, stated explicitly
MEMORY_SLACK = 64 * MIB
BOMB_SIZE = 1024 * MIB  # 1 GiB of zeros, about 1 MiB gzipped
CONCURRENT = 20

needs_proc = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="memory is read from /proc/<pid>/status (Linux)")


def _start(tmp_path_factory: pytest.TempPathFactory, name: str, *extra: str) -> Iterator[Listener]:
    listener = start_listener(tmp_path_factory.mktemp(name) / "agentwatch.db", *extra)
    yield listener
    assert listener.stop() == 0, "".join(listener.stderr_lines)


@pytest.fixture(scope="module")
def default_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listener]:
    yield from _start(tmp_path_factory, "limits-default")


@pytest.fixture(scope="module")
def capped_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listener]:
    yield from _start(tmp_path_factory, "limits-http", "--max-body-mib", str(HTTP_CAP_MIB))


@pytest.fixture(scope="module")
def grpc_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listener]:
    yield from _start(tmp_path_factory, "limits-grpc", "--max-body-mib", str(GRPC_CAP_MIB))


def _peak_baseline(pid: int) -> int:
    """Reset the high-water mark if allowed; the rise is measured from the returned value."""
    return rss_bytes(pid) if reset_peak_rss(pid) else peak_rss_bytes(pid)


# T8 ---------------------------------------------------------------------------------------------

def test_a_record_with_10000_attributes_keeps_128_and_counts_the_rest_as_dropped(default_srv: Listener) -> None:
    keys = [f"probe.attr.{i:05d}" for i in range(10_000)]
    record = LogRecord(time_unix_nano=BASE_NS + 10_000, attributes=[string_kv(k, f"v{k[-5:]}") for k in keys])
    assert rawhttp.post(default_srv.http_port, "/v1/logs", logs_request([record]).SerializeToString()).status == 200
    [(attributes, dropped)] = query(
        default_srv.db, "SELECT attributes, dropped_attributes FROM log_records WHERE time_unix_nano = ?", (BASE_NS + 10_000,)
    )
    stored = json.loads(attributes)
    assert dropped == 10_000 - 128
    # The first 128 are kept, as the OpenTelemetry SDK's attribute limit does.
    assert stored == {k: f"v{k[-5:]}" for k in keys[:128]}


def test_a_sender_reported_drop_count_is_added_to(default_srv: Listener) -> None:
    record = LogRecord(
        time_unix_nano=BASE_NS + 10_001,
        attributes=[string_kv(f"probe.a{i}", "v") for i in range(130)],
        dropped_attributes_count=7,
    )
    assert rawhttp.post(default_srv.http_port, "/v1/logs", logs_request([record]).SerializeToString()).status == 200
    [(dropped,)] = query(default_srv.db, "SELECT dropped_attributes FROM log_records WHERE time_unix_nano = ?", (BASE_NS + 10_001,))
    assert dropped == 7 + 2


def test_a_1_mib_attribute_value_is_stored_truncated_with_its_length_recorded(default_srv: Listener) -> None:
    value = "".join(f"{i:07d}," for i in range(MIB // 8))  # 1 MiB, no two prefixes alike
    assert len(value) == MIB
    record = LogRecord(time_unix_nano=BASE_NS + 20_000, attributes=[string_kv("probe.big", value), string_kv("probe.small", "s")])
    assert rawhttp.post(default_srv.http_port, "/v1/logs", logs_request([record]).SerializeToString()).status == 200
    [(attributes, elided)] = query(
        default_srv.db, "SELECT attributes, elided FROM log_records WHERE time_unix_nano = ?", (BASE_NS + 20_000,)
    )
    assert json.loads(attributes) == {"probe.big": value[:8192], "probe.small": "s"}
    assert json.loads(elided) == {"probe.big": 1_048_576}


def _many_logs(n: int) -> bytes:
    # Built from bytes (the classes take about a second for 100k records):
    # LogRecord{time_unix_nano (fixed64, field 1), body{string_value}} per record.
    records = b"".join(
        length_delimited(2, b"\x09" + (BASE_NS + 50_000_000 + i).to_bytes(8, "little") + length_delimited(5, length_delimited(1, b"r%d" % i)))
        for i in range(n)
    )
    resource = length_delimited(1, length_delimited(1, string_kv("service.name", "probe-agent").SerializeToString()))
    return length_delimited(1, resource + length_delimited(2, records))


def test_100k_log_records_in_one_request_are_all_stored(default_srv: Listener) -> None:
    body = _many_logs(100_000)
    assert len(body) < 16 * MIB
    before = table_counts(default_srv)
    resp = rawhttp.post(default_srv.http_port, "/v1/logs", body, timeout=60)
    assert resp.status == 200, resp.body
    after = table_counts(default_srv)
    assert after["log_records"] - before["log_records"] == 100_000
    assert after["batches"] - before["batches"] == 1
    [(low, high)] = query(
        default_srv.db, "SELECT min(time_unix_nano), max(time_unix_nano) FROM log_records WHERE time_unix_nano >= ?",
        (BASE_NS + 50_000_000,),
    )
    assert (low, high) == (BASE_NS + 50_000_000, BASE_NS + 50_000_000 + 99_999)


# T9 ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("declared", [HTTP_CAP_MIB * MIB + 1, 100 * MIB, 2**62])
def test_a_content_length_over_the_cap_is_refused_before_the_body_arrives(capped_srv: Listener, declared: int) -> None:
    before = table_counts(capped_srv)
    resp = rawhttp.post(capped_srv.http_port, "/v1/logs", [b"\x0a\x00" * 8], content_length=declared, timeout=5)
    assert resp.status == 413
    assert resp.elapsed_s < 1.0
    status = decode_status(resp.media_type, resp.body)
    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert str(HTTP_CAP_MIB * MIB) in status.message
    assert table_counts(capped_srv) == before


def _logs_of_exact_size(size: int, tag: str) -> bytes:
    """A valid one-record logs request of exactly `size` bytes (the body string absorbs the rest)."""
    filler = size
    while True:
        body = logs_request([LogRecord(time_unix_nano=BASE_NS, body={"string_value": tag + "x" * filler})]).SerializeToString()
        if len(body) == size:
            return body
        filler -= len(body) - size


def test_a_body_of_exactly_the_cap_is_accepted_and_one_byte_more_is_not(capped_srv: Listener) -> None:
    cap = HTTP_CAP_MIB * MIB
    at_cap = _logs_of_exact_size(cap, "at cap ")
    over = _logs_of_exact_size(cap + 1, "over cap ")
    before = table_counts(capped_srv)
    assert rawhttp.post(capped_srv.http_port, "/v1/logs", over).status == 413
    assert rawhttp.post(capped_srv.http_port, "/v1/logs", over, use_chunked=True).status == 413
    assert table_counts(capped_srv) == before
    assert rawhttp.post(capped_srv.http_port, "/v1/logs", at_cap).status == 200
    assert capped_srv.count("log_records") == before["log_records"] + 1


# T10 --------------------------------------------------------------------------------------------

def _stream(total: int, part: int = 64 * 1024) -> Iterator[bytes]:
    block = b"\x0a\x00" * (part // 2)
    for _ in range(total // part):
        yield block


def test_a_chunked_body_over_the_cap_is_refused_after_about_the_cap(capped_srv: Listener) -> None:
    cap = HTTP_CAP_MIB * MIB
    before = table_counts(capped_srv)
    resp = rawhttp.post(capped_srv.http_port, "/v1/logs", _stream(8 * cap), use_chunked=True, timeout=30)
    assert resp.status == 413
    assert decode_status(resp.media_type, resp.body).code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    # Refused while the body was still coming: far less than the 64 MiB offered had gone out.
    assert resp.sent_bytes < 3 * cap
    assert table_counts(capped_srv) == before
    assert alive(capped_srv)


def _body_hiding_a_request(framing: str, cap: int, hidden: bytes) -> tuple[list[tuple[str, str]], list[bytes]]:
    """Headers and wire parts of an over-cap body whose last bytes are a complete request."""
    if framing == "chunked-gzip":
        return [("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")], list(
            rawhttp.chunked([gzip_of_zeros(2 * cap, segment=cap), hidden])
        )
    filler = list(_stream(cap + 128 * 1024))
    if framing == "chunked":
        return [("Transfer-Encoding", "chunked")], list(rawhttp.chunked([*filler, hidden]))
    size = sum(map(len, filler)) + len(hidden)
    return [("Content-Length", str(size))], [*filler, hidden]


@pytest.mark.parametrize("framing", ["content-length", "chunked", "chunked-gzip"])
def test_the_rest_of_a_refused_body_is_never_parsed_as_another_request(capped_srv: Listener, framing: str) -> None:
    # After an early 413 the server must skip what is left of the body (or close the
    # connection), never read it as the next request on a kept-alive connection.
    port = capped_srv.http_port
    base = [("Host", f"127.0.0.1:{port}"), ("Content-Type", PROTOBUF)]
    hidden_body = simple_logs(1, f"hidden {framing}")
    hidden = rawhttp.head("POST", "/v1/logs", base + [("Content-Length", str(len(hidden_body)))]) + hidden_body
    headers, parts = _body_hiding_a_request(framing, HTTP_CAP_MIB * MIB, hidden)
    before = table_counts(capped_srv)
    with rawhttp.open_socket(port) as sock:
        sender = threading.Thread(target=_send_quietly, args=(sock, [rawhttp.head("POST", "/v1/logs", base + headers), *parts]))
        sender.start()
        assert rawhttp.read_response(sock).status == 413
        sender.join(30)
        time.sleep(0.2)  # let the server work through whatever it still had buffered
        after_next = _next_request_on(sock, port, simple_logs(1, f"next {framing}"))
    stored = table_counts(capped_srv)
    assert stored["log_records"] - before["log_records"] == (1 if after_next == 200 else 0)
    assert after_next in (200, None)  # None: the server closed the connection, which is fine too


def _send_quietly(sock: socket.socket, parts: list[bytes]) -> None:
    try:
        for part in parts:
            sock.sendall(part)
    except OSError:
        pass  # the server may close after refusing


def _next_request_on(sock: socket.socket, port: int, body: bytes) -> int | None:
    headers = [("Host", f"127.0.0.1:{port}"), ("Content-Type", PROTOBUF), ("Content-Length", str(len(body)))]
    try:
        sock.sendall(rawhttp.head("POST", "/v1/logs", headers) + body)
        return rawhttp.read_response(sock).status
    except (OSError, rawhttp.ConnectionClosed):
        return None


# T11 --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    bomb = gzip_of_zeros(BOMB_SIZE)
    assert len(bomb) < 1.1 * MIB
    return bomb


def _send_bomb(port: int, bomb: bytes, chunked: bool) -> rawhttp.RawResponse:
    parts = [bomb[i : i + 64 * 1024] for i in range(0, len(bomb), 64 * 1024)]
    return rawhttp.post(
        port, "/v1/logs", parts, extra=[("Content-Encoding", "gzip")], use_chunked=chunked,
        content_length=None if chunked else len(bomb), timeout=60,
    )


@needs_proc
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_concurrent_gzip_bombs_are_refused_with_flat_memory(capped_srv: Listener, gzip_bomb: bytes, chunked: bool) -> None:
    pid = capped_srv.proc.pid
    assert _send_bomb(capped_srv.http_port, gzip_bomb, chunked).status == 413  # warm up the code path
    before = table_counts(capped_srv)
    baseline = _peak_baseline(pid)
    with ThreadPoolExecutor(CONCURRENT) as pool:
        replies = list(pool.map(lambda _: _send_bomb(capped_srv.http_port, gzip_bomb, chunked), range(CONCURRENT)))
    rise = peak_rss_bytes(pid) - baseline
    assert [r.status for r in replies] == [413] * CONCURRENT
    assert all(decode_status(r.media_type, r.body).code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0] for r in replies)
    assert rise < HTTP_CAP_MIB * MIB + MEMORY_SLACK, f"peak RSS rose {rise / MIB:.0f} MiB"
    assert table_counts(capped_srv) == before
    assert rawhttp.post(capped_srv.http_port, "/v1/logs", simple_logs(1, f"after bombs {chunked}")).status == 200


# T12 --------------------------------------------------------------------------------------------

GRPC_BOMB_SIZE = 64 * MIB  # grpcio gzips it on the way out; about 64 KiB on the wire


@needs_proc
def test_a_grpc_gzip_bomb_is_resource_exhausted_with_flat_memory(grpc_srv: Listener) -> None:
    pid = grpc_srv.proc.pid
    body = b"\x0a" + varint(GRPC_BOMB_SIZE) + bytes(GRPC_BOMB_SIZE)  # one huge (empty) ResourceLogs
    with grpc.insecure_channel(grpc_srv.grpc_target) as channel:
        export = channel.unary_unary(GRPC_METHODS["logs"])
        assert export(simple_logs(1, "grpc warm-up"), timeout=10) == b""
        before = table_counts(grpc_srv)
        baseline = _peak_baseline(pid)
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as caught:
            export(body, timeout=60, compression=grpc.Compression.Gzip)
        elapsed = time.monotonic() - started
    del body
    rise = peak_rss_bytes(pid) - baseline
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert rise < MEMORY_SLACK, f"peak RSS rose {rise / MIB:.0f} MiB"
    assert elapsed < 30
    assert table_counts(grpc_srv) == before


def test_a_grpc_message_over_the_limit_is_resource_exhausted_without_retry_info(grpc_srv: Listener) -> None:
    size = 5 * MIB
    body = b"\x0a" + varint(size) + bytes(size)
    before = table_counts(grpc_srv)
    with grpc.insecure_channel(grpc_srv.grpc_target) as channel:
        with pytest.raises(grpc.RpcError) as caught:
            channel.unary_unary(GRPC_METHODS["logs"])(body, timeout=30)
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    # Not retryable: the spec allows a retry of RESOURCE_EXHAUSTED only with RetryInfo.
    assert not [k for k, _ in caught.value.trailing_metadata() or () if k == "grpc-status-details-bin"]
    assert table_counts(grpc_srv) == before
    assert alive(grpc_srv)


def test_a_grpc_message_just_under_the_limit_is_accepted(grpc_srv: Listener) -> None:
    body = _logs_of_exact_size(GRPC_CAP_MIB * MIB - 64, "just under ")
    before = grpc_srv.count("log_records")
    with grpc.insecure_channel(grpc_srv.grpc_target) as channel:
        assert channel.unary_unary(GRPC_METHODS["logs"])(body, timeout=30) == b""
    assert grpc_srv.count("log_records") == before + 1


# L4: requests held at once ----------------------------------------------------------------------

def test_requests_beyond_the_in_flight_limit_get_503_on_both_transports(default_srv: Listener) -> None:
    # 32 senders that stall mid-body hold every slot (MAX_IN_FLIGHT = 32); the next
    # HTTP request and the next gRPC export are turned away at once as retryable.
    port = default_srv.http_port
    head = (f"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n").encode()
    stalled = []
    try:
        for _ in range(32):
            sock = rawhttp.open_socket(port)
            sock.sendall(head + b"\x0a")  # 1 of 1000 body bytes
            stalled.append(sock)
        time.sleep(0.5)  # let the listener start reading every one of them
        resp = rawhttp.post(port, "/v1/logs", simple_logs(1, tag="over the limit"))
        assert (resp.status, resp.header("Retry-After")) == (503, "1")
        with grpc.insecure_channel(f"127.0.0.1:{default_srv.grpc_port}") as channel:
            with pytest.raises(grpc.RpcError) as refused:
                channel.unary_unary(GRPC_METHODS["logs"])(simple_logs(1, tag="grpc over"), timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        for sock in stalled:
            sock.close()
    time.sleep(0.5)  # the stalled requests end as their connections close
    assert rawhttp.post(port, "/v1/logs", simple_logs(1, tag="after the stall")).status == 200
