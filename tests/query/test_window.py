"""query.window: windows of instants, and the local hours and days a series is cut into."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from agentwatch.query.period import PeriodError
from agentwatch.query.window import between, last_days, last_hour, slots, today

S = 10**9
HOUR = 3600 * S
QUARTER = 900 * S


def at(text: str) -> int:
    """An ISO instant with its offset, in nanoseconds."""
    return int(datetime.fromisoformat(text).timestamp()) * S


def local(ns: int, tz: str) -> str:
    return datetime.fromtimestamp(ns / S, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


NOW = at("2026-11-23T12:07:30+00:00")


def test_the_last_hour_ends_with_now_and_is_cut_into_the_whole_hours_it_touches() -> None:
    w = last_hour("UTC", NOW)
    # [11:07:30 + 1 ns, 12:07:30 + 1 ns): the instant now is in it, an hour ago is not
    assert (w.start_ns, w.end_ns) == (NOW - HOUR + 1, NOW + 1)
    assert [local(s.start_ns, "UTC") for s in slots(w)] == ["2026-11-23 11:00", "2026-11-23 12:00"]
    assert [s.end_bucket - s.first_bucket for s in slots(w)] == [4, 4]  # 60 / 15 = 4 quarter hours


def test_today_runs_from_local_midnight_to_now() -> None:
    w = today("Europe/Berlin", NOW)  # 12:07 UTC = 13:07 in Berlin (UTC+1 in November)
    assert local(w.start_ns, "Europe/Berlin") == "2026-11-23 00:00"
    assert w.start_ns == at("2026-11-22T23:00:00+00:00")
    assert w.hourly
    assert len(slots(w)) == 14  # 00:00 .. 13:00 Berlin time: 14 hours


def test_in_a_half_hour_zone_the_hours_start_at_half_past_utc_and_stay_four_buckets() -> None:
    w = last_hour("Asia/Kolkata", NOW)  # 12:07:30 UTC = 17:37:30 IST (UTC+5:30)
    cut = slots(w)
    assert [local(s.start_ns, "Asia/Kolkata") for s in cut] == ["2026-11-23 16:00", "2026-11-23 17:00"]
    assert cut[0].start_ns == at("2026-11-23T10:30:00+00:00")  # 16:00 IST is 10:30 UTC
    assert [s.end_bucket - s.first_bucket for s in cut] == [4, 4]


def test_in_a_quarter_hour_zone_the_hours_start_at_a_quarter_past_utc() -> None:
    cut = slots(last_hour("Asia/Kathmandu", NOW))  # UTC+5:45: 12:07:30 UTC = 17:52:30 NPT
    assert cut[0].start_ns == at("2026-11-23T10:15:00+00:00")  # 16:00 NPT
    assert [s.end_bucket - s.first_bucket for s in cut] == [4, 4]


def test_the_day_dst_ends_has_25_hours_and_two_one_oclocks() -> None:
    # New York left DST on 2026-11-01 at 02:00 EDT (06:00 UTC): the clock showed 01:00 twice.
    now = at("2026-11-01T23:30:00-05:00")
    cut = slots(today("America/New_York", now))
    assert len(cut) == 24 + 1  # 00:00 .. 23:00, with 01:00 twice
    assert [local(s.start_ns, "America/New_York") for s in cut[:4]] == [
        "2026-11-01 00:00", "2026-11-01 01:00", "2026-11-01 01:00", "2026-11-01 02:00",
    ]  # fmt: skip


def test_the_last_7_days_are_today_and_the_six_whole_days_before_it_per_day() -> None:
    w = last_days(7, "UTC", NOW)
    assert local(w.start_ns, "UTC") == "2026-11-17 00:00"  # 23 - 6 = 17
    assert not w.hourly
    cut = slots(w)
    assert [local(s.start_ns, "UTC")[:10] for s in cut] == [f"2026-11-{d}" for d in range(17, 24)]
    assert {s.end_bucket - s.first_bucket for s in cut} == {96}  # 24 x 4 quarter hours


def test_a_day_slot_across_a_dst_change_is_23_hours_of_buckets() -> None:
    # Berlin began DST on 2026-03-29: that local day has 23 hours = 92 quarter hours.
    w = between(at("2026-03-28T00:00:00+01:00"), at("2026-03-31T00:00:00+02:00"), "Europe/Berlin")
    assert [s.end_bucket - s.first_bucket for s in slots(w)] == [96, 92, 96]


def test_a_window_that_does_not_end_after_it_starts_is_refused() -> None:
    with pytest.raises(PeriodError):
        between(NOW, NOW, "UTC")
    with pytest.raises(PeriodError):
        last_days(0, "UTC", NOW)
    with pytest.raises(PeriodError, match="unknown time zone"):
        last_hour("Mars/Olympus", NOW)
