"""Where agentwatch keeps its files (platformdirs); creates nothing."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "agentwatch"
DB_ENV = "AGENTWATCH_DB"


def default_db_path() -> Path:
    env = os.environ.get(DB_ENV)
    if env:
        return Path(env).expanduser()
    return platformdirs.user_data_path(APP, appauthor=False) / "agentwatch.db"


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".lock")
