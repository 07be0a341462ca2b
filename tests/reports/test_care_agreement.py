"""The weekly report's summary rows and its Care sheet (care_metrics) count a brand's complaints and
questions, and its answered ones, by one rule: every own brand a post names, never a competitor, a
person's correction winning, a deleted post still counting, the week cut in the report's zone."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.models import MentionBrand
from careline.reports import build
from careline.reports.care import care_tables
from careline.reports.periods import previous_week, week_period
from careline.services import care_metrics, trends
from tests.factories import make_brand
from tests.reports.helpers import add, brands, mention, utc

BERLIN = ZoneInfo("Europe/Berlin")
WEEK = week_period("2026-W43", BERLIN)  # Mon 19 Oct 00:00 Berlin = Sun 18 Oct 22:00 UTC .. Mon 26 Oct 00:00 Berlin


def _seed(session: Session) -> tuple[int, int, int]:
    own, rival = brands(session)
    cargo = make_brand(session, "Acme Cargo")
    start, end = WEEK.start_utc, WEEK.end_utc

    def answered(at: object, minutes: int) -> dict[str, object]:
        return {"first_response_at": at + timedelta(minutes=minutes), "respond_by": at + timedelta(minutes=60)}  # type: ignore[operator]

    three = mention(own, utc(2026, 10, 20, 9), "negative", "complaint", text="Acme Air, Acme Cargo, Skyhop",
                    **answered(utc(2026, 10, 20, 9), 30))
    corrected = mention(cargo, utc(2026, 10, 21, 9), "neutral", "other", corrected_intent="question",
                        **answered(utc(2026, 10, 21, 9), 90))
    uncorrected = mention(own, utc(2026, 10, 21, 10), "negative", "complaint", corrected_intent="praise",
                          **answered(utc(2026, 10, 21, 10), 5))
    deleted = mention(own, utc(2026, 10, 22, 9), "negative", "complaint", deleted_at=utc(2026, 10, 22, 12),
                      **answered(utc(2026, 10, 22, 9), 45))
    at_start = mention(own, start, "neutral", "question", **answered(start, 60))  # exactly at the start: in
    at_end = mention(own, end, "neutral", "question", **answered(end, 10))  # exactly at the end: the next week
    add(session, three, corrected, uncorrected, deleted, at_start, at_end,
        mention(rival, utc(2026, 10, 23, 9), "negative", "complaint", **answered(utc(2026, 10, 23, 9), 1)))
    session.add_all([MentionBrand(mention_id=three.id, brand_id=cargo.id),
                     MentionBrand(mention_id=three.id, brand_id=rival.id)])
    session.commit()
    assert own.id is not None and rival.id is not None and cargo.id is not None
    return own.id, cargo.id, rival.id


def test_report_summary_and_care_sheet_count_each_brand_alike(any_engine: Engine) -> None:
    with Session(any_engine) as session:
        own, cargo, rival = _seed(session)
        now = WEEK.end_utc + timedelta(days=1)
        report = build.build_report(session, WEEK, previous_week(WEEK), sla_minutes=60)
        summary = {r["brand"]: r for r in report.summary}
        answers = care_metrics.first_responses_by(session, WEEK.start_utc, WEEK.end_utc, "brand")
        care = {r.group: r for r in care_metrics.summary(session, WEEK.start_utc, WEEK.end_utc, "brand", now=now)}
        sheet = {(row[0], row[1]): row for row in care_tables(session, WEEK, now=now)["care"][1]}
        cargo_breaches = care_metrics.breaches(session, WEEK.start_utc, WEEK.end_utc, now=now, brand_ids=[cargo])
    assert set(care) == {"Acme Air", "Acme Cargo"}  # the competitor a post names never gets a row
    for name, brand_id in (("Acme Air", own), ("Acme Cargo", cargo)):
        row = summary[name]
        assert care[name].actionable == row["complaints"] + row["questions"]
        assert care[name].answered == answers[brand_id].answered == row["answered"]
        assert sheet[("brand", name)][2:4] == [care[name].actionable, care[name].answered]
    # Acme Air: the three-brand post, the deleted one and the one at the week's start (the correction to
    # praise and the post at its end are out); Acme Cargo: the three-brand post and the corrected question
    assert (care["Acme Air"].actionable, care["Acme Cargo"].actionable) == (3, 2)
    assert care["Acme Cargo"].breached == 1 and care["Acme Cargo"].median_first_response_s == 30 * 60
    assert [b.brand for b in cargo_breaches] == ["Acme Cargo"]  # the filter finds the post naming it too
    assert rival not in answers


def test_care_by_team_counts_each_post_once(any_engine: Engine) -> None:
    with Session(any_engine) as session:
        _seed(session)
        now = WEEK.end_utc + timedelta(days=1)
        teams = care_metrics.summary(session, WEEK.start_utc, WEEK.end_utc, "team", now=now)
        overall = build.build_report(session, WEEK, previous_week(WEEK), sla_minutes=60).overall()
    assert [(r.group, r.actionable) for r in teams] == [("(no team)", 4)]
    assert overall["complaints"] + overall["questions"] == 4


def test_trends_response_times_and_care_metrics_agree_per_brand(any_engine: Engine) -> None:
    # one elapsed rule (whole seconds) and one quantile (elapsed.quantile) for both
    with Session(any_engine) as session:
        own, cargo, _rival = _seed(session)
        since, until = WEEK.start_utc, WEEK.end_utc
        care = {r.group: r for r in care_metrics.summary(session, since, until, "brand", now=until)}
        chosen = {name: trends.response_times(session, since, until, 60, brand_ids=[b])
                  for name, b in (("Acme Air", own), ("Acme Cargo", cargo))}
    for name, stats in chosen.items():
        assert (stats.actionable, stats.answered, stats.median_s) == \
            (care[name].actionable, care[name].answered, care[name].median_first_response_s)
    assert chosen["Acme Air"].median_s == 45 * 60 and chosen["Acme Cargo"].median_s == 30 * 60
