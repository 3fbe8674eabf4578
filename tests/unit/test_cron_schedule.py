"""Cron schedules: which are valid, and when they fire next (in UTC and across DST changes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from aegra.domain.crons.schedule import as_utc, check_schedule, check_timezone, next_run_date
from aegra.errors import Invalid


@pytest.mark.parametrize("schedule", ["* * * * *", "*/5 * * * *", "0 9 * * 1-5", "30 6 1,15 * *", "0 0 1 1 *"])
def test_standard_schedules_are_valid(schedule: str) -> None:
    assert check_schedule(schedule) == schedule


@pytest.mark.parametrize(
    "schedule", ["", "every minute", "* * * *", "* * * * * *", "61 * * * *", "* 24 * * *", "@daily", "* * * * mon-"]
)
def test_other_schedules_are_refused(schedule: str) -> None:
    with pytest.raises(Invalid, match="Invalid cron schedule"):
        check_schedule(schedule)


@pytest.mark.parametrize("name", ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", None])
def test_iana_timezones_are_valid(name: str | None) -> None:
    assert check_timezone(name) == name


@pytest.mark.parametrize("name", ["", "Mars/Olympus_Mons", "../../etc/passwd", "+02:00", "Europe/"])
def test_other_timezones_are_refused(name: str) -> None:
    with pytest.raises(Invalid, match="Invalid timezone"):
        check_timezone(name)


def test_next_run_is_strictly_after_and_in_utc() -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert next_run_date("* * * * *", now) == datetime(2026, 3, 10, 12, 1, tzinfo=UTC)
    assert next_run_date("*/15 * * * *", now + timedelta(seconds=1)) == datetime(2026, 3, 10, 12, 15, tzinfo=UTC)
    assert next_run_date("0 9 * * *", now).tzinfo is UTC


def test_next_run_follows_the_timezone_across_daylight_saving() -> None:
    # New York moves from UTC-5 to UTC-4 on 2026-03-08: 09:00 local is 14:00 UTC before, 13:00 after.
    before = next_run_date("0 9 * * *", datetime(2026, 3, 6, 15, 0, tzinfo=UTC), "America/New_York")
    after = next_run_date("0 9 * * *", datetime(2026, 3, 8, 15, 0, tzinfo=UTC), "America/New_York")
    assert before == datetime(2026, 3, 7, 14, 0, tzinfo=UTC)
    assert after == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)


def test_times_without_a_zone_are_utc() -> None:
    assert as_utc(datetime(2026, 1, 1, 8)) == datetime(2026, 1, 1, 8, tzinfo=UTC)
    assert as_utc(datetime(2026, 1, 1, 8, tzinfo=timezone(timedelta(hours=2)))) == datetime(2026, 1, 1, 6, tzinfo=UTC)
    assert as_utc(None) is None
