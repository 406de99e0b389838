"""The figures every surface shows, by name, and the time grain they are kept at.

In their own module so a read-only command can import them without loading the
record types (a cold start counts)."""

from __future__ import annotations

# The figures a summary adds up, in the order of the facts and rollups columns. Each
# family (requests+errors, each token type, cost, lines, commits, pull requests, tool
# calls, decisions) is NULL where no record carried it, never a made-up 0.
MEASURES = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "lines_added",
    "lines_removed",
    "commits",
    "pull_requests",
    "tool_calls",
    "tool_accepted",
    "tool_rejected",
)

# Precedence ranks sources per family: for each family, a session's figures come from
# the best-ranked (lowest) source in it that carries the family, so a figure one source
# reports is never hidden by a better source that does not report it. A family's
# members are reported together: a source that carries one carries the others (as 0).
FAMILIES = {
    "calls": ("requests", "errors"),
    "input_tokens": ("input_tokens",),
    "output_tokens": ("output_tokens",),
    "cache_read_tokens": ("cache_read_tokens",),
    "cache_write_tokens": ("cache_write_tokens",),
    "reasoning_tokens": ("reasoning_tokens",),
    "cost": ("cost_usd",),
    "lines": ("lines_added", "lines_removed"),
    "commits": ("commits",),
    "pull_requests": ("pull_requests",),
    "tool_calls": ("tool_calls",),
    "decisions": ("tool_accepted", "tool_rejected"),
}
FAMILY_OF = {measure: family for family, members in FAMILIES.items() for measure in members}
if sorted(FAMILY_OF) != sorted(MEASURES):  # checked at import: a new measure needs its family
    raise TypeError("measures.FAMILIES must hold every measure once")


def rank_column(family: str) -> str:
    """The sessions column holding a family's best rank."""
    return f"{family}_rank"


# Figures are kept per 15 minutes of UTC: every zone's offset is a whole number of
# quarter hours, so each local day is an exact run of buckets in any zone.
BUCKET_NS = 900 * 10**9
