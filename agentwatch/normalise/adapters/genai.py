"""OpenTelemetry GenAI semantic conventions: any other agent or app (skeleton)."""

from __future__ import annotations

from agentwatch.normalise.adapters.base import BaseAdapter
from agentwatch.normalise.agents import agent_name


class GenAI(BaseAdapter):
    agent = "genai"
    scope_prefixes = ("opentelemetry.instrumentation.genai", "opentelemetry.util.genai")

    def agent_for(self, service: str | None) -> str:
        return agent_name(service)


ADAPTER = GenAI()
