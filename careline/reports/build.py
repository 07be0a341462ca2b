"""Turn a period's aggregates into the report: per-brand summary, headlines, trend, advocates, themes.

Everything here works on the small grouped results of queries.py; the complaint themes come from the
one themes implementation (careline/services/themes.py), as on the Trends page.

Brands: a brand's row counts every post that names it, as Trends' volume and share of voice do (its share
of voice is of all brand mentions, so the report and Trends agree); "All our brands" and the report's total
count each post once (`Counts.posts`), never the sum of the brand rows.

Response times (answered, median first response, within SLA) are the care metrics' first responses
(care_metrics.first_responses_by per brand, first_responses for "All our brands"), so a brand's row shows
what the Care sheet and Trends show for it; a competitor's row shows none (care_metrics.not_measured).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlmodel import Session

from careline.reports import queries
from careline.reports.periods import Period, range_period
from careline.reports.queries import BrandInfo, Counts, DailyKey
from careline.services import care_metrics, elapsed
from careline.services.care_metrics import FirstResponses
from careline.services.theme_terms import Theme
from careline.services.themes import find_themes

OVERALL = "All our brands"
SENTIMENTS = ("positive", "neutral", "negative")


@dataclass
class Report:
    period: Period
    previous: Period
    sla_minutes: int
    brands: dict[int | None, BrandInfo]
    daily: Counts[DailyKey]
    summary: list[dict[str, Any]]
    previous_summary: list[dict[str, Any]]
    advocates: list[dict[str, Any]]
    themes: list[dict[str, Any]]
    trend: list[dict[str, Any]]
    headlines: list[str] = field(default_factory=list)
    generated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def total(self) -> int:
        """Posts in the period, each once however many brands it names."""
        return self.daily.total

    @property
    def empty(self) -> bool:
        return self.total == 0

    def overall(self, previous: bool = False) -> dict[str, Any]:
        return _overall(self.previous_summary if previous else self.summary)


def build_report(session: Session, period: Period, previous: Period, sla_minutes: int, trend_weeks: int = 12) -> Report:
    brands = queries.brands(session)
    own = [b for b, info in brands.items() if not info.competitor]
    daily = queries.daily_counts(session, period)
    prev_daily = queries.daily_counts(session, previous)
    summary = summarise(daily, responses(session, period, sla_minutes), brands)
    prev_summary = summarise(prev_daily, responses(session, previous, sla_minutes), brands)
    found = find_themes(session, period.start_utc, period.end_utc, intent="complaint",
                        brand_ids=[b for b in own if b is not None] or None,
                        previous=(previous.start_utc, previous.end_utc))
    report = Report(
        period=period, previous=previous, sla_minutes=sla_minutes, brands=brands, daily=daily,
        summary=summary, previous_summary=prev_summary,
        advocates=queries.top_advocates(session, period, own),
        themes=[t.as_row() for t in found.themes],
        trend=weekly_trend(session, period, brands, trend_weeks),
    )
    report.headlines = headlines(report.overall(), report.overall(previous=True), found.themes)
    return report


def _overall(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in rows if r["brand"] == OVERALL)


# (per own brand, every brand a post names; every own post once, for "All our brands")
Responses = tuple[dict[object, FirstResponses], FirstResponses]


def responses(session: Session, period: Period, sla_minutes: int) -> Responses:
    """The period's first responses by the care metrics' rule: per brand, and over all our posts once."""
    since, until = period.start_utc, period.end_utc
    return (care_metrics.first_responses_by(session, since, until, "brand", sla_minutes=sla_minutes),
            care_metrics.first_responses(session, since, until, sla_minutes=sla_minutes))


def summarise(daily: Counts[DailyKey], responses: Responses, brands: dict[int | None, BrandInfo]) -> list[dict[str, Any]]:
    """One row per brand seen or configured (every post that names it), plus the overall row for our own
    (non-competitor) brands, which counts each post once."""
    per = _fold(daily.per_brand)
    posts = _fold(daily.posts)
    per_brand, overall = responses
    # Shares as Trends' share of voice: of all brand mentions (a post naming two brands is two of them).
    brand_mentions = sum(c["mentions"] for c in per.values())
    own_ids = [b for b, info in brands.items() if not info.competitor]
    rows = []
    for brand_id, info in sorted(brands.items(), key=lambda kv: (kv[1].competitor, kv[1].name.lower())):
        if brand_id is None and not per.get(None):
            continue
        answers = (care_metrics.not_measured() if info.competitor
                   else per_brand.get(brand_id) or FirstResponses())  # an own brand nobody needed answering
        rows.append(_row(info.name, info.competitor, per.get(brand_id, Counter()), answers, brand_mentions))
    own_counts: Counter[str] = sum((posts.get(b, Counter()) for b in own_ids), Counter())
    # our posts (by primary brand: own first, so every post naming one of ours) as a share of all posts
    rows.insert(0, _row(OVERALL, False, own_counts, overall, daily.total))
    return rows


def _fold(daily: Counter[DailyKey]) -> dict[int | None, Counter[str]]:
    per: dict[int | None, Counter[str]] = defaultdict(Counter)
    for (_, brand_id, _, sentiment, intent), n in daily.items():
        c = per[brand_id]
        c["mentions"] += n
        c[f"s:{sentiment}"] += n
        c[f"i:{intent}"] += n
    return per


def _row(name: str, competitor: bool, c: Counter[str], answers: FirstResponses, all_total: int) -> dict[str, Any]:
    pos, neu, neg = (c[f"s:{s}"] for s in SENTIMENTS)
    classified = pos + neu + neg
    measured = answers.not_applicable is None  # a competitor's: not ours to answer, so no figure at all
    return {
        "brand": name,
        "competitor": competitor,
        "mentions": c["mentions"],
        "share_of_voice": round(c["mentions"] / all_total, 4) if all_total else None,
        "positive": pos, "neutral": neu, "negative": neg, "unclassified": c[f"s:{queries.UNCLASSIFIED}"],
        "net_sentiment": round(100 * (pos - neg) / classified, 1) if classified else None,
        "complaints": c["i:complaint"], "praise": c["i:praise"], "questions": c["i:question"],
        "other": c["i:other"],
        "answered": answers.answered if measured else None,
        "median_first_response_minutes": elapsed.display_minutes(answers.median_s),
        "within_sla_share": round(answers.within_sla_share, 4) if measured and answers.actionable else None,
    }


def weekly_trend(session: Session, period: Period, brands: dict[int | None, BrandInfo],
                 weeks: int) -> list[dict[str, Any]]:
    """Sentiment per ISO week (cut in the report's zone) for the `weeks` weeks ending with the period."""
    monday = period.last - timedelta(days=period.last.weekday())
    span = range_period(monday - timedelta(weeks=weeks - 1), monday + timedelta(days=6), period.zone)
    per_day = queries.sentiment_by_day(session, span)
    labels = [_week_label(monday - timedelta(weeks=i)) for i in reversed(range(weeks))]
    grid: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for (day, brand_id, sentiment), n in per_day.per_brand.items():
        grid[(_week_label(day), (brands.get(brand_id) or brands[None]).name)][sentiment] += n
    for (day, brand_id, sentiment), n in per_day.posts.items():  # our brands' line: each post once
        if not (brands.get(brand_id) or brands[None]).competitor:
            grid[(_week_label(day), OVERALL)][sentiment] += n
    names = [OVERALL] + sorted({name for (_, name) in grid if name != OVERALL})
    out = []
    for week in labels:
        for name in names:
            c = grid.get((week, name), Counter())
            classified = sum(c[s] for s in SENTIMENTS)
            out.append({"week": week, "brand": name, **{s: c[s] for s in SENTIMENTS},
                        "mentions": sum(c.values()),
                        "net_sentiment": (round(100 * (c["positive"] - c["negative"]) / classified, 1)
                                          if classified else None)})
    return out


def _week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _change(now: float, before: float) -> str:
    if before == 0:
        return "new" if now else "no change"
    pct = round(100 * (now - before) / before)
    return f"{pct:+d}%"


def headlines(now: dict[str, Any], before: dict[str, Any], themes: list[Theme]) -> list[str]:
    """Short sentences comparing the period with the one before ("complaints +38%, mostly about delivery")."""
    if not now["mentions"] and not before["mentions"]:
        return ["No mentions this period or the one before."]
    out = [f"mentions {_change(now['mentions'], before['mentions'])} ({before['mentions']} → {now['mentions']})"]
    complaint = (f"complaints {_change(now['complaints'], before['complaints'])} "
                 f"({before['complaints']} → {now['complaints']})")
    rising = sorted(((t.size - (t.previous or 0), t.size, t.label) for t in themes), reverse=True)
    if rising and rising[0][0] > 0 and now["complaints"] > before["complaints"]:
        complaint += f", mostly about {rising[0][2]}"
    elif themes:
        complaint += f", most often about {themes[0].label}"
    out.append(complaint)
    out.append(f"praise {_change(now['praise'], before['praise'])} ({before['praise']} → {now['praise']})")
    if now["net_sentiment"] is not None and before["net_sentiment"] is not None:
        delta = now["net_sentiment"] - before["net_sentiment"]
        out.append(f"net sentiment {now['net_sentiment']:+.1f} ({delta:+.1f} points)")
    elif now["net_sentiment"] is not None:
        out.append(f"net sentiment {now['net_sentiment']:+.1f}")
    if now["within_sla_share"] is not None:
        out.append(f"{now['within_sla_share']:.0%} of complaints and questions answered within the SLA")
    return out
