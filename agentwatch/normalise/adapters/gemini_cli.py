"""gemini-cli: to be written (adapter skeleton)."""

from __future__ import annotations

from agentwatch.normalise.adapters.base import BaseAdapter


class GeminiCli(BaseAdapter):
    agent = "gemini-cli"
    services = frozenset({"gemini-cli", })
    scope_prefixes = ("gemini-cli",)
    name_prefixes = ("gemini_cli.",)


ADAPTER = GeminiCli()
