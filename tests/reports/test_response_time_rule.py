"""One first-response rule (care_metrics.first_responses): the weekly report's summary (its CSV and sheet),
its Care sheet, the Care table and Trends show the same answered count, median and within-SLA share for
the same week and brand. Over complaints and questions of our own brands (a correction winning, a
deleted post counting), measured in seconds, a nearest-rank median (elapsed.quantile), rounded only for
display (elapsed.display_minutes); a competitor has no response figures at all."""
from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.models import Brand, Mention, MentionBrand
from careline.reports import build
from careline.reports.care import care_tables
from careline.reports.periods import previous_week, week_period
from careline.reports.weekly import export_week
from careline.services import care_metrics, elapsed, trends
from careline.settings import Settings
from tests.factories import make_brand
from tests.reports.helpers import add, brands, mention, utc

BERLIN = ZoneInfo("Europe/Berlin")
WEEK = week_period("2026-W43", BERLIN)  # Mon 19 Oct .. Sun 25 Oct 2026, Berlin
SLA = 60
T = utc(2026, 10, 20, 9)


def _after(n: int, seconds: float) -> dict[str, datetime]:
    """The n-th post of the week, answered `seconds` after it was posted."""
    at = T + timedelta(hours=n)
    return {"created_at": at, "first_response_at": at + timedelta(seconds=seconds)}


def _seed(session: Session) -> dict[str, int]:
    own, rival = brands(session)
    cargo = make_brand(session, "Acme Cargo")

    def post(brand: Brand, n: int, intent: str | None, seconds: float | None, **kw: object) -> Mention:
        times = _after(n, seconds) if seconds is not None else {"created_at": T + timedelta(hours=n)}
        return mention(brand, times.pop("created_at"), "negative", intent, **times, **kw)

    names_rival = post(own, 1, "complaint", 2 * 3600, text="Acme Air and Skyhop lost it")  # ours, 2 h
    names_cargo = post(own, 2, "complaint", 25 * 60 + 30, text="Acme Air and Acme Cargo lost it")  # both, 25.5 min
    add(session, names_rival, names_cargo,
        post(own, 3, "complaint", 40),  # sub-minute: whole minutes read it as 0
        post(own, 4, "question", 3 * 3600 + 20 * 60 + 30),  # multi-hour, over the SLA
        post(own, 5, "other", 3599.5, corrected_intent="complaint"),  # a correction to complaint: it needed a reply
        post(own, 6, "complaint", 90, deleted_at=T + timedelta(days=1)),  # deleted later: it was posted, it counts
        post(own, 7, "complaint", None),  # unanswered: a miss
        # answered, but they needed no reply: no response figure counts them
        post(own, 8, "praise", 600), post(own, 9, "other", 300), post(own, 10, None, 120),
        post(own, 11, "complaint", 60, corrected_intent="praise"),
        post(cargo, 12, "question", 18),  # Acme Cargo's own, 0.3 min
        post(rival, 13, "complaint", 60),  # a competitor's: never ours
        post(own, 24 * 7, "complaint", 5))  # the next week
    session.add_all([MentionBrand(mention_id=names_rival.id, brand_id=rival.id),
                     MentionBrand(mention_id=names_cargo.id, brand_id=cargo.id)])
    session.commit()
    return {"Acme Air": own.id, "Acme Cargo": cargo.id, "Skyhop": rival.id}  # type: ignore[dict-item]


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def _shown(value: object) -> str:
    return "" if value is None else str(value)


def test_report_care_and_trends_show_one_first_response_figure(settings: Settings, any_engine: Engine,
                                                               tmp_path: Path) -> None:
    settings = settings.model_copy(update={"timezone": "Europe/Berlin", "sla_minutes": SLA})
    since, until = WEEK.start_utc, WEEK.end_utc
    now = until + timedelta(days=1)
    with Session(any_engine) as session:
        ids = _seed(session)
        report = {r["brand"]: r for r in build.build_report(session, WEEK, previous_week(WEEK), SLA).summary}
        care = {r.group: r for r in care_metrics.summary(session, since, until, "brand", now=now)}
        sheet = {row[1]: row for row in care_tables(session, WEEK, now=now)["care"][1] if row[0] == "brand"}
        chosen = {name: trends.response_times(session, since, until, SLA, brand_ids=[b]) for name, b in ids.items()}
        everything = trends.response_times(session, since, until, SLA)
    export_week(settings, any_engine, WEEK.label, out_dir=tmp_path)
    summary_csv = {r["brand"]: r for r in _csv(tmp_path / f"careline-{WEEK.label}-summary.csv")}
    care_csv = {r["name"]: r for r in _csv(tmp_path / f"careline-{WEEK.label}-care.csv") if r["by"] == "brand"}

    # the rule itself: Acme Air's seven complaints and questions (one unanswered) answered after 40 s,
    # 90 s, 25.5 min, 59 min 59 s, 2 h and 3 h 20.5 min: the nearest-rank median is the third, 25.5 min;
    # Acme Cargo's are 18 s and 25.5 min, so 0.3 min; every own post once: seven answered of eight, 25.5
    expected = {"Acme Air": (6, 25.5, 0.5714), "Acme Cargo": (2, 0.3, 1.0), build.OVERALL: (7, 25.5, 0.625)}
    for name, (answered, median, within) in expected.items():
        stats = everything if name == build.OVERALL else chosen[name]
        trends_figure = (stats.answered, elapsed.display_minutes(stats.median_s), round(stats.within_sla_share, 4))
        report_figure = (report[name]["answered"], report[name]["median_first_response_minutes"],
                         report[name]["within_sla_share"])
        assert report_figure == trends_figure == (answered, median, within), name
        assert summary_csv[name]["median_first_response_minutes"] == str(median)  # what `careline export` wrote
        if name != build.OVERALL:
            assert (care[name].answered, elapsed.display_minutes(care[name].median_first_response_s)) == \
                (answered, median)
            assert (sheet[name][3], sheet[name][6]) == (answered, median)
            assert care_csv[name]["median_first_response_minutes"] == str(median)
            assert care[name].actionable == stats.actionable == report[name]["complaints"] + report[name]["questions"]

    # a competitor: no response figure anywhere, even for our answers on posts that name it
    assert "Skyhop" not in care and "Skyhop" not in sheet
    assert chosen["Skyhop"].not_applicable == care_metrics.OWN_BRANDS_ONLY and chosen["Skyhop"].answered == 0
    assert [_shown(report["Skyhop"][k]) for k in ("answered", "median_first_response_minutes", "within_sla_share")] \
        == [summary_csv["Skyhop"][k] for k in ("answered", "median_first_response_minutes", "within_sla_share")] \
        == ["", "", ""]
