"""Summaries and session lists as text tables and JSON; every value through display.py."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any, Sequence

from agentwatch.display import NOTIONAL_NOTE, PROXY_NOTE, UNKNOWN, cost, count, printable
from agentwatch.query.sessions import SessionRow
from agentwatch.query.summary import Summary

# (heading, figure) of the summary table, in reading order.
COLUMNS = (
    ("SESSIONS", "sessions"),
    ("REQUESTS", "requests"),
    ("ERRORS", "errors"),
    ("INPUT", "input_tokens"),
    ("OUTPUT", "output_tokens"),
    ("CACHE READ", "cache_read_tokens"),
    ("CACHE WRITE", "cache_write_tokens"),
    ("REASONING", "reasoning_tokens"),
    ("COST*", "cost_usd"),
    ("LINES +", "lines_added"),
    ("LINES -", "lines_removed"),
    ("COMMITS", "commits"),
    ("PRS", "pull_requests"),
    ("TOOLS", "tool_calls"),
    ("ACCEPTED", "tool_accepted"),
    ("REJECTED", "tool_rejected"),
)
BREAKDOWNS = {"agent": "by_agent", "model": "by_model", "day": "by_day"}


def _cell(figure: str, value: Any) -> str:
    return cost(value) if figure == "cost_usd" else count(value)


def table(headings: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A plain aligned table: the first `left` columns left-aligned, numbers right."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headings)]
    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([line(headings), *(line(r) for r in rows)])


def _labels(by: str, entry: dict[str, Any]) -> list[str]:
    if by == "model":
        return [printable(entry["agent"]), printable(entry["model"]) if entry["model"] else UNKNOWN]
    if by == "day":
        return [entry["date"]]
    return [printable(entry["agent"])]


def summary_text(result: Summary, by: str) -> str:
    period = result.period
    span = str(period.since) if period.since == period.until else f"{period.since} to {period.until}"
    head = f"agentwatch summary · {span} ({period.tz_name})"
    entries = result.as_json()[BREAKDOWNS[by]]
    if not entries:
        return f"{head}\n\nNothing recorded in this period. Is `agentwatch serve` running and an agent pointed at it?\n  export OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318"
    keys = {"agent": ["AGENT"], "model": ["AGENT", "MODEL"], "day": ["DATE"]}[by]
    # A figure nobody in the period reported is a column of dashes: it is left out (and
    # named below), so the table fits a terminal; --json always has every figure.
    shown = [(h, f) for h, f in COLUMNS if f == "sessions" or result.totals[f] is not None]
    hidden = [h.rstrip("*").lower() for h, f in COLUMNS if (h, f) not in shown]
    rows = [_labels(by, e) + [_cell(f, e[f]) for _, f in shown] for e in entries]
    total = ["TOTAL"] + [""] * (len(keys) - 1) + [_cell(f, result.totals[f]) for _, f in shown]
    body = table(keys + [h for h, _ in shown], rows + [total], left=len(keys))
    notes = [NOTIONAL_NOTE] if any(f == "cost_usd" for _, f in shown) else []
    notes.append(PROXY_NOTE)
    if hidden:
        notes.append(f"Not reported by any agent in this period: {', '.join(hidden)}.")
    return f"{head}\n\n{body}\n\n" + "\n".join(notes)


def _when(ns: int, tz: tzinfo) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz).strftime("%Y-%m-%d %H:%M")


def session_json(row: SessionRow, tz: tzinfo) -> dict[str, Any]:
    figures = {k: v for k, v in row.figures.items() if k != "sessions"}
    return {
        "agent": row.agent,
        "id": row.id,
        "start": datetime.fromtimestamp(row.start_ns / 1e9, tz).isoformat(timespec="seconds"),
        "end": datetime.fromtimestamp(row.end_ns / 1e9, tz).isoformat(timespec="seconds"),
        "models": list(row.models),
        "labels": row.labels,
        **figures,
    }


def _tokens(f: dict[str, Any]) -> str:
    if f["input_tokens"] is None and f["output_tokens"] is None:
        return UNKNOWN
    return f"{count(f['input_tokens'])} / {count(f['output_tokens'])}"


def _lines(f: dict[str, Any]) -> str:
    if f["lines_added"] is None:
        return UNKNOWN
    return f"+{f['lines_added']:,} -{f['lines_removed']:,}"


def sessions_text(rows: list[SessionRow], tz: tzinfo, since: str) -> str:
    if not rows:
        return f"No sessions since {since}. Is `agentwatch serve` running and an agent pointed at it?"
    body = table(
        ["AGENT", "SESSION", "START", "END", "MODELS", "REQUESTS", "TOKENS IN / OUT", "COST*", "TOOLS", "LINES"],
        [
            [
                printable(r.agent),
                printable(r.id),
                _when(r.start_ns, tz),
                _when(r.end_ns, tz),
                printable(", ".join(r.models)) or UNKNOWN,
                count(r.figures["requests"]),
                _tokens(r.figures),
                cost(r.figures["cost_usd"]),
                count(r.figures["tool_calls"]),
                _lines(r.figures),
            ]
            for r in rows
        ],
        left=5,
    )
    return f"{body}\n\n{NOTIONAL_NOTE}\n{PROXY_NOTE}"
