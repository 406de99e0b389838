"""A window of instants, [start_ns, end_ns), in a time zone, and its slots.

Surfaces ask for the last hour, today so far, the last 7 days or a custom
range; a series over a window is cut into slots of local hours (a window of up
to a day) or local days (longer). Rollups are kept per 15 minutes of UTC, and
every zone's offset is a whole number of quarter hours, so every local hour and
day is an exact run of buckets: in a zone of a whole-hour offset a local hour is
a UTC hour; in India (+5:30) or Nepal (+5:45) it starts at :30 or :15 UTC and is
still exactly four buckets, because slots are cut at local boundaries, never by
the UTC hour.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from agentwatch.measures import BUCKET_NS
from agentwatch.query.period import NS, PeriodError, zone

HOUR_NS = 3600 * NS
DAY_NS = 24 * HOUR_NS
LONGEST_DAY_NS = 25 * HOUR_NS + NS  # the day DST ends, plus the instant "now" windows end after


@dataclass(frozen=True, slots=True)
class Window:
    start_ns: int  # inclusive
    end_ns: int  # exclusive
    tz: tzinfo  # where its hours and days start
    tz_name: str  # as query.period.zone named it

    @property
    def hourly(self) -> bool:
        """A series over this window is per hour (a day or less), else per day."""
        return self.end_ns - self.start_ns <= LONGEST_DAY_NS


def _now_ns(now_ns: int | None) -> int:
    return time.time_ns() if now_ns is None else now_ns


def between(start_ns: int, end_ns: int, tz_name: str | None = None) -> Window:
    """A custom range; the zone decides where its hours and days start."""
    return _window(start_ns, end_ns, *zone(tz_name))


def _window(start_ns: int, end_ns: int, tz: tzinfo, tz_name: str) -> Window:
    if end_ns <= start_ns:
        raise PeriodError("a window ends after it starts")
    return Window(start_ns, end_ns, tz, tz_name)


# Windows that end now include the instant now: [.., now + 1).


def last_hour(tz_name: str | None = None, now_ns: int | None = None) -> Window:
    now = _now_ns(now_ns)
    return between(now + 1 - HOUR_NS, now + 1, tz_name)


def _local_midnight(instant_ns: int, tz: tzinfo, days_back: int = 0) -> int:
    day = datetime.fromtimestamp(instant_ns / NS, tz).date() - timedelta(days=days_back)
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()) * NS


def today(tz_name: str | None = None, now_ns: int | None = None) -> Window:
    """From local midnight to now."""
    now = _now_ns(now_ns)
    tz, name = zone(tz_name)
    return _window(_local_midnight(now, tz), now + 1, tz, name)


def last_days(days: int, tz_name: str | None = None, now_ns: int | None = None) -> Window:
    """Today so far and the `days - 1` whole local days before it (last_days(7): a week)."""
    if days < 1:
        raise PeriodError("a window is at least one day")
    now = _now_ns(now_ns)
    tz, name = zone(tz_name)
    return _window(_local_midnight(now, tz, days - 1), now + 1, tz, name)


@dataclass(frozen=True, slots=True)
class Slot:
    """One local hour or day of a window, as the run of buckets [first_bucket, end_bucket)."""

    start_ns: int
    end_ns: int
    first_bucket: int
    end_bucket: int


def _bucket(instant_ns: int) -> int:
    # The bucket an instant is in; a local boundary off the quarter hour (historical
    # local mean time) gives its bucket to the slot it starts, so nothing counts twice.
    return instant_ns // BUCKET_NS


def slots(window: Window) -> tuple[Slot, ...]:
    """The whole local hours (or days) that overlap the window, in order.

    A series reports whole slots: the last hour at 12:07 is the hours from 11:00
    and from 12:00, as rollups know a quarter hour, not the minute.
    """
    tz = window.tz
    edges = _hour_edges(window, tz) if window.hourly else _day_edges(window, tz)
    return tuple(Slot(a, b, _bucket(a), _bucket(b)) for a, b in zip(edges, edges[1:]))


def _hour_edges(window: Window, tz: tzinfo) -> list[int]:
    # Every local hour starts on a quarter hour of UTC: step by quarter hours and keep
    # those where the local clock shows minute 0 (the hours of a DST change included).
    edges = [_hour_start(window.start_ns, tz)]
    edge = edges[0]
    while edges[-1] < window.end_ns:
        edge += BUCKET_NS
        if datetime.fromtimestamp(edge / NS, tz).minute == 0:
            edges.append(edge)
    return edges


def _hour_start(instant_ns: int, tz: tzinfo) -> int:
    local = datetime.fromtimestamp(instant_ns // NS, tz)
    return (instant_ns // NS - local.minute * 60 - local.second) * NS


def _day_edges(window: Window, tz: tzinfo) -> list[int]:
    edges = [_local_midnight(window.start_ns, tz)]
    while edges[-1] < window.end_ns:
        edges.append(_local_midnight(edges[-1] + DAY_NS + 3 * HOUR_NS, tz))  # past a 25-hour day
    return edges
