"""Calendar arithmetic for reports: ISO weeks and local days cut in the configured zone.

Stored times are UTC. SQL groups mentions by UTC bucket (an integer: seconds since the epoch divided
by the bucket size) and Python folds buckets into local days with `zoneinfo`, which stays exact across
daylight-saving changes (a local day can be 23 or 25 hours long) without any time-zone support in SQLite.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from careline.errors import InvalidInput

_WEEK_RE = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.I)
HOUR = 3600
QUARTER_HOUR = 900


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

    def bucket_seconds(self) -> int:
        """Hours are exact unless the zone's offset has minutes (India, Nepal...): then quarter hours."""
        for day in self.days + [self.last + timedelta(days=1)]:
            offset = datetime.combine(day, time(12), self.zone).utcoffset() or timedelta(0)
            if offset.total_seconds() % HOUR:
                return QUARTER_HOUR
        return HOUR


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant at which local `day` starts (midnight exists in every zone we know of at 00:00;
    where a DST jump skips it, zoneinfo's fold handling lands on the first valid instant)."""
    local = datetime.combine(day, time(0), zone)
    return local.astimezone(timezone.utc)


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


def bucket_to_local_date(bucket: int, size: int, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(bucket * size, timezone.utc).astimezone(zone).date()


class DayFolder:
    """Caches bucket → local date (a week has at most 672 quarter hours, so this stays tiny)."""

    def __init__(self, size: int, zone: ZoneInfo) -> None:
        self.size, self.zone = size, zone
        self._cache: dict[int, date] = {}

    def __call__(self, bucket: int) -> date:
        day = self._cache.get(bucket)
        if day is None:
            day = self._cache[bucket] = bucket_to_local_date(bucket, self.size, self.zone)
        return day
