"""The weekly export: `careline export`, the Monday job, and the Trends page's range download.

Files (stable names, written atomically into settings.exports_path):
  careline-2026-W47-summary.csv    per brand + "All our brands": volume, share of voice, sentiment, SLA
  careline-2026-W47-daily.csv      local day × brand × platform × sentiment × intent → mentions
  careline-2026-W47-advocates.csv  careline-2026-W47-themes.csv   careline-2026-W47-mentions.csv (raw)
  careline-2026-W47-care.csv       response/resolution times and breaches per brand, team, agent (issue #14)
  careline-2026-W47-breaches.csv   every breached response target of the week
  careline-2026-W47.xlsx           the same tables as sheets (Summary, Daily, Trend, Advocates, Themes, Care,
                                   Breaches, Mentions)
  careline-2026-W47-trend.png      careline-2026-W47.html (headlines, chart, brand table)

  A brand's figures count every post that names it (as Trends does); "All our brands" and the totals count
  each post once (careline/services/mention_brands.py). The raw file has a row per post, a post its author
  deleted included and marked "deleted by the author" (inbox.deleted_badge, as search marks it).
"""
from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from careline.db import describe_db_error, get_engine
from careline.errors import CarelineError, DatabaseError
from careline.reports import queries
from careline.reports.build import Report, build_report
from careline.reports.care import BREACH_COLS, UNTRUSTED_BREACH, care_tables
from careline.reports.charts import trend_png
from careline.reports.html import summary_html
from careline.reports.periods import Period, last_complete_week, previous_week, range_period, week_period
from careline.reports.writers import CsvTable, atomic_path, atomic_text
from careline.reports.xlsx import MAX_ROWS, Workbook
from careline.services import app_settings, inbox
from careline.settings import Settings

log = logging.getLogger(__name__)
Progress = Callable[..., None]  # progress(advance=0, total=None)
# Columns of the raw sheet that can hold user text; the others are numbers, dates or fixed vocabularies.
UNTRUSTED_RAW = tuple(queries.RAW_COLUMNS.index(c) for c in ("brand", "author", "url", "text"))
STEPS = 4  # aggregate, tables, chart, html: units on top of one per raw mention
SUMMARY_COLS = ["brand", "competitor", "mentions", "share_of_voice", "positive", "neutral", "negative",
                "unclassified", "net_sentiment", "complaints", "praise", "questions", "other", "answered",
                "median_first_response_minutes", "within_sla_share"]
DAILY_COLS = ["date", "brand", "competitor", "platform", "sentiment", "intent", "mentions"]
TREND_COLS = ["week", "brand", "positive", "neutral", "negative", "mentions", "net_sentiment"]
ADVOCATE_COLS = ["platform", "author_handle", "display_name", "followers", "praise", "lifetime_praise"]
THEME_COLS = ["theme", "mentions", "share", "previous", "change", "negative", "neutral", "positive", "example"]


class ExportError(CarelineError):
    pass


def _noop(advance: int = 0, total: int | None = None) -> None:
    return None


def export_last_week(settings: Settings, engine: Engine | None = None, now: datetime | None = None,
                     out_dir: Path | None = None) -> list[Path]:
    """Export the last complete ISO week in settings.timezone (what the Monday job runs)."""
    period = last_complete_week(settings.zone, now)
    engine = engine or get_engine(settings.url)
    paths = export_week(settings, engine, period.label, out_dir=out_dir)
    with Session(engine) as session:
        wanted = app_settings.get(session, "send_weekly_report", False)
    if wanted and settings.alert_urls:
        send_report(settings, paths)
    return paths


def send_report(settings: Settings, paths: list[Path]) -> None:
    """Send the HTML summary and the XLSX to every alert URL (email or chat, through apprise)."""
    from careline.services.delivery import apprise_notify

    urls = [u.get_secret_value() for u in settings.alert_urls]
    if not urls:
        raise ExportError("No CARELINE_ALERT_URLS are set, so there is nowhere to send the report.")
    attach = [str(p) for p in paths if p.suffix in (".html", ".xlsx")]
    label = next(p.stem for p in paths if p.suffix == ".html").removeprefix("careline-")
    body = f"The Careline report for {label} is attached ({', '.join(Path(a).name for a in attach)})."
    failed = [i + 1 for i, url in enumerate(urls) if not apprise_notify(url, f"Careline report {label}", body, attach)]
    if failed:
        raise ExportError(f"The report was written to {paths[0].parent}, but sending it failed for alert URL "
                          f"{', '.join(f'#{i}' for i in failed)}.")


