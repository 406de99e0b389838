"""Data flows one way (STYLE.md §2): each layer imports only the layers it may."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "agentwatch"

# layer → agentwatch modules (prefixes) it must never import, with the reason.
FORBIDDEN = {
    "records": ("agentwatch.normalise", "agentwatch.store", "agentwatch.query", "agentwatch.receive"),  # stdlib only (+ measures)
    "normalise": ("agentwatch.store", "agentwatch.receive", "agentwatch.query", "agentwatch.serve"),
    "store": ("agentwatch.normalise", "agentwatch.receive", "agentwatch.query"),
    "query": ("agentwatch.store.writer", "agentwatch.receive", "agentwatch.normalise"),
    "receive": ("agentwatch.query", "agentwatch.serve", "agentwatch.cli"),
    # Surfaces read through query only, so every surface shows the same figures.
    "report": ("agentwatch.store", "agentwatch.normalise", "agentwatch.receive", "agentwatch.serve"),
}
THIRD_PARTY = {
    "normalise": ("sqlite3", "sqlite_utils", "aiohttp", "grpc", "textual"),
    "store": ("aiohttp", "grpc", "textual", "opentelemetry"),
    "query": ("aiohttp", "grpc", "textual", "opentelemetry"),
    "report": ("aiohttp", "grpc", "textual", "opentelemetry", "sqlite3"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _layer_files(layer: str) -> list[Path]:
    single = PACKAGE / f"{layer}.py"
    return [single] if single.exists() else sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_layer_imports_only_what_it_may(layer: str) -> None:
    banned = FORBIDDEN[layer] + THIRD_PARTY.get(layer, ())
    offences = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in _layer_files(layer)
        for name in _imports(path)
        if any(name == b or name.startswith(b + ".") for b in banned)
    ]
    assert offences == []


def test_importing_serve_does_not_load_textual() -> None:
    code = "import sys, agentwatch.serve; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_summary_loads_no_listener_or_protobuf_code(tmp_path: Path) -> None:
    # `agentwatch summary` is answered in well under a second only if it skips these imports.
    code = (
        "import sys; from agentwatch.cli import main; "
        f"main(['summary', '--json', '--db', {str(tmp_path / 'none.db')!r}]); "
        "print(sorted(m for m in ('aiohttp', 'grpc', 'google.protobuf', 'textual', 'sqlite_utils') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
