"""A source query's stored state: its cursor, rate-limit budget, health and pause (one row per (source,
query key)). Ingest moves the cursor in the same transaction as the page it follows; collector runs,
streams and the Sources page read and set the rest.
"""
from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from careline.db import rowcount
from careline.models import SourceState, utcnow
from collectors.base import RateLimit


def move_cursor(session: Session, source: str, query_key: str, cursor: str | None,
                 rate_limit: RateLimit | None) -> None:
    """save_source_state(cursor=, rate_limit=, healthy=True) as one UPDATE (the ORM's read and flush of the
    row were 6% of a first ingest's client CPU on PostgreSQL, every page); a query's first page makes the
    row through save_source_state. A SourceState the session holds is stale now: it is expired, found by
    its identity key from the id the UPDATE returns, not by walking the identity map (that walk took
    ~1.5-2 µs an object held). A collector's page session holds nothing, so there the UPDATE returns
    nothing: a RETURNING took ~25-40 µs more a call on SQLite, ~70 on PostgreSQL (result handling)."""
    params: dict[str, Any] = {"src": source, "key": query_key, "at": utcnow()}
    if cursor is not None:
        params["cur"] = cursor
    if rate_limit is not None:
        params.update(left=rate_limit.remaining, lim=rate_limit.limit, reset=rate_limit.reset_at)
    conn, shape = session.connection(), (cursor is not None, rate_limit is not None)
    if session.identity_map:
        state_id = conn.execute(_cursor_update(*shape, returning_id=True), params).scalar()
        held = None if state_id is None else session.identity_map.get(session.identity_key(SourceState, state_id))
        if held is not None:
            session.expire(held)
        found = state_id is not None
    else:
        found = rowcount(conn.execute(_cursor_update(*shape, returning_id=False), params)) > 0
    if not found:
        save_source_state(session, source, query_key, cursor=cursor, rate_limit=rate_limit, healthy=True)


@functools.cache
def _cursor_update(cursor: bool, rate_limit: bool, returning_id: bool) -> sa.Update:
    """move_cursor's UPDATE, built once per shape (building it each page was most of its client CPU)."""
    t = SourceState.__table__  # type: ignore[attr-defined]
    values: dict[str, Any] = {"healthy": True, "last_error": None,
                              "updated_at": sa.bindparam("at", type_=t.c.updated_at.type)}
    if cursor:
        values["cursor"] = sa.bindparam("cur", type_=t.c.cursor.type)
    if rate_limit:
        values.update(rate_limit_remaining=sa.bindparam("left", type_=t.c.rate_limit_remaining.type),
                      rate_limit_limit=sa.bindparam("lim", type_=t.c.rate_limit_limit.type),
                      rate_limit_reset_at=sa.bindparam("reset", type_=t.c.rate_limit_reset_at.type))
    stmt = sa.update(t).where(t.c.source == sa.bindparam("src"), t.c.query_key == sa.bindparam("key")).values(**values)
    return stmt.returning(t.c.id) if returning_id else stmt


def get_source_state(session: Session, source: str, query_key: str) -> SourceState | None:
    stmt = select(SourceState).where(SourceState.source == source, SourceState.query_key == query_key)
    return session.exec(stmt).first()


def save_source_state(
    session: Session,
    source: str,
    query_key: str,
    *,
    cursor: str | None = None,
    rate_limit: RateLimit | None = None,
    healthy: bool | None = None,
    error: str | None = None,
    paused_until: datetime | None = None,
    paused_reason: str | None = None,
    keep_cursor: bool = False,
) -> SourceState:
    state = get_source_state(session, source, query_key)
    if state is None:
        state = SourceState(source=source, query_key=query_key)
        session.add(state)
    if not keep_cursor and cursor is not None:
        state.cursor = cursor
    if rate_limit is not None:
        state.rate_limit_remaining = rate_limit.remaining
        state.rate_limit_limit = rate_limit.limit
        state.rate_limit_reset_at = rate_limit.reset_at
    if healthy is not None:
        state.healthy = healthy
    if healthy:
        state.last_error = None
    if error is not None:
        state.last_error = error
    if paused_until is not None or paused_reason is not None:
        state.paused_until = paused_until
        state.paused_reason = paused_reason
    state.updated_at = utcnow()
    session.flush()
    return state
