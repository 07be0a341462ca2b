"""Competitors' mentions never count in our response figures (#14): the weekly export's summary table,
Trends' response times and the care metrics all read care_metrics' first responses (own brands only)."""
from __future__ import annotations

from datetime import timezone

from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.models import MentionBrand
from careline.reports import build, queries
from careline.reports.periods import week_period
from careline.services import care_metrics, trends
from tests.reports.helpers import add, brands, mention, utc

WEEK = week_period("2026-W43", timezone.utc)  # Mon 19 Oct .. Sun 25 Oct 2026 UTC


def _seed(session: Session) -> tuple[int, int]:
    own, rival = brands(session)
    add(session,
        # ours: answered after 30 and 90 minutes
        mention(own, utc(2026, 10, 20, 9), "negative", "complaint", first_response_at=utc(2026, 10, 20, 9, 30)),
        mention(own, utc(2026, 10, 21, 9), "neutral", "question", first_response_at=utc(2026, 10, 21, 10, 30)),
        # a competitor's complaint that someone answered anyway (a reply recorded by mistake, an imported
        # history): 6 minutes would pull our median down if it counted
        mention(rival, utc(2026, 10, 22, 9), "negative", "complaint", first_response_at=utc(2026, 10, 22, 9, 6)),
        mention(rival, utc(2026, 10, 22, 10), "negative", "complaint", first_response_at=utc(2026, 10, 22, 10, 6)),
        mention(rival, utc(2026, 10, 23, 10), "negative", "complaint"))
    assert own.id is not None and rival.id is not None
    return own.id, rival.id


def test_weekly_summary_counts_only_our_own_answers(any_engine: Engine) -> None:
    with Session(any_engine) as session:
        own, rival = _seed(session)
        answered = build.responses(session, WEEK, 60)
        rows = {r["brand"]: r for r in build.summarise(queries.daily_counts(session, WEEK), answered,
                                                        queries.brands(session))}
    assert set(answered[0]) == {own} and rival != own
    assert rows["Skyhop"]["mentions"] == 3  # a competitor still counts for share of voice
    assert rows["Skyhop"]["answered"] is None and rows["Skyhop"]["median_first_response_minutes"] is None
    # 30 and 90 minutes: the nearest-rank median (elapsed.quantile) is the first
    assert rows["Acme Air"]["answered"] == 2 and rows["Acme Air"]["median_first_response_minutes"] == 30.0
    overall = rows[build.OVERALL]
    assert (overall["answered"], overall["median_first_response_minutes"]) == (2, 30.0)
    assert overall["within_sla_share"] == 0.5  # 30 min within 60, 90 min over; 2 need an answer


def test_trends_and_care_metrics_leave_competitors_out_even_when_chosen(any_engine: Engine) -> None:
    with Session(any_engine) as session:
        own, rival = _seed(session)
        since, until = WEEK.start_utc, WEEK.end_utc
        everything = trends.response_times(session, since, until, 60)
        chosen = trends.response_times(session, since, until, 60, brand_ids=[own, rival])
        only_rival = trends.response_times(session, since, until, 60, brand_ids=[rival])
        care = {r.group: r for r in care_metrics.summary(session, since, until, "brand", now=until)}
    for stats in (everything, chosen):
        assert (stats.actionable, stats.answered, stats.median_s) == (2, 2, 30 * 60)
    assert (only_rival.actionable, only_rival.answered, only_rival.median_s) == (0, 0, None)
    assert only_rival.not_applicable == care_metrics.OWN_BRANDS_ONLY
    assert set(care) == {"Acme Air"} and care["Acme Air"].answered == 2


def test_a_post_naming_us_and_a_competitor_counts_as_ours(session: Session) -> None:
    own, rival = brands(session)
    both = mention(own, utc(2026, 10, 20, 9), "negative", "complaint", text="Acme Air and Skyhop both lost it",
                   first_response_at=utc(2026, 10, 20, 9, 20))
    add(session, both)
    session.add(MentionBrand(mention_id=both.id, brand_id=rival.id))
    session.commit()
    per_brand = care_metrics.first_responses_by(session, WEEK.start_utc, WEEK.end_utc, "brand")
    assert list(per_brand) == [own.id] and per_brand[own.id].median_s == 20 * 60
    # it names the competitor, and it is ours: our response time, never the competitor's
    stats = trends.response_times(session, WEEK.start_utc, WEEK.end_utc, 60, brand_ids=[rival.id])  # type: ignore[list-item]
    assert (stats.answered, stats.not_applicable) == (0, care_metrics.OWN_BRANDS_ONLY)
    ours = trends.response_times(session, WEEK.start_utc, WEEK.end_utc, 60, brand_ids=[own.id])  # type: ignore[list-item]
    assert (ours.answered, ours.median_s, ours.not_applicable) == (1, 20 * 60, None)
