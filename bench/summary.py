"""Summary benchmark: `agentwatch summary` over a year of heavy Claude Code use.

Run:  .venv/bin/python bench/summary.py [--days N] [--keep-db PATH] [--runs 7]

Prints figures, never asserts. Two phases:

1. Load: a year (`--days`, default 365, ending yesterday UTC) of 40 Claude Code
   sessions a day, 60 model calls a session, every 5th call with a Bash tool
   (tool_decision + tool_result), sent through the real ingest path: a fresh
   `agentwatch serve` subprocess (tests/support/listener.py) and OTLP/HTTP
   protobuf requests of about 512 log records to /v1/logs from several client
   processes. Records are shaped like Claude Code 2.1.197's own (see
   tests/fixtures/AGENT-TELEMETRY.md) and generated deterministically per day.
   Loading a year takes minutes, so `--keep-db PATH` keeps the database (and a
   PATH.json sidecar with the generator's parameters) and later runs reuse it.
2. Measure: `agentwatch summary --json --tz UTC --db DB` as a separate process
   (the venv's console script, so interpreter start counts) for one day, one
   calendar month and the whole range, `--runs` times each, while `agentwatch
   serve` still holds the database. Reported: median/min/max wall time, the
   child's peak RSS (ru_maxrss from os.wait4 in a tiny launcher) next to the
   targets, and the JSON's totals.requests / totals.sessions against what the
   generator sent.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import http.client
import json
import multiprocessing as mp
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from support.listener import Listener, query, start_listener  # noqa: E402

SESSIONS_PER_DAY = 40
CALLS_PER_SESSION = 60
TOOL_EVERY = 5  # every 5th model call also runs a tool: one tool_decision + one tool_result
BATCH = 512  # log records per request, about what a busy exporter sends
VERSION = "2.1.197"
USER_ID = "%064x" % random.Random("agentwatch-summary-bench").getrandbits(256)  # one person, one ~/.claude.json

TARGET_MS = 200.0
TARGET_RSS_MB = 100.0
# "The same at a month of history as at a year": a summary of the same days costs the
# same whatever lies outside them (--compare-db); one that scans raw rows grows with it.
TARGET_HISTORY_RATIO = 1.25

Attr = tuple[str, str | int | float]  # an attribute, typed as Claude Code types it
Event = tuple[int, str, list[Attr]]  # time_unix_nano, event.name, attributes

RECORDS_PER_SESSION = CALLS_PER_SESSION + 2 * (CALLS_PER_SESSION // TOOL_EVERY)
HEADERS = {
    "Content-Type": "application/x-protobuf",
    "User-Agent": "OTel-OTLP-Exporter-JavaScript/0.208.0",  # what Claude Code 2.1.197 sends
}


@dataclass(frozen=True)
class Plan:
    """What the generator sent (also the sidecar of a kept database)."""

    first_day: str  # ISO date, UTC
    days: int
    sessions_per_day: int = SESSIONS_PER_DAY
    calls_per_session: int = CALLS_PER_SESSION
    tool_every: int = TOOL_EVERY

    @property
    def first(self) -> dt.date:
        return dt.date.fromisoformat(self.first_day)

    @property
    def last(self) -> dt.date:
        return self.first + dt.timedelta(days=self.days - 1)

    def records(self) -> int:
        per_session = self.calls_per_session + 2 * (self.calls_per_session // self.tool_every)
        return self.days * self.sessions_per_day * per_session

    def expected(self, since: dt.date, until: dt.date) -> tuple[int, int]:
        """(requests, sessions) in [since, until]: sessions never cross midnight UTC, so whole days count."""
        lo, hi = max(since, self.first), min(until, self.last)
        days = max(0, (hi - lo).days + 1)
        return days * self.sessions_per_day * self.calls_per_session, days * self.sessions_per_day


# --------------------------------------------------------------------------- generator
def _add_attrs(attributes: Any, attrs: list[Attr]) -> None:
    """Append KeyValues in place (add + set is about 3x faster than building KeyValue messages)."""
    add = attributes.add
    for key, value in attrs:
        kv = add(key=key)
        if isinstance(value, str):
            kv.value.string_value = value
        elif isinstance(value, int):
            kv.value.int_value = value
        else:
            kv.value.double_value = value


def _iso(t_ns: int) -> str:
    ms = t_ns // 1_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def _uuid(rnd: random.Random) -> str:
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


# Attributes every api_request carries besides the common ones: Claude Code's types
# (ints for tokens and duration, a double for cost), the stub's fixed usage.
API_ATTRS: list[Attr] = [
    ("model", "claude-opus-4-8"), ("input_tokens", 1234), ("output_tokens", 87), ("cache_read_tokens", 4321),
    ("cache_creation_tokens", 567), ("cost_usd", 0.01404925), ("duration_ms", 300), ("speed", "normal"),
    ("query_source", "sdk"),
]


def session_events(day: dt.date, rnd: random.Random) -> list[Event]:
    """One session's log records as (time_ns, event, attributes), in order.

    Starts between 08:00 and 20:00 UTC and lasts 1-2 h, so it ends before midnight:
    a day's sessions fall in that day for --tz UTC and the expected counts are exact.
    """
    day_ns = calendar.timegm(day.timetuple()) * 1_000_000_000
    start = day_ns + int((8 * 3600 + rnd.random() * 12 * 3600) * 1e9)
    step = int((3600 + rnd.random() * 3600) * 1e9) // CALLS_PER_SESSION
    session_id = _uuid(rnd)
    common = [("user.id", USER_ID), ("session.id", session_id), ("terminal.type", "xterm")]
    out: list[Event] = []
    seq = 0

    def add(t: int, event: str, prompt_id: str, extra: list[Attr]) -> None:
        nonlocal seq
        attrs: list[Attr] = [*common, ("event.name", event), ("event.timestamp", _iso(t)), ("event.sequence", seq),
                 ("prompt.id", prompt_id), *extra]
        out.append((t, event, attrs))
        seq += 1

    for k in range(CALLS_PER_SESSION):
        t = start + k * step
        prompt_id = _uuid(rnd)
        add(t, "api_request", prompt_id, API_ATTRS)
        if k % TOOL_EVERY == TOOL_EVERY - 1:
            # As in the real capture: the decision follows the response, the result the tool's run.
            tool_use_id = "toolu_%024x" % rnd.getrandbits(96)
            decided = t + 300_000_000
            add(decided, "tool_decision", prompt_id, [("decision", "accept"), ("source", "config"),
                                                       ("tool_name", "Bash"), ("tool_use_id", tool_use_id)])
            add(decided + 97_000_000, "tool_result", prompt_id, [("tool_name", "Bash"), ("tool_use_id", tool_use_id),
                                                                  ("success", "true"), ("duration_ms", "97")])
    return out


def day_events(day: dt.date) -> list[Event]:
    rnd = random.Random(f"agentwatch-summary-bench {day.isoformat()}")  # same data on every run
    return [e for _ in range(SESSIONS_PER_DAY) for e in session_events(day, rnd)]


def encode_request(events: list[Event]) -> bytes:
    """An ExportLogsServiceRequest as Claude Code sends it: one resource, the events scope, string bodies."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    _add_attrs(rl.resource.attributes, [("host.arch", "amd64"), ("os.type", "linux"), ("service.name", "claude-code"),
                                        ("service.version", VERSION)])
    sl = rl.scope_logs.add()
    sl.scope.name, sl.scope.version = "com.anthropic.claude_code.events", VERSION
    for t, event, attrs in events:
        rec = sl.log_records.add(time_unix_nano=t, observed_time_unix_nano=t)
        rec.body.string_value = f"claude_code.{event}"
        _add_attrs(rec.attributes, attrs)
    body: bytes = req.SerializeToString()
    return body


