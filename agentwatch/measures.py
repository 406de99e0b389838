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

# Figures are kept per 15 minutes of UTC: every zone's offset is a whole number of
# quarter hours, so each local day is an exact run of buckets in any zone.
BUCKET_NS = 900 * 10**9
