"""The weekly export on a seeded database: exact counts across a DST change and a week boundary, the
files (CSV, XLSX sheets, PNG, HTML), formula injection, empty weeks, unwritable folders, atomic writes."""
from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from PIL import Image
from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.models import Author, AuthorBrand
from careline.reports import queries, weekly
from careline.reports.periods import week_period
from careline.reports.weekly import ExportError, export_range, export_week
from careline.settings import Settings
from tests.reports.helpers import add, brands, mention, utc

BERLIN = ZoneInfo("Europe/Berlin")


def _seed_dst_week(session: Session) -> None:
    own, rival = brands(session)
    add(session,
        # week boundary: Sunday 18 Oct 23:59 CEST belongs to W42, Monday 00:00 CEST to W43
        mention(own, utc(2026, 10, 18, 21, 59), "negative", "complaint"),
        mention(own, utc(2026, 10, 18, 22, 0), "negative", "complaint", text="Acme Air lost my bag in Oslo"),
        # Saturday 24 Oct 23:59 CEST vs Sunday 25 Oct 00:00 CEST
        mention(own, utc(2026, 10, 24, 21, 59), "positive", "praise", author_handle="fan", platform="reddit"),
        mention(own, utc(2026, 10, 24, 22, 0), "positive", "praise", author_handle="fan", platform="reddit"),
        # Sunday 25 Oct (25 hours long): 02:30 happens twice; 23:59 CET is still Sunday, 00:00 CET is W44
        mention(own, utc(2026, 10, 25, 0, 30), "negative", "complaint", text="Acme Air lost my bag, luggage gone"),
        mention(own, utc(2026, 10, 25, 1, 30), "negative", "complaint", text="=HYPERLINK(\"http://evil\",\"x\")"),
        mention(own, utc(2026, 10, 25, 22, 59), "neutral", "question", corrected_intent="complaint",
                corrected_sentiment="negative", text="Where is my luggage, Acme Air?",
                first_response_at=utc(2026, 10, 25, 23, 29)),
        mention(own, utc(2026, 10, 25, 23, 0), "neutral", "question"),
        mention(rival, utc(2026, 10, 20, 12), "negative", "complaint"),
        mention(own, utc(2026, 10, 21, 9), "neutral", "question", first_response_at=utc(2026, 10, 21, 13)),
        mention(own, utc(2026, 10, 22, 9), None, None, platform="bluesky"),
    )
    # lifetime: 7 praise for us and 2 for the competitor (the all-brand Author.praise_count says 9)
    fan = Author(platform="reddit", handle="fan", display_name="Big Fan", followers=50, praise_count=9)
    session.add(fan)
    session.commit()
    session.add_all([AuthorBrand(author_id=fan.id, brand_id=own.id, praise_count=7),
                     AuthorBrand(author_id=fan.id, brand_id=rival.id, praise_count=2)])
    session.commit()


def test_daily_counts_cut_in_local_days_across_dst(any_engine: Engine) -> None:
    with Session(any_engine) as session:
        _seed_dst_week(session)
        daily = queries.daily_counts(session, week_period("2026-W43", BERLIN)).per_brand
    per_day: dict[date, int] = {}
    for (day, *_rest), n in daily.items():
        per_day[day] = per_day.get(day, 0) + n
    assert per_day == {date(2026, 10, 19): 1, date(2026, 10, 20): 1, date(2026, 10, 21): 1,
                       date(2026, 10, 22): 1, date(2026, 10, 24): 1, date(2026, 10, 25): 4}
    own_id = 1
    # the correction wins over the model's labels
    assert daily[(date(2026, 10, 25), own_id, "x", "negative", "complaint")] == 3
    assert daily[(date(2026, 10, 22), own_id, "bluesky", "unclassified", "unclassified")] == 1


