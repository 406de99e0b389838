"""Concurrent writers and readers against one `agentwatch serve` (RELIABILITY T24).

Run:  .venv/bin/python bench/concurrency.py [--quick] [--seconds N] [--rate R] [--keep]

Prints figures, never asserts. One fresh `agentwatch serve` subprocess on a fresh
temporary database (tests/support/listener.py), then for --seconds (default 60,
--quick 15), all at once:

* 8 exporter processes (4 over HTTP protobuf, 4 over gRPC), each running the
  official OpenTelemetry Python SDK with all three signals: a LoggerProvider with a
  BatchLogRecordProcessor and a TracerProvider with a BatchSpanProcessor (both
  schedule_delay 100 ms) fed a steady --rate log records/s and spans/s (default 200
  each), and a MeterProvider whose PeriodicExportingMetricReader exports every
  100 ms a DELTA counter incremented on 4 attribute sets (so every export is new
  data, 1-4 points). Each process has its own service.name, so what is stored can
  be checked per process.
* `agentwatch status --json --db DB` in a loop, a new process each time, with
  --status-gap seconds between runs (default 0.25; 0 = back to back).
* A read-only connection (store.connect.open_reader, what a dashboard would use)
  running `SELECT count(*) FROM log_records` every --sql-gap seconds (0.1).

Then every SDK provider is force-flushed and shut down, and the bench prints:

* per signal: records emitted (log records and spans handed to the SDK), records
  the SDK handed to its exporter, of which exported OK / failed, and rows stored
  (raw tables joined to resources, per service.name, so only this run's
  processes). Metric points have no "emitted": the SDK decides the points per
  collection, so the figure is the data points in the MetricsData handed to
  export(), summed by a wrapper around export().
* exports by outcome. Two layers are measured in each exporter process:
  - attempts, i.e. what the server answered: for HTTP a requests.Session
    subclass passed to the exporter (`session=`) times every POST, retries
    included, and records the status code (or the exception); for gRPC a
    grpc.UnaryUnaryClientInterceptor on the exporter's own channel (subclass
    hook `_initialize_channel_and_stub`, so a re-created channel is wrapped too)
    times every Export call and records its status code.
  - export() calls, i.e. what the SDK saw: SUCCESS / FAILURE and the time of
    the whole call (encoding and any retries and backoff included).
* any 5xx other than 503 (expected 0), 503 / UNAVAILABLE (expected 0: 8 x 3
  exporters each export one batch at a time, fewer than the listener's 32
  in-flight requests, so a 503 here means the store could not commit in time),
  and the first refusal messages.
* attempt latency p50/p99/max per transport and signal; export() latency.
* `agentwatch status` wall time p50/p99/max (and its own CPU time, from wait4)
  and failures; the SQL loop's p50/p99/max and errors.
* the server's peak RSS (VmHWM of the listener and each child process: its
  row-building worker, the resource tracker), its CPU over the run, the
  exporters' CPU and the rest of the machine's.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import queue
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import Meter, _proc_status, family, mib, pct, start_server  # noqa: E402

HTTP_PROCS = 4
GRPC_PROCS = 4
SERIES = 4  # attribute sets on the counter
TICK_S = 0.01  # the emitting loop wakes every 10 ms
SCHEDULE_MS = 100  # BatchLogRecordProcessor / BatchSpanProcessor schedule delay
METRIC_INTERVAL_MS = 100
SIGNALS = ("logs", "spans", "metrics")
TABLES = {"logs": "log_records", "spans": "spans", "metrics": "metric_points"}
BATCH_SIGNAL = {"logs": "logs", "spans": "traces", "metrics": "metrics"}  # batches.signal


# --------------------------------------------------------------------------- exporter processes
class Tally:
    """What one exporter process saw, appended from the SDK's export threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.attempts: list[tuple[str, str, float]] = []  # signal, status, seconds
        self.exports: list[tuple[str, bool, int, float]] = []  # signal, ok, items, seconds
        self.messages: Counter[str] = Counter()  # refusals: "status: text"

    def attempt(self, sig: str, status: str, secs: float, message: str | None = None) -> None:
        with self.lock:
            self.attempts.append((sig, status, secs))
            if message is not None:
                self.messages[f"{status}: {message[:160]}"] += 1


def _metric_points(data: Any) -> int:
    return sum(len(m.data.data_points) for rm in data.resource_metrics for sm in rm.scope_metrics
               for m in sm.metrics)


