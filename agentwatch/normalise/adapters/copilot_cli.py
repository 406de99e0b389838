"""copilot-cli: to be written (adapter skeleton)."""

from __future__ import annotations

from agentwatch.normalise.adapters.base import BaseAdapter


class CopilotCli(BaseAdapter):
    agent = "copilot-cli"
    services = frozenset({"github-copilot", "copilot-cli", })
    scope_prefixes = ("github.copilot",)
    name_prefixes = ("github.copilot.",)


ADAPTER = CopilotCli()
