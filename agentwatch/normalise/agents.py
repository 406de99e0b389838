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


def agent_name(service_name: str | None) -> str:
    """Normalised agent name; other services keep their name as sent."""
    if not service_name:
        return UNKNOWN_AGENT
    known = _KNOWN.get(service_name.strip().lower())
    if known:
        return known
    if service_name.startswith("codex_") or service_name.startswith("codex-"):
        return "codex"
    return service_name
