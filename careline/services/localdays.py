"""Local calendar days from stored UTC times, exact across daylight-saving changes: the one way Careline
cuts days (Trends, the weekly export and its trend chart, date ranges in the dashboard).

A range is split where the zone's UTC offset changes (`offset_segments`); inside a segment a local day is
a fixed shift of UTC, so the database groups by day directly (`day_expr`) and returns one row per day and
group instead of one per hour. A local day can be 23 or 25 hours long; both halves of a DST day fall in
different segments and add up to the same date.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

# builds the queries for one segment: (the day column, segment start, segment end) -> selects whose first
# column is that day
SegmentQueries = Callable[[sa.ColumnElement[Any], datetime, datetime], Iterable[sa.Select[Any]]]


def _zone(zone: ZoneInfo | str) -> ZoneInfo:
    return ZoneInfo(zone) if isinstance(zone, str) else zone


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant at which local `day` starts (where a DST jump skips midnight, zoneinfo lands on the
    first valid instant)."""
    return datetime.combine(day, time(0), zone).astimezone(timezone.utc)


def day_range(days: int, zone: ZoneInfo | str = "UTC", today: date | None = None) -> tuple[datetime, datetime]:
    """[start, end) in UTC covering the last `days` whole local days including today."""
    zone = _zone(zone)
    today = today or datetime.now(zone).date()
    return local_midnight(today - timedelta(days=days - 1), zone), local_midnight(today + timedelta(days=1), zone)


def offset_segments(since: datetime, until: datetime, zone: ZoneInfo) -> list[tuple[datetime, datetime, int]]:
    """Split [since, until) where the zone's UTC offset changes (DST): (start, end, offset minutes) each."""
    def offset(at: datetime) -> int:
        delta = at.astimezone(zone).utcoffset()
        return int(delta.total_seconds() // 60) if delta else 0

    segments = []
    start, current, probe = since, offset(since), since
    while probe < until:
        nxt = min(probe + timedelta(hours=1), until)
        if offset(nxt - timedelta(microseconds=1)) != current:  # it changed inside this hour
            edge = probe.replace(second=0, microsecond=0)
            while offset(edge) == current:
                edge += timedelta(minutes=1)
            segments.append((start, edge, current))
            start, current = edge, offset(edge)
        probe = nxt
    segments.append((start, until, current))
    return [seg for seg in segments if seg[0] < seg[1]]


def day_expr(session: Session, column: Any, offset_minutes: int) -> sa.ColumnElement[Any]:
    """The local calendar day (text, YYYY-MM-DD) of a UTC timestamp column under a fixed UTC offset."""
    if session.get_bind().dialect.name == "postgresql":
        shifted = sa.func.timezone("UTC", column) + sa.text(f"interval '{int(offset_minutes)} minutes'")
        return sa.func.to_char(shifted, "YYYY-MM-DD")
    if not offset_minutes:  # a modifier costs ~30% more per row on SQLite
        return sa.func.date(column)
    # With a modifier SQLite rounds the fraction to the millisecond first, so 23:59:59.9996 would land on
    # the next day: cut the stored text ("2026-11-16 09:12:44.999999") to whole seconds (offsets are whole
    # minutes, so the local day is the same).
    return sa.func.date(sa.func.substr(column, 1, 19), f"{int(offset_minutes):+d} minutes")


def per_day(session: Session, column: Any, since: datetime, until: datetime, zone: ZoneInfo | str,
            queries: SegmentQueries) -> Iterator[tuple[date, sa.Row[Any]]]:
    """Run `queries` once per offset segment of [since, until) and yield (local day, row) for each row;
    the caller filters `column` to [segment start, segment end) and groups by the day column it is given."""
    for start, end, offset in offset_segments(since, until, _zone(zone)):
        day = day_expr(session, column, offset).label("local_day")
        for stmt in queries(day, start, end):
            for row in session.execute(stmt):
                yield date.fromisoformat(row[0]), row
