"""qwen-code: to be written (adapter skeleton)."""

from __future__ import annotations

from agentwatch.normalise.adapters.base import BaseAdapter


class QwenCode(BaseAdapter):
    agent = "qwen-code"
    services = frozenset({"qwen-code", })
    scope_prefixes = ("qwen-code",)
    name_prefixes = ("qwen-code.",)


ADAPTER = QwenCode()
