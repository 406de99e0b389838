"""The agent a resource came from, by its `service.name`: the label raw rows are counted under.

At ingest the resource is all a raw row has (`agentwatch status` counts rows per
agent). The adapters know which service names are theirs; any other service keeps
its name as a label (adapters/base.py: service_label).
"""

from __future__ import annotations

from agentwatch.normalise.adapters import registry
from agentwatch.normalise.adapters.base import UNKNOWN_AGENT, service_label

__all__ = ["UNKNOWN_AGENT", "agent_name"]


def agent_name(service_name: str | None) -> str:
    """The agent whose adapter claims this service name, else the name made a safe label."""
    name = (service_name or "").strip()
    for adapter in registry.NAMED:
        if name and adapter.owns_service(name):
            return adapter.agent
    return service_label(name)
