"""A period of whole local days in a time zone, as 15-minute rollup buckets.

Rollups are kept per 15 minutes of UTC because every zone's offset is a whole
number of quarter hours, so each local day is an exact run of buckets, DST days
(23 or 25 hours) included, in any zone the user asks for.
"""

from __future__ import annotations

import re

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Sequence

from agentwatch.measures import BUCKET_NS
from agentwatch.query.zones import ZoneError, resolve

NS = 10**9


class PeriodError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Day:
    date: date
    first_bucket: int  # inclusive
    end_bucket: int  # exclusive


@dataclass(frozen=True, slots=True)
class Period:
    since: date
    until: date  # inclusive
    tz_name: str
    days: tuple[Day, ...]

    @property
    def first_bucket(self) -> int:
        return self.days[0].first_bucket

    @property
    def end_bucket(self) -> int:
        return self.days[-1].end_bucket

    @property
    def start_ns(self) -> int:
        return self.first_bucket * BUCKET_NS

    @property
    def end_ns(self) -> int:
        return self.end_bucket * BUCKET_NS


MAX_DAYS = 3700  # ten years; more is a typo, and the day table is built in memory


def zone(name: str | None) -> tuple[tzinfo, str]:
    """The zone by IANA name in any case, or the machine's, with the name to report (query.zones)."""
    try:
        return resolve(name)
    except ZoneError as exc:
        raise PeriodError(str(exc)) from None


# The two spellings the help names; date.fromisoformat alone would also take week dates (2026-W49-1).
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$|^\d{8}$")
DATE_FORMS = "YYYY-MM-DD or YYYYMMDD"


def parse_date(text: str) -> date:
    try:
        if _DATE.match(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise PeriodError(f"{text!r} is not a date ({DATE_FORMS})")


def _midnight_bucket(day: date, tz: tzinfo) -> int:
    local = datetime.combine(day, time(0), tzinfo=tz)
    seconds = int(local.timestamp())
    # A zone whose midnight is not on a quarter hour (historical local mean time) still
    # gets every record exactly once: the bucket holding midnight goes to the day it starts.
    return seconds * NS // BUCKET_NS


def period(since: date, until: date, tz_name: str | None) -> Period:
    if until < since:
        raise PeriodError(f"--until {until} is before --since {since}")
    if (until - since).days >= MAX_DAYS:
        raise PeriodError(f"a period is at most {MAX_DAYS} days")
    tz, label = zone(tz_name)
    days = []
    current = since
    start = _midnight_bucket(current, tz)
    while current <= until:
        following = current + timedelta(days=1)
        end = _midnight_bucket(following, tz)
        days.append(Day(current, start, end))
        current, start = following, end
    return Period(since, until, label, tuple(days))


def today(tz_name: str | None) -> date:
    tz, _ = zone(tz_name)
    return datetime.now(tz).date()


def slot_index(bounds: Sequence[tuple[int, int]], column: str) -> str:
    """SQL: the index in `bounds` of the run [first, end) of buckets a column falls in, NULL outside.

    Runs are contiguous and come in stretches of equal length (96 quarter hours a day;
    92 or 100 on a DST change; 4 an hour), so a handful of arithmetic cases replace a
    lookup per row. Only integers computed here are written into the SQL.
    """
    runs: list[list[int]] = []  # [first bucket, end bucket, first index, buckets per slot]
    for index, (first, end) in enumerate(bounds):
        length = end - first
        if length <= 0:
            continue  # a slot shorter than its bucket (local mean time) holds no bucket of its own
        if runs and runs[-1][3] == length and runs[-1][1] == first:
            runs[-1][1] = end
        else:
            runs.append([first, end, index, length])
    cases = " ".join(
        f"WHEN {column} < {end} THEN {index} + ({column} - {start}) / {length}"
        for start, end, index, length in runs
    )
    return f"(CASE WHEN {column} < {bounds[0][0]} THEN NULL {cases} END)"
