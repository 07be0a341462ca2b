"""The report's SQL: a handful of GROUP BY queries over one period, never one row per mention in Python
(except the raw-mentions sheet, which is streamed).

Local days: cut by careline.services.localdays (the database groups by local day, DST segment by segment).
Labels: a person's correction wins over the model's (`corrected_*`), unclassified rows say so.
Brands: the one rule Trends uses too (careline.services.mention_brands): a per-brand figure counts every
brand a post names and a brand filter matches a post that names the brand, while a total counts each post
once (`Counts.posts`, by its primary brand), never the sum of the per-brand rows.
Response times are not here: they are the care metrics' (careline/services/care_metrics.py).
"""
from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlmodel import Session

from careline.models import Author, Brand, Mention
from careline.reports.periods import Period
from careline.services import advocates, mention_brands

M = Mention.__table__  # type: ignore[attr-defined]
A = Author.__table__  # type: ignore[attr-defined]
UNCLASSIFIED = "unclassified"
SENTIMENT = sa.func.coalesce(M.c.corrected_sentiment, M.c.sentiment, UNCLASSIFIED).label("eff_sentiment")
INTENT = sa.func.coalesce(M.c.corrected_intent, M.c.intent, UNCLASSIFIED).label("eff_intent")

# (day, brand_id, platform, sentiment, intent) -> mentions
DailyKey = tuple[date, int | None, str, str, str]
K = TypeVar("K")


@dataclass
class Counts(Generic[K]):
    """Grouped mention counts under the one brand rule (mention_brands.per_brand_days), from one pass."""

    per_brand: Counter[K] = field(default_factory=Counter)  # every brand a post names: per-brand figures
    posts: Counter[K] = field(default_factory=Counter)  # each post once, by its primary brand: totals

    def add(self, key: K, n: int, also: bool) -> None:
        self.per_brand[key] += n
        if not also:
            self.posts[key] += n

    @property
    def total(self) -> int:
        """Posts, each once however many brands it names."""
        return sum(self.posts.values())


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


def daily_counts(session: Session, period: Period) -> Counts[DailyKey]:
    """Mentions per local day × brand × platform × sentiment × intent."""
    def build(day: sa.ColumnElement[Any], brand: Any) -> sa.Select[Any]:
        return (sa.select(day, brand.label("brand_id"), M.c.platform, SENTIMENT, INTENT, sa.func.count().label("n"))
                .group_by(day, brand, M.c.platform, sa.literal_column("eff_sentiment"), sa.literal_column("eff_intent")))

    out: Counts[DailyKey] = Counts()
    for day, row, also in mention_brands.per_brand_days(session, period.start_utc, period.end_utc, period.zone, build):
        out.add((day, row.brand_id, row.platform, row.eff_sentiment, row.eff_intent), int(row.n), also)
    return out


def top_advocates(session: Session, period: Period, brand_ids: list[int | None],
                  limit: int = 10) -> list[dict[str, Any]]:
    """Authors with the most praise in the period (for our own brands), with their lifetime own-brand praise.

    The period's ranking on purpose: the Advocates page ranks customers by lifetime praise, reach and
    recency (services/advocates.py), the report says who praised us most this week.

    Ties go by followers (unknown counts as none: NULL sorts first in PostgreSQL's DESC and last in
    SQLite's), then handle, then platform (one handle on two platforms is two authors), so both databases
    keep the same authors at the limit."""
    n = sa.func.count().label("praise")
    followers = sa.func.coalesce(sa.func.max(M.c.author_followers), 0)
    stmt = (
        sa.select(M.c.platform, M.c.author_handle, n, sa.func.max(M.c.author_followers).label("followers"),
                  sa.func.max(A.c.display_name).label("display_name"))
        .select_from(M.outerjoin(A, sa.and_(A.c.platform == M.c.platform, A.c.handle == M.c.author_handle)))
        .where(in_period(period), INTENT == "praise", M.c.author_handle.is_not(None), _brand_filter(brand_ids))
        .group_by(M.c.platform, M.c.author_handle)
        .order_by(n.desc(), followers.desc(), M.c.author_handle, M.c.platform)
        .limit(limit)
    )
    found = [dict(r._mapping) for r in session.execute(stmt)]
    # lifetime praise for the same brands (ours only): the Advocates page's rollup (advocates.lifetime_praise)
    lifetime = advocates.lifetime_praise(session, [(r["platform"], r["author_handle"]) for r in found], brand_ids)
    for r in found:
        r["lifetime_praise"] = lifetime.get((r["platform"], r["author_handle"]), 0)
    return found


def _brand_filter(brand_ids: list[int | None]) -> sa.ColumnElement[bool]:
    """Posts that name any of these brands (mention_brands.brand_clause, as the inbox and Trends filter);
    None in the list: posts of no brand too."""
    ids = [b for b in brand_ids if b is not None]
    cond = mention_brands.brand_clause(ids) if ids else sa.false()
    return sa.or_(cond, M.c.brand_id.is_(None)) if None in brand_ids else cond


# "deleted": inbox.DELETED_BADGE for a post its author deleted (kept, counted, and marked, as search marks it)
RAW_COLUMNS = ["id", "created_local", "created_utc", "brand", "platform", "author", "followers", "sentiment",
               "intent", "corrected", "status", "deleted", "first_response_utc", "url", "text"]


def raw_mentions(session: Session, period: Period) -> Iterator[sa.Row[Any]]:
    """Every mention of the period, oldest first, streamed in chunks (the week may hold 100k rows); posts
    their author deleted too (they were posted: the counts keep them), with their deleted_at for the badge.
    Its primary brand names a row: each post once."""
    stmt = (
        sa.select(M.c.id, M.c.created_at, M.c.brand_id, M.c.platform, M.c.author_handle, M.c.author_followers,
                  SENTIMENT, INTENT,
                  sa.or_(M.c.corrected_sentiment.is_not(None), M.c.corrected_intent.is_not(None)).label("corrected"),
                  M.c.status, M.c.deleted_at, M.c.first_response_at, M.c.url, M.c.text)
        .where(in_period(period))
        .order_by(M.c.created_at, M.c.id)
    )
    yield from session.execute(stmt.execution_options(yield_per=5000))


def count_mentions(session: Session, period: Period) -> int:
    return int(session.execute(sa.select(sa.func.count()).select_from(M).where(in_period(period))).scalar_one())


def sentiment_by_day(session: Session, period: Period) -> Counts[tuple[date, int | None, str]]:
    """(local day, brand_id, sentiment) -> mentions, for trend charts over many weeks."""
    def build(day: sa.ColumnElement[Any], brand: Any) -> sa.Select[Any]:
        return (sa.select(day, brand.label("brand_id"), SENTIMENT, sa.func.count().label("n"))
                .group_by(day, brand, sa.literal_column("eff_sentiment")))

    out: Counts[tuple[date, int | None, str]] = Counts()
    for day, row, also in mention_brands.per_brand_days(session, period.start_utc, period.end_utc, period.zone, build):
        out.add((day, row.brand_id, row.eff_sentiment), int(row.n), also)
    return out
