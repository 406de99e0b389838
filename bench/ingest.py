"""Ingest benchmark: end to end against a real `agentwatch serve`, plus in-process ceilings.

Run:  .venv/bin/python bench/ingest.py [--quick] [--seconds N] [--profile]

Prints figures, never asserts. What it measures:

1. End to end, for http/protobuf, http/json and gRPC with 1 and 4 concurrent
   clients: a fresh `agentwatch serve` subprocess on a fresh temp database per
   scenario (tests/support/listener.py), closed-loop clients in separate
   processes sending batches of 512 agent-shaped log records. Log records/s =
   records acknowledged / wall time; p50/p99 = time to ack per request; the
   server's peak RSS (VmHWM) and CPU (per thread, from /proc).
2. The latency target scenario: open loop (paced, not waiting for answers),
   100 requests/s of 50 records over http/protobuf; ack time measured from the
   moment each request was *due*, so client-side queueing counts against it.
3. In-process ceilings, one thread, median batch: parse only (protobuf, JSON),
   parse + rows (normalise.otlp_view.batch_of), rows only, insert only
   (store.writer.insert_batch into a fresh WAL + synchronous=FULL database,
   BEGIN IMMEDIATE/COMMIT per batch of 512, batches pre-built by the product).
   The best end-to-end rates are printed as a share of each.

`--profile` instead runs py-spy (.venv/bin/pip install py-spy) on the server
under load (--profile-proto, --profile-clients) and prints, per thread, how busy
it was and on which lines.

Every record is new to the store: per request, each record gets a current
time_unix_nano (records SPACING_NS apart, the newest "now") and the request a
fresh prompt.id, patched into the serialized body at offsets found once, so the
client does no protobuf work per request; event.sequence differs per record.

The machine may be shared: every scenario prints the CPU used by everything
outside the bench ("other"), and the server's CPU per record, which moves less
with that noise than records/s does.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import math
import multiprocessing as mp
import os
import platform
import queue
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

TARGET_RATE = 40_000  # log records/s end to end over http/protobuf, batches of 512
TARGET_P99_MS = 20.0  # p99 ack at 100 requests/s of 50 records
BATCH = 512
LAT_RATE = 100
LAT_RECORDS = 50

GRPC_METHOD = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
CONTENT_TYPES = {"http/protobuf": "application/x-protobuf", "http/json": "application/json"}
# Every record's prompt.id; replaced per request by a unique id of the same length.
PLACEHOLDER = b"00000000-0000-4000-8000-000000000000"


# --------------------------------------------------------------------------- payloads
def build_request(records: int, times: Callable[[int], int] | None = None) -> Any:
    """An ExportLogsServiceRequest shaped like a Claude Code events batch (≈10 attributes a record)."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    def kv(key: str, value: Any) -> KeyValue:
        if isinstance(value, bool):
            return KeyValue(key=key, value=AnyValue(bool_value=value))
        if isinstance(value, int):
            return KeyValue(key=key, value=AnyValue(int_value=value))
        if isinstance(value, float):
            return KeyValue(key=key, value=AnyValue(double_value=value))
        return KeyValue(key=key, value=AnyValue(string_value=value))

    rnd = random.Random(42)
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    for key, value in (
        ("host.arch", "amd64"),
        ("os.type", "linux"),
        ("os.version", "6.8.0-45-generic"),
        ("service.name", "claude-code"),
        ("service.version", "2.1.197"),
    ):
        rl.resource.attributes.append(kv(key, value))
    sl = rl.scope_logs.add()
    sl.scope.name = "com.anthropic.claude_code.events"
    sl.scope.version = "2.1.197"
    user_id = "%064x" % rnd.getrandbits(256)
    session_id = "27e5f6ae-9d18-4cbc-8e76-7bbf78e79492"
    base_ns = time.time_ns()
    events = ["api_request", "tool_decision", "tool_result", "api_request", "user_prompt", "tool_result"]
    tools = ["Bash", "Edit", "Read", "Grep", "Write"]
    for i in range(records):
        event = events[i % len(events)]
        t = times(i) if times else base_ns + i * SPACING_NS
        rec = sl.log_records.add(time_unix_nano=t, observed_time_unix_nano=t + OBSERVED_LAG_NS)
        rec.body.string_value = f"claude_code.{event}"
        attrs = [
            ("user.id", user_id),
            ("session.id", session_id),
            ("event.name", event),
            ("event.timestamp", time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t / 1e9)) + ".000Z"),
            ("event.sequence", i),
            ("prompt.id", PLACEHOLDER.decode()),
        ]
        if event == "api_request":
            attrs += [
                ("model", "claude-sonnet-4-5-20250929"),
                ("input_tokens", rnd.randint(3, 40_000)),
                ("output_tokens", rnd.randint(1, 4_000)),
                ("cache_read_tokens", rnd.randint(0, 200_000)),
                ("cost_usd", round(rnd.random() / 10, 6)),
                ("duration_ms", rnd.randint(300, 60_000)),
            ]
        elif event == "tool_result":
            attrs += [
                ("tool_name", rnd.choice(tools)),
                ("success", rnd.random() > 0.1),
                ("duration_ms", rnd.randint(1, 30_000)),
                ("tool_result_size_bytes", rnd.randint(0, 100_000)),
            ]
        elif event == "tool_decision":
            attrs += [("tool_name", rnd.choice(tools)), ("decision", "accept"), ("source", "config")]
        else:  # user_prompt: "prompt" is a content key, elided to its length by default
            attrs += [("prompt_length", 52), ("prompt", "<REDACTED>")]
        rec.attributes.extend(kv(k, v) for k, v in attrs)
    return req


