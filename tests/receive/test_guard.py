"""guard.py as a table: Host, Origin, Content-Type, Content-Encoding and route decisions.

These are the checks that keep a web page (DNS rebinding, simple-request CSRF)
out of the listener (RELIABILITY S2–S4, P1, P2, P8). Malformed input must give a
refusal, never an exception (webpack-dev-server CVE-2026-14631 crashed there).
"""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from agentwatch.receive import guard
from agentwatch.receive.decode import Encoding
from agentwatch.receive.outcome import Problem, Refused
from agentwatch.records import Signal

HOST_NAMES = [
    # (Host header value, the name part or None when malformed)
    ("localhost", "localhost"),
    ("localhost:4318", "localhost"),
    ("LOCALHOST:4318", "localhost"),
    ("LocalHost", "localhost"),
    (" localhost:4318 ", "localhost"),
    ("127.0.0.1", "127.0.0.1"),
    ("127.0.0.1:4318", "127.0.0.1"),
    ("[::1]", "[::1]"),
    ("[::1]:4318", "[::1]"),
    ("localhost:65535", "localhost"),
    ("evil.example:4318", "evil.example"),
    ("0.0.0.0:4318", "0.0.0.0"),
    ("127.1", "127.1"),
    ("localhost.", "localhost."),
    ("[evil.example]:80", "[evil.example]"),
    # malformed: no name, bad port, bad brackets, too long
    ("", None),
    ("   ", None),
    (":4318", None),
    ("localhost:", None),
    ("localhost:abc", None),
    ("localhost:-1", None),
    ("localhost:+80", None),
    ("localhost:65536", None),
    ("localhost:0", None),  # no client connects to port 0
    ("localhost:00000", None),
    ("localhost:99999", None),
    ("localhost:123456", None),
    ("localhost:４３１８", None),  # fullwidth digits: str.isdigit() says yes, a port they are not
    ("localhost:²", None),
    ("localhost:4318:1", None),
    ("[::1", None),
    ("[::1]:", None),
    ("[::1]x", None),
    ("[::1]:4318:1", None),
    ("[]", None),
    ("[]:4318", None),
    ("a" * 10_000, None),
    ("localhost:" + "1" * 10_000, None),
]


@pytest.mark.parametrize(("value", "name"), HOST_NAMES, ids=lambda v: repr(v)[:40])
def test_host_name_extracts_the_name_or_none_for_malformed_values(value: str, name: str | None) -> None:
    assert guard.host_name(value) == name


ALLOWED_HOSTS = ["localhost", "localhost:4318", "LOCALHOST:4318", "127.0.0.1:4318", "127.0.0.1", "[::1]:4318", "[::1]"]
REFUSED_HOSTS = [
    None,
    "",
    "evil.example:4318",
    "evil.example",
    "0.0.0.0:4318",
    "0.0.0.0",
    "127.1",
    "127.0.0.2:4318",
    "2130706433",
    "0x7f.0.0.1",
    "[::ffff:127.0.0.1]:4318",
    "[0:0:0:0:0:0:0:1]:4318",
    "::1",
    "localhost.:4318",
    "localhost.evil.example",
    "evil.example@localhost",
    "[::1",
    "localhost:4318:1",
    "localhost:65536",
    "\x00",
    "localhost\x00",
    "ｌｏｃａｌｈｏｓｔ:4318",
    "a" * 10_000,
]


@pytest.mark.parametrize("host", ALLOWED_HOSTS)
def test_check_host_lets_loopback_names_through(host: str) -> None:
    assert guard.check_host(host) is None


@pytest.mark.parametrize("host", REFUSED_HOSTS, ids=lambda v: repr(v)[:40])
def test_check_host_refuses_everything_else_as_misdirected(host: str | None) -> None:
    refusal = guard.check_host(host)
    assert isinstance(refusal, Refused)
    assert refusal.problem is Problem.MISDIRECTED
    assert "localhost" in refusal.message


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Origin": "null"}, {"origin": "http://localhost:3000"}, {"ORIGIN": ""}],
    ids=["evil", "null", "lowercase-name", "empty-value"],
)
def test_any_origin_header_is_forbidden(headers: dict[str, str]) -> None:
    refusal = guard.check_origin(CIMultiDict(headers))
    assert isinstance(refusal, Refused)
    assert refusal.problem is Problem.FORBIDDEN


def test_no_origin_header_passes() -> None:
    assert guard.check_origin(CIMultiDict({"Host": "localhost", "Referer": "http://x"})) is None


