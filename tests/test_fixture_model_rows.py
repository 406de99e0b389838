"""Every captured scenario, replayed through a real listener: the by-model breakdown
adds up to the by-agent figures, and a model-less ("—") row appears only for an agent
none of whose calls named a model (a tool or lines figure never opens a row of its own)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.accounting import figures, replayed
from support.replay import scenario_id, scenarios

# Summed across models; sessions are distinct ids, so a session using two models is in both rows.
ADDITIVE = (
    "requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "reasoning_tokens", "cost_usd", "lines_added", "lines_removed", "commits", "pull_requests",
    "tool_calls", "tool_accepted", "tool_rejected",
)  # fmt: skip


def _sum_known(values: list[Any]) -> Any:
    known = [v for v in values if v is not None]
    return round(sum(known), 10) if known else None


@pytest.mark.parametrize("scenario", scenarios(), ids=scenario_id)
def test_by_model_rows_add_up_to_their_agent_and_none_is_a_phantom(tmp_path: Path, scenario: Path) -> None:
    derived = replayed(tmp_path, scenario_id(scenario))
    for agent_row in derived.summary["by_agent"]:
        agent = agent_row["agent"]
        rows = [r for r in derived.summary["by_model"] if r["agent"] == agent]
        named = [r["model"] for r in rows if r["model"] is not None]
        if named:
            assert None not in [r["model"] for r in rows], f"{agent}: a — row beside {named}"
        if not rows:
            continue  # an agent with nothing countable
        summed = {m: _sum_known([r[m] for r in rows]) for m in ADDITIVE}
        agent_figures = figures(agent_row)
        assert summed == {m: agent_figures[m] for m in ADDITIVE}, agent
        assert max(r["sessions"] for r in rows) <= agent_row["sessions"] <= sum(r["sessions"] for r in rows)
