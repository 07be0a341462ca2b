"""Audit trail: every state change a person makes writes one event in the same transaction."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from careline.cells import csv_safe
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