MEDIA_TYPES = [
    ("application/x-protobuf", Encoding.PROTOBUF),
    ("application/json", Encoding.JSON),
    ("application/json; charset=utf-8", Encoding.JSON),
    ("application/json;charset=UTF-8", Encoding.JSON),
    (" Application/JSON ; charset=utf-8", Encoding.JSON),
    ("APPLICATION/X-PROTOBUF", Encoding.PROTOBUF),
    ("application/x-protobuf; proto=opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest", Encoding.PROTOBUF),
]
REFUSED_MEDIA = [
    None,
    "",
    ";",
    "text/plain",
    "text/plain; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/protobuf",
    "application/jsonx",
    "application/json-seq",
    "application/x-protobuf, application/json",
    "application/json\x00",
    "*/*",
    "x" * 10_000,
]


@pytest.mark.parametrize(("value", "encoding"), MEDIA_TYPES)
def test_media_type_picks_the_decoder_ignoring_parameters_and_case(value: str, encoding: Encoding) -> None:
    assert guard.media_type(value) is encoding


@pytest.mark.parametrize("value", REFUSED_MEDIA, ids=lambda v: repr(v)[:40])
def test_media_type_refuses_anything_but_the_two_otlp_types(value: str | None) -> None:
    refusal = guard.media_type(value)
    assert isinstance(refusal, Refused)
    assert refusal.problem is Problem.UNSUPPORTED_MEDIA
    assert "application/x-protobuf" in refusal.message and "application/json" in refusal.message


CONTENT_ENCODINGS = [(None, False), ("", False), ("identity", False), ("gzip", True), ("GZIP", True), (" gzip ", True)]
REFUSED_ENCODINGS = ["deflate", "br", "zstd", "snappy", "x-gzip", "compress", "gzip, identity", "gzip, gzip", "lz4", "\x00"]


@pytest.mark.parametrize(("value", "gzipped"), CONTENT_ENCODINGS)
def test_content_encoding_accepts_only_gzip_and_identity(value: str | None, gzipped: bool) -> None:
    assert guard.content_encoding(value) is gzipped


@pytest.mark.parametrize("value", REFUSED_ENCODINGS, ids=repr)
def test_other_content_encodings_are_unsupported_media(value: str) -> None:
    refusal = guard.content_encoding(value)
    assert isinstance(refusal, Refused)
    assert refusal.problem is Problem.UNSUPPORTED_MEDIA
    assert "gzip" in refusal.message


ROUTES = [
    ("/v1/logs", "POST", Signal.LOGS),
    ("/v1/metrics", "POST", Signal.METRICS),
    ("/v1/traces", "POST", Signal.TRACES),
]
REFUSED_ROUTES = [
    ("/v1/logs", "GET", Problem.METHOD),
    ("/v1/logs", "PUT", Problem.METHOD),
    ("/v1/traces", "OPTIONS", Problem.METHOD),
    ("/v1/metrics", "HEAD", Problem.METHOD),
    ("/v1/logs", "post", Problem.METHOD),  # methods are case-sensitive (RFC 9110)
    ("/v1/logs/", "POST", Problem.NOT_FOUND),
    ("/V1/LOGS", "POST", Problem.NOT_FOUND),
    ("/v1/log", "POST", Problem.NOT_FOUND),
    ("/", "POST", Problem.NOT_FOUND),
    ("", "POST", Problem.NOT_FOUND),
    ("/v1development/profiles", "POST", Problem.NOT_FOUND),
    ("/v1/logs/../logs", "POST", Problem.NOT_FOUND),
    ("/nope", "GET", Problem.NOT_FOUND),  # an unknown path is 404 whatever the method
]


@pytest.mark.parametrize(("path", "method", "signal"), ROUTES)
def test_route_maps_the_three_otlp_paths(path: str, method: str, signal: Signal) -> None:
    assert guard.route(path, method) is signal


@pytest.mark.parametrize(("path", "method", "problem"), REFUSED_ROUTES)
def test_route_refuses_other_paths_and_methods(path: str, method: str, problem: Problem) -> None:
    refusal = guard.route(path, method)
    assert isinstance(refusal, Refused)
    assert refusal.problem is problem


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.2", False),
        ("fd00::2", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_is_loopback_address(host: str, loopback: bool) -> None:
    assert guard.is_loopback_address(host) is loopback


def test_allowed_host_names_add_chosen_addresses_but_not_wildcards() -> None:
    names = guard.allowed_host_names(("0.0.0.0", "::", "192.168.1.5", "fd00::5"), ("Build.Box",))
    assert names == guard.LOOPBACK_NAMES | {"192.168.1.5", "[fd00::5]", "build.box"}
    assert guard.check_host("192.168.1.5:4318", names) is None
    assert guard.check_host("[fd00::5]:4318", names) is None
    assert guard.check_host("0.0.0.0:4318", names) is not None
