"""audit.record_many: many events in one statement read back as record() would have stored them."""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from careline.models import AuditEvent
from careline.services import audit


def test_record_many_stores_each_event_in_one_statement(any_engine: Engine) -> None:
    at = datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc)
    events = [(7, {"rule": "Bagages « perdus »", "rule_id": 3, "trigger": "classified", "tag": "baggage"}),
              (8, {"rule": "vip", "rule_id": None, "priority": -2.5, "assigned": "ana"}),
              (None, {"rule": "nested", "detail": {"a": [1, 2]}})]
    statements: list[str] = []

    def count(_conn, _cursor, statement: str, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    with Session(any_engine) as session:
        session.connection()  # the connection's own setup statements are not counted
        sa.event.listen(any_engine, "before_cursor_execute", count)
        try:
            audit.record_many(session, at, "routing", "route", events)
            audit.record_many(session, at, "routing", "route", [])  # nothing to write: no statement
        finally:
            sa.event.remove(any_engine, "before_cursor_execute", count)
        session.commit()
        stored = list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))))
    assert len(statements) == 1
    assert [(e.mention_id, e.detail) for e in stored] == events
    assert {(e.actor, e.action, e.at) for e in stored} == {("routing", "route", at)}
