"""Audit trail: every state change a person makes writes one event in the same transaction."""
from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

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
