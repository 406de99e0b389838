"""One `agentwatch serve` per database: the flock'd lock file and what it tells `status`."""

from __future__ import annotations

import fcntl
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from agentwatch.paths import lock_path
from agentwatch.store.connect import StoreError
from agentwatch.store.lock import InstanceLock, ListenerInfo, read_listener


@contextmanager
def _shared_lock_held_for(db: Path, seconds: float) -> Iterator[None]:
    """LOCK_SH on db's lock file from another thread, as `agentwatch status` takes it.

    Yields once the lock is held, so the caller's acquire surely starts while it is.
    """
    path = lock_path(db)
    path.touch(mode=0o600)
    held = threading.Event()

    def hold() -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            held.set()
            time.sleep(seconds)
        finally:
            os.close(fd)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(5)
    try:
        yield
    finally:
        thread.join()


def test_a_held_lock_tells_readers_who_is_listening_where(tmp_path: Path) -> None:
    db = tmp_path / "agentwatch.db"
    lock = InstanceLock(db)
    lock.acquire()
    assert read_listener(db) == ListenerInfo(pid=os.getpid())
    lock.write(ListenerInfo(os.getpid(), http_port=4318, grpc_port=4317, keep_content=True))
    assert read_listener(db) == ListenerInfo(os.getpid(), 4318, 4317, keep_content=True)
    assert stat.S_IMODE(lock_path(db).stat().st_mode) == 0o600
    lock.release()
    assert read_listener(db) is None


def test_a_second_lock_on_the_same_db_is_refused_naming_the_holder(tmp_path: Path) -> None:
    db = tmp_path / "agentwatch.db"
    first = InstanceLock(db)
    first.acquire()
    # flock belongs to the open file, so a second open in this same process is refused too.
    with pytest.raises(StoreError, match=rf"another agentwatch serve \(pid {os.getpid()}\)"):
        InstanceLock(db).acquire()
    assert read_listener(db) == ListenerInfo(pid=os.getpid())  # the refusal wrote nothing
    first.release()
    InstanceLock(db).acquire()  # free again


def test_reading_the_listener_never_creates_a_lock_file(tmp_path: Path) -> None:
    assert read_listener(tmp_path / "agentwatch.db") is None
    assert list(tmp_path.iterdir()) == []


def test_kill_9_drops_the_lock(tmp_path: Path) -> None:
    db = tmp_path / "agentwatch.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from agentwatch.store.lock import InstanceLock
            InstanceLock(Path({str(db)!r})).acquire()
            print("held", flush=True)
            time.sleep(60)
        """)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert read_listener(db) == ListenerInfo(pid=holder.pid)
        with pytest.raises(StoreError, match=f"pid {holder.pid}"):
            InstanceLock(db).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The lock file still holds the dead pid, but nobody holds the lock: nothing is running.
    assert lock_path(db).read_text()
    assert read_listener(db) is None
    InstanceLock(db).acquire()


def test_a_lock_that_cannot_be_created_is_a_store_error_naming_the_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("")
    with pytest.raises(StoreError, match=f"{blocker} exists and is not a directory"):
        InstanceLock(blocker / "agentwatch.db").acquire()


def test_a_status_reader_holding_the_lock_for_a_moment_does_not_refuse_serve(tmp_path: Path) -> None:
    db = tmp_path / "agentwatch.db"
    with _shared_lock_held_for(db, 0.1):
        lock = InstanceLock(db)
        lock.acquire()  # retries while the reader holds LOCK_SH, then gets LOCK_EX
    assert read_listener(db) == ListenerInfo(pid=os.getpid())
    lock.release()


def test_a_lock_held_past_the_retry_window_is_refused_with_the_clear_message(tmp_path: Path) -> None:
    db = tmp_path / "agentwatch.db"
    with _shared_lock_held_for(db, 2.0):
        started = time.monotonic()
        with pytest.raises(StoreError, match=f"another agentwatch serve is already using {db}; stop it first"):
            InstanceLock(db).acquire()
        waited = time.monotonic() - started
    assert 0.3 <= waited < 1.5  # it retried for the window (0.3 s), not for the holder's 2 s


def test_a_released_lock_leaves_no_file_beside_the_database(tmp_path: Path) -> None:
    db = tmp_path / "agentwatch.db"
    lock = InstanceLock(db)
    lock.acquire()
    assert lock_path(db).exists()
    lock.release()
    assert list(tmp_path.iterdir()) == []
    again = InstanceLock(db)  # and the next holder makes a new one
    again.acquire()
    assert read_listener(db) == ListenerInfo(pid=os.getpid())
    again.release()


def test_a_file_unlinked_by_a_releasing_holder_is_not_the_lock_any_more(tmp_path: Path) -> None:
    # The race release() opens: B opens the file, A unlinks it and closes, B locks the old
    # inode. acquire() asks _still_linked after locking and, on False, starts over.
    from agentwatch.store.lock import _still_linked

    db = tmp_path / "agentwatch.db"
    path = lock_path(db)
    path.touch(mode=0o600)
    fd = os.open(path, os.O_RDONLY)  # B's open, before A's release
    try:
        assert _still_linked(fd, path)
        path.unlink()  # A's release
        assert not _still_linked(fd, path)
        path.touch(mode=0o600)  # C's new file at the path
        assert not _still_linked(fd, path)
    finally:
        os.close(fd)