# --------------------------------------------------------------------------- load clients
_conn: http.client.HTTPConnection | None = None
_port = 0


def _client_init(port: int) -> None:
    global _port
    _port = port


def _connect() -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection("127.0.0.1", _port, timeout=60)  # Host: 127.0.0.1:<port>
    conn.connect()
    assert conn.sock is not None
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def _post(body: bytes) -> int:
    """POST until HTTP 200; returns the 503s seen. Re-sending is safe: the store drops duplicates."""
    global _conn
    retries = 0
    for _attempt in range(200):
        try:
            if _conn is None:
                _conn = _connect()
            _conn.request("POST", "/v1/logs", body, HEADERS)
            resp = _conn.getresponse()
            resp.read()
        except (OSError, http.client.HTTPException):
            if _conn is not None:
                _conn.close()
            _conn = None
            time.sleep(0.05)
            continue
        if resp.status == 200:
            return retries
        if resp.status != 503:
            raise RuntimeError(f"HTTP {resp.status} from /v1/logs")
        retries += 1
        time.sleep(0.02)  # the listener is full; give the writer a moment
    raise RuntimeError("gave up after 200 attempts")


def load_day(day_iso: str) -> tuple[int, int, int, float]:
    """Generate one day and send it in requests of BATCH records: (records, requests, 503s, CPU s)."""
    cpu0 = time.process_time()
    events = day_events(dt.date.fromisoformat(day_iso))
    requests = retries = 0
    for i in range(0, len(events), BATCH):
        retries += _post(encode_request(events[i : i + BATCH]))
        requests += 1
    return len(events), requests, retries, time.process_time() - cpu0


