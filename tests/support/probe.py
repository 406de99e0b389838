"""What tests observe about a running listener from outside: rows, memory, liveness.

"Nothing stored" means every raw table has the same row count before and after
(RELIABILITY §3), read through a read-only connection as every reader does.
Memory is the kernel's own account of the server process (/proc/<pid>/status).
"""

from __future__ import annotations

from pathlib import Path

from support.listener import Listener, query

RAW_TABLES = ("log_records", "metric_points", "spans", "batches", "resources", "scopes", "agent_totals")


def table_counts(listener: Listener) -> dict[str, int]:
    sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in RAW_TABLES)
    return dict(query(listener.db, sql))  # type: ignore[arg-type]


def alive(listener: Listener) -> bool:
    return listener.proc.poll() is None


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def peak_rss_bytes(pid: int) -> int:
    """VmHWM: the most resident memory the process has had (since start or the last reset)."""
    return _status_kib(pid, "VmHWM") * 1024


def rss_bytes(pid: int) -> int:
    return _status_kib(pid, "VmRSS") * 1024


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0, same user); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def children(pid: int) -> list[int]:
    """Child processes of pid (the listener's row-building worker and resource tracker)."""
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The ppid is the 2nd field after the parenthesised command name.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry.name))
    return kids
