"""The figures every surface shows, and how they add up.

One rule for every figure but sessions: None (unknown, shown as —) until some
record in scope carried its family, then the sum of what was carried. Totals add
the known values and stay None only when every part is None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from agentwatch.measures import MEASURES

# Which precedence channel each measure competes in (see schema m002).
CHANNEL = {
    **{m: "usage" for m in MEASURES[:8]},
    **{m: "output" for m in ("lines_added", "lines_removed", "commits", "pull_requests")},
    **{m: "tools" for m in ("tool_calls", "tool_accepted", "tool_rejected")},
}


def add(a: Any, b: Any) -> Any:
    if b is None:
        return a
    if a is None:
        return b
    return a + b


@dataclass(slots=True)
class Tally:
    """Figures of one scope (a period, an agent, a model, a day, a session) as they are added."""

    sessions: set[int] = field(default_factory=set)
    values: list[Any] = field(default_factory=lambda: [None] * len(MEASURES))

    def add(self, session_id: int | None, values: Iterable[Any]) -> None:
        if session_id is not None:
            self.sessions.add(session_id)
        self.values = [add(a, b) for a, b in zip(self.values, values)]

    def as_dict(self) -> dict[str, Any]:
        return figures(len(self.sessions), self.values)


def figures(sessions: int, values: Iterable[Any]) -> dict[str, Any]:
    """The figures in their public order and types: M of the summary JSON."""
    out: dict[str, Any] = {"sessions": sessions}
    for name, value in zip(MEASURES, values):
        out[name] = _clean(name, value)
    return out


def _clean(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "cost_usd":
        return round(float(value), 10)  # float sums drift in the last digits; cents matter, not 1e-17
    return int(value)


def ranked_sums(rollup: str = "r", session: str = "s") -> str:
    """SQL: each measure summed only from the source its session ranks best for its channel."""
    return ", ".join(
        f"SUM(CASE WHEN {rollup}.rank = {session}.{CHANNEL[m]}_rank THEN {rollup}.{m} END)" for m in MEASURES
    )