@dataclass
class Load:
    records: int
    requests: int
    retries: int
    seconds: float
    client_cpu: float
    stored: int
    server_peak_rss: int


def load(plan: Plan, lst: Listener, clients: int) -> Load:
    """Days are the work units, handed to `clients` processes (spawn: no inherited state)."""
    from support.probe import peak_rss_bytes

    days = [(plan.first + dt.timedelta(days=i)).isoformat() for i in range(plan.days)]
    records = requests = retries = 0
    cpu = 0.0
    t0 = last_print = time.monotonic()
    with mp.get_context("spawn").Pool(clients, initializer=_client_init, initargs=(lst.http_port,)) as pool:
        for done, (n, reqs, r, c) in enumerate(pool.imap_unordered(load_day, days), 1):
            records, requests, retries, cpu = records + n, requests + reqs, retries + r, cpu + c
            if time.monotonic() - last_print >= 30:
                last_print = time.monotonic()
                el = last_print - t0
                print(f"  ... {done}/{plan.days} days, {records:,} records, {el:.0f} s, {records / el:,.0f} records/s",
                      flush=True)
    seconds = time.monotonic() - t0
    stored = lst.count("log_records")
    return Load(records, requests, retries, seconds, cpu, stored, peak_rss_bytes(lst.proc.pid))


# --------------------------------------------------------------------------- database
def sidecar(db: Path) -> Path:
    return db.with_name(db.name + ".json")


def serve(db: Path) -> Listener:
    # --retain-days 800 keeps a year of back-dated rows (retention goes by arrival, but
    # say so anyway); --retain-mib 0 because a year is well over the 2 GiB default.
    return start_listener(db, "--retain-days", "800", "--retain-mib", "0")


def loaded_plan(db: Path) -> Plan | None:
    """The plan a kept database was loaded with, or None if it was never fully loaded."""
    side = sidecar(db)
    if not side.exists():
        return None
    return Plan(**json.loads(side.read_text()))


def schema_note(db: Path) -> str:
    from agentwatch.store.schema import SCHEMA_VERSION

    (version,) = query(db, "PRAGMA user_version")[0]
    if version == SCHEMA_VERSION:
        return f"schema {version}"
    return f"schema {version}, code at {SCHEMA_VERSION}: `serve` migrates it on start"


# --------------------------------------------------------------------------- summary runs
def agentwatch_cmd() -> list[str]:
    """The venv's console script, as a user runs it; `python -m agentwatch` if it is missing."""
    script = Path(sys.executable).parent / "agentwatch"
    return [str(script)] if script.exists() else [sys.executable, "-m", "agentwatch"]


@dataclass
class Run:
    wall_s: float
    maxrss: int  # bytes, the child's peak
    status: int
    stdout: str
    stderr: str


