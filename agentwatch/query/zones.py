"""Time zones by IANA name: the one place a zone is looked up or the machine's is found.

Every zone agentwatch reports is a name it accepts back (`--tz` of the JSON's `tz`):
Python's local zone would name Asia/Tokyo "JST", which no IANA lookup knows. So the
machine's zone is found the way the C library does, by name: the TZ variable, else
the /etc/localtime symlink, else /etc/timezone, else UTC. A TZ that names no zone is
an error rather than a silent UTC, because every day boundary would be wrong.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

LOCALTIME = Path("/etc/localtime")
TIMEZONE_FILE = Path("/etc/timezone")  # Debian's plain-text copy of the name

# A POSIX TZ with a fixed offset and no DST rule ("JST-9", "<+0530>-5:30"): POSIX counts
# hours west of UTC, as the Etc/GMT±N names do, so "JST-9" is Etc/GMT-9 (UTC+9).
_POSIX_FIXED = re.compile(r"^(?:[A-Za-z]{3,}|<[A-Za-z0-9+-]+>)([+-]?)(\d{1,2})(?::(\d{2}))?$")


class ZoneError(ValueError):
    """A zone name (from --tz or TZ) that is not a time zone; the message says which."""


@functools.cache
def _by_folded_name() -> dict[str, str]:
    # Read once per process, and only when a name is not found as typed (a directory walk).
    return {name.casefold(): name for name in available_timezones()}


def canonical(name: str) -> str | None:
    """The IANA spelling of name, whatever its case ('europe/paris' → 'Europe/Paris'), else None."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return _by_folded_name().get(name.casefold())
    # Found as typed: accepted back as typed. Listing every zone costs ~70 ms, so only a miss pays it.
    return name


def _from_posix(value: str) -> str | None:
    match = _POSIX_FIXED.match(value)
    if match is None or match.group(3) not in (None, "00"):
        return None  # Etc/GMT±N holds whole hours only
    hours = int(match.group(2))
    if hours == 0:
        return "UTC"
    name = f"Etc/GMT{'-' if match.group(1) == '-' else '+'}{hours}"
    return name if hours <= (14 if match.group(1) == "-" else 12) else None


def _from_path(target: str) -> str | None:
    """The zone a zoneinfo file path names (…/zoneinfo/Europe/Paris → Europe/Paris)."""
    _, found, name = target.partition("zoneinfo/")
    return canonical(name) if found and name else None


def _from_tz(value: str) -> str:
    if value == "":  # set but empty: the C library's UTC
        return "UTC"
    value = value.removeprefix(":")
    name = _from_path(value) if value.startswith("/") else canonical(value) or _from_posix(value)
    if name is None:
        raise ZoneError(f"the TZ environment variable ({value!r}) is not a time zone; set it to an IANA name such as Europe/Berlin, or unset it")
    return name


def local_name(
    environ: Mapping[str, str] = os.environ, localtime: Path = LOCALTIME, timezone_file: Path = TIMEZONE_FILE
) -> str:
    """The machine's zone as an IANA name; ZoneError when TZ is set to something else."""
    if "TZ" in environ:
        return _from_tz(environ["TZ"])
    try:
        name = _from_path(os.readlink(localtime))
    except OSError:  # not a symlink (a copied file) or missing
        name = None
    if name is None:
        try:
            name = canonical(timezone_file.read_text().strip())
        except (OSError, ValueError):
            name = None
    return name or "UTC"


def resolve(name: str | None) -> tuple[ZoneInfo, str]:
    """The zone named (any case), else the machine's; with the IANA name to report."""
    if name:
        found = canonical(name)
        if found is None:
            raise ZoneError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin or UTC)")
    else:
        found = local_name()
    return ZoneInfo(found), found
