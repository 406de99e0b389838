"""The adapter contract: one agent's records → normalised facts.

An adapter is the only place that knows an agent's names, where its session id
lives, its token convention and which of its signals is authoritative for each
figure. It sees every stored record of the resource and scope it was chosen for,
with the attribute values already decoded (content elided), and returns the facts
that record carries, often none.

Every adapter returns facts in one form (records.Fact), in OpenTelemetry GenAI's
token convention: `input_tokens` counts every prompt token, cache reads and
cache writes included, which `cache_read_tokens` and `cache_write_tokens` are
parts of; `output_tokens` includes reasoning, which `reasoning_tokens` is part of.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from hashlib import blake2b
from typing import Any, Protocol

from agentwatch.records import Fact, LogRow, PointRow, Signal, SpanRow

Attrs = dict[str, Any]
Facts = list[Fact]
NONE: Facts = []  # returned, never mutated, by the many records that carry nothing

# Resource attributes copied to the session, for summaries by user and team.
LABEL_KEYS = (
    "user.email",
    "user.id",
    "user.name",
    "enduser.id",
    "team",
    "team.name",
    "project",
    "project.name",
    "organization.id",
    "deployment.environment",
    "deployment.environment.name",
    "host.name",
)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record came from: its resource and instrumentation scope."""

    resource_key: bytes
    service: str | None
    resource: Attrs
    scope: str
    agent: str  # the name the facts are filed under
    labels: str | None = field(default=None)


class Adapter(Protocol):
    """One agent's knowledge: every duty an adapter has, in one place.

    - Names: `owns_scope`, `owns_service`, `owns_record` say which records are its
      own (the registry asks them in that order); `agent_for` gives the one agent
      label, used for raw rows (`agentwatch status`) and facts alike.
    - Content: `content_keys` are the attributes of its records that carry prompts,
      responses, code or command lines; normalise/content.py elides the union of
      every adapter's (plus the GenAI conventions') unless content is kept.
    - Facts: `log`, `point`, `span` read one record each into facts in our one
      token convention (see the module docstring), or none.
    - Ranks: each fact's `rank` orders its sources; for each measure family
      (measures.FAMILIES) a session's figure comes from the best-ranked source in it
      that carries the family. The adapter module's docstring says which wins which.
    - Series: a cumulative metric point becomes a fact keyed by its series
      (`point_fact`), which the store turns into increases.
    - Labels: the session labels (user, team, ...) each fact carries (`labels_of`).
    """

    agent: str
    content_keys: frozenset[str]

    def owns_scope(self, scope: str) -> bool:
        """True when the instrumentation scope is this agent's own."""
        ...

    def owns_service(self, service: str | None) -> bool:
        """True when service.name is one this agent sends."""
        ...

    def owns_name(self, name: str) -> bool:
        """True when a metric, event or span name is this agent's own (its prefix)."""
        ...

    def owns_record(self, signal: Signal, row: Any, attrs: Attrs) -> bool:
        """True when the record itself is this agent's own (asked when scope and service say nothing)."""
        ...

    def agent_for(self, service: str | None) -> str:
        """The agent label of its records under this service.name."""
        ...

    def log(self, origin: Origin, row: LogRow, attrs: Attrs) -> Facts: ...

    def point(self, origin: Origin, row: PointRow, attrs: Attrs) -> Facts: ...

    def span(self, origin: Origin, row: SpanRow, attrs: Attrs) -> Facts: ...


# The agent label is grouped on, stored in agent_totals and printed to the user's
# terminal. Any client can set service.name, so a label keeps only printable characters
# (no escape sequences that would drive the terminal, no bidi overrides that would
# disguise it) and a length that fits a table column. The service.name attribute itself
# is still stored as sent, under the value cap.
UNKNOWN_AGENT = "unknown"
MAX_AGENT_CHARS = 64
REPLACEMENT = "?"


def service_label(service: str | None) -> str:
    """service.name as an agent label: printable, at most MAX_AGENT_CHARS, "unknown" if blank."""
    name = (service or "").strip()[:MAX_AGENT_CHARS]
    if not name:
        return UNKNOWN_AGENT
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else REPLACEMENT for c in name)


# -- reading values defensively ---------------------------------------------------
# Agents send numbers as strings (Claude's duration_ms "15", Rust exporters' int64),
# booleans as "true", and floats where ints are meant (Claude's token sums are doubles).
# Everything read as a number here is a count, a duration or an amount: a negative one,
# a non-finite one or one past what one record can plausibly claim is garbage, and
# unknown is better than wrong.
#
# The bounds, named once. No model call uses 10**10 tokens (the largest context windows
# hold ~10**7), no call or tool runs 10**10 ms (115 days), no session changes 10**10
# lines, and no one call costs 10**6 USD. They also keep every sum safe: SQLite's SUM of
# integers raises `integer overflow` past 2**63 (~9.2e18) and Python's ints bound to a
# statement raise OverflowError there. The largest measure of one fact is an additive
# input (fresh + cache read + cache write, 3 x MAX_COUNT), so a sum needs more than
# 2**63 / (3 * 10**10) ~ 3e8 facts at the bound in one session, quarter hour or summary
# window: hundreds of gigabytes of stored rows, not a day of any real agent's use.
# Costs are floats, which do not overflow at 10**6 per record (1.8e308 / 10**6 records).
MAX_COUNT = 10**10
MAX_COST_USD = 10**6


