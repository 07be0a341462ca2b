"""The care tables of the weekly export: response and resolution times per brand, team and agent, and
every breach of the period (from careline/services/care_metrics.py; competitors never count)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlmodel import Session

from careline.reports.periods import Period
from careline.services import care_metrics, elapsed

CARE_COLS = ["by", "name", "complaints_and_questions", "answered", "breached", "breach_share",
             "median_first_response_minutes", "resolved", "median_resolution_minutes"]
BREACH_COLS = ["mention_id", "brand", "team", "agent", "posted", "respond_by", "first_response", "late_minutes", "text"]
UNTRUSTED_BREACH = (BREACH_COLS.index("text"),)


def care_tables(session: Session, period: Period, now: datetime | None = None) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """`now`: when the report was made (unanswered mentions breach once their deadline is past it); one
    instant for every table, so the Care counts, the breach list, the CSV files and the workbook agree."""
    since, until, zone = period.start_utc, period.end_utc, period.zone
    now = now or datetime.now(timezone.utc)
    rows: list[list[Any]] = []
    for group in care_metrics.GROUPS:
        for r in care_metrics.summary(session, since, until, group, now=now):
            rows.append([group, r.group, r.actionable, r.answered, r.breached, round(r.breach_share, 4),
                         elapsed.display_minutes(r.median_first_response_s), r.resolved,
                         elapsed.display_minutes(r.median_resolution_s)])

    def local(value: Any) -> str:
        return value.astimezone(zone).isoformat(" ", "minutes")[:16] if value else ""

    breaches = [[b.mention_id, b.brand, b.team, b.agent, local(b.created_at), local(b.respond_by),
                 local(b.first_response_at), b.late_minutes, b.text]
                for b in care_metrics.breaches(session, since, until, limit=100_000, now=now)]
    return {"care": (CARE_COLS, rows), "breaches": (BREACH_COLS, breaches)}
