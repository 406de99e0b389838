"""Summaries and session lists as text tables, CSV and JSON, from query's answers (status: report/status.py).

Every text value goes through display.py; JSON keeps None as null. The JSON shapes
are public (scripts read them): keys and their order are pinned by tests.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, tzinfo
from typing import Any, Sequence

from agentwatch.display import NOTIONAL_NOTE, PROXY_NOTE, UNKNOWN, cost, count, printable
from agentwatch.query.figures import Figures
from agentwatch.query.sessions import SessionRow
from agentwatch.query.summary import AgentFigures, DayFigures, ModelFigures, Summary
from agentwatch.report.hints import how_to_send

Entry = AgentFigures | ModelFigures | DayFigures

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


def _cell(figure: str, value: Any) -> str:
    return cost(value) if figure == "cost_usd" else count(value)


# -- JSON ----------------------------------------------------------------------
_FIGURES = tuple(field.name for field in fields(Figures))  # sessions, then MEASURES in order


def figures_json(f: Figures) -> dict[str, Any]:
    """M of the summary JSON: sessions, then every measure in MEASURES order."""
    return {name: getattr(f, name) for name in _FIGURES}


def _entry_json(entry: Entry) -> dict[str, Any]:
    if isinstance(entry, ModelFigures):
        return {"agent": entry.agent, "model": entry.model, **figures_json(entry.figures)}
    if isinstance(entry, DayFigures):
        return {"date": entry.date.isoformat(), **figures_json(entry.figures)}
    return {"agent": entry.agent, **figures_json(entry.figures)}


def summary_json(result: Summary) -> dict[str, Any]:
    period = result.period
    return {
        "period": {"since": period.since.isoformat(), "until": period.until.isoformat(), "tz": period.tz_name},
        "totals": figures_json(result.totals),
        "by_agent": [_entry_json(e) for e in result.by_agent],
        "by_model": [_entry_json(e) for e in result.by_model],
        "by_day": [_entry_json(e) for e in result.by_day],
    }


# -- CSV -----------------------------------------------------------------------
def summary_csv(result: Summary, by: str) -> str:
    """One breakdown as CSV with every figure; unknown is an empty cell, never 0."""
    import csv  # here: the table and JSON commands start faster without it
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    entries = _breakdown(result, by)
    keys = _KEYS[by]
    writer.writerow([k.lower() for k in keys] + list(_FIGURES))
    for entry in entries:
        labels = list(_entry_json(entry).values())[: len(keys)]
        writer.writerow(labels + [getattr(entry.figures, n) for n in _FIGURES])
    return out.getvalue()


# -- text ----------------------------------------------------------------------
_KEYS = {"agent": ["AGENT"], "model": ["AGENT", "MODEL"], "day": ["DATE"]}


def table(headings: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A plain aligned table: the first `left` columns left-aligned, numbers right."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headings)]
    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([line(headings), *(line(r) for r in rows)])


def _labels(entry: Entry) -> list[str]:
    if isinstance(entry, ModelFigures):
        return [printable(entry.agent), printable(entry.model) if entry.model else UNKNOWN]
    if isinstance(entry, DayFigures):
        return [entry.date.isoformat()]
    return [printable(entry.agent)]


def _breakdown(result: Summary, by: str) -> Sequence[Entry]:
    return {"agent": result.by_agent, "model": result.by_model, "day": result.by_day}[by]


def summary_text(result: Summary, by: str, hint: str | None = None) -> str:
    """The table of one breakdown; with nothing in the period, the hint (report.hints) instead."""
    period = result.period
    span = str(period.since) if period.since == period.until else f"{period.since} to {period.until}"
    head = f"agentwatch summary · {span} ({period.tz_name})"
    entries = _breakdown(result, by)
    if not entries:
        return f"{head}\n\nNothing recorded in this period.\n{hint or how_to_send(None)}"
    keys = _KEYS[by]
    # A figure nobody in the period reported is a column of dashes: it is left out (and
    # named below), so the table fits a terminal; --json always has every figure.
    shown = [(h, f) for h, f in COLUMNS if f == "sessions" or getattr(result.totals, f) is not None]
    hidden = [h.rstrip("*").lower() for h, f in COLUMNS if (h, f) not in shown]
    rows = [_labels(e) + [_cell(f, getattr(e.figures, f)) for _, f in shown] for e in entries]
    total = ["TOTAL"] + [""] * (len(keys) - 1) + [_cell(f, getattr(result.totals, f)) for _, f in shown]
    body = table(keys + [h for h, _ in shown], rows + [total], left=len(keys))
    notes = [NOTIONAL_NOTE] if any(f == "cost_usd" for _, f in shown) else []
    notes.append(PROXY_NOTE)
    if hidden:
        notes.append(f"Not reported by any agent in this period: {', '.join(hidden)}.")
    return f"{head}\n\n{body}\n\n" + "\n".join(notes)


def _when(ns: int, tz: tzinfo) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz).strftime("%Y-%m-%d %H:%M")


def session_json(row: SessionRow, tz: tzinfo) -> dict[str, Any]:
    figures = {k: v for k, v in figures_json(row.figures).items() if k != "sessions"}
    return {
        "agent": row.agent,
        "id": row.id,
        "start": datetime.fromtimestamp(row.start_ns / 1e9, tz).isoformat(timespec="seconds"),
        "end": datetime.fromtimestamp(row.end_ns / 1e9, tz).isoformat(timespec="seconds"),
        "models": list(row.models),
        "labels": dict(row.labels),
        **figures,
    }


def _tokens(f: Figures) -> str:
    if f.input_tokens is None and f.output_tokens is None:
        return UNKNOWN
    return f"{count(f.input_tokens)} / {count(f.output_tokens)}"


def _lines(f: Figures) -> str:
    if f.lines_added is None:
        return UNKNOWN
    return f"+{f.lines_added:,} -{count(f.lines_removed)}"


def sessions_text(rows: list[SessionRow], tz: tzinfo, since: str, hint: str | None = None) -> str:
    if not rows:
        return f"No sessions since {since}.\n{hint or how_to_send(None)}"
    body = table(
        ["AGENT", "SESSION", "START", "END", "MODELS", "REQUESTS", "TOKENS IN / OUT", "COST*", "TOOLS", "LINES"],
        [
            [
                printable(r.agent),
                printable(r.id),
                _when(r.start_ns, tz),
                _when(r.end_ns, tz),
                printable(", ".join(r.models)) or UNKNOWN,
                count(r.figures.requests),
                _tokens(r.figures),
                cost(r.figures.cost_usd),
                count(r.figures.tool_calls),
                _lines(r.figures),
            ]
            for r in rows
        ],
        left=5,
    )
    return f"{body}\n\n{NOTIONAL_NOTE}\n{PROXY_NOTE}"
