"""Report periods: ISO weeks and date ranges of local days in the configured zone.

Stored times are UTC; a period's bounds are local midnights, and its mentions are counted per local day
by careline.services.localdays (the one place days are cut, exact across daylight-saving changes).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from careline.errors import InvalidInput
from careline.services.localdays import local_midnight

_WEEK_RE = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.I)


@dataclass(frozen=True)
class Period:
    """A half-open span of local days [first, last + 1 day) in `zone`, with its UTC bounds."""

    first: date
    last: date
    zone: ZoneInfo
    label: str  # "2026-W47" for a week, "2026-11-01_2026-11-14" for a range

    @property
    def start_utc(self) -> datetime:
        return local_midnight(self.first, self.zone)

    @property
    def end_utc(self) -> datetime:
        return local_midnight(self.last + timedelta(days=1), self.zone)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


def parse_week(text: str) -> tuple[int, int]:
    match = _WEEK_RE.match(text.strip())
    if not match:
        raise InvalidInput(f"{text!r} is not an ISO week; write it like 2026-W47.")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise InvalidInput(f"{year} has no ISO week {week}.") from None
    return year, week


def week_period(iso_week: str, zone: ZoneInfo) -> Period:
    year, week = parse_week(iso_week)
    monday = date.fromisocalendar(year, week, 1)
    return Period(monday, monday + timedelta(days=6), zone, f"{year}-W{week:02d}")


def week_of(day: date, zone: ZoneInfo) -> Period:
    year, week, _ = day.isocalendar()
    return week_period(f"{year}-W{week:02d}", zone)


def last_complete_week(zone: ZoneInfo, now: datetime | None = None) -> Period:
    """The most recent Monday-to-Sunday week that has fully ended in `zone`."""
    now = now or datetime.now(timezone.utc)
    today = now.astimezone(zone).date()
    this_monday = today - timedelta(days=today.weekday())
    return week_of(this_monday - timedelta(days=7), zone)


def previous_week(period: Period) -> Period:
    return week_of(period.first - timedelta(days=7), period.zone)


def range_period(first: date, last: date, zone: ZoneInfo) -> Period:
    if last < first:
        raise InvalidInput(f"The range ends ({last}) before it starts ({first}).")
    if (last - first).days > 366 * 2:
        raise InvalidInput("A report range can span at most two years.")
    return Period(first, last, zone, f"{first.isoformat()}_{last.isoformat()}")
