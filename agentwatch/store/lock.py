"""One `agentwatch serve` per database file: an flock'd file next to it, and one by its identity.

The lock beside the database is named after its real path, so a symlink to the
database (or to its folder) finds the same lock. A hard link has no real path to
share, so serve also locks the file by its device and inode (paths.identity_lock_path),
which every name of the file shares. The database file itself is not flock'd: on
macOS and the BSDs flock and SQLite's own fcntl locks are one lock table, and an
exclusive flock would shut SQLite out of its own file.

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
import stat
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agentwatch.paths import identity_lock_path, lock_path, real_db_path
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
        self._identity: tuple[Path, int] | None = None  # the identity lock: its path and fd

    def acquire(self) -> None:
        """Lock the database's real path, and the file itself when it exists already."""
        self._fd = self._take(self.path)
        try:
            self.hold_file()
        except BaseException:
            self.release()
            raise
        self.write(ListenerInfo(pid=os.getpid()))

    def hold_file(self) -> None:
        """Lock the database file by its identity, if not yet: serve calls this again once
        the store has made the file, so a database it created is held from then on."""
        if self._identity is None:
            self._identity = self._take_identity()

    def _take(self, path: Path) -> int:
        while True:
            fd = self._open_and_lock(path)
            if _still_linked(fd, path):
                return fd
            # A holder released (and unlinked) the file between our open and our lock:
            # this lock guards nothing any more, so take the file whoever comes next finds.
            os.close(fd)

    def _take_identity(self) -> tuple[Path, int] | None:
        """Lock the database file by (device, inode). None while there is no file (the
        store makes it), or when the path cannot be a database: opening the store says why."""
        # stat, never open and close: closing any descriptor of the file drops every
        # fcntl lock this process holds on it, SQLite's own included (POSIX locks).
        try:
            st = os.stat(real_db_path(self.db))
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        path = identity_lock_path(st.st_dev, st.st_ino)
        return path, self._take(path)

    def _open_and_lock(self, path: Path) -> int:
        try:
            fd = _open(path)
        except OSError as exc:
            # The first thing serve touches on disk, so an unusable data folder shows up here.
            raise StoreError(
                f"cannot create {path}: {_reason(exc)}; the database's folder must be a "
                "writable directory (pass --db to put it elsewhere)"
            ) from None
        error = _lock_within(fd, LOCK_WAIT_S)
        if error is not None:
            holder = _parse(os.pread(fd, 4096, 0))
            os.close(fd)
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                other = holder or read_listener(self.db)
                who = f" (pid {other.pid})" if other and other.pid else ""
                raise StoreError(
                    f"another agentwatch serve{who} is already using {self.db}; "
                    "stop it first or pass a different --db"
                ) from None
            raise StoreError(f"cannot lock {path}: {_reason(error)}") from None
        return fd

    def write(self, info: ListenerInfo) -> None:
        assert self._fd is not None
        data = json.dumps(asdict(info)).encode()
        for fd in (self._fd, self._identity[1] if self._identity else None):
            if fd is not None:
                os.ftruncate(fd, 0)
                os.pwrite(fd, data, 0)

    def release(self) -> None:
        """Unlink the files while still holding them, so none is left behind (a refused
        one included); _take() rechecks the link, so this opens no race."""
        if self._identity is not None:
            _unlink_and_close(*self._identity)
            self._identity = None
        if self._fd is not None:
            _unlink_and_close(self.path, self._fd)
            self._fd = None


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def _unlink_and_close(path: Path, fd: int) -> None:
    os.ftruncate(fd, 0)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    os.close(fd)


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
    return _holder(lock_path(db))


def file_is_held(db: Path) -> bool:
    """Whether a serve holds the file now at db by its identity. False while a serve runs
    (read_listener) means the file it opened was deleted or replaced: it stores nothing."""
    try:
        st = os.stat(real_db_path(db))
    except OSError:
        return False
    return _holder(identity_lock_path(st.st_dev, st.st_ino)) is not None


def _holder(path: Path) -> ListenerInfo | None:
    """Who holds the lock file at path (pid 0 when it wrote nothing yet), or None when
    no process does: a shared lock taken without waiting succeeds only on a free file."""
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