SPACING_NS = 200_000  # records of one request are this far apart, the newest "now"
OBSERVED_LAG_NS = 250_000
_SENTINEL = 1_234_567_890_123_000_000  # 19 digits, like real nanosecond times until 2286


class Payload:
    """A serialized request, patched per request: every record gets a new time and prompt.id.

    The offsets of each record's time_unix_nano / observed_time_unix_nano (fixed64 in
    protobuf, 19-digit strings in OTLP/JSON) are found once from sentinel values, so a
    new request costs the client a copy, 2 small writes per record and one bytes.replace:
    well under a millisecond for 512 records, no protobuf work.
    """

    def __init__(self, proto: str, records: int) -> None:
        from google.protobuf import json_format

        self.proto, self.records = proto, records
        sentinel = lambda i: _SENTINEL + i * 7919  # noqa: E731
        req = build_request(records, sentinel)
        self.json = proto == "http/json"
        if self.json:
            # OTLP/JSON: camelCase, int64 as strings; these records carry no trace/span ids.
            body = json_format.MessageToJson(req, indent=None).encode()
            enc = lambda t: b'"%d"' % t  # noqa: E731
        else:
            body = req.SerializeToString()
            enc = lambda t: struct.pack("<Q", t)  # noqa: E731
        self.offsets: list[tuple[int, int]] = []
        for i in range(records):
            pair = []
            for t in (sentinel(i), sentinel(i) + OBSERVED_LAG_NS):
                pat = enc(t)
                at = body.find(pat)
                assert at >= 0 and body.find(pat, at + 1) < 0, "sentinel time not unique in body"
                pair.append(at + 1 if self.json else at)
            self.offsets.append((pair[0], pair[1]))
        assert body.count(PLACEHOLDER) == records
        self.template = body

    def make(self, run: int, client: int, seq: int, now_ns: int | None = None) -> bytes:
        buf = bytearray(self.template)
        t = (now_ns or time.time_ns()) - (self.records - 1) * SPACING_NS
        if self.json:
            for o, p in self.offsets:
                buf[o : o + 19] = b"%d" % t
                buf[p : p + 19] = b"%d" % (t + OBSERVED_LAG_NS)
                t += SPACING_NS
        else:
            pack = struct.pack_into
            for o, p in self.offsets:
                pack("<Q", buf, o, t)
                pack("<Q", buf, p, t + OBSERVED_LAG_NS)
                t += SPACING_NS
        return bytes(buf).replace(PLACEHOLDER, request_id(run, client, seq))


def request_id(run: int, client: int, seq: int) -> bytes:
    h = f"{run & 0xFFFFFFFF:08x}{client & 0xFFFFFFFF:08x}{seq:016x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}".encode()


# --------------------------------------------------------------------------- client processes
class _Sender:
    """One keep-alive connection (HTTP) or channel (gRPC, raw bytes); send() is True when acked."""

    def __init__(self, proto: str, http_port: int, grpc_port: int) -> None:
        self.proto = proto
        if proto == "grpc":
            import grpc

            self._grpc = grpc
            self._channel = grpc.insecure_channel(
                f"127.0.0.1:{grpc_port}", options=[("grpc.max_send_message_length", 64 << 20)]
            )
            self._call = self._channel.unary_unary(GRPC_METHOD)  # no serializers: bytes in, bytes out
        else:
            self._headers = {"Content-Type": CONTENT_TYPES[proto]}
            self._port = http_port
            self._conn = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", self._port, timeout=30)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def send(self, body: bytes) -> bool:
        if self.proto == "grpc":
            try:
                self._call(body, timeout=30)
                return True
            except self._grpc.RpcError:
                return False
        try:
            self._conn.request("POST", "/v1/logs", body, self._headers)
            resp = self._conn.getresponse()
            resp.read()
            return resp.status == 200
        except (OSError, http.client.HTTPException):
            self._conn.close()
            self._conn = self._connect()
            return False

    def close(self) -> None:
        if self.proto == "grpc":
            self._channel.close()
        else:
            self._conn.close()


