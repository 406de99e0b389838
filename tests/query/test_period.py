"""query.period: a period of whole local days as runs of 15-minute UTC buckets.

Expected bucket numbers are written from UTC times worked out by hand (a bucket is
900 s of Unix time: bucket = unix seconds // 900).
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from agentwatch.query.period import MAX_DAYS, PeriodError, parse_date, period, zone

QUARTER = 900


def bucket(utc: str) -> int:
    """The bucket that starts at a UTC time written by hand (a quarter hour)."""
    seconds = int(datetime.fromisoformat(utc + "+00:00").timestamp())
    assert seconds % QUARTER == 0
    return seconds // QUARTER


def hours(first: int, end: int) -> float:
    return (end - first) * QUARTER / 3600


def one_day(day: str, tz: str) -> tuple[int, int]:
    (d,) = period(date.fromisoformat(day), date.fromisoformat(day), tz).days
    assert d.date == date.fromisoformat(day)
    return d.first_bucket, d.end_bucket


@pytest.mark.parametrize(
    ("tz", "day", "starts_utc", "ends_utc", "length"),
    [
        ("UTC", "2026-11-23", "2026-11-23T00:00", "2026-11-24T00:00", 24),
        # PST, −08:00
        ("America/Los_Angeles", "2026-11-23", "2026-11-23T08:00", "2026-11-24T08:00", 24),
        # +05:45: midnight is 18:15 UTC the day before, on a quarter hour
        ("Asia/Kathmandu", "2026-11-23", "2026-11-22T18:15", "2026-11-23T18:15", 24),
        # +05:30
        ("Asia/Kolkata", "2026-11-23", "2026-11-22T18:30", "2026-11-23T18:30", 24),
        # +13:45 in (southern) summer
        ("Pacific/Chatham", "2026-11-23", "2026-11-22T10:15", "2026-11-23T10:15", 24),
        # US spring forward (2nd Sunday of March): 08:00Z (PST) to 07:00Z (PDT) = 23 h
        ("America/Los_Angeles", "2026-03-08", "2026-03-08T08:00", "2026-03-09T07:00", 23),
        # US fall back (1st Sunday of November): 07:00Z (PDT) to 08:00Z (PST) = 25 h
        ("America/Los_Angeles", "2026-11-01", "2026-11-01T07:00", "2026-11-02T08:00", 25),
        # EU: last Sunday of March, 23 h; last Sunday of October, 25 h
        ("Europe/Berlin", "2026-03-29", "2026-03-28T23:00", "2026-03-29T22:00", 23),
        ("Europe/Berlin", "2026-10-25", "2026-10-24T22:00", "2026-10-25T23:00", 25),
        # Lord Howe moves by half an hour: 23.5 h (+10:30 → +11:00)
        ("Australia/Lord_Howe", "2026-10-04", "2026-10-03T13:30", "2026-10-04T13:00", 23.5),
        # Chile springs forward at midnight: 00:00 does not exist, the day starts at 01:00 −03
        # (04:00Z, the instant the clocks jumped) and ends at 00:00 −03 (03:00Z): 23 h
        ("America/Santiago", "2026-09-06", "2026-09-06T04:00", "2026-09-07T03:00", 23),
        # Cuba falls back at 01:00 → 00:00: the day starts at the first 00:00 (−04, 04:00Z) and
        # ends at 00:00 −05 (05:00Z the next day): 25 h, the repeated hour inside it
        ("America/Havana", "2026-11-01", "2026-11-01T04:00", "2026-11-02T05:00", 25),
    ],
)
def test_a_day_is_its_local_midnights_as_buckets(tz: str, day: str, starts_utc: str, ends_utc: str, length: float) -> None:
    first, end = one_day(day, tz)
    assert (first, end) == (bucket(starts_utc), bucket(ends_utc))
    assert hours(first, end) == length


def test_consecutive_days_share_their_edges_across_a_dst_change() -> None:
    # LA 2026-03-07..10: 24 h, 23 h (spring forward on the 8th), 24 h, 24 h; no gap, no overlap
    p = period(date(2026, 3, 7), date(2026, 3, 10), "America/Los_Angeles")
    assert [d.date.isoformat() for d in p.days] == ["2026-03-07", "2026-03-08", "2026-03-09", "2026-03-10"]
    assert [hours(d.first_bucket, d.end_bucket) for d in p.days] == [24, 23, 24, 24]
    assert all(a.end_bucket == b.first_bucket for a, b in zip(p.days, p.days[1:]))
    assert p.first_bucket == bucket("2026-03-07T08:00")
    assert p.end_bucket == bucket("2026-03-11T07:00")
    assert p.start_ns == bucket("2026-03-07T08:00") * QUARTER * 10**9
    assert p.end_ns == bucket("2026-03-11T07:00") * QUARTER * 10**9


def test_a_one_day_period_since_equals_until() -> None:
    p = period(date(2026, 11, 23), date(2026, 11, 23), "UTC")
    assert (p.since, p.until, p.tz_name, len(p.days)) == (date(2026, 11, 23), date(2026, 11, 23), "UTC", 1)


def test_a_year_across_a_leap_day_has_a_day_each() -> None:
    p = period(date(2028, 1, 1), date(2028, 12, 31), "Europe/Berlin")
    assert len(p.days) == 366  # 2028 is a leap year
    # a year of local days is 366 × 24 h, the 23 h and 25 h days cancelling out
    assert hours(p.first_bucket, p.end_bucket) == 366 * 24


def test_until_before_since_is_an_error() -> None:
    with pytest.raises(PeriodError, match="before"):
        period(date(2026, 11, 23), date(2026, 11, 22), "UTC")


def test_a_period_longer_than_the_limit_is_an_error() -> None:
    start = date(2000, 1, 1)
    period(start, date.fromordinal(start.toordinal() + MAX_DAYS - 1), "UTC")  # exactly the limit: fine
    with pytest.raises(PeriodError, match="at most"):
        period(start, date.fromordinal(start.toordinal() + MAX_DAYS), "UTC")


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "not a zone", "../../etc/passwd", "UTC+5"])
def test_an_unknown_zone_is_an_error_naming_it(name: str) -> None:
    with pytest.raises(PeriodError, match="unknown time zone"):
        zone(name)
    with pytest.raises(PeriodError):
        period(date(2026, 11, 23), date(2026, 11, 23), name)


def test_no_zone_means_the_machines_own() -> None:
    tz, label = zone(None)
    assert label and tz.utcoffset(datetime(2026, 11, 23)) is not None


@pytest.mark.parametrize("text", ["2026-13-01", "2026-02-30", "yesterday", "", "23/11/2026"])
def test_a_bad_date_is_an_error(text: str) -> None:
    with pytest.raises(PeriodError, match="not a date"):
        parse_date(text)


def test_an_iso_date_parses() -> None:
    assert parse_date("2026-11-23") == date(2026, 11, 23)