# Started from this (large) process, a child's ru_maxrss would be at least this process's
# own peak: Linux carries the pre-exec memory's high-water mark into the child's figure
# (vfork/posix_spawn share it, fork copies it). So a bare `python -I -S` (about 9 MB)
# starts the child and reports its wall time, exit status and ru_maxrss (KiB) via wait4.
LAUNCHER = """import os, sys, time
t = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - t
with open(sys.argv[1], "w") as f:
    f.write("%r %d %d" % (wall, os.waitstatus_to_exitcode(status), usage.ru_maxrss))
"""


def run_once(args: list[str]) -> Run:
    """One child process: wall time from spawn to reaping (interpreter start included), its own peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as report:
        subprocess.run([sys.executable, "-I", "-S", "-c", LAUNCHER, report.name, *args],
                       stdout=out, stderr=err, stdin=subprocess.DEVNULL, check=True)
        wall, status, maxrss_kib = report.read().split()
        out.seek(0)
        err.seek(0)
        return Run(float(wall), int(maxrss_kib) * 1024, int(status), out.read().decode(errors="replace"),
                   err.read().decode(errors="replace"))


@dataclass
class Window:
    name: str
    flags: list[str]
    since: dt.date
    until: dt.date


def windows(plan: Plan) -> list[Window]:
    """A day in the middle, the calendar month around it, and the whole range."""
    mid = plan.first + dt.timedelta(days=plan.days // 2)
    month = _full_month(plan, mid)
    m_last = month.replace(day=calendar.monthrange(month.year, month.month)[1])
    return [
        Window("day", ["--date", mid.isoformat()], mid, mid),
        Window("month", ["--since", month.isoformat(), "--until", m_last.isoformat()], month, m_last),
        Window("year" if plan.days >= 365 else f"all {plan.days} days",
               ["--since", plan.first_day, "--until", plan.last.isoformat()], plan.first, plan.last),
    ]


def _full_month(plan: Plan, mid: dt.date) -> dt.date:
    """First day of the calendar month nearest `mid` that lies wholly in the data; mid's month if none does."""
    candidates = []
    d = plan.first.replace(day=1)
    while d <= plan.last:
        last = d.replace(day=calendar.monthrange(d.year, d.month)[1])
        if d >= plan.first and last <= plan.last:
            candidates.append(d)
        d = last + dt.timedelta(days=1)
    if not candidates:
        return mid.replace(day=1)
    return min(candidates, key=lambda m: abs((m + dt.timedelta(days=14) - mid).days))


@dataclass
class Measured:
    window: Window
    runs: list[Run]
    totals: dict[str, Any] | None
    error: str | None

    @property
    def median_ms(self) -> float:
        return statistics.median(r.wall_s for r in self.runs) * 1e3

    @property
    def peak_mb(self) -> float:
        return max(r.maxrss for r in self.runs) / 1e6


def measure(db: Path, w: Window, runs: int) -> Measured:
    cmd = [*agentwatch_cmd(), "summary", "--json", *w.flags, "--tz", "UTC", "--db", str(db)]
    done = [run_once(cmd) for _ in range(runs)]
    bad = next((r for r in done if r.status != 0), None)
    if bad is not None:
        return Measured(w, done, None, f"exit {bad.status}: {bad.stderr.strip()[-400:]}")
    try:
        totals = json.loads(done[-1].stdout).get("totals")
    except ValueError as exc:
        return Measured(w, done, None, f"output is not JSON ({exc}): {done[-1].stdout[:200]!r}")
    return Measured(w, done, totals if isinstance(totals, dict) else None, None)


def summary_exists() -> str | None:
    """None if `agentwatch summary` is there, else what the CLI said."""
    r = subprocess.run([*agentwatch_cmd(), "summary", "--help"], capture_output=True, text=True)
    return None if r.returncode == 0 else (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1]


# --------------------------------------------------------------------------- report
def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def print_load(plan: Plan, ld: Load) -> None:
    rate = ld.records / ld.seconds
    print(f"  sent {ld.records:,} records in {ld.requests:,} requests (HTTP 200 for all; {ld.retries} 503s retried) "
          f"in {ld.seconds:.1f} s: {rate:,.0f} records/s")
    print(f"  client CPU {ld.client_cpu:.1f} s (generating + encoding + sending); listener peak RSS "
          f"{ld.server_peak_rss / 2**20:.0f} MiB")
    print(f"  stored log_records: {ld.stored:,} (expected {plan.records():,}: "
          f"{'ok' if ld.stored == plan.records() else 'MISMATCH'})")


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value if value is not None else "?")


