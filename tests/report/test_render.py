"""report.render: the summary as a text table (what a person reads), JSON and CSV (what scripts read)."""

from __future__ import annotations

import datetime as dt

from agentwatch.query.figures import Figures
from agentwatch.query.period import period
from agentwatch.query.summary import AgentFigures, DayFigures, ModelFigures, Summary
from agentwatch.report.render import summary_csv, summary_json, summary_text

DAY = period(dt.date(2026, 11, 23), dt.date(2026, 11, 23), "UTC")
# The JSON figures M, in their public order, written out rather than imported.
M = [
    "sessions", "requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "reasoning_tokens", "cost_usd", "lines_added", "lines_removed",
    "commits", "pull_requests", "tool_calls", "tool_accepted", "tool_rejected",
]  # fmt: skip


def _row(**known: object) -> Figures:
    return Figures(1, **known)  # type: ignore[arg-type]


def test_figures_nobody_reported_are_left_out_and_named() -> None:
    codex = _row(requests=3, errors=0, input_tokens=16665, output_tokens=360, tool_calls=2)
    result = Summary(DAY, codex, (AgentFigures("codex", codex),), (), ())
    text = summary_text(result, "agent")
    header = text.splitlines()[2]
    assert header.split() == ["AGENT", "SESSIONS", "REQUESTS", "ERRORS", "INPUT", "OUTPUT", "TOOLS"]
    assert "codex" in text and "16,665" in text
    # No cost column, so no notional-cost note; the hidden figures are named.
    assert "notional" not in text
    assert text.splitlines()[-1] == (
        "Not reported by any agent in this period: cache read, cache write, reasoning, cost, lines +, "
        "lines -, commits, prs, accepted, rejected."
    )


def test_a_figure_one_agent_reported_is_a_column_with_dashes_for_the_others() -> None:
    claude = _row(requests=4, errors=0, cost_usd=0.0435)
    codex = _row(requests=3, errors=0)
    totals = _row(requests=7, errors=0, cost_usd=0.0435)
    rows = (AgentFigures("claude-code", claude), AgentFigures("codex", codex))
    text = summary_text(Summary(DAY, totals, rows, (), ()), "agent")
    lines = text.splitlines()
    assert "COST*" in lines[2]
    assert lines[4].split() == ["codex", "1", "3", "0", "—"]
    assert any("notional" in line for line in lines)


def test_summary_json_is_built_from_the_typed_summary_in_its_public_order() -> None:
    codex = _row(requests=3, errors=0, input_tokens=16665)
    result = Summary(
        DAY, codex, (AgentFigures("codex", codex),), (ModelFigures("codex", None, codex),),
        (DayFigures(dt.date(2026, 11, 23), codex),),
    )  # fmt: skip
    out = summary_json(result)
    assert list(out) == ["period", "totals", "by_agent", "by_model", "by_day"]
    assert out["period"] == {"since": "2026-11-23", "until": "2026-11-23", "tz": "UTC"}
    assert list(out["totals"]) == M
    assert list(out["by_agent"][0]) == ["agent", *M]
    assert list(out["by_model"][0]) == ["agent", "model", *M]
    assert list(out["by_day"][0]) == ["date", *M]
    assert out["by_model"][0]["model"] is None  # unknown stays null, never ""
    assert out["totals"]["cost_usd"] is None and out["totals"]["input_tokens"] == 16665


def test_csv_has_every_figure_and_leaves_unknown_cells_empty_never_zero() -> None:
    claude = _row(requests=4, errors=0, cost_usd=0.0435)
    codex = _row(requests=3, errors=0)
    rows = (AgentFigures("claude-code", claude), AgentFigures("codex", codex))
    lines = summary_csv(Summary(DAY, claude, rows, (), ()), "agent").splitlines()
    assert lines[0].split(",") == ["agent", *M]
    # codex: sessions 1, requests 3, errors 0, then 13 figures it did not report
    assert lines[2] == "codex,1,3,0" + "," * 13
    assert lines[1].split(",")[M.index("cost_usd") + 1] == "0.0435"
