"""HTTP/1.1 over a plain socket, for requests an HTTP client library would tidy up.

http.client and friends normalise the Host header, refuse to send a body larger
than they announced, and only read the response once the whole body is sent.
Probing a listener's refusals needs the opposite: an exact Host (or none), a
Content-Length that lies, and reading the early 413 while the body is still
going out. Bodies are sent from a thread so the answer can arrive at any time.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator

DEFAULT_TIMEOUT_S = 15.0
AUTO_HOST = "<the address connected to>"  # a sentinel: compared by identity
CRLF = b"\r\n"


@dataclass(frozen=True)
class RawResponse:
    status: int
    reason: str
    header_list: list[tuple[str, str]]
    body: bytes
    elapsed_s: float = 0.0
    sent_bytes: int = 0  # body and head bytes handed to the socket when the reply was complete
    send_error: str | None = field(default=None, compare=False)

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.header_list:
            if key.lower() == name:
                return value
        return None

    def header_names(self) -> list[str]:
        return [key.lower() for key, _ in self.header_list]

    @property
    def media_type(self) -> str:
        return (self.header("Content-Type") or "").split(";", 1)[0].strip().lower()


class ConnectionClosed(Exception):
    """The server closed the connection before a complete response arrived."""


def open_socket(port: int, host: str = "127.0.0.1", timeout: float = DEFAULT_TIMEOUT_S) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect((host, port))
    return sock


def head(method: str, path: str, headers: Iterable[tuple[str, str]], version: str = "HTTP/1.1") -> bytes:
    """Request line and header block, exactly as given (no Host is added)."""
    lines = [f"{method} {path} {version}".encode("latin-1")]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in headers]
    return CRLF.join(lines) + CRLF + CRLF


def chunked(parts: Iterable[bytes]) -> Iterator[bytes]:
    """Transfer-Encoding: chunked framing of parts, with the terminating chunk."""
    for part in parts:
        if part:
            yield f"{len(part):x}".encode() + CRLF + part + CRLF
    yield b"0" + CRLF + CRLF


class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = b""

    def _fill(self) -> None:
        data = self._sock.recv(65536)
        if not data:
            raise ConnectionClosed("connection closed mid-response")
        self._buf += data

    def line(self) -> bytes:
        while CRLF not in self._buf:
            self._fill()
        line, self._buf = self._buf.split(CRLF, 1)
        return line

    def exactly(self, n: int) -> bytes:
        while len(self._buf) < n:
            self._fill()
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def until_close(self) -> bytes:
        while True:
            try:
                self._fill()
            except ConnectionClosed:
                out, self._buf = self._buf, b""
                return out


def read_response(sock: socket.socket, method: str = "POST") -> RawResponse:
    reader = _Reader(sock)
    status_line = reader.line().decode("latin-1")
    _version, code, *reason = status_line.split(" ", 2)
    headers: list[tuple[str, str]] = []
    while line := reader.line():
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    response = RawResponse(int(code), reason[0] if reason else "", headers, b"")
    length = response.header("Content-Length")
    if method == "HEAD" or int(code) in (204, 304):
        body = b""
    elif length is not None:
        body = reader.exactly(int(length))
    elif (response.header("Transfer-Encoding") or "").lower() == "chunked":
        body = _read_chunked(reader)
    else:
        body = reader.until_close()
    return RawResponse(response.status, response.reason, headers, body)


def _read_chunked(reader: _Reader) -> bytes:
    parts = []
    while True:
        size = int(reader.line().split(b";", 1)[0], 16)
        if size == 0:
            while reader.line():
                pass
            return b"".join(parts)
        parts.append(reader.exactly(size))
        reader.exactly(2)


def exchange(
    port: int,
    request_head: bytes,
    body: bytes | Iterable[bytes] = b"",
    *,
    host: str = "127.0.0.1",
    method: str = "POST",
    timeout: float = DEFAULT_TIMEOUT_S,
) -> RawResponse:
    """Send head then body (from a thread) and read one response, whenever it comes."""
    sock = open_socket(port, host, timeout)
    parts = [body] if isinstance(body, (bytes, bytearray)) else body
    stop = threading.Event()
    send_error: list[str] = []
    sent = [0]

    def send() -> None:
        try:
            sock.sendall(request_head)
            sent[0] += len(request_head)
            for part in parts:
                if stop.is_set():
                    return
                sock.sendall(part)
                sent[0] += len(part)
        except OSError as exc:  # the server answered early and closed: expected for refusals
            send_error.append(type(exc).__name__)

    sender = threading.Thread(target=send, daemon=True)
    started = time.monotonic()
    sender.start()
    try:
        response = read_response(sock, method)
        elapsed = time.monotonic() - started
        sent_at_reply = sent[0]
    finally:
        stop.set()
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
        sender.join(timeout)
    return RawResponse(
        response.status, response.reason, response.header_list, response.body, elapsed,
        sent_at_reply, send_error[0] if send_error else None,
    )


def post(
    port: int,
    path: str,
    body: bytes | Iterable[bytes],
    content_type: str | None = "application/x-protobuf",
    *,
    host: str = "127.0.0.1",
    host_header: str | None = AUTO_HOST,
    extra: Iterable[tuple[str, str]] = (),
    use_chunked: bool = False,
    content_length: int | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> RawResponse:
    """POST with exact headers. host_header AUTO_HOST means "host:port"; None sends no Host at all.

    content_length overrides the announced length (to lie about it); use_chunked
    frames body parts as chunks and sends no Content-Length.
    """
    headers: list[tuple[str, str]] = []
    if host_header is AUTO_HOST:
        host_header = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if host_header is not None:
        headers.append(("Host", host_header))
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    headers += list(extra)
    parts: Iterable[bytes]
    if use_chunked:
        headers.append(("Transfer-Encoding", "chunked"))
        parts = chunked([body] if isinstance(body, (bytes, bytearray)) else body)
    else:
        if content_length is None:
            assert isinstance(body, (bytes, bytearray)), "give content_length for an iterable body"
            content_length = len(body)
        headers.append(("Content-Length", str(content_length)))
        parts = [body] if isinstance(body, (bytes, bytearray)) else body
    headers.append(("Connection", "close"))
    return exchange(port, head("POST", path, headers), parts, host=host, timeout=timeout)


class KeepAlive:
    """One persistent connection (http.client) for thousands of ordinary requests.

    Only for requests a normal client would send (correct Host, true
    Content-Length). A connection the server has closed is reopened once.
    """

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self._args = (host, port, timeout)
        self._conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def post(
        self, path: str, body: bytes, content_type: str, extra: Iterable[tuple[str, str]] = ()
    ) -> RawResponse:
        headers = {"Content-Type": content_type, **dict(extra)}
        try:
            return self._post_once(path, body, headers)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self._reconnect()
            return self._post_once(path, body, headers)

    def _post_once(self, path: str, body: bytes, headers: dict[str, str]) -> RawResponse:
        self._conn.request("POST", path, body=body, headers=headers)
        resp = self._conn.getresponse()
        data = resp.read()
        if resp.will_close:
            self._reconnect()
        return RawResponse(resp.status, resp.reason, list(resp.getheaders()), data)

    def _reconnect(self) -> None:
        host, port, timeout = self._args
        self._conn.close()
        self._conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def close(self) -> None:
        self._conn.close()