def _closed_loop(task: dict[str, Any], start_q: Any, result_q: Any) -> dict[str, Any]:
    sender = _Sender(task["proto"], task["http_port"], task["grpc_port"])
    payload, run, client = task["payload"], task["run"], task["client"]
    seq = 0
    for _ in range(task["warmup"]):
        sender.send(payload.make(run, client, seq))
        seq += 1
    result_q.put(("ready", client))
    t0 = start_q.get()
    time.sleep(max(0.0, t0 - time.monotonic()))
    deadline = t0 + task["seconds"]
    cpu0 = time.process_time()
    lat: list[float] = []
    acked = failed = 0
    end = time.monotonic()
    while end < deadline:
        b = payload.make(run, client, seq)
        seq += 1
        s = time.monotonic()
        ok = sender.send(b)
        end = time.monotonic()
        lat.append(end - s)
        if ok:
            acked += payload.records
        else:
            failed += 1
    sender.close()
    return {"acked": acked, "failed": failed, "lat": lat, "end": end, "cpu": time.process_time() - cpu0,
            "sent_total": seq}


def _open_loop(task: dict[str, Any], start_q: Any, result_q: Any) -> dict[str, Any]:
    """Requests due every 1/rate s; a pool of keep-alive connections so a slow answer doesn't hold back the next."""
    payload, run, client, rate = task["payload"], task["run"], task["client"], task["rate"]
    senders = [_Sender(task["proto"], task["http_port"], task["grpc_port"]) for _ in range(task["connections"])]
    seq = 0
    for s in senders:
        for _ in range(task["warmup"]):
            s.send(payload.make(run, client, seq))
            seq += 1
    due_q: queue.SimpleQueue[Any] = queue.SimpleQueue()
    samples: list[tuple[float, float, float, bool]] = []  # due, sent, acked, ok
    lock = threading.Lock()

    def work(sender: _Sender) -> None:
        while True:
            item = due_q.get()
            if item is None:
                return
            due, b = item
            sent = time.monotonic()
            ok = sender.send(b)
            done = time.monotonic()
            with lock:
                samples.append((due, sent, done, ok))

    threads = [threading.Thread(target=work, args=(s,), daemon=True) for s in senders]
    for t in threads:
        t.start()
    result_q.put(("ready", client))
    t0 = start_q.get()
    n = int(task["seconds"] * rate)
    cpu0 = time.process_time()
    late = 0.0
    for k in range(n):
        due = t0 + k / rate
        b = payload.make(run, client, seq, now_ns=time.time_ns() + max(0, int((due - time.monotonic()) * 1e9)))
        seq += 1
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        late = max(late, time.monotonic() - due)
        due_q.put((due, b))
    for _ in threads:
        due_q.put(None)
    for t in threads:
        t.join(60)
    for s in senders:
        s.close()
    return {"samples": samples, "cpu": time.process_time() - cpu0,
            "max_dispatch_late": late, "sent_total": seq}


def _worker_main(task_q: Any, start_q: Any, result_q: Any) -> None:
    import grpc  # noqa: F401  (import cost paid once, before any measurement)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        task = task_q.get()
        if task is None:
            return
        fn = _open_loop if task["mode"] == "open" else _closed_loop
        try:
            result_q.put(("done", task["client"], fn(task, start_q, result_q)))
        except Exception as exc:  # noqa: BLE001 - reported by the parent
            result_q.put(("error", task["client"], repr(exc)))


class Clients:
    """Client processes started once (spawn: no inherited loop or grpc state) and reused per scenario."""

    def __init__(self, n: int) -> None:
        ctx = mp.get_context("spawn")
        self.result_q = ctx.Queue()
        self.workers = []
        for _ in range(n):
            task_q, start_q = ctx.Queue(), ctx.Queue()
            p = ctx.Process(target=_worker_main, args=(task_q, start_q, self.result_q), daemon=True)
            p.start()
            self.workers.append((p, task_q, start_q))

    def run(
        self, tasks: list[dict[str, Any]], lead_s: float = 0.3, on_start: Callable[[float], None] | None = None
    ) -> tuple[float, list[dict[str, Any]]]:
        """Hand out tasks, wait for every client to be connected and warm, start them together at t0."""
        for (_, task_q, _), task in zip(self.workers, tasks):
            task_q.put(task)
        self._expect("ready", len(tasks), timeout=60)
        t0 = time.monotonic() + lead_s
        for (_, _, start_q), _task in zip(self.workers, tasks):
            start_q.put(t0)
        if on_start:
            on_start(t0)
        return t0, self._expect("done", len(tasks), timeout=max(t["seconds"] for t in tasks) + 120)

    def _expect(self, kind: str, n: int, timeout: float) -> list[Any]:
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            msg = self.result_q.get(timeout=max(0.1, deadline - time.monotonic()))
            if msg[0] == "error":
                raise RuntimeError(f"client {msg[1]} failed: {msg[2]}")
            if msg[0] == kind:
                out.append(msg[2] if kind == "done" else msg[1])
        return out

    def close(self) -> None:
        for p, task_q, _ in self.workers:
            task_q.put(None)
        for p, _, _ in self.workers:
            p.join(5)
            if p.is_alive():
                p.kill()


