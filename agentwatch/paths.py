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
    """The instance lock beside the database's real file: a symlink to it finds the same lock."""
    real = real_db_path(db)
    return real.with_name(real.name + ".lock")


def real_db_path(db: Path) -> Path:
    """db with every symlink resolved: one name for the file whatever alias was given."""
    return Path(os.path.realpath(db))


def identity_lock_path(dev: int, ino: int) -> Path:
    """The lock on a database file by its identity (device, inode), whatever name it was
    opened by (a hard link included): in the user's runtime folder, shared by every
    process of the user. platformdirs warns when it falls back (no XDG_RUNTIME_DIR); the
    fallback (/tmp/runtime-<uid>) is as good for a lock, so the warning is not shown."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        folder = platformdirs.user_runtime_path(APP, appauthor=False)
    return folder / f"db-{dev:x}-{ino:x}.lock"
