"""The one-page HTML summary: headlines, the trend chart (embedded, so the file travels alone by email),
and the per-brand table. Every value is escaped: brand names, handles and terms come from users."""
from __future__ import annotations

import base64
from html import escape
from typing import Any

from careline.reports.build import Report

STYLE = """body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.empty{padding:1em;background:#fff8e1;border:1px solid #ffe082}
li{margin:.2em 0}img{max-width:100%}"""
COLUMNS = [("brand", "brand"), ("mentions", "mentions"), ("share_of_voice", "share of voice"),
           ("net_sentiment", "net sentiment"), ("complaints", "complaints"), ("praise", "praise"),
           ("questions", "questions"), ("median_first_response_minutes", "median first response (min)"),
           ("within_sla_share", "within SLA")]


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return "–"
    if key in ("share_of_voice", "within_sla_share"):
        return f"{value:.0%}"
    if key == "net_sentiment":
        return f"{value:+.1f}"
    return str(value)


def summary_html(report: Report, png: bytes | None) -> str:
    p = report.period
    title = f"Careline report {p.label}"
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>",
             f"<p>{escape(p.first.isoformat())} to {escape(p.last.isoformat())} ({escape(str(p.zone))}), "
             f"compared with {escape(report.previous.label)}. "
             f"Generated {escape(report.generated_at.strftime('%Y-%m-%d %H:%M UTC'))}.</p>"]
    if report.empty:
        parts.append("<p class='empty'><strong>No mentions in this period.</strong> "
                     "The report is empty, not broken: check that collection ran.</p>")
    parts.append("<h2>Headlines</h2><ul>" + "".join(f"<li>{escape(h)}</li>" for h in report.headlines) + "</ul>")
    if png:
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<h2>Trend</h2><img alt='sentiment trend' src='data:image/png;base64,{data}'>")
    parts.append("<h2>Brands</h2><table><tr>" + "".join(f"<th>{escape(h)}</th>" for _, h in COLUMNS) + "</tr>")
    for row in report.summary:
        name = row["brand"] + (" (competitor)" if row["competitor"] else "")
        cells = [escape(name)] + [escape(_fmt(k, row[k])) for k, _ in COLUMNS[1:]]
        parts.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    parts.append("</table>")
    if report.themes:
        parts.append("<h2>Top complaint themes</h2><ol>" + "".join(
            f"<li>{escape(str(t['theme']))} ({t['mentions']}): “{escape(str(t['example'])[:200])}”</li>"
            for t in report.themes) + "</ol>")
    if report.advocates:
        parts.append("<h2>Top advocates</h2><ol>" + "".join(
            f"<li>{escape(a['author_handle'])} on {escape(a['platform'])}: {a['praise']} praise</li>"
            for a in report.advocates) + "</ol>")
    parts.append("</body></html>")
    return "\n".join(parts)
