"""Elapsed time between two stored UTC timestamps in SQL, exact to the microsecond on SQLite and
PostgreSQL alike: the one way response and resolution times are measured (Trends, the care metrics, the
weekly report), the one quantile of their whole-second histograms (`quantile`) and the one rounding for
display (`display_minutes`).

PostgreSQL's `extract(epoch from interval)` is an exact numeric. SQLite's julianday() is a float of days
and rounds the stored fraction to the millisecond, so a reply exactly at the SLA read as 120.0000002
minutes (over it) and whole-minute buckets could drift by one; here SQLite subtracts whole seconds
(`strftime('%s')` of the stored text cut to seconds) and the microseconds as integers.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

_PER_SECOND = 1_000_000
_PER_MINUTE = 60 * _PER_SECOND


def microseconds(session: Session, later: Any, earlier: Any) -> sa.ColumnElement[int]:
    """`later - earlier` in whole microseconds (an integer expression)."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.extract("epoch", later - earlier) * 1_000_000, sa.BigInteger)

    def seconds(column: Any) -> sa.ColumnElement[int]:
        return sa.cast(sa.func.strftime("%s", sa.func.substr(column, 1, 19)), sa.Integer)

    def fraction(column: Any) -> sa.ColumnElement[int]:  # "2026-11-16 09:12:44.000123" -> 123
        return sa.cast(sa.func.substr(column, 21, 6), sa.Integer)

    return (seconds(later) - seconds(earlier)) * 1_000_000 + fraction(later) - fraction(earlier)


def whole_seconds(session: Session, later: Any, earlier: Any) -> sa.ColumnElement[int]:
    """Elapsed whole seconds, truncated (integer division on both databases).

    Seconds, not minutes: whole-minute buckets read a 40-second answer as 0 and 59 min 59 s as 59, so the
    care metrics and Trends disagreed with the weekly report's exact times; a second is finer than any
    figure shows (`display_minutes`), while the histogram still groups in SQL instead of one row a post."""
    return sa.cast(microseconds(session, later, earlier) // _PER_SECOND, sa.BigInteger)


def quantile(histogram: Counter[int] | None, q: float) -> float | None:
    """The q-quantile (nearest rank) of a histogram of whole seconds: the one rule for the medians and
    90th percentiles of Trends, the care metrics and the weekly report (None for an empty histogram)."""
    if not histogram:
        return None
    n = sum(histogram.values())
    target, seen = max(1, math.ceil(q * n)), 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= target:
            return float(value)
    return float(max(histogram))


def display_minutes(seconds: float | None) -> float | None:
    """Seconds as minutes to one decimal, for a page, a CLI table or an export cell.

    Rounded here and only here: the services measure and compare in seconds, and every place that shows a
    response or resolution time rounds the same way, so the report, the Care table and Trends print the
    same number for the same posts."""
    return None if seconds is None else round(seconds / 60, 1)


def within(session: Session, later: Any, earlier: Any, minutes: int) -> sa.ColumnElement[bool]:
    """`later` came at most `minutes` minutes after `earlier` (exactly at the limit counts as within)."""
    return microseconds(session, later, earlier) <= int(minutes) * _PER_MINUTE
