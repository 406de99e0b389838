"""Stores filled by replaying captured agent telemetry through a real listener."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from support.listener import Listener, start_listener
from support.replay import FIXTURES, replay

Send = Callable[..., None]
Replayed = Callable[..., Path]


def _send(srv: Listener, *scenarios: str) -> None:
    for name in scenarios:
        replay(FIXTURES / name, srv.http_port, srv.grpc_port)


def _replayed(db: Path, *scenarios: str) -> Path:
    srv = start_listener(db)
    try:
        _send(srv, *scenarios)
    finally:
        srv.stop()
    return db


@pytest.fixture(scope="session")
def send() -> Send:
    """send(listener, "agent/scenario", ...): replay scenarios in order, each acknowledged."""
    return _send


@pytest.fixture(scope="session")
def replayed() -> Replayed:
    """replayed(db, "agent/scenario", ...): a store holding the scenarios, its listener stopped
    (so every acknowledged record is committed)."""
    return _replayed
