"""Audit trail: every state change a person makes writes one event in the same transaction."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, col, select

from careline.cells import csv_safe
from careline.db import is_postgres
from careline.models import AuditEvent


def record(
    session: Session,
    actor: str,
    action: str,
    *,
    mention_id: int | None = None,
    reply_id: int | None = None,
    **detail: Any,
) -> AuditEvent:
    event = AuditEvent(actor=actor, action=action, mention_id=mention_id, reply_id=reply_id, detail=detail)
    session.add(event)
    return event


def record_many(session: Session, at: datetime, actor: str, action: str,
                events: Sequence[tuple[int | None, dict[str, Any]]]) -> None:
    """Many events by one actor at one time, (mention id, detail) each, in one INSERT ... SELECT over the
    elements of a single JSON array (json_each on SQLite, json_array_elements on PostgreSQL), as the
    escalation scan writes its own. An executemany binds and adapts five values per row in Python and, on
    PostgreSQL, sends a statement per row: a routing batch's audit rows (benchmarks/care_workflow.py's
    rules, 1,000 mentions at 1M, load ~2) took 22.7 ms that way and 7.9 ms this way (docs/care.md §7)."""
    if not events:
        return
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    payload = sa.bindparam("events", json.dumps([[mid, detail] for mid, detail in events]), type_=sa.Text)
    mention_id: sa.ColumnElement[Any]
    detail: sa.ColumnElement[Any]
    if is_postgres(session):
        rows = sa.func.json_array_elements(sa.cast(payload, postgresql.JSON)).table_valued("value").alias("ev")
        mention_id, detail = sa.cast(rows.c.value.op("->>")(0), sa.Integer), rows.c.value.op("->")(1)
    else:
        rows = sa.func.json_each(payload).table_valued("value").alias("ev")
        mention_id, detail = sa.func.json_extract(rows.c.value, "$[0]"), sa.func.json_extract(rows.c.value, "$[1]")
    pick = sa.select(sa.literal(at, table.c.at.type), sa.literal(actor), sa.literal(action), mention_id,
                     detail).select_from(rows)
    session.connection().execute(sa.insert(table).from_select(["at", "actor", "action", "mention_id", "detail"], pick))


def history(session: Session, mention_id: int, limit: int = 200) -> list[AuditEvent]:
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.mention_id == mention_id)
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
        .limit(limit)
    )
    return list(session.exec(stmt))


def recent(session: Session, limit: int = 100, actor: str | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit)
    if actor:
        stmt = stmt.where(AuditEvent.actor == actor)
    return list(session.exec(stmt))


def search(session: Session, *, actor: str | None = None, action: str | None = None,
           mention_id: int | None = None, since: datetime | None = None, until: datetime | None = None,
           limit: int = 500) -> list[AuditEvent]:
    """Events for the Audit page and its CSV export, newest first (`at` and `mention_id` are indexed)."""
    stmt = select(AuditEvent)
    if actor:
        stmt = stmt.where(AuditEvent.actor == actor)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if mention_id is not None:
        stmt = stmt.where(AuditEvent.mention_id == mention_id)
    if since is not None:
        stmt = stmt.where(AuditEvent.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.at < until)
    stmt = stmt.order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc()).limit(max(1, min(limit, 100_000)))
    return list(session.exec(stmt))


def choices(session: Session) -> tuple[list[str], list[str]]:
    """Who has done something and which actions exist, for the Audit page's filters."""
    actors = session.exec(select(AuditEvent.actor).distinct().limit(1000))
    actions = session.exec(select(AuditEvent.action).distinct().limit(200))
    return sorted(a for a in actors if a), sorted(a for a in actions if a)


def to_csv(events: list[AuditEvent]) -> str:
    """CSV of events; cells a spreadsheet would run as a formula are prefixed with an apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "at_utc", "actor", "action", "mention_id", "reply_id", "detail"])
    for e in events:
        detail = json.dumps(e.detail or {}, ensure_ascii=False, sort_keys=True, default=str)
        writer.writerow([e.id, e.at.isoformat(), csv_safe(e.actor), csv_safe(e.action), e.mention_id or "",
                         e.reply_id or "", csv_safe(detail)])
    return out.getvalue()


