"""T18: a real browser cannot get telemetry into the listener (RELIABILITY §1.3).

A page served from another loopback port (the "attacker", a stdlib HTTP server
run by this test) tries every route a web page has for posting a valid OTLP/JSON
logs body to `agentwatch serve`:

* ``fetch`` with ``mode: 'no-cors'`` and ``Content-Type: text/plain`` (a "simple"
  request: no preflight, the classic JSON-CSRF);
* ``fetch`` with ``mode: 'cors'`` and ``Content-Type: application/json``
  (preflighted with OPTIONS);
* an HTML ``<form method=POST enctype=text/plain>`` auto-submitted into an
  iframe, its field name/value split so that the body is valid JSON;
* ``navigator.sendBeacon`` with a ``text/plain`` Blob and with an
  ``application/json`` Blob;

against ``127.0.0.1``, ``localhost`` and ``rebind.test`` (mapped to 127.0.0.1
inside Chromium with ``--host-resolver-rules``, which is what DNS rebinding
achieves).  Debian's headless Chromium is started as a plain subprocess on the
page's URL: no Python or npm dependencies.

Nothing may be stored.  Positive controls show the attempts were real: the page
reports each attempt's outcome to its own origin at the end (which also proves
the script ran), the listener's stderr must show one refusal per request the
browser sent (403 `forbidden` for a loopback Host with an Origin, 421
`misdirected` for the rebinding Host), and the same body, posted afterwards by a
plain client with ``application/json``, is stored.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Callable

import pytest

from support.listener import Listener, start_listener

CHROMIUM = "/usr/bin/chromium"
REBIND_HOST = "rebind.test"  # resolved to 127.0.0.1 by Chromium only, as after DNS rebinding
PAGE_TIMEOUT_S = 20.0  # page load + every attempt + its report
REFUSALS_TIMEOUT_S = 10.0  # beacons are sent by the browser after the page has moved on
SETTLE_S = 0.5  # after the expected refusals, time for any unexpected extra request to show

# What agentwatch.receive.http logs at INFO for each refused request.
REFUSAL = re.compile(r"agentwatch: refused (?P<method>[A-Z]+) (?P<path>\S+): (?P<problem>[a-z_]+)")

# One log record whose body marks it as coming from this probe.
OTLP_LOGS = {
    "resourceLogs": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "browser-probe"}}]},
            "scopeLogs": [
                {
                    "scope": {"name": "t18"},
                    "logRecords": [
                        {
                            "timeUnixNano": "1767225600000000000",
                            "severityNumber": 9,
                            "severityText": "INFO",
                            "body": {"stringValue": "posted by a web page"},
                        }
                    ],
                }
            ],
        }
    ]
}

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>attacker</title></head>
<body>
<script>
const CONFIG = __CONFIG__;
const BODY = CONFIG.body;
const results = [];

function withTimeout(promise, ms, what) {
  return Promise.race([
    promise,
    new Promise((resolve) => setTimeout(() => resolve('timeout: ' + what), ms)),
  ]);
}

async function attempt(name, host, fn) {
  let outcome;
  try {
    outcome = await withTimeout(Promise.resolve().then(fn), 5000, name);
  } catch (e) {
    outcome = 'threw: ' + e.name + ': ' + e.message;
  }
  results.push({name: name, host: host, outcome: String(outcome)});
}

function formPost(url, i) {
  // text/plain forms send "name=value\\r\\n": split the JSON so that the "=" lands
  // inside a string and the whole body is a valid OTLP/JSON request.
  return new Promise((resolve) => {
    const frame = document.createElement('iframe');
    frame.name = 'sink' + i;
    document.body.appendChild(frame);  // about:blank's load has fired by now
    frame.addEventListener('load', () => resolve('iframe loaded'));
    const form = document.createElement('form');
    form.method = 'POST';
    form.enctype = 'text/plain';
    form.action = url;
    form.target = frame.name;
    const field = document.createElement('input');
    field.type = 'hidden';
    field.name = BODY.slice(0, -1) + ',"pad":"';
    field.value = '"}';
    form.appendChild(field);
    document.body.appendChild(form);
    form.submit();
  });
}

async function main() {
  let i = 0;
  for (const host of CONFIG.hosts) {
    const url = 'http://' + host + ':' + CONFIG.port + '/v1/logs';
    await attempt('fetch-no-cors-text', host, async () => {
      const r = await fetch(url, {method: 'POST', mode: 'no-cors', body: BODY,
                                  headers: {'Content-Type': 'text/plain'}});
      return 'resolved type=' + r.type + ' status=' + r.status;
    });
    await attempt('fetch-cors-json', host, async () => {
      const r = await fetch(url, {method: 'POST', mode: 'cors', body: BODY,
                                  headers: {'Content-Type': 'application/json'}});
      return 'resolved type=' + r.type + ' status=' + r.status;
    });
    await attempt('form-text-plain', host, () => formPost(url, i++));
    await attempt('beacon-text', host, () =>
      'returned ' + navigator.sendBeacon(url, new Blob([BODY], {type: 'text/plain'})));
    await attempt('beacon-json', host, () =>
      'returned ' + navigator.sendBeacon(url, new Blob([BODY], {type: 'application/json'})));
  }
  await fetch('/done', {method: 'POST', body: JSON.stringify(results)});
  document.title = 'done';
}

main().catch((e) => fetch('/done', {method: 'POST',
  body: JSON.stringify([{name: 'page', host: '', outcome: 'threw: ' + e}])}));
</script>
</body></html>
"""


