"""Issue 9, items 2 and 3: no value a client sends can break a summary or poison a figure.

Each test sends Claude Code-shaped telemetry (built as in test_accounting_rules) to a
real `agentwatch serve` and reads the figures back with the real CLI. Before the
fixes, 400 events at the old per-value cap (2**53 tokens) made every later summary of
that day raise `integer overflow`, 1,100 of them in one session gave HTTP 500, a
negative cost point was a cost of −1000, two points of 1e308 printed `Infinity` in
`--json`, and a cumulative histogram with sum NaN gave HTTP 500.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from opentelemetry.proto.metrics.v1.metrics_pb2 import Histogram, HistogramDataPoint, Metric
from support.listener import Listener
from support.otlp_build import key_values
from test_accounting_rules import (
    CUMULATIVE,
    DELTA,
    MIN,
    NULLS,
    S,
    T0,
    api_request,
    counter,
    event,
    logs_body,
    metrics_body,
    point,
    post,
    served,  # noqa: F401 (fixture)
    db,  # noqa: F401 (fixture)
)

SINCE, UNTIL = "2026-11-22", "2026-11-24"  # around T0 (2026-11-23 10:00 UTC)
OLD_CAP = 2**53  # what as_int accepted per value before


def cli(db: Path, *args: str) -> Any:
    """A CLI --json run that must exit 0 and print strict JSON (no Infinity, no NaN)."""
    out = subprocess.run(
        [sys.executable, "-m", "agentwatch", *args, "--json", "--db", str(db)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))


def summary(db: Path) -> dict[str, Any]:
    return cli(db, "summary", "--since", SINCE, "--until", UNTIL, "--tz", "UTC")


def total(db: Path) -> dict[str, Any]:
    return {k: v for k, v in summary(db)["totals"].items() if k in NULLS}


def requests(session: str, n: int, tokens: int, start: int = T0) -> Any:
    return logs_body(*(event("api_request", start + i * S, api_request(session, tokens, 1)) for i in range(n)))


def test_events_at_the_old_cap_do_not_break_a_summary(served: Listener, db: Path) -> None:
    # 1,100 events of one session claiming 2**53 input tokens each: their sum (9.9e18)
    # passes 2**63 (9.2e18). Each such figure is refused as implausible (unknown), and the
    # summary still counts the calls: requests 1,100, output 1,100 × 1, and input the
    # known parts only (Claude's rule): cache read 0 + cache write 0 = 0.
    for start in (T0, T0 + 500 * S, T0 + 1000 * S):  # 500 + 500 + 100 events
        n = 100 if start == T0 + 1000 * S else 500
        post(served, "logs", requests("s-huge", n, OLD_CAP, start))
    got = total(db)
    assert (got["requests"], got["output_tokens"], got["input_tokens"]) == (1100, 1100, 0)
    assert cli(db, "sessions", "--since", SINCE, "--tz", "UTC")[0]["requests"] == 1100


def test_events_at_the_new_cap_sum_exactly(served: Listener, db: Path) -> None:
    # 10**10 is the most one value may claim: 1,100 × 10**10 = 1.1e13 input tokens, exact.
    post(served, "logs", requests("s-cap", 1100, 10**10))
    got = total(db)
    assert (got["requests"], got["input_tokens"], got["output_tokens"]) == (1100, 1100 * 10**10, 1100)


def cost_point(value: float, time_ns: int, session: str = "s-cost", temporality: Any = DELTA) -> Any:
    start = T0 - MIN
    return counter("claude_code.cost.usage", temporality, point(value, start, time_ns, {"session.id": session}))


def test_negative_and_non_finite_costs_are_unknown(served: Listener, db: Path) -> None:
    # Points of −1000, 1e308 twice (their sum is inf), and 0.25: only 0.25 is a cost.
    for i, value in enumerate((-1000.0, 1e308, 1e308, 0.25)):
        post(served, "metrics", metrics_body(cost_point(value, T0 + i * S, session=f"s{i}")))
    assert total(db)["cost_usd"] == 0.25
    cli(db, "sessions", "--since", SINCE, "--tz", "UTC")
    cli(db, "status")


def test_event_costs_past_the_bound_are_unknown(served: Listener, db: Path) -> None:
    # An api_request claiming 1e300 USD, one claiming −5, one 1.5: the total is 1.5.
    post(served, "logs", logs_body(*(event("api_request", T0 + i * S, api_request("s-ev", 1, 1, cost=c))
                                     for i, c in enumerate((1e300, -5.0, 1.5)))))  # fmt: skip
    assert total(db)["cost_usd"] == 1.5


def histogram(name: str, total_: float, time_ns: int, temporality: Any) -> Metric:
    dp = HistogramDataPoint(count=1, sum=total_, start_time_unix_nano=T0 - MIN, time_unix_nano=time_ns,
                            attributes=key_values({"session.id": "s-h"}))  # fmt: skip
    return Metric(name=name, histogram=Histogram(data_points=[dp], aggregation_temporality=temporality))


def test_histogram_sums_that_are_not_finite_are_unknown(served: Listener, db: Path) -> None:
    # A cumulative histogram with sum NaN (was HTTP 500), then +inf and −inf deltas in
    # one group (was NaN or null), then a finite 2.0: the cost is 2.0.
    nan, inf = float("nan"), float("inf")
    post(served, "metrics", metrics_body(histogram("claude_code.cost.usage", nan, T0, CUMULATIVE)))
    for i, value in enumerate((inf, -inf, 2.0), start=1):
        post(served, "metrics", metrics_body(histogram("claude_code.cost.usage", value, T0 + i * S, DELTA)))
    assert total(db)["cost_usd"] == 2.0
