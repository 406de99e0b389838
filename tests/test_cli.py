"""cli: the serve flags are checked when parsed, and become settings with 0 meaning "no limit"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agentwatch.cli import build_parser
from agentwatch.commands.serve import settings as serve_settings
from agentwatch.config import RetentionPolicy

MIB = 1024 * 1024

REFUSED = [
    ("--retain-days", "-1", "argument --retain-days: days are 0 (keep forever) to 36500, not -1"),
    ("--retain-days", "nan", "argument --retain-days: 'nan' is not a finite number"),
    ("--retain-days", "inf", "argument --retain-days: 'inf' is not a finite number"),
    ("--retain-days", "1e9", "argument --retain-days: days are 0 (keep forever) to 36500, not 1e9"),
    ("--retain-mib", "-1", "argument --retain-mib: the size is 0 (no limit) to 16777216 MiB, not -1"),
    ("--retain-mib", "NaN", "argument --retain-mib: 'NaN' is not a finite number"),
    ("--max-body-mib", "0", "argument --max-body-mib: the size limit is more than 0 and at most 1024 MiB, not 0"),
    ("--max-body-mib", "-4", "argument --max-body-mib: the size limit is more than 0 and at most 1024 MiB, not -4"),
    ("--max-body-mib", "2048", "argument --max-body-mib: the size limit is more than 0 and at most 1024 MiB, not 2048"),
    ("--max-body-mib", "lots", "argument --max-body-mib: 'lots' is not a number"),
    ("--workers", "-3", "argument --workers: workers are 0 (build rows in the listener's own process) to 8, not -3"),
    ("--workers", "9", "argument --workers: workers are 0 (build rows in the listener's own process) to 8, not 9"),
    ("--workers", "1.5", "argument --workers: '1.5' is not a whole number"),
]


@pytest.mark.parametrize(("flag", "value", "message"), REFUSED, ids=[f"{f} {v}" for f, v, _ in REFUSED])
def test_serve_refuses_a_number_out_of_range_with_exit_code_2(
    tmp_path: Path, flag: str, value: str, message: str
) -> None:
    # Ephemeral ports and a timeout: were the value accepted, serve would start and wait.
    result = subprocess.run(
        [sys.executable, "-m", "agentwatch", "serve", flag, value,
         "--http-port", "0", "--grpc-port", "0", "--db", str(tmp_path / "agentwatch.db")],
        capture_output=True, text=True, timeout=20,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == f"agentwatch serve: error: {message}"
    assert list(tmp_path.iterdir()) == []  # refused before anything was opened


def test_zero_retention_means_keep_everything_and_the_limits_are_inclusive(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        ["serve", "--retain-days", "0", "--retain-mib", "0", "--max-body-mib", "1024", "--workers", "8"]
    )
    settings = serve_settings(args)
    assert settings.retention == RetentionPolicy(max_age_days=None, max_bytes=None)
    assert (settings.max_body, settings.workers) == (1024 * MIB, 8)


def test_a_tiny_positive_size_limit_is_still_at_least_one_byte(tmp_path: Path) -> None:
    args = build_parser().parse_args(["serve", "--max-body-mib", "1e-9", "--retain-mib", "1e-9"])
    settings = serve_settings(args)
    assert (settings.max_body, settings.retention.max_bytes) == (1, 1)


def test_serve_defaults_are_the_documented_ones(tmp_path: Path) -> None:
    settings = serve_settings(build_parser().parse_args(["serve", "--db", str(tmp_path / "agentwatch.db")]))
    assert (settings.http_port, settings.grpc_port, settings.max_body) == (4318, 4317, 16 * MIB)
    assert settings.retention == RetentionPolicy(max_age_days=30.0, max_bytes=2048 * MIB)
    assert settings.hosts == ("127.0.0.1", "::1")


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
