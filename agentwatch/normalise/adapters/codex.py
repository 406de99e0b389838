"""codex: to be written (adapter skeleton)."""

from __future__ import annotations

from agentwatch.normalise.adapters.base import BaseAdapter


class Codex(BaseAdapter):
    agent = "codex"
    services = frozenset({"codex_exec", "codex_cli_rs", "codex-tui", "codex_tui", "codex", })
    scope_prefixes = ("codex",)
    name_prefixes = ("codex.",)


ADAPTER = Codex()
