"""config: the defaults every layer reads, importable without the transports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agentwatch.config import RetentionPolicy, ServeSettings

MIB = 1024 * 1024


def test_importing_config_loads_no_transport_or_protobuf() -> None:
    code = (
        "import sys, agentwatch.config; "
        "print([m for m in ('aiohttp', 'grpc', 'google.protobuf', 'opentelemetry', 'sqlite3') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_receive_and_store_layers_take_their_defaults_from_config() -> None:
    from agentwatch.receive.http import HttpLimits
    from agentwatch.store import retention

    assert HttpLimits().max_body == 16 * MIB
    assert retention.RetentionPolicy is RetentionPolicy
    assert ServeSettings(db=Path("x.db")).retention == RetentionPolicy(max_age_days=30.0, max_bytes=2048 * MIB)
