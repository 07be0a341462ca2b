"""The report's SQL: a handful of GROUP BY queries over one period, never one row per mention in Python
(except the raw-mentions sheet, which is streamed).

Local days: cut by careline.services.localdays (the database groups by local day, DST segment by segment).
Labels: a person's correction wins over the model's (`corrected_*`), unclassified rows say so.
"""
from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from careline.models import Author, Brand, Mention
from careline.reports.periods import Period
from careline.services import localdays, mention_brands

M = Mention.__table__  # type: ignore[attr-defined]
A = Author.__table__  # type: ignore[attr-defined]
UNCLASSIFIED = "unclassified"
SENTIMENT = sa.func.coalesce(M.c.corrected_sentiment, M.c.sentiment, UNCLASSIFIED).label("eff_sentiment")
INTENT = sa.func.coalesce(M.c.corrected_intent, M.c.intent, UNCLASSIFIED).label("eff_intent")

# (day, brand_id, platform, sentiment, intent) -> mentions
DailyKey = tuple[date, int | None, str, str, str]


@dataclass(frozen=True)
class BrandInfo:
    id: int | None
    name: str
    competitor: bool


def brands(session: Session) -> dict[int | None, BrandInfo]:
    rows = session.execute(sa.select(Brand.id, Brand.name, Brand.competitor)).all()  # type: ignore[call-overload]
    out = {r.id: BrandInfo(r.id, r.name, bool(r.competitor)) for r in rows}
    out[None] = BrandInfo(None, "(no brand)", False)
    return out


def bucket_expr(session: Session, size: int) -> tuple[sa.ColumnElement[Any], Callable[[Any], int]]:
    """A GROUP BY expression for UTC buckets of `size` seconds (3600 or 900), and a function that turns its
    value into the bucket number (seconds since the epoch // size).

    On SQLite the stored text ("2026-11-16 09:12:44.000000", always this layout) is cut with substr, which
    is much cheaper per row than strftime('%s') and leaves a few thousand distinct keys to parse in Python.
    """
    if session.get_bind().dialect.name == "postgresql":
        return sa.literal_column(f"CAST(floor(extract(epoch from mention.created_at) / {int(size)}) AS BIGINT)"), int
    if size == 3600:
        return sa.literal_column("substr(mention.created_at, 1, 13)"), _sqlite_key(size)
    if size == 900:
        return (sa.literal_column("substr(mention.created_at, 1, 14) || "
                                  "(CAST(substr(mention.created_at, 15, 2) AS INTEGER) / 15)"), _sqlite_key(size))
    raise ValueError(f"unsupported bucket size {size}")


def _sqlite_key(size: int) -> Callable[[Any], int]:
    @functools.lru_cache(maxsize=65536)
    def convert(key: str) -> int:
        hour = datetime.strptime(key[:13], "%Y-%m-%d %H").replace(tzinfo=timezone.utc)
        quarter = int(key[14:]) if size == 900 else 0
        return (int(hour.timestamp()) + quarter * 900) // size

    return convert


def in_period(period: Period) -> sa.ColumnElement[bool]:
    return sa.and_(M.c.created_at >= period.start_utc, M.c.created_at < period.end_utc)


def daily_counts(session: Session, period: Period) -> Counter[DailyKey]:
    """Mentions per local day × brand × platform × sentiment × intent."""
    def segment(day: sa.ColumnElement[Any], start: datetime, end: datetime) -> list[sa.Select[Any]]:
        return [sa.select(day, M.c.brand_id, M.c.platform, SENTIMENT, INTENT, sa.func.count().label("n"))
                .where(M.c.created_at >= start, M.c.created_at < end)
                .group_by(day, M.c.brand_id, M.c.platform, sa.literal_column("eff_sentiment"),
                          sa.literal_column("eff_intent"))]

    out: Counter[DailyKey] = Counter()
    for day, row in localdays.per_day(session, M.c.created_at, period.start_utc, period.end_utc, period.zone,
                                      segment):
        out[(day, row.brand_id, row.platform, row.eff_sentiment, row.eff_intent)] += int(row.n)
    return out