def test_export_week_writes_every_file_with_exact_numbers(settings: Settings, any_engine: Engine,
                                                           tmp_path: Path) -> None:
    engine = any_engine
    settings = settings.model_copy(update={"timezone": "Europe/Berlin", "sla_minutes": 60})
    with Session(engine) as session:
        _seed_dst_week(session)
    paths = export_week(settings, engine, "2026-W43", out_dir=tmp_path / "out")
    names = sorted(p.name for p in paths)
    assert names == sorted(["careline-2026-W43-summary.csv", "careline-2026-W43-daily.csv",
                            "careline-2026-W43-advocates.csv", "careline-2026-W43-themes.csv",
                            "careline-2026-W43-mentions.csv", "careline-2026-W43.xlsx",
                            "careline-2026-W43-trend.png", "careline-2026-W43.html",
                            "careline-2026-W43-care.csv", "careline-2026-W43-breaches.csv"])
    assert not list((tmp_path / "out").glob(".*tmp"))
    rows = {r["brand"]: r for r in _csv(tmp_path / "out" / "careline-2026-W43-summary.csv")}
    own, rival, overall = rows["Acme Air"], rows["Skyhop"], rows["All our brands"]
    assert (own["mentions"], own["complaints"], own["praise"], own["questions"]) == ("8", "4", "2", "1")
    assert (own["positive"], own["negative"], own["neutral"], own["unclassified"]) == ("2", "4", "1", "1")
    assert own["net_sentiment"] == "-28.6"  # (2 - 4) / 7 classified
    assert own["share_of_voice"] == "0.8889" and rival["share_of_voice"] == "0.1111"
    # answered: 30 min (corrected complaint, inside the 60-min SLA) and 240 min (question, outside it)
    assert own["answered"] == "2" and own["median_first_response_minutes"] == "30.0"  # nearest rank of 30, 240
    assert own["within_sla_share"] == "0.2"  # 1 of 4 complaints + 1 question
    assert rival["within_sla_share"] == ""  # nobody answers a competitor's customers
    assert overall["mentions"] == "8"
    advocates = _csv(tmp_path / "out" / "careline-2026-W43-advocates.csv")
    assert advocates[0]["author_handle"] == "fan" and advocates[0]["praise"] == "2"
    assert advocates[0]["display_name"] == "Big Fan" and advocates[0]["lifetime_praise"] == "7"
    themes = [r["theme"] for r in _csv(tmp_path / "out" / "careline-2026-W43-themes.csv")]
    assert {"luggage", "lost"} <= set(" ".join(themes[:3]).split())  # lexicon labels: themes by words
    assert not any("acme" in t or t == "air" for t in themes)

    raw = _csv(tmp_path / "out" / "careline-2026-W43-mentions.csv")
    assert len(raw) == 9
    assert raw[0]["created_local"] == "2026-10-19 00:00:00"
    assert raw[-1]["created_local"] == "2026-10-25 23:59:00"
    evil = next(r for r in raw if "HYPERLINK" in r["text"])
    assert evil["text"].startswith("'=")  # shown, never evaluated

    book = openpyxl.load_workbook(tmp_path / "out" / "careline-2026-W43.xlsx")
    assert book.sheetnames == ["Summary", "Daily", "Trend", "Advocates", "Themes", "Care", "Breaches",
                               "Mentions"]
    sheet = book["Mentions"]
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert cells and all(c.data_type == "s" and c.value.startswith("=") for c in cells)
    assert sheet.max_row == 10
    trend = list(book["Trend"].iter_rows(min_row=2, values_only=True))
    assert len({r[0] for r in trend}) == 12 and trend[-1][0] == "2026-W43"

    png = tmp_path / "out" / "careline-2026-W43-trend.png"
    with Image.open(png) as img:
        img.verify()
        assert img.format == "PNG" and img.size[0] > 400
    html = (tmp_path / "out" / "careline-2026-W43.html").read_text()
    assert "complaints" in html and "data:image/png;base64," in html
    assert "<script" not in html


