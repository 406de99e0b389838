"""How values look to a person: unknown as "—", client strings made safe to print.

Shared by every surface (status now; the dashboard and reports later), so they
show the same thing the same way.
"""

from __future__ import annotations

from typing import Any

UNKNOWN = "—"


def strict_json(value: Any) -> str:
    """Every --json output (summary, sessions, status): strict JSON, so a non-finite figure
    that got through raises here, a bug to fix, instead of printing `Infinity` or `NaN`,
    which no JSON parser is obliged to accept."""
    import json  # here: the table outputs start without it

    return json.dumps(value, indent=2, allow_nan=False)


def or_unknown(value: object | None) -> str:
    """None (unknown) is "—", never a misleading 0 or an empty cell."""
    return UNKNOWN if value is None else str(value)


def printable(text: str) -> str:
    """text safe to print: control and other non-printable characters as escapes (\\x1b).

    Agent names come from clients; the adapter registry already makes new ones printable;
    this also covers rows stored before it did, or by a future path that forgets.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


NOTIONAL_NOTE = (
    "* cost is notional: what the agent priced its tokens at (API list prices), not what your plan charges; "
    "— where the agent reports no cost."
)
PROXY_NOTE = "Lines, commits and pull requests are proxies of work done, not measures of it. — = not reported."


def count(value: int | None) -> str:
    return UNKNOWN if value is None else f"{value:,}"


def cost(value: float | None) -> str:
    if value is None:
        return UNKNOWN
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"
