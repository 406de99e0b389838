"""`agentwatch reindex` through the installed entry point: it refuses what is not an
agentwatch database (never adopting it) and leaves no lock file beside what it refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_run import agentwatch, foreign_sqlite, usage_error


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("missing", "no database at {db} (`agentwatch serve` creates it; or pass --db with another file); nothing to reindex"),
        ("directory", "{db} is a directory, not a database file (pass --db with the path of a file)"),
        ("empty", "{db} is empty, not an agentwatch database (`agentwatch serve` makes it one)"),
        ("foreign sqlite", "{db} is not an agentwatch database (an SQLite file with other tables); agentwatch leaves it as it is: pass --db with another file"),
    ],
)
def test_reindex_refuses_what_is_not_an_agentwatch_database(tmp_path: Path, kind: str, says: str) -> None:
    db = tmp_path / "target.db"
    if kind == "directory":
        db.mkdir()
    elif kind == "empty":
        db.write_bytes(b"")
    elif kind == "foreign sqlite":
        foreign_sqlite(db)
    before = db.read_bytes() if db.is_file() else None
    out = agentwatch(tmp_path, "reindex", "--db", str(db))
    assert (out.returncode, out.stdout) == (1, "")
    assert out.stderr.strip() == "agentwatch: " + says.format(db=db)
    assert (db.read_bytes() if db.is_file() else None) == before  # not adopted: not a byte written
    expected = [] if kind == "missing" else ["target.db"]
    assert sorted(p.name for p in tmp_path.iterdir()) == expected  # no target.db.lock


def test_an_unknown_flag_shows_the_reindex_usage(tmp_path: Path) -> None:
    assert usage_error(agentwatch(tmp_path, "reindex", "--force"), "reindex") == "unrecognized arguments: --force"
