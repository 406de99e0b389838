"""query.zones: a zone by any-case IANA name, and the machine's zone found by name.

The machine's files are injected (a symlink and a file in tmp_path), not patched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agentwatch.query.zones import ZoneError, canonical, local_name, resolve


@pytest.mark.parametrize(
    ("typed", "name"),
    [("UTC", "UTC"), ("utc", "UTC"), ("europe/paris", "Europe/Paris"), ("AMERICA/ARGENTINA/BUENOS_AIRES", "America/Argentina/Buenos_Aires")],
)
def test_a_name_in_any_case_is_its_iana_spelling(typed: str, name: str) -> None:
    assert canonical(typed) == name
    assert resolve(typed)[1] == name


@pytest.mark.parametrize("bad", ["JST", "Mars/Olympus_Mons", "../../etc/passwd", "Europe/"])
def test_a_name_that_is_no_zone_is_refused(bad: str) -> None:
    assert canonical(bad) is None
    with pytest.raises(ZoneError, match="unknown time zone"):
        resolve(bad)


def _no_files(tmp_path: Path) -> dict[str, Path]:
    return {"localtime": tmp_path / "no-localtime", "timezone_file": tmp_path / "no-timezone"}


@pytest.mark.parametrize(
    ("tz", "name"),
    [
        ("Asia/Tokyo", "Asia/Tokyo"),
        ("asia/tokyo", "Asia/Tokyo"),
        (":Asia/Tokyo", "Asia/Tokyo"),
        ("/usr/share/zoneinfo/Asia/Tokyo", "Asia/Tokyo"),
        ("JST-9", "Etc/GMT-9"),  # POSIX: 9 hours east, which Etc/GMT-9 also means
        ("EST+5", "Etc/GMT+5"),
        ("<+03>-3", "Etc/GMT-3"),
        ("UTC0", "UTC"),
        ("", "UTC"),
    ],
)
def test_the_tz_variable_gives_a_name_resolve_accepts(tmp_path: Path, tz: str, name: str) -> None:
    assert local_name({"TZ": tz}, **_no_files(tmp_path)) == name
    assert resolve(name)[1] == name


@pytest.mark.parametrize("tz", ["garbage", "IST-5:30", "XYZ-15"])  # not a zone; half hours and beyond ±14 have no Etc name
def test_a_tz_variable_that_names_no_zone_is_an_error(tmp_path: Path, tz: str) -> None:
    with pytest.raises(ZoneError, match="TZ environment variable"):
        local_name({"TZ": tz}, **_no_files(tmp_path))


def test_without_tz_the_localtime_symlink_names_the_zone(tmp_path: Path) -> None:
    link = tmp_path / "localtime"
    link.symlink_to("../usr/share/zoneinfo/Europe/Paris")  # relative, as some distributions make it
    (tmp_path / "timezone").write_text("Asia/Tokyo\n")
    assert local_name({}, localtime=link, timezone_file=tmp_path / "timezone") == "Europe/Paris"


def test_a_copied_localtime_falls_back_to_etc_timezone_then_utc(tmp_path: Path) -> None:
    copied = tmp_path / "localtime"
    copied.write_bytes(b"TZif")  # a copy, not a symlink: it names nothing
    timezone_file = tmp_path / "timezone"
    timezone_file.write_text("america/chicago\n")
    assert local_name({}, localtime=copied, timezone_file=timezone_file) == "America/Chicago"
    timezone_file.write_text("Not/A_Zone\n")
    assert local_name({}, localtime=copied, timezone_file=timezone_file) == "UTC"
    assert local_name({}, **_no_files(tmp_path)) == "UTC"
