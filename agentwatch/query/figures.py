"""The figures every surface shows, and how they add up.

One rule for every figure but sessions: None (unknown, shown as —) until some
record in scope carried its family, then the sum of what was carried. Totals add
the known values and stay None only when every part is None.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Iterable

from agentwatch.measures import FAMILY_OF, MEASURES, rank_column


def add(a: Any, b: Any) -> Any:
    if b is None:
        return a
    if a is None:
        return b
    return a + b


@dataclass(frozen=True, slots=True)
class Figures:
    """The figures of one scope (a period, an agent, a model, a day, a session, an hour).

    `sessions` is a count of distinct ids (0 when none); every other field is a
    measure of measures.MEASURES, in that order, None where no record carried it.
    """

    sessions: int
    requests: int | None = None
    errors: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_usd: float | None = None
    lines_added: int | None = None
    lines_removed: int | None = None
    commits: int | None = None
    pull_requests: int | None = None
    tool_calls: int | None = None
    tool_accepted: int | None = None
    tool_rejected: int | None = None

    @classmethod
    def of(cls, sessions: int, values: Iterable[Any]) -> Figures:
        """From SQL sums in MEASURES order, in their public types."""
        return cls(sessions, *(_clean(name, value) for name, value in zip(MEASURES, values, strict=True)))


# The fields are written out for type checkers; this keeps them the measures, in order
# (checked at import, so a measure added to measures.py cannot be missing here).
if tuple(f.name for f in fields(Figures)) != ("sessions", *MEASURES):
    raise TypeError("query.figures.Figures must list measures.MEASURES, in order")

NOTHING = (None,) * len(MEASURES)  # the measures of a scope with nothing countable


def add_all(a: Iterable[Any], b: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(add(x, y) for x, y in zip(a, b))


def _clean(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "cost_usd":
        return round(float(value), 10)  # float sums drift in the last digits; cents matter, not 1e-17
    return int(value)


def is_counted(measure: str, rollup: str = "r", session: str = "s") -> str:
    """SQL: whether a row's source is the one its session counts the measure's family from."""
    return f"{rollup}.rank = {session}.{rank_column(FAMILY_OF[measure])}"


def ranked(measure: str, rollup: str = "r", session: str = "s") -> str:
    """SQL: a row's figure where its source counts for the family, else NULL."""
    return f"CASE WHEN {is_counted(measure, rollup, session)} THEN {rollup}.{measure} END"


def ranked_sums(rollup: str = "r", session: str = "s") -> str:
    """SQL: each measure summed only from the source its session ranks best for its family."""
    return ", ".join(f"SUM({ranked(m, rollup, session)})" for m in MEASURES)
