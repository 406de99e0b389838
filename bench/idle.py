"""What an idle `agentwatch serve` costs in memory: total RSS of its process tree.

    .venv/bin/python bench/idle.py               # idle, then after a burst, then idle again
    .venv/bin/python bench/idle.py --settle 5 --burst 0

Starts `python -m agentwatch serve` (the interpreter running this script) on a fresh
temporary database with ports 0, waits for its `listening` line, sleeps `--settle`
seconds and prints the VmRSS of the listener and of each of its descendants, in MiB,
from /proc/<pid>/status. With `--burst N` it then sends N concurrent large log
requests (4 clients, 400 records each; large enough for the row worker) and prints the
tree again, right after the burst and after `--settle` more seconds. Prints figures,
never asserts.
"""

from __future__ import annotations

import argparse
import selectors
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from support.probe import children  # noqa: E402 - the tests' helpers, after the path

MIB = 1024 * 1024


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _tree(pid: int) -> list[int]:
    out = [pid]
    for kid in children(pid):
        out.extend(_tree(kid))
    return out


def _name(pid: int) -> str:
    args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    text = " ".join(a.decode(errors="replace") for a in args if a)
    return text if len(text) <= 70 else text[:67] + "..."


def report(label: str, pid: int) -> float:
    rows = []
    for p in _tree(pid):
        try:
            rows.append((p, _kib(p, "VmRSS") / 1024, _name(p)))
        except OSError:
            continue
    total = sum(r[1] for r in rows)
    print(f"{label}: {total:.1f} MiB in {len(rows)} process(es)")
    for p, mib, name in rows:
        print(f"    {p:>7}  {mib:6.1f} MiB  {name}")
    return total


def _start(db: Path) -> tuple[subprocess.Popen[str], int]:
    cmd = [sys.executable, "-m", "agentwatch", "serve", "--http-port", "0", "--grpc-port", "0", "--db", str(db)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if sel.select(timeout=30):
        line = proc.stdout.readline()
        if line.startswith("listening "):
            parts = dict(p.split("=") for p in line.split()[1:])
            return proc, int(parts["http"])
    proc.kill()
    raise SystemExit("agentwatch serve did not start")


def _body(req: int, records: int = 400) -> bytes:
    msg = ExportLogsServiceRequest()
    rl = msg.resource_logs.add()
    rl.resource.attributes.add(key="service.name").value.string_value = "idle-bench"
    sl = rl.scope_logs.add()
    now = time.time_ns()
    for i in range(records):
        rec = sl.log_records.add()
        rec.time_unix_nano = now + req * records + i
        rec.body.string_value = f"request {req} record {i} " + "x" * 80
        rec.attributes.add(key="i").value.int_value = i
    return msg.SerializeToString()


def _post(port: int, body: bytes) -> int:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/logs", data=body, headers={"Content-Type": "application/x-protobuf"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--settle", type=float, default=5.0, help="seconds to wait before each reading")
    ap.add_argument("--burst", type=int, default=48, help="large requests in the burst (0 = none)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = _start(Path(tmp) / "idle.db")
        try:
            time.sleep(args.settle)
            report("idle after start", proc.pid)
            if args.burst:
                bodies = [_body(r) for r in range(args.burst)]
                started = time.monotonic()
                with ThreadPoolExecutor(4) as pool:
                    codes = list(pool.map(lambda b: _post(port, b), bodies))
                took = time.monotonic() - started
                ok = codes.count(200)
                print(f"burst: {ok}/{len(codes)} requests HTTP 200 in {took:.2f} s")
                report("right after the burst", proc.pid)
                time.sleep(args.settle)
                report(f"{args.settle:g} s after the burst", proc.pid)
        finally:
            proc.terminate()
            proc.wait(15)


if __name__ == "__main__":
    main()
