"""One brand rule for Trends and the weekly report (mention_brands): a brand's figures count every post
that names it, a total counts each post once, a brand filter matches a post that names the brand; a post
its author deleted still counts and is marked in the raw export."""
from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.models import Brand, MentionBrand
from careline.reports import build, queries
from careline.reports.periods import previous_week, week_period
from careline.reports.weekly import export_week
from careline.services import inbox, trends
from careline.settings import Settings
from tests.factories import make_brand
from tests.reports.helpers import add, brands, mention, utc

BERLIN = ZoneInfo("Europe/Berlin")
WEEK = week_period("2026-W43", BERLIN)  # Mon 19 Oct .. Sun 25 Oct 2026, Berlin


def _seed(session: Session) -> tuple[Brand, Brand, Brand]:
    own, rival = brands(session)
    cargo = make_brand(session, "Acme Cargo")
    both = mention(own, utc(2026, 10, 20, 9), "negative", "complaint", text="Acme Air and Skyhop lost it",
                   first_response_at=utc(2026, 10, 20, 9, 30))
    ours_twice = mention(own, utc(2026, 10, 21, 9), "positive", "praise", author_handle="fan",
                         text="Acme Air and Acme Cargo were great")
    deleted = mention(own, utc(2026, 10, 22, 9), "negative", "complaint", text="Acme Air is awful",
                      deleted_at=utc(2026, 10, 23, 9))
    add(session, both, ours_twice, deleted,
        mention(rival, utc(2026, 10, 24, 21, 30), "neutral", "other"),  # Sunday 25 Oct in Berlin
        mention(own, utc(2026, 10, 25, 23, 30), "neutral", "other"))  # Monday 26 Oct in Berlin: W44
    session.add_all([MentionBrand(mention_id=both.id, brand_id=rival.id),
                     MentionBrand(mention_id=ours_twice.id, brand_id=cargo.id)])
    session.commit()
    return own, rival, cargo


def _trends_per_brand(session: Session, brand_ids: list[int] | None = None) -> Counter[str]:
    out: Counter[str] = Counter()
    for r in trends.volume(session, WEEK.start_utc, WEEK.end_utc, zone=BERLIN, brand_ids=brand_ids):
        out[r.brand] += r.count
    return out


def test_the_report_counts_brands_as_trends_does_and_each_post_once_in_totals(any_engine: Engine) -> None:
    with Session(any_engine, expire_on_commit=False) as session:
        own, rival, cargo = _seed(session)
        report = build.build_report(session, WEEK, previous_week(WEEK), 60)
        per_brand = _trends_per_brand(session)
        share = {s.brand: s.share for s in trends.share_of_voice(session, WEEK.start_utc, WEEK.end_utc)}
        only_rival = _trends_per_brand(session, [rival.id])  # type: ignore[list-item]
        cargo_fans = queries.top_advocates(session, WEEK, [cargo.id])
    rows = {r["brand"]: r for r in report.summary}
    assert per_brand == {"Acme Air": 3, "Skyhop": 2, "Acme Cargo": 1}
    assert {b: rows[b]["mentions"] for b in per_brand} == dict(per_brand)
    assert {b: rows[b]["share_of_voice"] for b in per_brand} == {b: round(s, 4) for b, s in share.items()}
    # totals: four posts, three of them ours, however many brands each names
    assert report.total == 4 and rows[build.OVERALL]["mentions"] == 3
    assert sum(rows[b]["mentions"] for b in per_brand) == 6  # the brand rows are not a total
    assert rows[build.OVERALL]["complaints"] == 2 and rows[build.OVERALL]["praise"] == 1
    # the answered post names a competitor too: it is ours, and the competitor's row shows no answers
    assert rows["Acme Air"]["answered"] == 1 and rows[build.OVERALL]["answered"] == 1
    assert rows["Skyhop"]["answered"] is None and rows["Skyhop"]["median_first_response_minutes"] is None
    # a brand filter matches a post that names the brand, in Trends and the report alike
    assert only_rival == {"Skyhop": 2}
    assert [a["author_handle"] for a in cargo_fans] == ["fan"]
    trend = {r["brand"]: r["mentions"] for r in report.trend if r["week"] == "2026-W43"}
    assert trend == {build.OVERALL: 3, **per_brand}
    daily: Counter[int | None] = Counter()
    for (_day, brand_id, *_), n in report.daily.per_brand.items():
        daily[brand_id] += n
    assert daily == {own.id: 3, rival.id: 2, cargo.id: 1}


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:  # the files carry a BOM for Excel
        return list(csv.DictReader(fh))


def test_the_raw_export_marks_a_post_its_author_deleted(settings: Settings, any_engine: Engine,
                                                        tmp_path: Path) -> None:
    settings = settings.model_copy(update={"timezone": "Europe/Berlin"})
    with Session(any_engine) as session:
        _seed(session)
    export_week(settings, any_engine, "2026-W43", out_dir=tmp_path)
    raw = _csv(tmp_path / "careline-2026-W43-mentions.csv")
    assert len(raw) == 4  # one row a post; the deleted one was posted, so it stays
    marks = {r["text"]: r["deleted"] for r in raw}
    assert marks.pop("Acme Air is awful") == inbox.DELETED_BADGE
    assert set(marks.values()) == {""}
    sheet = openpyxl.load_workbook(tmp_path / "careline-2026-W43.xlsx")["Mentions"]
    header = [c.value for c in sheet[1]]
    cells = {r[header.index("text")]: r[header.index("deleted")] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert cells["Acme Air is awful"] == inbox.DELETED_BADGE and cells["Acme Air and Skyhop lost it"] in ("", None)
    summary = {r["brand"]: r for r in _csv(tmp_path / "careline-2026-W43-summary.csv")}
    assert summary["All our brands"]["mentions"] == "3" and summary["Acme Air"]["mentions"] == "3"
