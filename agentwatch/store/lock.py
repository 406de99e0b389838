"""One `agentwatch serve` per database: an flock'd file next to it.

The lock file also says where the running listener can be reached, so
`agentwatch status` can tell whether one is running without touching its ports.
The kernel drops the lock when the process dies, even on kill -9 (the file
stays then, harmless); a clean release removes the file.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agentwatch.paths import lock_path
from agentwatch.store.connect import StoreError

# `agentwatch status` holds LOCK_SH for an instant to see whether a serve is running; a serve
# starting in that instant must not mistake it for another serve. A real holder keeps the lock
# for its whole life, so retrying for a moment costs a refused second serve only this delay.
LOCK_WAIT_S = 0.3
LOCK_RETRY_S = 0.02


@dataclass(frozen=True, slots=True)
class ListenerInfo:
    pid: int
    http_port: int | None = None
    grpc_port: int | None = None
    keep_content: bool = False


class InstanceLock:
    def __init__(self, db: Path) -> None:
        self.db = db
        self.path = lock_path(db)
        self._fd: int | None = None

    def acquire(self) -> None:
        while True:
            fd = self._open_and_lock()
            if _still_linked(fd, self.path):
                break
            # A holder released (and unlinked) the file between our open and our lock:
            # this lock guards nothing any more, so take the file whoever comes next finds.
            os.close(fd)
        self._fd = fd
        self.write(ListenerInfo(pid=os.getpid()))

    def _open_and_lock(self) -> int:
        try:
            fd = self._open()
        except OSError as exc:
            # The first thing serve touches on disk, so an unusable data folder shows up here.
            raise StoreError(
                f"cannot create {self.path}: {_reason(exc)}; the database's folder must be a "
                "writable directory (pass --db to put it elsewhere)"
            ) from None
        error = _lock_within(fd, LOCK_WAIT_S)
        if error is not None:
            os.close(fd)
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                other = read_listener(self.db)
                who = f" (pid {other.pid})" if other else ""
                raise StoreError(
                    f"another agentwatch serve{who} is already using {self.db}; "
                    "stop it first or pass a different --db"
                ) from None
            raise StoreError(f"cannot lock {self.path}: {_reason(error)}") from None
        return fd

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    def write(self, info: ListenerInfo) -> None:
        assert self._fd is not None
        data = json.dumps(asdict(info)).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        """Unlink the file while still holding it, so none is left beside the database
        (a refused one included); acquire() rechecks the link, so this opens no race."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            os.close(self._fd)
            self._fd = None


def _still_linked(fd: int, path: Path) -> bool:
    """Whether the file we locked is still the one at path (not unlinked by a releasing holder)."""
    try:
        here = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)


def _lock_within(fd: int, wait_s: float) -> OSError | None:
    """Take LOCK_EX, retrying while someone holds it for up to wait_s; the last error if not."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return None
        except OSError as exc:
            busy = exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
            if not busy or time.monotonic() >= deadline:
                return exc
        time.sleep(LOCK_RETRY_S)


def read_listener(db: Path) -> ListenerInfo | None:
    """The running listener on db, or None when no process holds the lock."""
    path = lock_path(db)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _parse(os.pread(fd, 4096, 0)) or ListenerInfo(pid=0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _reason(exc: OSError) -> str:
    # mkdir's bare "File exists" / "Not a directory" would not say which part is wrong.
    if isinstance(exc, FileExistsError) and exc.filename:
        return f"{exc.filename} exists and is not a directory"
    if isinstance(exc, NotADirectoryError) and exc.filename:
        return f"part of {exc.filename} is a file, not a directory"
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def _parse(data: bytes) -> ListenerInfo | None:
    try:
        raw: Any = json.loads(data)
        return ListenerInfo(**raw)
    except (ValueError, TypeError):
        return None
