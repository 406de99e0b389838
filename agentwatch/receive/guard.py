"""Checks made before a body is read: who is asking, for what, in which format.

A web page can POST to 127.0.0.1 ("simple" requests need no preflight) and DNS
rebinding makes an attacker's name resolve to loopback; the only tells a server
sees are Host, Origin and Content-Type. Real exporters send a loopback Host, no
Origin and one of the two OTLP types, so refusing everything else costs them
nothing (RELIABILITY S1–S5).
"""

from __future__ import annotations

import ipaddress
from typing import Mapping

from agentwatch.receive.decode import Encoding
from agentwatch.receive.outcome import Problem, Refused
from agentwatch.records import Signal

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
SIGNAL_PATHS = {f"/v1/{s.value}": s for s in Signal}
_MEDIA = {e.value: e for e in Encoding}
MAX_HOST_CHARS = 300


def host_name(host: str) -> str | None:
    """The name part of a Host header value, lower-cased, or None if malformed."""
    host = host.strip().lower()
    if not host or len(host) > MAX_HOST_CHARS:
        return None
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return None
        name, rest = host[: end + 1], host[end + 1 :]
    else:
        name, _, port = host.partition(":")
        rest = f":{port}" if _ else ""
    if name in ("", "[]") or (rest and not (rest.startswith(":") and _is_port(rest[1:]))):
        return None
    return name


def _is_port(text: str) -> bool:
    # str.isdigit() alone also accepts "４３１８" and "²", which int() then rejects. Port 0
    # names no port a client can have connected to (RFC 6335: reserved).
    return 0 < len(text) <= 5 and text.isascii() and text.isdigit() and 0 < int(text) <= 65535


def check_host(host: str | None, allowed: frozenset[str] = LOOPBACK_NAMES) -> Refused | None:
    name = host_name(host) if host is not None else None
    if name is not None and name in allowed:
        return None
    return Refused(
        Problem.MISDIRECTED,
        "Host must be localhost, 127.0.0.1 or [::1] (agentwatch only answers local "
        "exporters; this protects it from DNS rebinding)",
    )


def allowed_host_names(bound: tuple[str, ...], extra: tuple[str, ...] = ()) -> frozenset[str]:
    """Loopback names, plus the non-loopback addresses the user chose to listen on.

    Listening on a LAN address is an explicit choice (`--host`), and its clients
    address it by that IP; wildcard binds add nothing, so such clients must be
    named with `--allow-host`.
    """
    names = set(LOOPBACK_NAMES)
    for host in (*bound, *extra):
        name = host.strip().lower()
        if name in ("0.0.0.0", "::", ""):
            continue
        names.add(f"[{name}]" if ":" in name and not name.startswith("[") else name)
    return frozenset(names)


def check_origin(headers: Mapping[str, str]) -> Refused | None:
    if "Origin" in headers:
        return Refused(
            Problem.FORBIDDEN,
            "requests from web pages (with an Origin header) are refused; "
            "OpenTelemetry exporters do not send one",
        )
    return None


def route(path: str, method: str) -> Signal | Refused:
    signal = SIGNAL_PATHS.get(path)
    if signal is None:
        return Refused(Problem.NOT_FOUND, "not found; OTLP paths are /v1/logs, /v1/metrics, /v1/traces")
    if method != "POST":
        return Refused(Problem.METHOD, f"method {method} not allowed, supported: [POST]")
    return signal


def media_type(content_type: str | None) -> Encoding | Refused:
    """The encoding named by Content-Type, parameters such as charset ignored."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    encoding = _MEDIA.get(media)
    if encoding is None:
        return Refused(
            Problem.UNSUPPORTED_MEDIA,
            f"unsupported media type {media or '(none)'!r}, supported: "
            "[application/x-protobuf, application/json]",
        )
    return encoding


def content_encoding(value: str | None) -> bool | Refused:
    """True for gzip, False for none; anything else is refused (the spec requires only these)."""
    coding = (value or "").strip().lower()
    if coding in ("", "identity"):
        return False
    if coding == "gzip":
        return True
    return Refused(
        Problem.UNSUPPORTED_MEDIA,
        f"unsupported Content-Encoding {coding!r}, supported: [gzip, identity]",
    )


def is_loopback_address(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
