"""What deriving facts costs: decode + rows + adapters + store, against rows alone.

The mix is every captured agent scenario in tests/fixtures/agents (Claude Code,
Codex with its ~800 spans per turn, Gemini CLI, Qwen Code, Copilot CLI and SDK,
OpenCode, goose, the GenAI test app), each request sent through the same steps
as the listener: decode, otlp_view.batch_of (with all adapters, or with none),
then writer.insert_batch in its own BEGIN IMMEDIATE / COMMIT on a fresh WAL +
synchronous=FULL database per pass (so nothing is a re-send). Passes alternate
between the two paths; medians are printed with their ratio. Prints figures, never
asserts. Target: the normalised path costs at most 1.5x the raw path.

`--mix claude` instead sends 40 requests of 512 Claude Code events (bench/ingest.py's
payload: api_request, tool_decision, tool_result, user_prompt), where 5 records in 6
become a fact: the heaviest case for the fact writer.

    .venv/bin/python bench/normalise.py [--passes 7] [--mix captured|claude]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from agentwatch.normalise.derive import Derivation  # noqa: E402
from agentwatch.normalise.otlp_view import ViewPolicy, batch_of  # noqa: E402
from agentwatch.receive.decode import Encoding, decode  # noqa: E402
from agentwatch.records import Signal  # noqa: E402
from agentwatch.store import schema  # noqa: E402
from agentwatch.store.connect import open_writer  # noqa: E402
from agentwatch.store.writer import insert_batch  # noqa: E402
from support.replay import requests_of, scenarios  # noqa: E402

TARGET_RATIO = 1.5


def load_mix() -> list[tuple[Signal, Encoding, bytes, str]]:
    mix = []
    for scenario in scenarios():
        for req in requests_of(scenario):
            encoding = Encoding.JSON if "json" in req.content_type else Encoding.PROTOBUF
            mix.append((Signal(req.signal), encoding, req.body, req.transport))
    return mix


def claude_mix(requests: int = 40) -> list[tuple[Signal, Encoding, bytes, str]]:
    from ingest import Payload  # bench/ingest.py: Claude-shaped events, times patched per request

    payload = Payload("http/protobuf", 512)
    now = time.time_ns()
    return [
        (Signal.LOGS, Encoding.PROTOBUF, payload.make(1, 1, k, now + k * 512 * 200_000), "http")
        for k in range(requests)
    ]


def one_pass(mix: list[Any], derive: bool, db: Path) -> dict[str, float]:
    """Seconds spent building rows (and facts) and storing them, for the whole mix."""
    conn = open_writer(db)
    schema.migrate(conn)
    policy = ViewPolicy()
    build = store = 0.0
    facts = rows = 0
    for signal, encoding, body, transport in mix:
        a = time.perf_counter()
        batch = batch_of(signal, decode(signal, body, encoding), transport, time.time_ns(), policy,
                         Derivation() if derive else None)
        b = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        insert_batch(conn, batch)
        conn.execute("COMMIT")
        store += time.perf_counter() - b
        build += b - a
        facts += len(batch.facts)
        rows += batch.records
    conn.close()
    return {"build": build, "store": store, "total": build + store, "facts": facts, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passes", type=int, default=7)
    parser.add_argument("--mix", choices=("captured", "claude"), default="captured")
    args = parser.parse_args()
    mix = load_mix() if args.mix == "captured" else claude_mix()
    source = f"{len(scenarios())} captured scenarios" if args.mix == "captured" else "Claude Code events"
    results: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        # Warms imports and caches, and counts the records as stored (metric data points,
        # not the metrics an index counts).
        records = int(one_pass(mix, True, Path(tmp) / "warm.db")["rows"])
        print(f"mix: {len(mix)} requests, {records:,} records (log records, metric points, spans) from {source}")
        for i in range(args.passes):
            for derive in (False, True):
                results[derive].append(one_pass(mix, derive, Path(tmp) / f"p{i}-{derive}.db"))
    print(f"{'path':<28}{'records/s':>12}{'build µs/rec':>14}{'store µs/rec':>14}{'facts':>8}")
    medians = {}
    for derive, label in ((False, "raw rows only"), (True, "rows + facts (all adapters)")):
        runs = results[derive]
        total = statistics.median(r["total"] for r in runs)
        build = statistics.median(r["build"] for r in runs)
        store = statistics.median(r["store"] for r in runs)
        medians[derive] = total
        print(f"{label:<28}{records / total:>12,.0f}{build / records * 1e6:>14.1f}{store / records * 1e6:>14.1f}"
              f"{int(runs[0]['facts']):>8}")
    ratio = medians[True] / medians[False]
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"\nnormalised / raw time: {ratio:.2f}x (target <= {TARGET_RATIO}x: {verdict})")


if __name__ == "__main__":
    main()