# --------------------------------------------------------------------------- server side
def _proc_status(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


_TICK = os.sysconf("SC_CLK_TCK")


def family(pid: int) -> list[int]:
    """pid and its child processes (the listener's row-building worker, its resource tracker)."""
    from support.probe import children

    return [pid, *children(pid)]


def thread_cpu(pid: int) -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) per thread of pid and its children, with the thread's name."""
    out = {}
    for member in family(pid):
        for task in Path(f"/proc/{member}/task").iterdir():
            try:
                stat = (task / "stat").read_text()
                comm = (task / "comm").read_text().strip()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            name = comm if member == pid else f"worker {comm}"
            out[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / _TICK)
    return out


def cpu_delta(pid: int, before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> list[tuple[str, float]]:
    """(label, seconds) per thread, busiest first; the main thread is the event loop."""
    rows = []
    for tid, (comm, secs) in after.items():
        d = secs - before.get(tid, (comm, 0.0))[1]
        label = "main/event loop" if tid == pid else f"{comm}[{tid}]"
        rows.append((label, d))
    return sorted(rows, key=lambda r: -r[1])


def start_server(db: Path) -> Any:
    from support.listener import start_listener

    return start_listener(db)  # it drains the listener's stderr itself


# --------------------------------------------------------------------------- stats
def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
    return s[k]


@dataclasses.dataclass
class E2E:
    proto: str
    clients: int
    rate: float
    p50_ms: float
    p99_ms: float
    requests: int
    failed: int
    rss: int | None
    server_cpu: float  # cores busy on average
    client_cpu: float
    threads: list[tuple[str, float]]
    stored_ok: bool
    other_cores: float = 0.0  # CPU used by everything else on the machine meanwhile
    server_us: float = 0.0  # server CPU µs per record acked (all threads); less noisy than records/s
    main_us: float = 0.0  # the event-loop thread's share of that


# --------------------------------------------------------------------------- scenarios
def system_busy_s() -> float:
    """CPU seconds all cores have been busy since boot (idle and iowait excluded)."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(f[:8]) - f[3] - f[4]) / _TICK  # user nice system [idle iowait] irq softirq steal


class Meter:
    """Server CPU per thread and the whole machine's CPU, between start() and stop()."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def start_at(self, t0: float) -> None:
        time.sleep(max(0.0, t0 - time.monotonic()))
        self._threads, self._sys, self._t = thread_cpu(self.pid), system_busy_s(), time.monotonic()

    def stop(self) -> None:
        after, sys1 = thread_cpu(self.pid), system_busy_s()
        self.span = time.monotonic() - self._t
        self.threads = cpu_delta(self.pid, self._threads, after)
        self.server_cores = sum(d for _, d in self.threads) / self.span
        self.system_cores = (sys1 - self._sys) / self.span
        # Peak RSS of the listener plus its worker processes (each one's own peak, summed).
        self.rss = sum(_proc_status(p, "VmHWM") or 0 for p in family(self.pid)) or None


def run_e2e(clients: Clients, payload: Payload, n: int, seconds: float, run: int, tmp: Path) -> E2E:
    proto = payload.proto
    lst = start_server(Path(tempfile.mkdtemp(dir=tmp)) / f"e2e-{proto.replace('/', '-')}-{n}.db")
    try:
        tasks = [
            dict(mode="closed", proto=proto, http_port=lst.http_port, grpc_port=lst.grpc_port, payload=payload,
                 run=run, client=c, warmup=2, seconds=seconds)
            for c in range(n)
        ]
        meter = Meter(lst.proc.pid)
        t0, results = clients.run(tasks, on_start=meter.start_at)
        meter.stop()
        stored = lst.count("log_records")
    finally:
        lst.stop()
    lat = [x for r in results for x in r["lat"]]
    acked = sum(r["acked"] for r in results)
    failed = sum(r["failed"] for r in results)
    wall = max(r["end"] for r in results) - t0
    client_cpu = sum(r["cpu"] for r in results) / wall
    # Requests are stored whole or not at all: warm-ups and acked requests, nothing else.
    stored_ok = stored == (sum(r["sent_total"] for r in results) - failed) * payload.records
    return E2E(proto, n, acked / wall, pct(lat, 50) * 1e3, pct(lat, 99) * 1e3, len(lat), failed, meter.rss,
               meter.server_cores, client_cpu, meter.threads, stored_ok,
               other_cores=max(0.0, meter.system_cores - meter.server_cores - client_cpu),
               server_us=meter.server_cores * meter.span / max(acked, 1) * 1e6,
               main_us=dict(meter.threads).get("main/event loop", 0.0) / max(acked, 1) * 1e6)


@dataclasses.dataclass
class Latency:
    sent: int
    failed: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    svc_p50_ms: float
    svc_p99_ms: float
    achieved_rps: float
    dispatch_late_ms: float
    rss: int | None
    server_cpu: float
    other_cores: float
    stored_ok: bool
    over_target: int


def run_latency(clients: Clients, payload: Payload, seconds: float, run: int, tmp: Path) -> Latency:
    lst = start_server(Path(tempfile.mkdtemp(dir=tmp)) / "latency.db")
    try:
        task = dict(mode="open", proto=payload.proto, http_port=lst.http_port, grpc_port=lst.grpc_port,
                    payload=payload, run=run, client=100, warmup=2, seconds=seconds, rate=LAT_RATE, connections=8)
        meter = Meter(lst.proc.pid)
        t0, (res,) = clients.run([task], on_start=meter.start_at)
        meter.stop()
        stored = lst.count("log_records")
    finally:
        lst.stop()
    samples = res["samples"]
    ok = [s for s in samples if s[3]]
    from_due = [(done - due) for due, _sent, done, _ in ok]
    service = [(done - sent) for _due, sent, done, _ in ok]
    last = max(s[2] for s in samples)
    return Latency(len(samples), len(samples) - len(ok), pct(from_due, 50) * 1e3, pct(from_due, 99) * 1e3,
                   max(from_due) * 1e3, pct(service, 50) * 1e3, pct(service, 99) * 1e3,
                   len(samples) / (last - t0), res["max_dispatch_late"] * 1e3, meter.rss, meter.server_cores,
                   max(0.0, meter.system_cores - meter.server_cores - res["cpu"] / meter.span),
                   stored == (res["sent_total"] - (len(samples) - len(ok))) * payload.records,
                   sum(1 for x in from_due if x * 1e3 >= TARGET_P99_MS))


# --------------------------------------------------------------------------- in-process ceilings
def _loop_rate(fn: Callable[[int], Any], records_per_call: int, seconds: float) -> tuple[float, float]:
    """records/s and ms per call for fn(i), called for about `seconds`.

    From the median call, not the mean: the machine is shared, and a call that lost its
    core to another process says nothing about the code.
    """
    fn(0)  # warm (plans, caches)
    times = []
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < seconds or n < 5:
        t = time.perf_counter()
        fn(n)
        times.append(time.perf_counter() - t)
        n += 1
    med = statistics.median(times)
    return records_per_call / med, med * 1e3


def ceilings(seconds: float, insert_batches: int, tmp: Path, run: int) -> dict[str, dict[str, float]]:
    from agentwatch.normalise.otlp_view import ViewPolicy, batch_of
    from agentwatch.receive.decode import Encoding, decode
    from agentwatch.records import Signal
    from agentwatch.store import schema
    from agentwatch.store.connect import open_writer
    from agentwatch.store.writer import insert_batch

    variants = 8
    pb_payload, js_payload = Payload("http/protobuf", BATCH), Payload("http/json", BATCH)
    pb = [pb_payload.make(run, 900, i) for i in range(variants)]
    js = [js_payload.make(run, 901, i) for i in range(variants)]
    policy = ViewPolicy()
    out: dict[str, dict[str, float]] = {}

    def record(name: str, rate_ms: tuple[float, float]) -> None:
        out[name] = {"rate": rate_ms[0], "ms": rate_ms[1]}

    record("parse protobuf", _loop_rate(lambda i: decode(Signal.LOGS, pb[i % variants], Encoding.PROTOBUF), BATCH, seconds))
    record("parse json", _loop_rate(lambda i: decode(Signal.LOGS, js[i % variants], Encoding.JSON), BATCH, seconds))
    # parse + rows, timing the two parts of each call separately: "rows only" is batch_of on a
    # freshly parsed message, as in the server (re-walking one message would hit upb's cached
    # sub-message wrappers and look faster than it is).
    split: dict[str, list[float]] = {"parse": [], "rows": []}

    def parse_rows(i: int) -> None:
        t = time.perf_counter()
        msg = decode(Signal.LOGS, pb[i % variants], Encoding.PROTOBUF)
        t1 = time.perf_counter()
        batch_of(Signal.LOGS, msg, "http", time.time_ns(), policy)
        split["parse"].append(t1 - t)
        split["rows"].append(time.perf_counter() - t1)

    record("parse+rows protobuf", _loop_rate(parse_rows, BATCH, seconds))
    rows_med = statistics.median(split["rows"])
    record("rows only", (BATCH / rows_med, rows_med * 1e3))
    record("parse+rows json", _loop_rate(
        lambda i: batch_of(Signal.LOGS, decode(Signal.LOGS, js[i % variants], Encoding.JSON), "http",
                           time.time_ns(), policy), BATCH, seconds))

    # Insert only: every batch built by the product (decode + batch_of) from its own body, with
    # record times advancing as real arrivals do, so the dedup keys are the real ones; all
    # built before the clock starts.
    now = time.time_ns()
    batches = [
        batch_of(Signal.LOGS, decode(Signal.LOGS, pb_payload.make(run, 902, k, now + k * BATCH * SPACING_NS),
                                     Encoding.PROTOBUF), "http", time.time_ns(), policy)
        for k in range(insert_batches)
    ]
    db = tmp / "insert-only.db"
    conn = open_writer(db)
    schema.migrate(conn)
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    t_insert, t_commit = [], []
    for b in batches:
        a = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        insert_batch(conn, b)
        c = time.perf_counter()
        conn.execute("COMMIT")
        t_commit.append(time.perf_counter() - c)
        t_insert.append(c - a)
    stored = conn.execute("SELECT count(*) FROM log_records").fetchone()[0]
    conn.close()
    med = statistics.median(i + c for i, c in zip(t_insert, t_commit))
    out["insert only (FULL)"] = {"rate": BATCH / med, "ms": med * 1e3,
                                 "insert_ms": statistics.median(t_insert) * 1e3,
                                 "commit_ms": statistics.median(t_commit) * 1e3,
                                 "commit_p99_ms": pct(t_commit, 99) * 1e3,
                                 "batches": len(batches), "stored_ok": float(stored == len(batches) * BATCH)}
    return out


def fsync_ms(directory: Path, n: int = 30) -> float:
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    block = os.urandom(4096)
    times = []
    try:
        for i in range(n):
            os.pwrite(fd, block, i * 4096)
            t = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(times) * 1e3


# --------------------------------------------------------------------------- profile
def profile(clients: Clients, seconds: float, n: int, run: int, tmp: Path, proto: str) -> None:
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(pyspy).exists():
        print("py-spy not found: .venv/bin/pip install py-spy")
        return
    payload = Payload(proto, BATCH)
    lst = start_server(Path(tempfile.mkdtemp(dir=tmp)) / "profile.db")
    out = tmp / "profile.txt"
    spy: list[subprocess.Popen[str]] = []
    try:
        tasks = [dict(mode="closed", proto=proto, http_port=lst.http_port, grpc_port=lst.grpc_port,
                      payload=payload, run=run, client=c, warmup=2, seconds=seconds + 1.0)
                 for c in range(n)]
        meter = Meter(lst.proc.pid)

        def at_start(t0: float) -> None:
            meter.start_at(t0)
            spy.append(subprocess.Popen(
                [pyspy, "record", "--pid", str(lst.proc.pid), "--duration", str(int(seconds)), "--rate", "200",
                 "--format", "raw", "--threads", "--output", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))

        t0, results = clients.run(tasks, on_start=at_start)
        meter.stop()
        spy[0].wait(30)
    finally:
        lst.stop()
    acked = sum(r["acked"] for r in results)
    wall = max(r["end"] for r in results) - t0
    lat = [x for r in results for x in r["lat"]]
    if not out.exists():
        print("py-spy produced nothing:", spy[0].stderr.read() if spy and spy[0].stderr else "")
        return
    print(f"\nprofile of the server: {proto}, {n} client(s): {acked / wall:,.0f} records/s, ack p50 "
          f"{pct(lat, 50) * 1e3:.1f} ms p99 {pct(lat, 99) * 1e3:.1f} ms, server CPU {meter.server_cores:.2f} cores "
          f"({', '.join(f'{lbl} {d / meter.span:.2f}' for lbl, d in meter.threads[:3])}), machine busy "
          f"{meter.system_cores:.2f} of {os.cpu_count()} cores")
    print(f"py-spy record --threads --rate 200 --format raw for {int(seconds)} s (blocking sampler; idle samples "
          "dropped)")
    summarise_profile(out.read_text(), wall_samples=int(seconds) * 200)


def summarise_profile(raw: str, wall_samples: float, top: int = 12) -> None:
    """Per thread: share of wall time it was busy (py-spy drops idle samples), then where, by line."""
    per_thread: Counter[str] = Counter()
    self_by_thread: dict[str, Counter[str]] = defaultdict(Counter)
    incl: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        c = int(count)
        frames = stack.split(";")
        thread = frames[0]
        total += c
        per_thread[thread] += c
        if len(frames) > 1:
            self_by_thread[thread][_short(frames[-1], line_no=True)] += c
        for f in {_short(f) for f in frames[1:]}:
            if "agentwatch/" in f or "sqlite" in f:
                incl[f] += c
    if not total:
        print("no samples")
        return
    print(f"  {total} busy samples; % below are of the wall time (a thread at 100% never waited)")
    for t, c in per_thread.most_common(4):
        print(f"  {t}: busy {100 * c / wall_samples:.0f}% of wall; by line, self:")
        for f, k in self_by_thread[t].most_common(top):
            print(f"    {100 * k / wall_samples:5.1f}%  {f}")
    print("  agentwatch functions, inclusive (all threads):")
    for f, c in incl.most_common(top + 6):
        print(f"    {100 * c / wall_samples:5.1f}%  {f}")


def _short(frame: str, line_no: bool = False) -> str:
    # py-spy raw frames look like "function (path/file.py:123)".
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file, _, line = where.rpartition(":")
    if not file:
        return name
    return f"{name} ({file}:{line})" if line_no else f"{name} ({file})"


# --------------------------------------------------------------------------- report
def mib(n: int | None) -> str:
    return f"{n / 2**20:.0f} MiB" if n else "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short run (about 40 s)")
    ap.add_argument("--seconds", type=float, default=None, help="seconds per end-to-end scenario (default 10, quick 3)")
    ap.add_argument("--latency-seconds", type=float, default=None, help="seconds of the 100 req/s scenario (default 10, quick 4)")
    ap.add_argument("--profile", action="store_true", help="only profile the server under http/protobuf load (py-spy)")
    ap.add_argument("--profile-proto", default="http/protobuf", choices=["http/protobuf", "http/json", "grpc"])
    ap.add_argument("--profile-clients", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the temp directory (databases)")
    args = ap.parse_args()
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    lat_seconds = args.latency_seconds or (args.seconds if args.seconds else (4.0 if args.quick else 10.0))
    ceil_s = 0.6 if args.quick else 1.5
    insert_batches = 30 if args.quick else 100

    tmp = Path(tempfile.mkdtemp(prefix="agentwatch-bench-"))
    run = random.getrandbits(32)
    started = time.monotonic()
    import google.protobuf
    from google.protobuf.internal import api_implementation

    fs = subprocess.run(["df", "-T", str(tmp)], capture_output=True, text=True).stdout.splitlines()[-1].split()[1]
    cpu_model = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                      if l.startswith("model name")), platform.processor())
    print(f"agentwatch ingest bench  ({'quick' if args.quick else 'full'}; {seconds:g} s per end-to-end scenario)")
    print(f"machine: {os.cpu_count()} CPUs ({cpu_model}), Python {platform.python_version()}, "
          f"protobuf {google.protobuf.__version__} ({api_implementation.Type()}), SQLite {sqlite3.sqlite_version}")
    print(f"database dir: {tmp} ({fs}); 4 KiB write+fsync median {fsync_ms(tmp):.2f} ms")
    if (os.cpu_count() or 1) <= 2:
        print(f"NOTE: only {os.cpu_count()} cores: client processes compete with the server for CPU, so the "
              "end-to-end figures are lower bounds for a machine where the agent runs elsewhere.")
    b0, t_b0 = system_busy_s(), time.monotonic()
    payloads = {proto: Payload(proto, BATCH) for proto in ("http/protobuf", "http/json", "grpc")}
    small = Payload("http/protobuf", LAT_RECORDS)
    time.sleep(max(0.0, 1.0 - (time.monotonic() - t_b0)))
    background = (system_busy_s() - b0) / (time.monotonic() - t_b0)
    print(f"background load before starting: {background:.2f} of {os.cpu_count()} cores busy (other users of the "
          "machine; 'other' below is the same measured during each scenario)")
    pb_len, js_len = len(payloads["http/protobuf"].template), len(payloads["http/json"].template)
    print(f"payload: {BATCH} log records/request, {pb_len:,} B protobuf ({pb_len / BATCH:.0f} B/record), "
          f"{js_len:,} B JSON; latency scenario {LAT_RECORDS} records = {len(small.template):,} B")

    clients = Clients(4)
    try:
        if args.profile:
            profile(clients, seconds, args.profile_clients, run, tmp, args.profile_proto)
            return 0

        print("\n[3] in-process ceilings (one thread in this process; median batch, so other load matters less)")
        ceil = ceilings(ceil_s, insert_batches, tmp, run)
        for name, c in ceil.items():
            extra = ""
            if "commit_ms" in c:
                extra = (f"  (median insert_batch {c['insert_ms']:.2f} ms + COMMIT {c['commit_ms']:.2f} ms, "
                         f"COMMIT p99 {c['commit_p99_ms']:.1f} ms; "
                         f"{int(c['batches'])} batches; stored {'ok' if c['stored_ok'] else 'MISMATCH'})")
            print(f"  {name:<22} {c['rate']:>10,.0f} records/s  {c['ms']:7.2f} ms/batch of {BATCH}{extra}")
        serial = 1 / (1 / ceil["parse+rows protobuf"]["rate"] + 1 / ceil["insert only (FULL)"]["rate"])
        print(f"  {'serial pb pipeline':<22} {serial:>10,.0f} records/s  (parse+rows then insert+commit one after "
              "the other: one thread, no overlap)")

        print("\n[1] end to end: closed-loop clients (separate processes), fresh `agentwatch serve` + db each")
        e2e: list[E2E] = []
        for proto in ("http/protobuf", "http/json", "grpc"):
            for n in (1, 4):
                r = run_e2e(clients, payloads[proto], n, seconds, run, tmp)
                e2e.append(r)
                busiest = ", ".join(f"{lbl} {d / seconds:.2f}" for lbl, d in r.threads[:2])
                print(f"  {proto:<13} x{n}: {r.rate:>7,.0f} records/s  ack p50 {r.p50_ms:6.1f} ms  p99 {r.p99_ms:6.1f} ms"
                      f"  {r.requests} req {r.failed} failed  RSS peak {mib(r.rss)}"
                      f"  server CPU {r.server_us:.0f} µs/record (event loop {r.main_us:.0f})"
                      f"  CPU cores: server {r.server_cpu:.2f} ({busiest}) clients {r.client_cpu:.2f}"
                      f" other {r.other_cores:.2f}  stored {'ok' if r.stored_ok else 'MISMATCH'}")

        print(f"\n[2] latency target: open loop {LAT_RATE} req/s x {LAT_RECORDS} records, http/protobuf, "
              f"{lat_seconds:g} s, 8 keep-alive connections")
        lat = run_latency(clients, small, lat_seconds, run, tmp)
        print(f"  {lat.sent} requests ({lat.failed} failed) at {lat.achieved_rps:.1f} req/s; ack from due time "
              f"p50 {lat.p50_ms:.1f} ms p99 {lat.p99_ms:.1f} ms max {lat.max_ms:.1f} ms; from send p50 "
              f"{lat.svc_p50_ms:.1f} ms p99 {lat.svc_p99_ms:.1f} ms; {lat.over_target} acks took >= {TARGET_P99_MS:g} ms")
        print(f"  pacer at most {lat.dispatch_late_ms:.1f} ms late; RSS peak {mib(lat.rss)}; CPU cores: server "
              f"{lat.server_cpu:.2f} other {lat.other_cores:.2f}; stored {'ok' if lat.stored_ok else 'MISMATCH'}")
    finally:
        clients.close()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    # ------------------------------------------------------------- summary
    best_pb = max((r for r in e2e if r.proto == "http/protobuf"), key=lambda r: r.rate)
    print("\nsummary")
    print(f"  {'scenario':<28}{'records/s':>10}{'p50 ms':>8}{'p99 ms':>8}{'RSS peak':>9}{'srv CPU':>8}{'µs/rec':>7}{'other':>6}  target")
    for r in e2e:
        target = ""
        if r.proto == "http/protobuf":
            target = f">= {TARGET_RATE:,}/s: {'met' if r.rate >= TARGET_RATE else 'NOT met'} ({r.rate / TARGET_RATE:.0%})"
        print(f"  {r.proto + ' x' + str(r.clients) + ' (512/req)':<28}{r.rate:>10,.0f}{r.p50_ms:>8.1f}{r.p99_ms:>8.1f}"
              f"{mib(r.rss):>9}{r.server_cpu:>8.2f}{r.server_us:>7.0f}{r.other_cores:>6.2f}  {target}")
    print(f"  {'http/protobuf 100/s x50 open':<28}{LAT_RATE * LAT_RECORDS:>10,}{lat.p50_ms:>8.1f}{lat.p99_ms:>8.1f}"
          f"{mib(lat.rss):>9}{lat.server_cpu:>8.2f}{'':>7}{lat.other_cores:>6.2f}  p99 < {TARGET_P99_MS:g} ms: "
          f"{'met' if lat.p99_ms < TARGET_P99_MS and not lat.failed else 'NOT met'}")
    best_js = max((r for r in e2e if r.proto == "http/json"), key=lambda r: r.rate)
    print(f"  ceilings (records/s, one thread in-process) and the best end-to-end rate as a share of each: "
          f"http/protobuf {best_pb.rate:,.0f}/s (x{best_pb.clients}), http/json {best_js.rate:,.0f}/s (x{best_js.clients})")
    for name, c in [*ceil.items(), ("serial pb pipeline", {"rate": serial})]:
        js_share = f"   http/json e2e = {best_js.rate / c['rate']:.0%}" if "json" in name else ""
        print(f"    {name:<24}{c['rate']:>11,.0f}   http/protobuf e2e = {best_pb.rate / c['rate']:>4.0%}{js_share}")
    us = {k: c["ms"] * 1e3 / BATCH for k, c in ceil.items()}
    ins = ceil["insert only (FULL)"]
    pb1 = next(r for r in e2e if r.proto == "http/protobuf" and r.clients == 1)
    print(f"  per record, in-process: parse {us['parse protobuf']:.1f} + rows {us['rows only']:.1f} + insert "
          f"{ins['insert_ms'] * 1e3 / BATCH:.1f} µs (+ COMMIT {ins['commit_ms'] * 1e3 / BATCH:.1f} µs, mostly fsync "
          f"wait); the server spent {pb1.server_us:.0f} µs CPU per record over http/protobuf x1, {pb1.main_us:.0f} "
          f"of it on the event-loop thread")
    print(f"  CPU columns in cores; 'other' = load from outside this bench; {os.cpu_count()} cores shared by "
          f"server and clients; total {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