def as_int(value: Any) -> int | None:
    """A count or duration in [0, MAX_COUNT], else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value <= MAX_COUNT else None
    number = as_float(value)
    return int(number) if number is not None else None


def as_float(value: Any, bound: float = MAX_COUNT) -> float | None:
    """A finite number in [0, bound] (a number or a numeric string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an int past a double's range
            return None
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) and 0 <= number <= bound else None


def as_cost(value: Any) -> float | None:
    """A cost in USD in [0, MAX_COST_USD]: negative, non-finite and implausible costs are unknown."""
    return as_float(value, MAX_COST_USD)


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
    if isinstance(value, int):
        return value != 0
    return None


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def first_int(attrs: Attrs, *keys: str) -> int | None:
    """The first of `keys` that holds a count (current names before deprecated ones)."""
    for key in keys:
        value = as_int(attrs.get(key))
        if value is not None:
            return value
    return None


# -- spans ------------------------------------------------------------------------
STATUS_OK = 1  # OTLP Status.STATUS_CODE_OK
STATUS_ERROR = 2  # OTLP Status.STATUS_CODE_ERROR


def span_ms(row: SpanRow) -> float | None:
    """A span's duration; None when its times are missing or run backwards."""
    return (row.end_ns - row.start_ns) / 1e6 if row.end_ns >= row.start_ns > 0 else None


def span_success(row: SpanRow) -> bool | None:
    """True for an OK status, False for an error, None when the span left it unset."""
    if row.status_code == STATUS_ERROR:
        return False
    return True if row.status_code == STATUS_OK else None


def record_name(signal: Signal, row: Any, attrs: Attrs) -> str:
    """A record's own name: a metric's or span's, an event's `event.name` (else LogRecord.eventName)."""
    if signal is not Signal.LOGS:
        return row.name
    name = attrs.get("event.name")
    return name if isinstance(name, str) and name else row.event_name


def key_of(*parts: str | bytes) -> bytes:
    """A fact key from its identifying parts (kind, agent, ids)."""
    h = blake2b(digest_size=16)
    for part in parts:
        h.update(part if isinstance(part, bytes) else part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.digest()


_LABEL_SET = frozenset(LABEL_KEYS)


def _label_pairs(values: Attrs) -> tuple[tuple[str, Any], ...]:
    keys = _LABEL_SET.intersection(values)  # most records carry none: one C-level pass
    if not keys:
        return ()
    return tuple(
        sorted((k, v) for k in keys if isinstance(v := values[k], (str, int)) and not isinstance(v, bool))
    )


@lru_cache(maxsize=4096)
def _labels_json(pairs: tuple[tuple[str, Any], ...]) -> str:
    return json.dumps(dict(pairs), sort_keys=True)


def labels_of(resource: Attrs, extra: Attrs | None = None) -> str | None:
    """The session labels (user, team, project, ...) a record and its resource carry.

    Called for every record, and a user's labels repeat on all of them: the JSON is
    built once per distinct set.
    """
    pairs = _label_pairs(resource)
    if extra:
        pairs += _label_pairs(extra)  # the record's own value wins (dict keeps the last)
    return _labels_json(pairs) if pairs else None


def decision_counts(decision: str | None, accepted: frozenset[str], rejected: frozenset[str]) -> tuple[int | None, int | None]:
    """(tool_accepted, tool_rejected) for one decision; (None, None) when it names neither."""
    if decision is None:
        return None, None
    lowered = decision.lower()
    if lowered in accepted:
        return 1, 0
    if lowered in rejected:
        return 0, 1
    return None, None


class BaseAdapter:
    """Defaults: owns nothing, derives nothing. Adapters override what they read."""

    agent = "unknown"
    content_keys: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()
    scope_prefixes: tuple[str, ...] = ()
    name_prefixes: tuple[str, ...] = ()

    def owns_service(self, service: str | None) -> bool:
        return (service or "").lower() in self.services

    def owns_scope(self, scope: str) -> bool:
        return bool(self.scope_prefixes) and scope.startswith(self.scope_prefixes)

    def owns_name(self, name: str) -> bool:
        return bool(self.name_prefixes) and name.startswith(self.name_prefixes)

    def owns_record(self, signal: Signal, row: Any, attrs: Attrs) -> bool:
        return self.owns_name(record_name(signal, row, attrs))

    def agent_for(self, service: str | None) -> str:
        return self.agent

    def log(self, origin: Origin, row: LogRow, attrs: Attrs) -> Facts:
        return NONE

    def point(self, origin: Origin, row: PointRow, attrs: Attrs) -> Facts:
        return NONE

    def span(self, origin: Origin, row: SpanRow, attrs: Attrs) -> Facts:
        return NONE


def point_value(row: PointRow) -> int | float | None:
    """A sum or gauge point's value, or a histogram's sum (Codex and GenAI send token counts so)."""
    return row.value if row.value is not None else row.sum


def point_fact(origin: Origin, row: PointRow, **fields: Any) -> Fact:
    """A fact from a metric point, keyed by the point itself.

    A delta point's measures are its increase. A cumulative point's are its running
    total: `series` names the series (resource, scope, name and attributes) and the
    store turns totals into increases against a baseline it keeps across restarts.
    """
    fields.setdefault("labels", origin.labels)
    series = None
    if row.temporality == 2:
        series = key_of(b"series", row.resource_key, row.scope_key, row.name, row.attributes)
    return Fact(
        key=row.dedup_key,
        agent=origin.agent,
        resource_key=origin.resource_key,
        time_ns=row.time_ns,
        series=series,
        start_ns=row.start_ns,
        **fields,
    )