def export_week(settings: Settings, engine: Engine, iso_week: str, out_dir: Path | None = None,
                progress: Progress = _noop) -> list[Path]:
    period = week_period(iso_week, settings.zone)
    return export_period(settings, engine, period, previous_week(period), out_dir or settings.exports_path, progress)


def export_period(settings: Settings, engine: Engine, period: Period, previous: Period, out_dir: Path,
                  progress: Progress = _noop) -> list[Path]:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with Session(engine) as session:
            progress(total=queries.count_mentions(session, period) + STEPS)
            report = build_report(session, period, previous, app_settings.sla_minutes(session, settings.sla_minutes))
            progress(1)
            paths = write_report(report, session, DirSink(out_dir), progress)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ExportError(f"Cannot write the report to {out_dir}: {reason}.") from exc
    except OperationalError as exc:
        raise DatabaseError(describe_db_error(exc)) from exc
    log.info("exported %s: %d mention(s) into %s", period.label, report.total, out_dir)
    return [out_dir / name for name in paths]


def export_range(session: Session, start: date, end: date, zone: str | ZoneInfo, fmt: str = "xlsx",
                 sla_minutes: int = 120) -> bytes:
    """The same report for any local date range (inclusive), as XLSX bytes or a ZIP of every file."""
    if fmt not in ("xlsx", "zip"):
        raise ValueError(f"unknown format {fmt!r}")
    report = _range_report(session, start, end, zone, sla_minutes)
    return _xlsx_bytes(report, session) if fmt == "xlsx" else _zip_bytes(report, session)


def export_range_bytes(settings: Settings, first: date, last: date) -> dict[str, bytes]:
    """For the dashboard's Trends download: {file name: bytes} with the XLSX and a ZIP of every file."""
    with Session(get_engine(settings.url)) as session:
        report = _range_report(session, first, last, settings.zone,
                               app_settings.sla_minutes(session, settings.sla_minutes))
        return {range_filename(first, last, "xlsx"): _xlsx_bytes(report, session),
                range_filename(first, last, "zip"): _zip_bytes(report, session)}


def _range_report(session: Session, start: date, end: date, zone: str | ZoneInfo, sla_minutes: int) -> Report:
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    period = range_period(start, end, tz)
    length = (end - start).days + 1
    previous = range_period(date.fromordinal(start.toordinal() - length), date.fromordinal(start.toordinal() - 1), tz)
    return build_report(session, period, previous, sla_minutes)


def _xlsx_bytes(report: Report, session: Session) -> bytes:
    buf = io.BytesIO()
    book = Workbook(buf)
    _write_workbook(book, report, session, None)
    book.close()
    return buf.getvalue()


def _zip_bytes(report: Report, session: Session) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        write_report(report, session, ZipSink(zf), _noop)
    return buf.getvalue()


def range_filename(start: date, end: date, fmt: str = "xlsx") -> str:
    return f"careline-{start.isoformat()}_{end.isoformat()}.{fmt}"


class DirSink:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextmanager
    def text(self, name: str) -> Iterator[IO[str]]:
        with atomic_text(self.folder / name) as fh:
            yield fh

    def binary(self, name: str, data: bytes) -> None:
        with atomic_path(self.folder / name) as tmp:
            tmp.write_bytes(data)

    @contextmanager
    def workbook(self, name: str) -> Iterator[Any]:
        with atomic_path(self.folder / name) as tmp:
            book = Workbook(tmp)
            yield book
            book.close()


class ZipSink:
    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf

    @contextmanager
    def text(self, name: str) -> Iterator[IO[str]]:
        buf = io.StringIO(newline="")  # a zip takes one open member at a time; the raw CSV overlaps the XLSX
        yield buf
        self.zf.writestr(name, buf.getvalue().encode("utf-8"))

    def binary(self, name: str, data: bytes) -> None:
        self.zf.writestr(name, data)

    @contextmanager
    def workbook(self, name: str) -> Iterator[Any]:
        buf = io.BytesIO()
        book = Workbook(buf)
        yield book
        book.close()
        self.zf.writestr(name, buf.getvalue())