class Attacker:
    """The page's own origin: serves the page, receives its report at /done."""

    def __init__(self, page: bytes) -> None:
        self.page = page
        self.loaded = threading.Event()
        self.done = threading.Event()
        self.report: list[dict[str, str]] = []
        attacker = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/":
                    attacker.loaded.set()
                    self._send(200, "text/html; charset=utf-8", attacker.page)
                else:
                    self._send(404, "text/plain", b"not found")

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/done":
                    attacker.report = json.loads(body)
                    attacker.done.set()
                    self._send(204, "text/plain", b"")
                else:
                    self._send(404, "text/plain", b"not found")

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Attacker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class StderrTail:
    """The listener's stderr lines so far (support.listener keeps reading them)."""

    def __init__(self, listener: Listener) -> None:
        self._listener = listener

    def _all(self) -> list[str]:
        return [line.rstrip("\n") for line in self._listener.stderr_lines]

    def refusals(self) -> list[str]:
        return [line for line in self._all() if line.startswith("agentwatch: refused ")]

    def wait_until(self, done: Callable[[list[str]], bool], timeout: float) -> bool:
        """Wait until `done(refusal lines so far)` is true; False on timeout."""
        deadline = time.monotonic() + timeout
        while not done(self.refusals()):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def text(self) -> str:
        return "\n".join(self._all())

    def join(self, timeout: float = 5.0) -> None:
        self._listener.stderr()


@pytest.fixture
def chromium() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"T18 needs headless Chromium at {CHROMIUM} (Debian package: chromium)")
    return CHROMIUM


