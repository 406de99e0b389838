"""agentwatch: a local OpenTelemetry listener, store and dashboard for AI coding agents."""

__version__ = "0.1.0"