def _count_exports(exporter: Any, sig: str, tally: Tally) -> Any:
    """Wrap exporter.export (the processors and the reader call it) to count items and outcomes."""
    inner = exporter.export

    def export(data: Any, *args: Any, **kwargs: Any) -> Any:
        n = _metric_points(data) if sig == "metrics" else len(data)
        t = time.perf_counter()
        result = inner(data, *args, **kwargs)
        secs = time.perf_counter() - t
        with tally.lock:
            tally.exports.append((sig, getattr(result, "name", str(result)) == "SUCCESS", n, secs))
        return result

    exporter.export = export
    return exporter


def _http_exporters(url: str, tally: Tally, delta: dict) -> dict[str, Any]:
    import requests
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    class TimedSession(requests.Session):
        """Every POST the exporter makes (retries included): status code and time to answer."""

        def __init__(self, sig: str) -> None:
            super().__init__()
            self.sig = sig

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            t = time.perf_counter()
            try:
                resp = super().request(method, url, *args, **kwargs)
            except Exception as exc:
                tally.attempt(self.sig, type(exc).__name__, time.perf_counter() - t, str(exc))
                raise
            secs = time.perf_counter() - t
            tally.attempt(self.sig, str(resp.status_code), secs, None if resp.status_code == 200 else resp.text)
            return resp

    return {
        "logs": OTLPLogExporter(endpoint=f"{url}/v1/logs", session=TimedSession("logs")),
        "spans": OTLPSpanExporter(endpoint=f"{url}/v1/traces", session=TimedSession("spans")),
        "metrics": OTLPMetricExporter(endpoint=f"{url}/v1/metrics", session=TimedSession("metrics"),
                                      preferred_temporality=delta),
    }


def _grpc_exporters(target: str, tally: Tally, delta: dict) -> dict[str, Any]:
    import grpc
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    class Timing(grpc.UnaryUnaryClientInterceptor):
        """Every Export call (retries included): its status code and time to answer."""

        def __init__(self, sig: str) -> None:
            self.sig = sig

        def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
            t = time.perf_counter()
            outcome = continuation(details, request)  # blocking call: returns when answered
            code = outcome.code()
            tally.attempt(self.sig, code.name, time.perf_counter() - t,
                          None if code == grpc.StatusCode.OK else outcome.details())
            return outcome

    def timed(cls: type, sig: str) -> type:
        class Timed(cls):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                self._bench_interceptor = Timing(sig)
                super().__init__(*args, **kwargs)

            def _initialize_channel_and_stub(self) -> None:
                # The exporter builds its channel here, and again after UNAVAILABLE.
                super()._initialize_channel_and_stub()
                self._channel = grpc.intercept_channel(self._channel, self._bench_interceptor)  # type: ignore[has-type]
                self._client = self._stub(self._channel)

        return Timed

    return {
        "logs": timed(OTLPLogExporter, "logs")(endpoint=target, insecure=True),
        "spans": timed(OTLPSpanExporter, "spans")(endpoint=target, insecure=True),
        "metrics": timed(OTLPMetricExporter, "metrics")(endpoint=target, insecure=True,
                                                        preferred_temporality=delta),
    }


def _exporter_main(task: dict[str, Any], ready_q: Any, start_q: Any, result_q: Any) -> None:
    try:
        result_q.put(("done", task["index"], _emit(task, ready_q, start_q)))
    except BaseException as exc:  # noqa: BLE001 - reported by the parent
        import traceback

        result_q.put(("error", task["index"], "".join(traceback.format_exception(exc))))


