"""Trend figures for the dashboard and the weekly export: volumes, share of voice, response times
(those by the care metrics' rule, services/care_metrics.py; themes: services/themes.py).

Every function aggregates in SQL and returns small plain dataclasses. Days are cut in the configured time
zone by careline.services.localdays (exact across DST, the same on SQLite and PostgreSQL).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.models import Brand, Mention
from careline.services import care_metrics, mention_brands
from careline.services.tags import any_tag

LABELS = {"sentiment": ("negative", "neutral", "positive"), "intent": ("complaint", "question", "praise", "other")}
UNCLASSIFIED = "unclassified"


@dataclass(frozen=True)
class VolumeRow:
    period: date  # the day, or the Monday starting the week, in the configured zone
    brand: str
    platform: str
    label: str
    count: int


@dataclass(frozen=True)
class ShareRow:
    brand: str
    competitor: bool
    mentions: int
    share: float  # of all mentions in the range, 0..1
    positive: int
    negative: int


def _effective(name: str) -> sa.ColumnElement:
    return sa.func.coalesce(getattr(Mention, f"corrected_{name}"), getattr(Mention, name))


def _filters(stmt: sa.Select, platforms: Sequence[str] | None, tags: Sequence[str] | None) -> sa.Select:
    return stmt.where(*_conditions(platforms, tags))


def _conditions(platforms: Sequence[str] | None, tags: Sequence[str] | None) -> list[sa.ColumnElement[bool]]:
    out = [any_tag(tags)] if tags else []
    if platforms:
        out.append(col(Mention.platform).in_(list(platforms)))
    return out


def _brand_names(session: Session) -> dict[int | None, str]:
    names: dict[int | None, str] = {b.id: b.name for b in session.exec(select(Brand))}
    names[None] = "(no brand)"
    return names


def volume(
    session: Session,
    since: datetime,
    until: datetime,
    *,
    by: str = "sentiment",
    granularity: str = "day",
    zone: ZoneInfo | str = "UTC",
    brand_ids: Sequence[int] | None = None,
    platforms: Sequence[str] | None = None,
    tags: Sequence[str] | None = None,
) -> list[VolumeRow]:
    """Mention counts per period, brand, platform and label (`by` = sentiment or intent).

    Days (and ISO weeks, Monday first) are cut in `zone`. A person's correction wins over the model's
    label; unclassified mentions count as "unclassified". A post counts for every brand it names and
    `brand_ids` keeps a post that names a chosen brand (mention_brands' rule, the weekly report's too), so
    rows summed over brands are brand mentions, not posts.
    """
    if by not in LABELS:
        raise ValueError(f"by must be one of {', '.join(LABELS)}")
    if granularity not in ("day", "week"):
        raise ValueError("granularity must be day or week")
    names = _brand_names(session)
    label = _effective(by).label("label")
    folded: Counter[tuple[date, str, str, str]] = Counter()

    def build(day: sa.ColumnElement, brand: Any) -> sa.Select:
        stmt = sa.select(day, brand, col(Mention.platform), label, sa.func.count().label("n"))
        return _filters(stmt, platforms, tags).group_by(day, brand, col(Mention.platform), label)

    # the one per-brand rule (mention_brands): a post counts for every brand it names
    for period, row, _also in mention_brands.per_brand_days(session, since, until, zone, build, brand_ids):
        _day, brand_id, platform, lab, n = tuple(row)
        if granularity == "week":
            period -= timedelta(days=period.weekday())
        folded[(period, names.get(brand_id, "?"), platform, lab or UNCLASSIFIED)] += n
    return [VolumeRow(p, b, pl, lab, n) for (p, b, pl, lab), n in sorted(folded.items())]


def share_of_voice(
    session: Session, since: datetime, until: datetime, *, platforms: Sequence[str] | None = None,
    tags: Sequence[str] | None = None,
) -> list[ShareRow]:
    """Each brand's mentions in the range (ours and competitors'), largest first; a share is of all brand
    mentions (a post naming two brands is one of each), as in the weekly report's brand rows."""
    return share_from_volume(session, volume(session, since, until, by="sentiment", platforms=platforms, tags=tags))


def share_from_volume(session: Session, rows: Sequence[VolumeRow]) -> list[ShareRow]:
    """Share of voice folded from sentiment volume rows (same range, no brand filter): no second scan.

    Counting through `volume` keeps to the time-range index; a GROUP BY brand would tempt the planner
    into the brand index and a row lookup per mention.
    """
    competitor = {b.name: b.competitor for b in session.exec(select(Brand))}
    totals: Counter[str] = Counter()
    pos: Counter[str] = Counter()
    neg: Counter[str] = Counter()
    for r in rows:
        totals[r.brand] += r.count
        if r.label == "positive":
            pos[r.brand] += r.count
        elif r.label == "negative":
            neg[r.brand] += r.count
    grand = sum(totals.values()) or 1
    out = [ShareRow(brand=b, competitor=competitor.get(b, False), mentions=n, share=n / grand,
                    positive=pos[b], negative=neg[b]) for b, n in totals.items()]
    return sorted(out, key=lambda r: (-r.mentions, r.brand))


def response_times(
    session: Session,
    since: datetime,
    until: datetime,
    sla_minutes: int,
    *,
    brand_ids: Sequence[int] | None = None,
    platforms: Sequence[str] | None = None,
    tags: Sequence[str] | None = None,
) -> care_metrics.FirstResponses:
    """First-response times (mention posted -> first reply sent) over our complaints and questions in the
    range: the care metrics' rule (care_metrics.first_responses), so the Care table and the weekly report
    show the same figures. A chosen brand counts every post that names it; a choice of competitors alone
    is not measured (`not_applicable` holds the sentence to show instead)."""
    return care_metrics.first_responses(session, since, until, sla_minutes=sla_minutes, brand_ids=brand_ids,
                                        where=_conditions(platforms, tags))


def recent_languages(session: Session, sample: int = 20_000) -> list[str]:
    """Languages among the newest `sample` mentions: the filter's choices without scanning every row."""
    newest = select(col(Mention.language)).order_by(col(Mention.id).desc()).limit(sample).subquery()
    stmt = select(newest.c.language).where(newest.c.language.is_not(None)).distinct()
    return sorted(x for (x,) in session.execute(stmt) if x)
