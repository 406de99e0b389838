from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support.listener import Listener, start_listener  # noqa: E402


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    """A real `agentwatch serve` on ephemeral loopback ports with its own database."""
    srv = start_listener(tmp_path / "agentwatch.db")
    yield srv
    srv.stop()
