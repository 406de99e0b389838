"""agentwatch: a local OpenTelemetry listener, store and dashboard for AI coding agents."""

__version__ = "0.2.0"  # the one copy: pyproject reads it (dynamic version)