def test_headline_names_the_rising_complaint_theme(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as session:
        own, _ = brands(session)
        before = [mention(own, utc(2026, 11, 10, 10) + timedelta(minutes=i), "negative", "complaint",
                          text="Acme Air flight delayed again") for i in range(5)]
        after = [mention(own, utc(2026, 11, 17, 10) + timedelta(minutes=i), "negative", "complaint",
                         text=f"Acme Air delivery of my bag failed {i}") for i in range(7)]
        add(session, *before, *after)
    export_week(settings, engine, "2026-W47", out_dir=tmp_path)
    text = (tmp_path / "careline-2026-W47.html").read_text()
    assert "complaints +40% (5 → 7), mostly about" in text
    assert "mostly about bag" in text or "mostly about delivery" in text or "mostly about failed" in text


def test_empty_week_is_a_valid_clearly_empty_report(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    paths = export_week(settings, engine, "2026-W01", out_dir=tmp_path)
    assert len(paths) == 10 and all(p.stat().st_size > 0 for p in paths)
    assert "No mentions in this period" in (tmp_path / "careline-2026-W01.html").read_text()
    summary = _csv(tmp_path / "careline-2026-W01-summary.csv")
    assert summary[0]["brand"] == "All our brands" and summary[0]["mentions"] == "0"
    book = openpyxl.load_workbook(tmp_path / "careline-2026-W01.xlsx")
    assert book["Mentions"]["A2"].value == "No mentions in 2026-W01."
    with Image.open(tmp_path / "careline-2026-W01-trend.png") as img:
        assert img.format == "PNG"


def test_unwritable_folder_is_one_sentence(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ExportError) as exc:
        export_week(settings, engine, "2026-W01", out_dir=blocker / "exports")
    message = str(exc.value)
    assert message.startswith("Cannot write the report to") and message.endswith(".") and "\n" not in message


def test_a_failed_write_leaves_the_previous_files_whole(settings: Settings, engine: Engine, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    export_week(settings, engine, "2026-W01", out_dir=tmp_path)
    before = (tmp_path / "careline-2026-W01-trend.png").read_bytes()

    def boom(*_a: object, **_k: object) -> bytes:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(weekly, "trend_png", boom)
    with pytest.raises(ExportError, match="No space left on device"):
        export_week(settings, engine, "2026-W01", out_dir=tmp_path)
    assert (tmp_path / "careline-2026-W01-trend.png").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_export_last_week_uses_the_zone(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"timezone": "Asia/Tokyo", "export_dir": tmp_path / "x"})
    paths = weekly.export_last_week(settings, engine, now=utc(2026, 11, 22, 22, 30))
    assert paths[0].name == "careline-2026-W47-summary.csv" and paths[0].parent == tmp_path / "x"


def test_export_range_for_the_dashboard(engine: Engine) -> None:
    with Session(engine) as session:
        _seed_dst_week(session)
        data = export_range(session, date(2026, 10, 19), date(2026, 10, 25), "Europe/Berlin")
        bundle = export_range(session, date(2026, 10, 19), date(2026, 10, 25), "Europe/Berlin", fmt="zip")
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book["Mentions"].max_row == 10
    names = zipfile.ZipFile(io.BytesIO(bundle)).namelist()
    assert "careline-2026-10-19_2026-10-25-summary.csv" in names and len(names) == 10


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_export_range_bytes_is_what_the_trends_page_downloads(settings: Settings, engine: Engine) -> None:
    with Session(engine) as session:
        _seed_dst_week(session)
    files = weekly.export_range_bytes(settings, date(2026, 10, 19), date(2026, 10, 25))
    assert sorted(files) == ["careline-2026-10-19_2026-10-25.xlsx", "careline-2026-10-19_2026-10-25.zip"]
    assert openpyxl.load_workbook(io.BytesIO(files["careline-2026-10-19_2026-10-25.xlsx"]))["Mentions"].max_row == 10


def test_half_hour_zones_cut_days_exactly(any_engine: Engine) -> None:
    with Session(any_engine, expire_on_commit=False) as session:
        own, _ = brands(session)
        add(session, mention(own, utc(2026, 10, 20, 18, 29)), mention(own, utc(2026, 10, 20, 18, 30)),
            mention(own, utc(2026, 10, 20, 18, 44)))
        daily = queries.daily_counts(session, week_period("2026-W43", ZoneInfo("Asia/Kolkata"))).per_brand
    assert {day: n for (day, *_), n in daily.items()} == {date(2026, 10, 20): 1, date(2026, 10, 21): 2}




def test_top_advocates_break_ties_the_same_on_both_databases(any_engine: Engine) -> None:
    # equal praise: followers decide with unknown as none (PostgreSQL sorted NULL first in DESC, SQLite
    # last), then handle, then platform (one handle on two platforms is two authors)
    with Session(any_engine) as session:
        own, _rival = brands(session)
        at = utc(2026, 10, 20, 12)
        add(session, *[mention(own, at, "positive", "praise", platform=p, author_handle=h, author_followers=f)
                       for p, h, f in [("x", "zed", None), ("mastodon", "ann", 0), ("x", "ann", 0),
                                       ("reddit", "bo", 5), ("x", "cy", None), ("x", "cy", None)]])
        week = week_period("2026-W43", BERLIN)
        ranked = [(a["platform"], a["author_handle"]) for a in queries.top_advocates(session, week, [own.id])]
        assert ranked == [("x", "cy"), ("reddit", "bo"), ("mastodon", "ann"), ("x", "ann"), ("x", "zed")]
        assert [(a["platform"], a["author_handle"]) for a in queries.top_advocates(session, week, [own.id], limit=3)] \
            == ranked[:3]


def test_care_tables_judge_every_breach_at_one_instant(any_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    # the Care counts, the breach list, the CSV files and the workbook each asked for "now" on their own, so
    # a deadline passing during the export made them disagree; a clock that jumps at every call shows it
    from datetime import datetime, timezone

    import careline.services.care_metrics as care_metrics_module

    real = datetime.now(timezone.utc)
    calls = iter(range(100))

    class JumpingClock(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
            return real + timedelta(hours=2 * next(calls))

    monkeypatch.setattr(care_metrics_module, "datetime", JumpingClock)
    with Session(any_engine) as session:
        own, _rival = brands(session)
        add(session, mention(own, real - timedelta(hours=1), "negative", "complaint",
                             respond_by=real + timedelta(hours=1)))
        today = real.astimezone(BERLIN).date()
        data = export_range(session, today - timedelta(days=1), today, BERLIN, fmt="zip")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        care_csv = list(csv.DictReader(io.StringIO(zf.read(next(n for n in names if n.endswith("-care.csv")))
                                                   .decode("utf-8-sig"))))
        breach_csv = list(csv.DictReader(io.StringIO(zf.read(next(n for n in names if n.endswith("-breaches.csv")))
                                                     .decode("utf-8-sig"))))
        book = openpyxl.load_workbook(io.BytesIO(zf.read(next(n for n in names if n.endswith(".xlsx")))), read_only=True)
        breach_sheet = list(book["Breaches"].iter_rows(values_only=True))[1:]
    breached = {row["by"]: int(row["breached"]) for row in care_csv if row["name"] == "Acme Air" or row["by"] != "brand"}
    assert breached["brand"] == breached["team"] == breached["agent"] == len(breach_csv) == len(breach_sheet)