def print_measured(plan: Plan, results: list[Measured]) -> None:
    print(f"  {'window':<16}{'range':<25}{'median ms':>10}{'min':>7}{'max':>7}{'peak RSS':>10}  "
          f"{'requests exp/got':<22}{'sessions exp/got':<18}targets")
    for m in results:
        rng = f"{m.window.since} .. {m.window.until}"
        if m.error:
            print(f"  {m.window.name:<16}{rng:<25}  FAILED {m.error}")
            continue
        walls = [r.wall_s * 1e3 for r in m.runs]
        exp_req, exp_ses = plan.expected(m.window.since, m.window.until)
        got = m.totals or {}
        ok = got.get("requests") == exp_req and got.get("sessions") == exp_ses
        req = f"{exp_req:,}/{_n(got.get('requests'))} {'ok' if ok else 'WRONG'}"
        ses = f"{exp_ses:,}/{_n(got.get('sessions'))}"
        print(f"  {m.window.name:<16}{rng:<25}{m.median_ms:>10.0f}{min(walls):>7.0f}{max(walls):>7.0f}"
              f"{m.peak_mb:>8.1f} MB  {req:<22}{ses:<18}"
              f"<= {TARGET_MS:g} ms {verdict(m.median_ms <= TARGET_MS)}, "
              f"< {TARGET_RSS_MB:g} MB {verdict(m.peak_mb < TARGET_RSS_MB)}")
    whole = results[-1]
    exp_req, exp_ses = plan.expected(plan.first, plan.last)
    got = whole.totals or {}
    print(f"  sanity, {whole.window.name} JSON: totals.requests expected {exp_req:,} ({plan.days} days x "
          f"{plan.sessions_per_day} x {plan.calls_per_session}) got {_n(got.get('requests'))}; totals.sessions "
          f"expected {exp_ses:,} ({plan.days} x {plan.sessions_per_day}) got {_n(got.get('sessions'))}: "
          f"{'ok' if got.get('requests') == exp_req and got.get('sessions') == exp_ses else 'WRONG'}")
    month = results[1].window
    if month.since < plan.first or month.until > plan.last:
        print(f"  NOTE: no whole calendar month in {plan.days} days: the month window holds data for "
              f"{plan.expected(month.since, month.until)[1] // plan.sessions_per_day} of its days")
    ok = [m for m in results if not m.error]
    if ok:
        print(f"  all within {TARGET_MS:g} ms: {verdict(all(m.median_ms <= TARGET_MS for m in ok))}; "
              f"all under {TARGET_RSS_MB:g} MB: {verdict(all(m.peak_mb < TARGET_RSS_MB for m in ok))}")


def compare_history(db: Path, plan: Plan, other: Path, runs: int) -> None:
    """The same windows (the last day, the last 30 days) over two histories of different length."""
    short = loaded_plan(other)
    if short is None or short.last != plan.last:
        print(f"  --compare-db {other}: not a kept database ending {plan.last}; skipped")
        return
    span = min(30, short.days)
    since = plan.last - dt.timedelta(days=span - 1)
    shared = [
        Window("last day", ["--date", plan.last.isoformat()], plan.last, plan.last),
        Window(f"last {span} days", ["--since", since.isoformat(), "--until", plan.last.isoformat()], since, plan.last),
    ]
    print(f"\n[3] the same windows over {short.days} and {plan.days} days of history ({other.name} vs {db.name})")
    for w in shared:
        a, b = measure(other, w, runs), measure(db, w, runs)
        if a.error or b.error:
            print(f"  {w.name:<16}FAILED {a.error or b.error}")
            continue
        same = a.totals == b.totals
        ratio = b.median_ms / a.median_ms
        print(f"  {w.name:<16}{a.median_ms:>6.0f} ms on {short.days} days, {b.median_ms:>6.0f} ms on {plan.days} days: "
              f"x{ratio:.2f} (target <= {TARGET_HISTORY_RATIO:g}: {verdict(ratio <= TARGET_HISTORY_RATIO)}); "
              f"totals {'identical' if same else 'DIFFER'}")


