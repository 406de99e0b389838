"""Rows → facts: hands each record to the adapter chosen for its resource and scope.

otlp_view builds rows and knows no agent; it calls the function `for_scope`
returns once per record, with the attribute values it has already decoded, so
deriving facts costs no second walk of the protobuf and no JSON parse.
"""

from __future__ import annotations

import logging
import operator
from typing import Any, Callable

from agentwatch.normalise.adapters import registry
from agentwatch.normalise.adapters.base import Adapter, Attrs, Origin, labels_of
from agentwatch.measures import BUCKET_NS
from agentwatch.records import Fact, Signal

log = logging.getLogger(__name__)

Sink = Callable[[Any, Attrs], None]
Reader = Callable[[Origin, Any, Attrs], list[Fact]]


class Derivation:
    """Collects the facts of one request (or of one reindexed batch)."""

    def __init__(self) -> None:
        self.facts: list[Fact] = []
        self.failures = 0
        # Which agent sent something when, under the name its adapter gives it (not the
        # raw service.name, which a global OTEL_SERVICE_NAME may have changed).
        self.presence: set[tuple[int, str]] = set()
        # The same label for each row, in the order the rows were read: what the raw
        # row is counted under (agent_totals), so status and summary name one agent.
        self.agents: list[str] = []

    def for_scope(
        self, signal: Signal, resource_key: bytes, service: str | None, resource: Attrs, scope: str
    ) -> Sink:
        """The function otlp_view calls for each record of this resource and scope."""
        # The scope and service decide once for all its records; else each record decides.
        fixed = registry.adapter_for(service, scope)  # None: decided per record, by its name
        labels = labels_of(resource)
        # Per adapter (one unless chosen per record): its origin and its reader for the signal.
        chosen: dict[int, tuple[Origin, Reader]] = {}
        when = _TIME[signal]

        def sink(row: Any, attrs: Attrs) -> None:
            adapter = fixed or registry.adapter_for_record(signal, row, attrs)
            known = chosen.get(id(adapter))
            if known is None:
                origin = Origin(resource_key, service, resource, scope, adapter.agent_for(service), labels)
                known = chosen[id(adapter)] = (origin, _reader(adapter, signal))
            origin, read = known
            self.agents.append(origin.agent)
            self.presence.add((when(row) // BUCKET_NS, origin.agent))
            self._read(read, origin, row, attrs)

        return sink

    def _read(self, read: Reader, origin: Origin, row: Any, attrs: Attrs) -> None:
        """One record's facts; an adapter's bug costs that record's facts, never its row.

        The row is stored either way, so `agentwatch reindex` recovers the facts once
        the adapter is fixed. Only the exception's type is logged: its message could
        quote a value the agent sent.
        """
        try:
            self.facts.extend(read(origin, row, attrs))
        except Exception as exc:  # noqa: BLE001 - see above
            self.failures += 1
            if self.failures == 1:
                log.warning("%s adapter failed on a record (%s); its row is stored", origin.agent, type(exc).__name__)


# A row's own time: what decides the day it counts in.
_TIME: dict[Signal, Callable[[Any], int]] = {
    Signal.LOGS: operator.attrgetter("time_ns"),
    Signal.METRICS: operator.attrgetter("time_ns"),
    Signal.TRACES: operator.attrgetter("start_ns"),
}


def _reader(adapter: Adapter, signal: Signal) -> Reader:
    if signal is Signal.LOGS:
        return adapter.log
    if signal is Signal.METRICS:
        return adapter.point
    return adapter.span
