"""Load generator run as a separate process: `python loader.py --run R --port-file P --log L ...`.

Threads take request ids from one counter and POST tagged log requests
(tagged.py) to the port named in the port file, which the parent rewrites when
it restarts the listener. Every attempt is appended to the log as
`<id> <outcome>`, where outcome is the HTTP status or `conn:<ExceptionName>`;
a line `<id> 200` is written only after the 200 was read, so the log's 200s
are exactly the acknowledgements this client received.

--mode retry  re-send an id until it is acknowledged (a crash-test client)
--mode once   send each id once; stop a thread when the listener is gone

Threads stop taking new ids once the stop file exists.
"""

from __future__ import annotations

import argparse
import itertools
import threading
import time
from pathlib import Path

from tagged import log_body, post

RETRY_PAUSE_S = 0.05


class Log:
    def __init__(self, path: Path) -> None:
        self._file = path.open("a", buffering=1)
        self._lock = threading.Lock()

    def write(self, req: int, outcome: str) -> None:
        with self._lock:
            self._file.write(f"{req} {outcome}\n")
            self._file.flush()


def _port(port_file: Path) -> int | None:
    try:
        return int(port_file.read_text())
    except (OSError, ValueError):
        return None


def _attempt(port_file: Path, body: bytes) -> str:
    port = _port(port_file)
    if port is None:
        return "conn:NoPort"
    try:
        status, _, _ = post(port, "/v1/logs", body)
    except Exception as exc:  # noqa: BLE001 - every failure is an outcome, not a crash
        return f"conn:{type(exc).__name__}"
    return str(status)


def _worker(args: argparse.Namespace, ids: itertools.count, lock: threading.Lock, log: Log) -> None:
    while not args.stop_file.exists():
        with lock:
            req = next(ids)
        body = log_body(args.run, req)
        while True:
            outcome = _attempt(args.port_file, body)
            log.write(req, outcome)
            if args.mode == "once":
                if outcome == "conn:ConnectionRefusedError":
                    return
                break
            if outcome == "200":
                break
            time.sleep(RETRY_PAUSE_S)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", required=True)
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--stop-file", type=Path, required=True)
    parser.add_argument("--mode", choices=("retry", "once"), default="retry")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--start", type=int, default=0)
    args = parser.parse_args()
    ids = itertools.count(args.start)
    lock = threading.Lock()
    log = Log(args.log)
    threads = [
        threading.Thread(target=_worker, args=(args, ids, lock, log)) for _ in range(args.threads)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