def _emit(task: dict[str, Any], ready_q: Any, start_q: Any) -> dict[str, Any]:
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics import Counter as SdkCounter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tally = Tally()
    delta = {SdkCounter: AggregationTemporality.DELTA}
    if task["transport"] == "http":
        exporters = _http_exporters(task["http_url"], tally, delta)
    else:
        exporters = _grpc_exporters(task["grpc_target"], tally, delta)
    for sig, exp in exporters.items():
        _count_exports(exp, sig, tally)

    service = task["service"]
    resource = Resource.create({"service.name": service, "bench.run": task["run"]})
    logs = LoggerProvider(resource=resource)
    logs.add_log_record_processor(BatchLogRecordProcessor(exporters["logs"], schedule_delay_millis=SCHEDULE_MS))
    traces = TracerProvider(resource=resource)
    traces.add_span_processor(BatchSpanProcessor(exporters["spans"], schedule_delay_millis=SCHEDULE_MS))
    reader = PeriodicExportingMetricReader(exporters["metrics"], export_interval_millis=METRIC_INTERVAL_MS)
    meters = MeterProvider(resource=resource, metric_readers=[reader])

    logger = logs.get_logger("agentwatch.bench.concurrency")
    tracer = traces.get_tracer("agentwatch.bench.concurrency")
    counter = meters.get_meter("agentwatch.bench.concurrency").create_counter("bench.ticks")
    series = [{"series": s, "service": service} for s in range(SERIES)]
    session_id = f"{task['run']}-{task['index']}"

    ready_q.put(task["index"])
    t0 = start_q.get()
    time.sleep(max(0.0, t0 - time.monotonic()))
    cpu0 = time.process_time()
    end = t0 + task["seconds"]
    rate = task["rate"]
    n_logs = n_spans = adds = 0
    k = 0
    max_late = 0.0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        # Catch up to the schedule: emitted counts track rate x elapsed even if a tick ran late.
        due = int((now - t0) * rate) + 1
        while n_logs < due:
            logger.emit(timestamp=time.time_ns(), severity_number=SeverityNumber.INFO, event_name="bench.event",
                        body=f"bench event {n_logs}",
                        attributes={"event.name": "bench.event", "seq": n_logs, "session.id": session_id})
            n_logs += 1
        while n_spans < due:
            tracer.start_span("bench.op", attributes={"seq": n_spans, "session.id": session_id}).end()
            n_spans += 1
        counter.add(1, series[k % SERIES])
        adds += 1
        k += 1
        wake = t0 + k * TICK_S
        delay = wake - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            max_late = max(max_late, -delay)
    emit_end = time.monotonic()

    flush_t = time.perf_counter()
    flushed = {"logs": logs.force_flush(30_000), "spans": traces.force_flush(30_000),
               "metrics": meters.force_flush(30_000)}
    logs.shutdown()
    traces.shutdown()
    meters.shutdown()  # a last collection; with DELTA it only carries adds not yet exported (none)
    flush_s = time.perf_counter() - flush_t
    return {"service": service, "transport": task["transport"], "emitted": {"logs": n_logs, "spans": n_spans},
            "adds": adds, "attempts": tally.attempts, "exports": tally.exports, "messages": dict(tally.messages),
            "flushed": flushed, "flush_s": flush_s, "emit_s": emit_end - t0, "max_late_s": max_late,
            "cpu": time.process_time() - cpu0}


# --------------------------------------------------------------------------- concurrent readers
class StatusLoop(threading.Thread):
    """`agentwatch status --json --db DB`, a new process each time, until stopped."""

    def __init__(self, db: Path, gap: float, stop: threading.Event) -> None:
        super().__init__(name="status-loop", daemon=True)
        self.db, self.gap, self.stop_ev = db, gap, stop
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.failures: list[str] = []
        self.went_down = 0  # a total that shrank between two runs (rows never go away here)
        self.last_totals: dict[str, int] = {}

    def once(self, record: bool = True) -> dict[str, Any] | None:
        cmd = [sys.executable, "-m", "agentwatch", "status", "--json", "--db", str(self.db)]
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Reaped with wait4 rather than communicate(), for the run's own CPU time; status writes
        # little to stderr, so reading stdout to the end first cannot block on a full pipe.
        stdout = proc.stdout.read() if proc.stdout else b""
        stderr = proc.stderr.read() if proc.stderr else b""
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if record:
            self.wall.append(time.perf_counter() - t)
            self.cpu.append(usage.ru_utime + usage.ru_stime)
        if proc.returncode != 0:
            self.failures.append(f"exit {proc.returncode}: {stderr.decode(errors='replace').strip()[-200:]}")
            return None
        try:
            report = json.loads(stdout)
        except ValueError as exc:
            self.failures.append(f"bad JSON: {exc}")
            return None
        if "error" in report:
            self.failures.append(f"error: {report['error']}")
        return report

    def run(self) -> None:
        while not self.stop_ev.is_set():
            report = self.once()
            if report:
                totals = status_totals(report)
                if any(totals[k] < self.last_totals.get(k, 0) for k in totals):
                    self.went_down += 1
                self.last_totals = totals
            self.stop_ev.wait(self.gap)


def status_totals(report: dict[str, Any]) -> dict[str, int]:
    agents = [a for a in report.get("agents", []) if a["agent"].startswith("bench-")]
    return {"logs": sum(a["logs"] for a in agents), "spans": sum(a["spans"] for a in agents),
            "metrics": sum(a["metric_points"] for a in agents)}


