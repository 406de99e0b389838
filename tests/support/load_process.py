"""Drive tests/support/loader.py as a subprocess and read back what it was told."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

LOADER = Path(__file__).resolve().parent / "loader.py"


@dataclass
class LoadProcess:
    proc: subprocess.Popen[bytes]
    port_file: Path
    log: Path
    stop_file: Path

    def point_at(self, port: int) -> None:
        """Send from now on to this port (atomic rename: the loader never reads half a number)."""
        tmp = self.port_file.with_suffix(".tmp")
        tmp.write_text(str(port))
        os.replace(tmp, self.port_file)

    def stop(self, timeout: float = 60.0) -> None:
        self.stop_file.touch()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("loader did not stop")

    def outcomes(self) -> dict[int, list[str]]:
        """Every attempt per request id, in order."""
        seen: dict[int, list[str]] = defaultdict(list)
        try:
            text = self.log.read_text()
        except FileNotFoundError:
            return {}
        # The loader may be mid-line while it runs; a line counts once it ends.
        for line in text[: text.rfind("\n") + 1].splitlines():
            req, outcome = line.split(" ", 1)
            seen[int(req)].append(outcome)
        return dict(seen)

    def acked(self) -> set[int]:
        return {req for req, tries in self.outcomes().items() if "200" in tries}


def start_loader(workdir: Path, port: int, mode: str = "retry", threads: int = 4) -> LoadProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    load = LoadProcess(
        proc=None,  # type: ignore[arg-type]
        port_file=workdir / "port",
        log=workdir / "attempts.log",
        stop_file=workdir / "stop",
    )
    load.point_at(port)
    load.proc = subprocess.Popen(
        [sys.executable, str(LOADER), "--port-file", str(load.port_file), "--log", str(load.log),
         "--stop-file", str(load.stop_file), "--mode", mode, "--threads", str(threads)],
    )
    return load
