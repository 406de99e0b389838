"""Data flows one way (STYLE.md §2): each module imports only what its row of the layer table names.

The table is written once, as import-linter contracts in pyproject.toml (`[tool.importlinter]`,
contract types in tests/support/allowlist.py). These tests run that lint on the real tree, and on
copies of the package with one bad import planted each, to show the lint catches what it must:
a check that has never failed proves nothing. The `sys.modules` checks catch what a static graph
cannot: a module that loads a heavy package through an import nobody wrote down.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentwatch.store import schema
from agentwatch.store.connect import open_writer
from support.allowlist import contract_options

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = REPO / "pyproject.toml"

# The packages the read path must not load: the listener's (aiohttp, grpc), protobuf's (google,
# opentelemetry) and the TUI's. `summary` answers in well under a second only without them.
LISTENER_AND_TUI = ("aiohttp", "grpc", "google.protobuf", "opentelemetry", "textual")


def _lint(cwd: Path) -> subprocess.Popen[str]:
    """Start lint-imports on the package found first from cwd (lint-imports puts cwd first on sys.path)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "400", "NO_COLOR": "1"}
    code = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    args = [sys.executable, "-c", code, "--no-cache", "--no-logo", str(PYPROJECT)]
    return subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _result(lint: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = lint.communicate(timeout=60)
    return lint.returncode, out


@dataclass(frozen=True)
class Plant:
    """One bad import written into a copy of the package, and the line the lint must print for it."""

    path: str
    line: str
    reported: str


PLANTS = {
    "from pkg import module": Plant(
        "query/summary.py", "from agentwatch import normalise", "agentwatch.query.summary -> agentwatch.normalise "
    ),
    "relative import": Plant(
        "query/period.py", "from ..normalise import content", "agentwatch.query.period -> agentwatch.normalise.content "
    ),
    "shared module takes config": Plant(
        "records.py", "from agentwatch import config", "agentwatch.records -> agentwatch.config "
    ),
    "receive calls a surface": Plant(
        "receive/guard.py", "from agentwatch.report import render", "agentwatch.receive.guard -> agentwatch.report.render "
    ),
    # query.status may read the listener's lock file; that exception opens nothing to its neighbours.
    "an exception is one module's": Plant(
        "query/sessions.py", "from agentwatch.store.lock import read_listener", "agentwatch.query.sessions -> agentwatch.store.lock "
    ),
    "unknown top-level module": Plant("stray.py", "import json", "agentwatch.stray is in no row"),
    "standard module the table forbids": Plant(
        "normalise/content.py", "import sqlite3", "agentwatch.normalise.content -> sqlite3 (l."
    ),
    "external package beside an allowed one": Plant(
        "normalise/otlp_view.py", "from opentelemetry.sdk import trace", "agentwatch.normalise.otlp_view -> opentelemetry.sdk "
    ),
}


def _planted_copy(root: Path, plant: Plant) -> Path:
    shutil.copytree(REPO / "agentwatch", root / "agentwatch", ignore=shutil.ignore_patterns("__pycache__"))
    target = root / "agentwatch" / plant.path
    before = target.read_text() if target.exists() else ""
    target.write_text(f"{before}\n{plant.line}\n")
    return root


@pytest.fixture(scope="module")
def lint_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    # All runs at once: each is a fresh interpreter building the graph (~0.5 s), and the file stays fast.
    started = {"real tree": _lint(REPO)}
    for name, plant in PLANTS.items():
        started[name] = _lint(_planted_copy(tmp_path_factory.mktemp("planted"), plant))
    return {name: _result(lint) for name, lint in started.items()}


def test_the_real_tree_keeps_every_row_of_the_table(lint_results: dict[str, tuple[int, str]]) -> None:
    code, out = lint_results["real tree"]
    assert code == 0, out
    assert re.search(r"\b0 broken\b", out), out


@pytest.mark.parametrize("name", sorted(PLANTS))
def test_each_planted_bad_import_breaks_exactly_its_row(name: str, lint_results: dict[str, tuple[int, str]]) -> None:
    code, out = lint_results[name]
    assert code != 0, out
    assert PLANTS[name].reported in out, out
    # One row broken, the others kept: the plant, not something else in the copy, failed the lint.
    assert re.search(r"\b1 broken\b", out), out


def test_the_coverage_list_and_the_rows_name_the_same_modules() -> None:
    # The coverage contract and the rows name the same modules, so a row added without being
    # counted (or counted without a row) fails here rather than silently checking nothing.
    pyproject = tomllib.loads(PYPROJECT.read_text())
    (covered,) = contract_options(pyproject, "covered")
    rows = [m for row in contract_options(pyproject, "allowlist") for m in row["modules"]]
    assert sorted(rows) == sorted(covered["layers"])
    assert not set(rows) & set(covered["unrestricted"])
    (shared,) = [row for row in contract_options(pyproject, "allowlist") if row["id"] == "shared"]
    assert shared["modules"] == pyproject["tool"]["importlinter"]["shared_modules"]


def _loaded(code: str, *modules: str) -> list[str]:
    """Which of modules are in sys.modules after a fresh interpreter runs code."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("module", ["agentwatch.query.summary", "agentwatch.query.reader", "agentwatch.report.render"])
def test_the_read_path_loads_no_listener_protobuf_or_tui_code(module: str) -> None:
    assert _loaded(f"import {module}", *LISTENER_AND_TUI, "sqlite_utils") == []


def test_summary_on_a_real_database_loads_no_listener_protobuf_or_tui_code(tmp_path: Path) -> None:
    db = tmp_path / "agentwatch.db"
    conn = open_writer(db)
    schema.migrate(conn)
    conn.close()
    run = f"from agentwatch.cli import main\ntry:\n    main(['summary', '--json', '--db', {str(db)!r}])\nexcept SystemExit:\n    pass"
    # The summary module loaded proves the command ran as far as its query, not out at a flag.
    assert _loaded(run, "agentwatch.query.summary", *LISTENER_AND_TUI, "sqlite_utils") == ["agentwatch.query.summary"]


@pytest.mark.parametrize("module", ["agentwatch.serve", "agentwatch.listener"])
def test_the_listener_loads_no_tui_code(module: str) -> None:
    # The TUI embeds the listener, never the reverse: `serve` stays a daemon without Textual.
    if not (REPO / "agentwatch" / f"{module.rsplit('.', 1)[1]}.py").exists():
        pytest.skip(f"{module} is not written yet")
    assert _loaded(f"import {module}", "textual") == []