class SqlLoop(threading.Thread):
    """One long-lived read-only connection doing a short count(*), as a dashboard refresh would."""

    def __init__(self, db: Path, gap: float, stop: threading.Event) -> None:
        super().__init__(name="sql-loop", daemon=True)
        self.db, self.gap, self.stop_ev = db, gap, stop
        self.secs: list[float] = []
        self.errors: Counter[str] = Counter()

    def run(self) -> None:
        from agentwatch.store.connect import open_reader

        conn = open_reader(self.db)
        try:
            while not self.stop_ev.is_set():
                t = time.perf_counter()
                try:
                    conn.execute("SELECT count(*) FROM log_records").fetchone()
                    self.secs.append(time.perf_counter() - t)
                except sqlite3.Error as exc:
                    self.errors[str(exc)] += 1
                self.stop_ev.wait(self.gap)
        finally:
            conn.close()


# --------------------------------------------------------------------------- report helpers
def stored_per_service(db: Path) -> dict[str, dict[str, int]]:
    from support.listener import query

    out: dict[str, dict[str, int]] = defaultdict(dict)
    for sig, table in TABLES.items():
        for service, n in query(db, f"SELECT r.service_name, count(*) FROM {table} t "
                                    "JOIN resources r ON r.key = t.resource_key GROUP BY 1"):
            out[service][sig] = n
    return out


def batch_totals(db: Path) -> dict[str, tuple[int, int, int]]:
    """Per signal: requests committed, records in them, records new to the store."""
    from support.listener import query

    return {s: (n, rec or 0, new or 0) for s, n, rec, new in
            query(db, "SELECT signal, count(*), sum(records), sum(stored) FROM batches GROUP BY 1")}


def ms(x: float) -> str:
    return f"{x * 1e3:.1f}"


def lat_line(values: list[float]) -> str:
    if not values:
        return "no samples"
    return f"p50 {ms(pct(values, 50))} ms  p99 {ms(pct(values, 99))} ms  max {ms(max(values))} ms  (n={len(values)})"