def response_times(session: Session, period: Period) -> list[tuple[int | None, str, datetime, datetime]]:
    """(brand_id, intent, created_at, first_response_at) for our own mentions of the period that were
    answered: competitors' mentions are not ours to answer (mention_brands.own_brand_clause, the one rule
    the inbox, Trends and the care metrics use too), so they never count."""
    stmt = (
        sa.select(M.c.brand_id, INTENT, M.c.created_at, M.c.first_response_at)
        .where(in_period(period), M.c.first_response_at.is_not(None), mention_brands.own_brand_clause())
    )
    return [(r.brand_id, r.eff_intent, r.created_at, r.first_response_at) for r in session.execute(stmt)]


def top_advocates(session: Session, period: Period, brand_ids: list[int | None],
                  limit: int = 10) -> list[dict[str, Any]]:
    """Authors with the most praise in the period (for our own brands), with their lifetime rollup.

    Ties go by followers (unknown counts as none: NULL sorts first in PostgreSQL's DESC and last in
    SQLite's), then handle, then platform (one handle on two platforms is two authors), so both databases
    keep the same authors at the limit."""
    n = sa.func.count().label("praise")
    followers = sa.func.coalesce(sa.func.max(M.c.author_followers), 0)
    stmt = (
        sa.select(M.c.platform, M.c.author_handle, n, sa.func.max(M.c.author_followers).label("followers"),
                  sa.func.max(A.c.display_name).label("display_name"),
                  sa.func.max(A.c.praise_count).label("lifetime_praise"))
        .select_from(M.outerjoin(A, sa.and_(A.c.platform == M.c.platform, A.c.handle == M.c.author_handle)))
        .where(in_period(period), INTENT == "praise", M.c.author_handle.is_not(None), _brand_filter(brand_ids))
        .group_by(M.c.platform, M.c.author_handle)
        .order_by(n.desc(), followers.desc(), M.c.author_handle, M.c.platform)
        .limit(limit)
    )
    return [dict(r._mapping) for r in session.execute(stmt)]


def _brand_filter(brand_ids: list[int | None]) -> sa.ColumnElement[bool]:
    ids = [b for b in brand_ids if b is not None]
    cond = M.c.brand_id.in_(ids) if ids else sa.false()
    return sa.or_(cond, M.c.brand_id.is_(None)) if None in brand_ids else cond


RAW_COLUMNS = ["id", "created_local", "created_utc", "brand", "platform", "author", "followers", "sentiment",
               "intent", "corrected", "status", "first_response_utc", "url", "text"]


def raw_mentions(session: Session, period: Period) -> Iterator[sa.Row[Any]]:
    """Every mention of the period, oldest first, streamed in chunks (the week may hold 100k rows)."""
    stmt = (
        sa.select(M.c.id, M.c.created_at, M.c.brand_id, M.c.platform, M.c.author_handle, M.c.author_followers,
                  SENTIMENT, INTENT,
                  sa.or_(M.c.corrected_sentiment.is_not(None), M.c.corrected_intent.is_not(None)).label("corrected"),
                  M.c.status, M.c.first_response_at, M.c.url, M.c.text)
        .where(in_period(period))
        .order_by(M.c.created_at, M.c.id)
    )
    yield from session.execute(stmt.execution_options(yield_per=5000))


def count_mentions(session: Session, period: Period) -> int:
    return int(session.execute(sa.select(sa.func.count()).select_from(M).where(in_period(period))).scalar_one())


def sentiment_by_day(session: Session, period: Period) -> Counter[tuple[date, int | None, str]]:
    """(local day, brand_id, sentiment) -> mentions, for trend charts over many weeks."""
    def segment(day: sa.ColumnElement[Any], start: datetime, end: datetime) -> list[sa.Select[Any]]:
        return [sa.select(day, M.c.brand_id, SENTIMENT, sa.func.count().label("n"))
                .where(M.c.created_at >= start, M.c.created_at < end)
                .group_by(day, M.c.brand_id, sa.literal_column("eff_sentiment"))]

    out: Counter[tuple[date, int | None, str]] = Counter()
    for day, row in localdays.per_day(session, M.c.created_at, period.start_utc, period.end_utc, period.zone,
                                      segment):
        out[(day, row.brand_id, row.eff_sentiment)] += int(row.n)
    return out
