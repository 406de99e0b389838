"""What a request came to: accepted after commit, or refused and why.

Errors are values at this boundary; only receive/status.py turns them into
HTTP statuses and gRPC codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Problem(Enum):
    BAD_DATA = "bad_data"  # undecodable or invalid: the client must not retry
    TOO_LARGE = "too_large"  # over the size limit, counted after decompression
    UNSUPPORTED_MEDIA = "unsupported_media"  # Content-Type or Content-Encoding
    NOT_FOUND = "not_found"
    METHOD = "method"
    MISDIRECTED = "misdirected"  # Host header is not a loopback name (DNS rebinding)
    FORBIDDEN = "forbidden"  # a browser (Origin header)
    UNAVAILABLE = "unavailable"  # cannot commit now: retry shortly
    INTERNAL = "internal"  # a bug in agentwatch; nothing was stored


@dataclass(frozen=True, slots=True)
class Refused:
    problem: Problem
    message: str


@dataclass(frozen=True, slots=True)
class Accepted:
    records: int
    stored: int
    duplicates: int


Outcome = Accepted | Refused
