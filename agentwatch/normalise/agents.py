"""The agent a resource came from, by its `service.name`.

Issue 4's adapters refine this with scopes and metric prefixes; at ingest the
resource is all we have, and a raw row only needs a stable label to be counted
under in `agentwatch status`.
"""

from __future__ import annotations

# service.name values real agents send (see tests/fixtures/README.md) → our one name.
_KNOWN: dict[str, str] = {
    "claude-code": "claude-code",
    "claude_code": "claude-code",
    "codex_exec": "codex",
    "codex_cli_rs": "codex",
    "codex-tui": "codex",
    "codex_tui": "codex",
    "codex": "codex",
    "gemini-cli": "gemini-cli",
    "github-copilot": "copilot-cli",
    "copilot-cli": "copilot-cli",
    "qwen-code": "qwen-code",
}

UNKNOWN_AGENT = "unknown"

# The agent name is a label: it is grouped on, stored in agent_totals and printed to the
# user's terminal by `agentwatch status`. Any client can set service.name, so the label
# keeps only printable characters (no escape sequences that would drive the terminal, no
# bidi overrides that would disguise it) and a length that fits a table column. The
# service.name attribute itself is still stored as sent, under the value cap.
MAX_AGENT_CHARS = 64
REPLACEMENT = "?"


def agent_name(service_name: str | None) -> str:
    """Normalised agent name; other services keep their name, made printable and short."""
    name = (service_name or "").strip()
    if not name:
        return UNKNOWN_AGENT
    known = _KNOWN.get(name.lower())
    if known:
        return known
    if name.startswith("codex_") or name.startswith("codex-"):
        return "codex"
    return printable(name[:MAX_AGENT_CHARS])


def printable(text: str) -> str:
    """text with every non-printable character (controls, format, separators) replaced."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else REPLACEMENT for c in text)