def baseline(runs: int) -> None:
    """What the same process costs without any work: interpreter + CLI start (`--version`)."""
    base = [run_once([*agentwatch_cmd(), "--version"]) for _ in range(runs)]
    print(f"  for scale: `agentwatch --version` median {statistics.median(r.wall_s for r in base) * 1e3:.0f} ms, "
          f"peak RSS {max(r.maxrss for r in base) / 1e6:.1f} MB (interpreter and CLI start only)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=365, help="days of data ending yesterday UTC (default 365)")
    ap.add_argument("--keep-db", type=Path, help="keep the loaded database here; reuse it if it was loaded before")
    ap.add_argument("--clients", type=int, default=4, help="client processes during the load (default 4)")
    ap.add_argument("--runs", type=int, default=7, help="summary runs per window (default 7)")
    ap.add_argument("--load-only", action="store_true", help="load (or reuse) the database, skip the summary runs")
    ap.add_argument("--compare-db", type=Path,
                    help="a kept database of fewer days ending the same day: time the same windows on both")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="agentwatch-summary-bench-"))
    db = args.keep_db.resolve() if args.keep_db else tmp / "bench.db"
    try:
        return bench(args, db)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench(args: argparse.Namespace, db: Path) -> int:
    print(f"agentwatch summary bench: {SESSIONS_PER_DAY} sessions/day x {CALLS_PER_SESSION} model calls, "
          f"a Bash tool every {TOOL_EVERY}th call ({RECORDS_PER_SESSION} log records/session); {os.cpu_count()} CPUs")
    plan = loaded_plan(db) if db.exists() else None
    if db.exists() and plan is None:
        print(f"{db} exists but has no {sidecar(db).name} (an interrupted load?): delete it and run again")
        return 2
    if plan is not None:
        if plan.days != args.days:
            print(f"NOTE: --days {args.days} ignored: the kept database holds {plan.days} days")
        print(f"\n[1] load: reusing {db} ({plan.days} days {plan.first} .. {plan.last}, {plan.records():,} records, "
              f"{db.stat().st_size / 2**20:,.0f} MiB, {schema_note(db)})")
        lst = serve(db)
    else:
        last = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
        plan = Plan((last - dt.timedelta(days=args.days - 1)).isoformat(), args.days)
        print(f"\n[1] load: {plan.days} days {plan.first} .. {plan.last} = {plan.records():,} log records "
              f"({plan.days * SESSIONS_PER_DAY * CALLS_PER_SESSION:,} model calls) over http/protobuf, "
              f"{BATCH}/request, {args.clients} client processes, into {db}")
        lst = serve(db)
        try:
            ld = load(plan, lst, args.clients)
        except BaseException:
            lst.stop()
            raise
        print_load(plan, ld)
        # Written last: a database without it was not fully loaded and is never reused.
        sidecar(db).write_text(json.dumps(asdict(plan)) + "\n")
        print(f"  database {db.stat().st_size / 2**20:,.0f} MiB (+ WAL {_wal_mib(db):,.0f} MiB)")
    try:
        if args.load_only:
            return 0
        print(f"\n[2] `agentwatch summary --json --tz UTC` ({' '.join(agentwatch_cmd())}), {args.runs} runs per "
              f"window, `agentwatch serve` (pid {lst.proc.pid}) holding the database")
        missing = summary_exists()
        if missing:
            print(f"  `agentwatch summary` is not available yet: {missing}")
            return 1
        results = [measure(db, w, args.runs) for w in windows(plan)]
        print_measured(plan, results)
        if args.compare_db:
            compare_history(db, plan, args.compare_db.resolve(), args.runs)
        baseline(args.runs)
        alive = lst.proc.poll() is None
        print(f"  listener still running after the summaries: {'yes' if alive else 'NO (exit %s)' % lst.proc.poll()}")
    finally:
        code = lst.stop()
        print(f"listener stopped (exit {code})")
    return 0


def _wal_mib(db: Path) -> float:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size / 2**20 if wal.exists() else 0.0


if __name__ == "__main__":
    sys.exit(main())
