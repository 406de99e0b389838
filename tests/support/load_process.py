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
        """Send from now on to this port."""
        _write_port(self.port_file, port)

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


def _write_port(port_file: Path, port: int) -> None:
    # Written aside and renamed, so the loader never reads half a number.
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(port))
    os.replace(tmp, port_file)


def start_loader(
    workdir: Path, run: str, port: int, mode: str = "retry", threads: int = 4
) -> LoadProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    port_file, log, stop_file = workdir / "port", workdir / "attempts.log", workdir / "stop"
    _write_port(port_file, port)
    proc = subprocess.Popen(
        [
            sys.executable, str(LOADER), "--run", run, "--port-file", str(port_file),
            "--log", str(log), "--stop-file", str(stop_file), "--mode", mode,
            "--threads", str(threads),
        ],
    )
    return LoadProcess(proc, port_file, log, stop_file)