def write_report(report: Report, session: Session, sink: DirSink | ZipSink, progress: Progress) -> list[str]:
    stem = f"careline-{report.period.label}"
    names = [f"{stem}-summary.csv", f"{stem}-daily.csv", f"{stem}-advocates.csv", f"{stem}-themes.csv",
             f"{stem}-mentions.csv", f"{stem}.xlsx", f"{stem}-trend.png", f"{stem}.html",
             f"{stem}-care.csv", f"{stem}-breaches.csv"]
    tables = _tables(report)
    for name, key in zip(names[:4], ("summary", "daily", "advocates", "themes")):
        header, rows = tables[key]
        with sink.text(name) as fh:
            table = CsvTable(fh, header)
            for row in rows:
                table.row(row)
    for name, (header, rows) in zip(names[8:], care_tables(session, report.period, report.generated_at).values()):
        with sink.text(name) as fh:
            table = CsvTable(fh, header)
            for row in rows:
                if header == BREACH_COLS:  # mention text is untrusted: no spreadsheet formulas
                    table.row_guarded(row, UNTRUSTED_BREACH)
                else:
                    table.row(row)
    progress(1)
    # One pass over the raw mentions feeds both the CSV and the workbook's last sheet.
    with sink.text(names[4]) as fh, sink.workbook(names[5]) as book:
        _write_workbook(book, report, session, CsvTable(fh, queries.RAW_COLUMNS), progress)
    png = trend_png(report.trend, f"Sentiment, 12 weeks to {report.period.label}")
    sink.binary(names[6], png)
    progress(1)
    sink.binary(names[7], summary_html(report, png).encode("utf-8"))
    progress(1)
    return names


def _tables(report: Report) -> dict[str, tuple[list[str], list[list[Any]]]]:
    names = report.brands
    daily = sorted(report.daily.per_brand.items(), key=lambda kv: (kv[0][0], names[kv[0][1]].name if kv[0][1] in names else "",
                                                       kv[0][2], kv[0][3], kv[0][4]))
    return {
        "summary": (SUMMARY_COLS, [[r[c] for c in SUMMARY_COLS] for r in report.summary]),
        "daily": (DAILY_COLS, [[day, (names.get(b) or names[None]).name, (names.get(b) or names[None]).competitor,
                                platform, s, i, n] for (day, b, platform, s, i), n in daily]),
        "trend": (TREND_COLS, [[r[c] for c in TREND_COLS] for r in report.trend]),
        "advocates": (ADVOCATE_COLS, [[a.get(c) for c in ADVOCATE_COLS] for a in report.advocates]),
        "themes": (THEME_COLS, [[t[c] for c in THEME_COLS] for t in report.themes]),
    }


def _write_workbook(book: Workbook, report: Report, session: Session, raw_csv: CsvTable | None,
                    progress: Progress = _noop) -> None:
    tables = _tables(report)
    for key, title in (("summary", "Summary"), ("daily", "Daily"), ("trend", "Trend"), ("advocates", "Advocates"),
                       ("themes", "Themes")):
        header, rows = tables[key]
        sheet = book.add_sheet(title, header)
        for row in rows:
            sheet.row(row)
        if key == "summary":
            sheet.note("")
            sheet.note(f"Period {report.period.label}: {report.period.first} to {report.period.last} "
                       f"({report.period.zone}); compared with {report.previous.label}.")
            for line in report.headlines:
                sheet.note(line)
        elif not rows and report.empty:
            sheet.note(f"No mentions in {report.period.label}.")
    for title, (header, rows) in zip(("Care", "Breaches"), care_tables(session, report.period, report.generated_at).values()):
        sheet = book.add_sheet(title, header)
        for row in rows:
            sheet.row(row)
        if title == "Care":
            sheet.note("")
            sheet.note("Complaints and questions of the period, competitors excluded; a dry run is not an answer, "
                       "a reply recorded as made outside Careline is.")
    mentions = book.add_sheet("Mentions", queries.RAW_COLUMNS)
    brands, zone, done = report.brands, report.period.zone, 0
    for r in queries.raw_mentions(session, report.period):
        info = brands.get(r.brand_id) or brands[None]
        created = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=timezone.utc)
        row = [r.id, created.astimezone(zone).isoformat(" ", "seconds")[:19],
               created.isoformat(timespec="seconds"), info.name,
               r.platform, r.author_handle, r.author_followers, r.eff_sentiment, r.eff_intent, bool(r.corrected),
               r.status, inbox.deleted_badge(r),
               r.first_response_at.isoformat(timespec="seconds") if r.first_response_at else None, r.url, r.text]
        if done < MAX_ROWS - 2:
            mentions.row(row)
        elif done == MAX_ROWS - 2:
            mentions.note("Truncated here: a sheet holds at most 1,048,576 rows; the CSV has every mention.")
        if raw_csv is not None:
            raw_csv.row_guarded(row, UNTRUSTED_RAW)
        done += 1
        if done % 5000 == 0:
            progress(5000)
    progress(done % 5000)
    if not done:
        mentions.note(f"No mentions in {report.period.label}.")
