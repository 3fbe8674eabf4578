"""Cron schedules and time zones: validation, and when a schedule fires next.

A schedule is the standard five fields (minute hour day-of-month month day-of-week), read by
`croniter` in the cron's IANA time zone (UTC when it has none), so "0 9 * * *" in
Europe/Paris fires at 09:00 Paris time on both sides of a daylight-saving change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aegra.errors import Invalid

FIELDS = 5


def check_schedule(schedule: str) -> str:
    # croniter also takes a sixth (seconds) field and `@daily`-style names; the API promises the
    # five standard fields, and a per-second schedule would keep a worker busy doing nothing else.
    from croniter import croniter  # here: its import runs `file` on the interpreter (platform.architecture)

    if len(schedule.split()) != FIELDS or not croniter.is_valid(schedule):
        raise Invalid(
            f"Invalid cron schedule: {schedule!r}. Use the standard cron format "
            "(minute hour day_of_month month day_of_week), e.g. '*/5 * * * *' for every 5 minutes."
        )
    return schedule


def check_timezone(timezone: str | None) -> str | None:
    if timezone is None:
        return None
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"Invalid timezone: {timezone!r}. Use an IANA time zone name, e.g. 'America/New_York'.") from None
    return timezone


def as_utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is taken as UTC (the SDK sends whatever `isoformat()` gives)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def next_run_date(schedule: str, after: datetime, timezone: str | None = None) -> datetime:
    """The first time strictly after `after` that `schedule` fires, in UTC."""
    from croniter import croniter

    base = after.astimezone(ZoneInfo(timezone) if timezone else UTC)
    return croniter(schedule, base).get_next(datetime).astimezone(UTC)