def run_browser(chromium: str, url: str, profile: Path, log: Path) -> subprocess.Popen[bytes]:
    args = [
        chromium,
        "--headless",
        "--no-sandbox",  # CI and sessions run as root
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-proxy-server",  # an http_proxy in the environment must not divert the requests
        f"--host-resolver-rules=MAP {REBIND_HOST} 127.0.0.1",
        f"--user-data-dir={profile}",
        url,
    ]
    with log.open("wb") as out:
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop_browser(proc: subprocess.Popen[bytes]) -> None:
    """End the browser and its helpers: they are all in the session started for it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        except ProcessLookupError:
            pass
    try:  # helpers that outlived the browser process
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def expected_refusals(report: list[dict[str, str]]) -> Counter[str]:
    """The refusal log lines the listener must show, from what the page says it sent.

    Every request carries an Origin (Chromium sends one on every cross-origin
    request and on every POST), so a loopback Host gets 403 `forbidden`; the
    rebinding Host is refused before that with 421 `misdirected`.  A CORS
    request is preflighted, and the refused preflight means the POST is never
    sent.
    """
    want: Counter[str] = Counter()
    for r in report:
        problem = "misdirected" if r["host"] == REBIND_HOST else "forbidden"
        name, outcome = r["name"], r["outcome"]
        if name in ("fetch-no-cors-text", "form-text-plain", "beacon-text"):
            want[f"POST {problem}"] += 1
        elif name == "fetch-cors-json":
            want[f"OPTIONS {problem}"] += 1
        elif name == "beacon-json" and outcome == "returned true":
            # A non-safelisted Blob type makes the beacon a CORS request: preflight first.
            want[f"OPTIONS {problem}"] += 1
    return want


def tally(lines: list[str]) -> Counter[str]:
    """Refusal log lines as "METHOD problem" counts; a line that does not parse counts as itself."""
    out: Counter[str] = Counter()
    for line in lines:
        m = REFUSAL.fullmatch(line)
        out[f"{m['method']} {m['problem']}" if m else line] += 1
    return out


def covers(seen: Counter[str], want: Counter[str]) -> bool:
    return all(seen[k] >= n for k, n in want.items())


def test_browser_cannot_post_telemetry(chromium: str, tmp_path: Path) -> None:
    started = time.monotonic()
    listener = start_listener(tmp_path / "agentwatch.db")
    tail = StderrTail(listener)
    browser = None
    try:
        body = json.dumps(OTLP_LOGS, separators=(",", ":"))
        # The form's text/plain body is "<name>=<value>\r\n" with the split the page makes:
        # still one valid OTLP/JSON request (receivers ignore the unknown "pad" field).
        form_body = body[:-1] + ',"pad":"' + "=" + '"}' + "\r\n"
        assert json.loads(form_body) == {**OTLP_LOGS, "pad": "="}
        hosts = ["127.0.0.1", "localhost", REBIND_HOST]
        config = {"port": listener.http_port, "hosts": hosts, "body": body}
        page = PAGE.replace("__CONFIG__", json.dumps(config)).encode()

        with Attacker(page) as attacker:
            profile = tmp_path / "chromium-profile"
            browser_log = tmp_path / "chromium.log"
            browser = run_browser(chromium, f"http://127.0.0.1:{attacker.port}/", profile, browser_log)
            finished = attacker.done.wait(PAGE_TIMEOUT_S)
            diag = f"\nchromium log:\n{browser_log.read_text(errors='replace')[-3000:]}"
            assert attacker.loaded.is_set(), "Chromium never loaded the attacker page" + diag
            assert finished, "the attacker page never reported its attempts" + diag
            report = attacker.report
            page_s = time.monotonic() - started

        # Positive control, page side: every attempt ran and behaved as a refused request does.
        outcomes = {(r["host"], r["name"]): r["outcome"] for r in report}
        print("\npage report:\n" + "\n".join(f"  {h:<12} {n:<19} {o}" for (h, n), o in outcomes.items()))
        assert len(outcomes) == 5 * len(hosts), report
        for host in hosts:
            # Opaque: the page cannot read the 403/421; what matters is that the request went out.
            assert outcomes[(host, "fetch-no-cors-text")] == "resolved type=opaque status=0", report
            assert outcomes[(host, "fetch-cors-json")].startswith("threw: TypeError"), report
            assert outcomes[(host, "form-text-plain")] == "iframe loaded", report
            assert outcomes[(host, "beacon-text")] == "returned true", report

        # Positive control, listener side: a refusal for every request the browser sent.
        want = expected_refusals(report)
        tail.wait_until(lambda lines: covers(tally(lines), want), REFUSALS_TIMEOUT_S)
        refusals_s = time.monotonic() - started
        time.sleep(SETTLE_S)  # room for an unexpected extra request to show up
        stop_browser(browser)
        browser = None
        lines = tail.refusals()
        seen = tally(lines)
        print(f"page reported at {page_s:.1f} s, listener had every refusal at {refusals_s:.1f} s")
        print("listener refusals (seen / requests the page sent):\n"
              + "\n".join(f"  {k:<22} {seen[k]} / {want[k]}" for k in sorted(seen | want)))
        assert all((m := REFUSAL.fullmatch(line)) and m["path"] == "/v1/logs" for line in lines), tail.text()
        assert set(seen) == set(want), f"listener stderr:\n{tail.text()}"
        for key, n in want.items():
            # Chromium resends a request once when it is answered 421 (it takes the 421 for
            # a wrongly coalesced connection), so each rebinding request may show twice.
            most = 2 * n if key.endswith(" misdirected") else n
            assert n <= seen[key] <= most, f"{key}: {seen[key]} refusals for {n} requests\n{tail.text()}"

        # Nothing stored.  An accepted request answers only after commit, so it would show here.
        for table in ("log_records", "metric_points", "spans"):
            assert listener.count(table) == 0, table

        # Positive control, data side: the very same body from a real exporter is stored.
        req = urllib.request.Request(
            f"http://127.0.0.1:{listener.http_port}/v1/logs",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200
        assert listener.count("log_records") == 1
    finally:
        if browser is not None:
            stop_browser(browser)
        listener.stop()
        tail.join()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)

    assert listener.proc.returncode == 0, tail.text()
    assert (listener.count("log_records"), listener.count("metric_points"), listener.count("spans")) == (1, 0, 0)
    assert time.monotonic() - started < 30
