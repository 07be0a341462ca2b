"""Presence: who has a mention open, and who is writing a reply to it, from heartbeats that expire.

The dashboard beats every few seconds while a mention is open (careline/settings.py live_refresh_seconds);
a beat older than `presence_ttl_seconds` no longer counts, so a closed tab or a crashed browser disappears
by itself. Presence only informs: it never locks a mention or blocks a reply, and it never makes a page
wait on the database: SQLite has one write lock, which collectors, the sender and every open dashboard's
beats share, so a beat waits at most BEAT_WAIT_MS for it (not the 10 s busy timeout a collector's batch
gets) and is skipped, logged, when a long write holds it; the next beat, seconds later, catches up.
Each beat is its own one-statement transaction, so it holds the lock for well under a millisecond.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, delete, select

from careline.db import is_postgres
from careline.models import Presence, utcnow

log = logging.getLogger(__name__)
ACTIVITIES = ("viewing", "writing")
BEAT_WAIT_MS = 500


@dataclass(frozen=True)
class Here:
    username: str
    activity: str
    seen_at: datetime


@contextmanager
def _short_lock_wait(session: Session) -> Iterator[None]:
    """On SQLite, this connection waits at most BEAT_WAIT_MS for the write lock, then its own timeout again."""
    if is_postgres(session):
        yield
        return
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    before = raw.execute("PRAGMA busy_timeout").fetchone()[0]
    raw.execute(f"PRAGMA busy_timeout={BEAT_WAIT_MS}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(before)}")


def beat(session: Session, username: str, mention_id: int, activity: str = "viewing") -> bool:
    """Record (upsert) that `username` is on `mention_id` now; one row per person and mention. False when
    skipped because SQLite's write lock stayed taken for BEAT_WAIT_MS (logged; presence never blocks)."""
    if activity not in ACTIVITIES:
        raise ValueError(f"unknown activity {activity!r}")
    now = utcnow()
    values = {"username": username, "mention_id": mention_id, "activity": activity, "seen_at": now}
    stmt: Any
    if is_postgres(session):
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(Presence).values(**values)
        stmt = stmt.on_conflict_do_update(constraint="uq_presence_user_mention",
                                          set_={"activity": activity, "seen_at": now})
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(Presence).values(**values)
        stmt = stmt.on_conflict_do_update(index_elements=["username", "mention_id"],
                                          set_={"activity": activity, "seen_at": now})
    try:
        with _short_lock_wait(session):  # the upsert takes the write lock (WAL: commit needs no other)
            session.exec(stmt)  # type: ignore[call-overload]
        session.commit()
    except OperationalError as exc:
        if "locked" not in str(exc.orig):
            raise
        session.rollback()
        log.info("presence beat of %s on mention %s skipped: another write held the database for over %d ms",
                 username, mention_id, BEAT_WAIT_MS)
        return False
    return True


def leave(session: Session, username: str, mention_id: int) -> None:
    session.exec(delete(Presence).where(col(Presence.username) == username,  # type: ignore[call-overload]
                                        col(Presence.mention_id) == mention_id))
    session.commit()


def here(session: Session, mention_id: int, ttl_s: int, *, exclude: str | None = None) -> list[Here]:
    """Who else is on this mention now (writers first); an index probe on mention_id."""
    since = utcnow() - timedelta(seconds=ttl_s)
    stmt = select(Presence).where(Presence.mention_id == mention_id, Presence.seen_at >= since)
    if exclude:
        stmt = stmt.where(Presence.username != exclude)
    rows = [Here(p.username, p.activity, p.seen_at) for p in session.exec(stmt)]
    return sorted(rows, key=lambda h: (h.activity != "writing", h.username))


def sweep(session: Session, ttl_s: int) -> int:
    """Delete heartbeats long past their time (called by beats now and then; keeps the table small)."""
    result = session.exec(delete(Presence).where(  # type: ignore[call-overload]
        col(Presence.seen_at) < utcnow() - timedelta(seconds=10 * ttl_s)))
    session.commit()
    return int(result.rowcount or 0)
