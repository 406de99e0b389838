"""The summary's text table: what a person reads."""

from __future__ import annotations

import datetime as dt

from agentwatch.query.figures import Figures
from agentwatch.query.period import period
from agentwatch.query.summary import AgentFigures, Summary
from agentwatch.report.render import summary_text

DAY = period(dt.date(2026, 11, 23), dt.date(2026, 11, 23), "UTC")


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
