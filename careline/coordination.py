"""Leader election so that exactly one scheduler fires each job, however many workers run.

PostgreSQL: a session-level advisory lock held on a dedicated connection. If the leader dies, its
connection closes, the lock is released, and the next worker to try becomes leader (within one retry
interval). SQLite (one process by design): a row in the `lock` table with an expiry, renewed by the
holder, which gives the same behaviour for several schedulers on one machine.

`worker_id` names a process for leases everywhere (leader lease, classification queue, outbox sender).
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from careline.models import Lock, utcnow

log = logging.getLogger(__name__)


def worker_id(role: str = "worker") -> str:
    """`role@host:pid:random`: unique per process and call, readable in a lease column or a log line."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a lock name."""
    return int.from_bytes(hashlib.sha256(f"careline:{name}".encode()).digest()[:8], "big", signed=True)


class LeaderLease:
    def __init__(self, engine: Engine, name: str, owner: str, ttl_seconds: int = 30) -> None:
        self.engine, self.name, self.owner, self.ttl = engine, name, owner, ttl_seconds
        self._conn: Connection | None = None
        self.held = False

    @property
    def postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def try_acquire(self) -> bool:
        """Take or renew leadership; returns whether we hold it now."""
        try:
            self.held = self._try_pg() if self.postgres else self._try_row()
        except sa.exc.DBAPIError as exc:
            log.warning("leader check for %s failed: %s", self.name, exc.orig if hasattr(exc, "orig") else exc)
            self._drop_connection()
            self.held = False
        return self.held

    def _try_pg(self) -> bool:
        if self._conn is not None:
            self._conn.execute(sa.text("SELECT 1"))  # still connected means still holding the lock
            return True
        conn = self.engine.connect()
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(self.name)}).scalar()
        conn.commit()
        if got:
            self._conn = conn
            return True
        conn.close()
        return False

    def _try_row(self) -> bool:
        now = utcnow()
        until = now + timedelta(seconds=self.ttl)
        table = Lock.__table__  # type: ignore[attr-defined]
        with self.engine.begin() as conn:
            updated = conn.execute(
                sa.update(table)
                .where(table.c.name == self.name)
                .where(sa.or_(table.c.owner == self.owner, table.c.expires_at < now))
                .values(owner=self.owner, expires_at=until)
            ).rowcount
            if updated:
                return True
            exists = conn.execute(sa.select(table.c.name).where(table.c.name == self.name)).first()
            if exists:
                return False
            try:
                with conn.begin_nested():
                    conn.execute(sa.insert(table).values(name=self.name, owner=self.owner, expires_at=until))
                return True
            except sa.exc.IntegrityError:
                return False

    def release(self) -> None:
        if self.postgres:
            if self._conn is not None:
                try:
                    self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _key(self.name)})
                    self._conn.commit()
                finally:
                    self._drop_connection()
        elif self.held:
            table = Lock.__table__  # type: ignore[attr-defined]
            with self.engine.begin() as conn:
                conn.execute(sa.delete(table).where(table.c.name == self.name, table.c.owner == self.owner))
        self.held = False

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sa.exc.DBAPIError:
                pass
            self._conn = None
