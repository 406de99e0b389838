"""cli: the parser loads no layer, and the version is one number everywhere. (Each command: tests/commands/.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_parser_and_the_commands_load_no_layer_until_a_command_runs() -> None:
    # `agentwatch --help` and argument errors should not pay for the store, query or listener:
    # the commands import their layers inside run().
    probe = (
        "import json, sys\nimport agentwatch.cli\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('agentwatch.store', 'agentwatch.query', "
        "'agentwatch.report', 'agentwatch.serve', 'aiohttp', 'grpc', 'sqlite3')))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_version_is_the_packages_single_source() -> None:
    import agentwatch
    from importlib.metadata import version

    result = subprocess.run([sys.executable, "-m", "agentwatch", "--version"], capture_output=True, text=True)
    assert result.stdout.strip() == f"agentwatch {agentwatch.__version__}"
    assert version("agentwatch") == agentwatch.__version__  # pyproject reads it from agentwatch/__init__.py


def test_the_readme_names_the_version_that_version_prints() -> None:
    import agentwatch

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert f"This README describes agentwatch {agentwatch.__version__} " in readme


def test_the_readme_synopsis_of_summary_is_its_usage() -> None:
    from agentwatch.cli import build_parser

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    summary = build_parser()._subparsers._group_actions[0].choices["summary"]  # type: ignore[union-attr]
    assert summary.usage in readme.splitlines()
