"""Local days cut in one place (services.localdays): Trends and the weekly export agree across DST and
in zones whose offset has minutes."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.reports import queries
from careline.reports.periods import range_period, week_period
from careline.services import localdays, trends
from careline.services.ingest import ingest
from tests.conftest import make_raw


def _at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def _seed(engine: Engine, times: list[datetime]) -> None:
    with Session(engine) as s:
        ingest(s, [make_raw(external_id=f"ld{i}", created_at=t) for i, t in enumerate(times)], brand_id=None)


def _trends_days(engine: Engine, first: date, last: date, zone: ZoneInfo) -> dict[date, int]:
    period = range_period(first, last, zone)
    with Session(engine) as s:
        rows = trends.volume(s, period.start_utc, period.end_utc, zone=zone)
    out: dict[date, int] = {}
    for r in rows:
        out[r.period] = out.get(r.period, 0) + r.count
    return out


def _report_days(engine: Engine, period_first: date, period_last: date, zone: ZoneInfo) -> dict[date, int]:
    with Session(engine) as s:
        counts = queries.daily_counts(s, range_period(period_first, period_last, zone))
    out: dict[date, int] = {}
    for (day, *_rest), n in counts.per_brand.items():
        out[day] = out.get(day, 0) + n
    return out


def test_a_dst_day_is_cut_the_same_by_trends_and_the_export(any_engine: Engine) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # Sun 25 Oct 2026 is 25 hours long in Berlin: 22:00 UTC on the 24th is its first hour, 22:59 UTC on
    # the 25th its last; 23:00 UTC on the 25th is already Monday
    _seed(any_engine, [_at(2026, 10, 24, 21, 59), _at(2026, 10, 24, 22, 0), _at(2026, 10, 25, 0, 30),
                       _at(2026, 10, 25, 1, 30), _at(2026, 10, 25, 22, 59), _at(2026, 10, 25, 23, 0)])
    want = {date(2026, 10, 24): 1, date(2026, 10, 25): 4, date(2026, 10, 26): 1}
    assert _trends_days(any_engine, date(2026, 10, 24), date(2026, 10, 26), berlin) == want
    assert _report_days(any_engine, date(2026, 10, 24), date(2026, 10, 26), berlin) == want


def test_zones_with_minute_offsets(any_engine: Engine) -> None:
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+5:30: 18:30 UTC is midnight
    _seed(any_engine, [_at(2026, 10, 20, 18, 15), _at(2026, 10, 20, 18, 30)])
    want = {date(2026, 10, 20): 1, date(2026, 10, 21): 1}
    assert _report_days(any_engine, date(2026, 10, 19), date(2026, 10, 25), kolkata) == want
    assert _trends_days(any_engine, date(2026, 10, 19), date(2026, 10, 25), kolkata) == want


def test_week_bounds_and_day_ranges_share_local_midnight() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    w43 = week_period("2026-W43", berlin)
    assert w43.start_utc == localdays.local_midnight(date(2026, 10, 19), berlin) == _at(2026, 10, 18, 22)
    assert localdays.day_range(7, berlin, today=date(2026, 10, 25)) == (w43.start_utc, w43.end_utc)


def test_the_last_microsecond_of_a_local_day_stays_in_that_day(any_engine: Engine) -> None:
    # SQLite's date() rounds fractional seconds to the millisecond once a modifier shifts the time, which
    # pushed 21:59:59.999999 UTC (23:59:59.999999 in Berlin) into the next day
    berlin = ZoneInfo("Europe/Berlin")
    last = datetime(2026, 10, 20, 21, 59, 59, 999_999, tzinfo=timezone.utc)
    _seed(any_engine, [last, _at(2026, 10, 20, 22, 0), datetime(2026, 10, 20, 23, 59, 59, 999_600, tzinfo=timezone.utc)])
    want = {date(2026, 10, 20): 1, date(2026, 10, 21): 2}
    assert _report_days(any_engine, date(2026, 10, 19), date(2026, 10, 25), berlin) == want
    assert _trends_days(any_engine, date(2026, 10, 19), date(2026, 10, 25), berlin) == want
    utc = ZoneInfo("UTC")
    assert _trends_days(any_engine, date(2026, 10, 19), date(2026, 10, 25), utc) == {date(2026, 10, 20): 3}