OK_STATUS = {"200", "OK"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="15 s instead of 60")
    ap.add_argument("--seconds", type=float, default=None, help="seconds of load (default 60, quick 15)")
    ap.add_argument("--rate", type=float, default=200.0, help="log records/s and spans/s per process (200)")
    ap.add_argument("--status-gap", type=float, default=0.25, help="seconds between `agentwatch status` runs")
    ap.add_argument("--sql-gap", type=float, default=0.1, help="seconds between count(*) queries")
    ap.add_argument("--keep", action="store_true", help="keep the temp directory (database)")
    args = ap.parse_args()
    seconds = args.seconds or (15.0 if args.quick else 60.0)
    started = time.monotonic()

    tmp = Path(tempfile.mkdtemp(prefix="agentwatch-conc-"))
    db = tmp / "concurrency.db"
    run_id = f"{os.getpid():x}{int(time.time()):x}"
    print(f"agentwatch concurrency bench (T24): {HTTP_PROCS} HTTP/protobuf + {GRPC_PROCS} gRPC exporter processes "
          f"x 3 signals, {seconds:g} s, {args.rate:g} log records/s + {args.rate:g} spans/s each, batch delay "
          f"{SCHEDULE_MS} ms, DELTA counter on {SERIES} series every {METRIC_INTERVAL_MS} ms")
    print(f"readers: `agentwatch status --json` every {args.status_gap:g} s (a new process each time); "
          f"SELECT count(*) FROM log_records every {args.sql_gap:g} s on one read-only connection")
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; "
          f"db {db}")

    lst = start_server(db)
    ctx = mp.get_context("spawn")
    result_q, ready_q = ctx.Queue(), ctx.Queue()
    procs = []
    try:
        for i in range(HTTP_PROCS + GRPC_PROCS):
            transport = "http" if i < HTTP_PROCS else "grpc"
            task = dict(index=i, transport=transport, service=f"bench-{transport}-{i}", run=run_id,
                        http_url=lst.http_url, grpc_target=lst.grpc_target, seconds=seconds, rate=args.rate)
            start_q = ctx.Queue()
            p = ctx.Process(target=_exporter_main, args=(task, ready_q, start_q, result_q), daemon=True)
            p.start()
            procs.append((p, start_q))
        for _ in procs:
            ready_q.get(timeout=120)
        t0 = time.monotonic() + 0.3
        for _, start_q in procs:
            start_q.put(t0)
        meter = Meter(lst.proc.pid)
        meter.start_at(t0)
        stop = threading.Event()
        status_loop, sql_loop = StatusLoop(db, args.status_gap, stop), SqlLoop(db, args.sql_gap, stop)
        status_loop.start()
        sql_loop.start()

        results: list[dict[str, Any]] = []
        errors: list[str] = []
        deadline = time.monotonic() + seconds + 120
        while len(results) + len(errors) < len(procs):
            try:
                kind, idx, payload = result_q.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                errors.append("timed out waiting for exporter processes")
                break
            (results if kind == "done" else errors).append(payload)
        stop.set()
        status_loop.join(30)
        sql_loop.join(30)
        wall = time.monotonic() - t0
        final = status_loop.once(record=False)  # everything flushed: the totals `status` shows now
        meter.stop()
        hwm = [(pid, _proc_status(pid, "VmHWM")) for pid in family(lst.proc.pid)]
        stored = stored_per_service(db)
        batches = batch_totals(db)
    finally:
        for p, _ in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
        rc = lst.stop()
        server_err = lst.stderr()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    for e in errors:
        print(f"\nEXPORTER PROCESS FAILED:\n{e}")

    # ------------------------------------------------------------- records
    emitted: Counter[str] = Counter()
    handed: Counter[str] = Counter()
    ok_items: Counter[str] = Counter()
    failed_items: Counter[str] = Counter()
    for r in results:
        emitted.update(r["emitted"])
        for sig, ok, n, _ in r["exports"]:
            handed[sig] += n
            (ok_items if ok else failed_items)[sig] += n
    ours = {r["service"] for r in results}
    stored_tot: Counter[str] = Counter()
    for service, per in stored.items():
        if service in ours:
            stored_tot.update(per)
    print(f"\nrecords (all {len(results)} processes; emitted = handed to the SDK, exported = in export() calls)")
    print(f"  {'signal':<13}{'emitted':>9}{'exported':>10}{'ok':>9}{'failed':>8}{'stored':>9}  stored - ok")
    for sig in SIGNALS:
        em = f"{emitted[sig]:,}" if sig in emitted else "(SDK)"
        print(f"  {sig:<13}{em:>9}{handed[sig]:>10,}{ok_items[sig]:>9,}{failed_items[sig]:>8,}"
              f"{stored_tot[sig]:>9,}  {stored_tot[sig] - ok_items[sig]:+d}")
    dropped = {s: emitted[s] - handed[s] for s in ("logs", "spans") if emitted[s] != handed[s]}
    if dropped:
        print(f"  emitted but never exported (dropped inside the SDK, e.g. queue full): {dropped}")
    bad = []
    for r in sorted(results, key=lambda r: r["service"]):
        ok_by: Counter[str] = Counter()
        for sig, ok, n, _ in r["exports"]:
            if ok:
                ok_by[sig] += n
        st = stored.get(r["service"], {})
        for sig in SIGNALS:
            if st.get(sig, 0) != ok_by[sig] or (sig in r["emitted"] and r["emitted"][sig] != ok_by[sig]):
                bad.append(f"{r['service']} {sig}: emitted {r['emitted'].get(sig, '-')} exported ok {ok_by[sig]} "
                           f"stored {st.get(sig, 0)}")
    print("  per process: " + ("every process's records stored exactly" if not bad else "MISMATCHES:"))
    for b in bad:
        print(f"    {b}")
    for sig in SIGNALS:
        n, rec, new = batches.get(BATCH_SIGNAL[sig], (0, 0, 0))
        print(f"  server batches {sig:<8} {n:>6,} requests committed, {rec:,} records in them, {new:,} new "
              f"({rec - new:,} duplicates of records already stored)")
    if final:
        st = status_totals(final)
        same = all(st[s] == stored_tot[s] for s in SIGNALS)
        print(f"  final `agentwatch status` totals {dict(st)}: {'equal to' if same else 'DIFFER from'} the raw rows")
    flush_fail = [f"{r['service']} {s}" for r in results for s, ok in r["flushed"].items() if not ok]
    print(f"  force_flush: {'all returned True' if not flush_fail else 'FALSE for ' + ', '.join(flush_fail)}; "
          f"flush + shutdown took up to {max((r['flush_s'] for r in results), default=0):.2f} s; emitting loop "
          f"at most {max((r['max_late_s'] for r in results), default=0) * 1e3:.0f} ms late")

    # ------------------------------------------------------------- outcomes and latency
    print("\nexports: attempts = requests the server answered (retries included), calls = SDK export() calls")
    for transport in ("http", "grpc"):
        rs = [r for r in results if r["transport"] == transport]
        att = Counter(status for r in rs for _, status, _ in r["attempts"])
        calls = Counter("SUCCESS" if ok else "FAILURE" for r in rs for _, ok, _, _ in r["exports"])
        if transport == "http":
            five = sum(n for s, n in att.items() if s.isdigit() and s.startswith("5") and s != "503")
            other = sum(n for s, n in att.items() if s not in ("200", "503"))
            print(f"  http  attempts: 200 {att['200']:,}  503 {att['503']}  other {other}  "
                  f"(5xx other than 503: {five})  {dict(att) if other else ''}")
        else:
            other = sum(n for s, n in att.items() if s not in ("OK", "UNAVAILABLE"))
            print(f"  grpc  attempts: OK {att['OK']:,}  UNAVAILABLE {att['UNAVAILABLE']}  other {other}  "
                  f"{dict(att) if other else ''}")
        print(f"        export() calls: SUCCESS {calls['SUCCESS']:,}  FAILURE {calls['FAILURE']}")
    messages: Counter[str] = Counter()
    for r in results:
        messages.update(r["messages"])
    for m, n in messages.most_common(5):
        print(f"  refusal x{n}: {m}")

    print("\nlatency of answered requests (attempts), per transport and signal")
    for transport in ("http", "grpc"):
        rs = [r for r in results if r["transport"] == transport]
        allv = [s for r in rs for _, st, s in r["attempts"] if st in OK_STATUS]
        print(f"  {transport:<5} all      {lat_line(allv)}")
        for sig in SIGNALS:
            v = [s for r in rs for g, st, s in r["attempts"] if g == sig and st in OK_STATUS]
            print(f"  {'':<5} {sig:<8} {lat_line(v)}")
        ex = [s for r in rs for _, _, _, s in r["exports"]]
        print(f"  {'':<5} export() {lat_line(ex)}  (encoding + retries included)")

    print("\nreaders")
    sl = status_loop
    print(f"  agentwatch status --json: {len(sl.wall)} runs, wall {lat_line(sl.wall)}; own CPU p50 "
          f"{ms(pct(sl.cpu, 50))} ms; {len(sl.failures)} failed; totals went down {sl.went_down} times")
    for f in Counter(sl.failures).most_common(3):
        print(f"    {f[1]}x {f[0]}")
    q = sql_loop
    print(f"  SELECT count(*) FROM log_records: {lat_line(q.secs)}; errors {sum(q.errors.values())} "
          f"{dict(q.errors) if q.errors else ''}")

    # ------------------------------------------------------------- server
    print("\nserver")
    parts = ", ".join(f"{'listener' if pid == lst.proc.pid else 'child ' + str(pid)} {mib(h)}" for pid, h in hwm)
    print(f"  peak RSS (VmHWM) {mib(sum(h or 0 for _, h in hwm))} ({parts})")
    cpu = sum(d for _, d in meter.threads)
    busiest = ", ".join(f"{lbl} {d:.1f} s" for lbl, d in meter.threads[:3])
    in_children = sum(d for lbl, d in meter.threads if lbl.startswith("worker "))
    clients_cpu = sum(r["cpu"] for r in results)
    status_cpu = sum(sl.cpu)
    total_rec = sum(ok_items.values())
    print(f"  CPU over the run ({meter.span:.1f} s incl. flush): {cpu:.1f} s = {meter.server_cores:.2f} cores "
          f"({busiest}; child processes {in_children:.1f} s); "
          f"{cpu / max(total_rec, 1) * 1e6:.0f} µs per record stored")
    print(f"  meanwhile: exporter processes {clients_cpu / meter.span:.2f} cores, status runs "
          f"{status_cpu / meter.span:.2f} cores, whole machine {meter.system_cores:.2f} of {os.cpu_count()}")
    problems = [ln for ln in server_err.splitlines() if any(w in ln for w in ("Traceback", "ERROR", "Error", "error"))]
    print(f"  exit code {rc}; stderr {len(server_err.splitlines())} lines, {len(problems)} mentioning errors")
    for ln in problems[:5]:
        print(f"    {ln[:200]}")
    print(f"\ntotal {time.monotonic() - started:.0f} s (load {seconds:g} s, wall from start to last result "
          f"{wall:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
