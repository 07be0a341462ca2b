"""Sign-in protection: slow down and lock repeated failures per user name and per client, audit each try.

Each failed try adds one to a counter for "user:<name>" (whether or not the user exists, so a lock says
nothing about which names are real) and one for "client:<address>". The answer to a failure is delayed
`signin_delay_seconds * 2**(failures-1)` (capped at 8 s); `signin_lock_after` failures (four times that
for a client address) inside `signin_window_seconds` lock that key for `signin_lock_seconds`, and the lock lifts by itself. An unknown
or disabled user costs one bcrypt check like a wrong password does. Passwords are never logged or stored.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from careline.models import SignInThrottle, User, utcnow
from careline.services import audit, users
from careline.settings import Settings

log = logging.getLogger(__name__)
MAX_DELAY_S = 8.0


@dataclass
class Outcome:
    user: User | None
    message: str | None = None  # one sentence for the sign-in page when `user` is None
    locked_until: datetime | None = None
    delay_s: float = 0.0


def _keys(username: str, client: str | None) -> list[str]:
    return [f"user:{username}"[:150], f"client:{client or 'unknown'}"[:150]]


def _rows(session: Session, keys: list[str], settings: Settings, now: datetime) -> list[SignInThrottle]:
    rows = []
    window = timedelta(seconds=settings.signin_window_seconds)
    for key in keys:
        row = session.get(SignInThrottle, key) or SignInThrottle(key=key, failures=0, window_started_at=now)
        lifted = row.locked_until is not None and row.locked_until <= now
        if lifted or (row.locked_until is None and row.window_started_at <= now - window):
            row.failures, row.window_started_at, row.locked_until = 0, now, None  # a fresh start
        rows.append(row)
    return rows


def locked_until(session: Session, username: str, client: str | None, settings: Settings) -> datetime | None:
    now = utcnow()
    ends = [r.locked_until for r in _rows(session, _keys(username.strip().lower(), client), settings, now)
            if r.locked_until and r.locked_until > now]
    return max(ends) if ends else None


def _threshold(key: str, settings: Settings) -> int:
    # Many people can share one address (an office, a reverse proxy): a client locks only after four
    # times as many failures, so one guesser there does not lock everyone out as quickly.
    return settings.signin_lock_after * (4 if key.startswith("client:") else 1)


def _wait_text(until: datetime, now: datetime) -> str:
    secs = max(1, int((until - now).total_seconds()) + 1)
    return f"{secs} seconds" if secs < 120 else f"{secs // 60 + 1} minutes"


def attempt(session: Session, username: str, password: str, client: str | None, settings: Settings,
            sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """Check a password under the throttle; audits the outcome and sleeps out a failure's delay."""
    name = username.strip().lower()[:100]
    actor = name or "(blank)"
    now = utcnow()
    rows = _rows(session, _keys(name, client), settings, now)
    lock = max((r.locked_until for r in rows if r.locked_until and r.locked_until > now), default=None)
    if lock is not None:
        users.dummy_check()  # a locked name answers as slowly as any other
        audit.record(session, actor, "sign_in_refused_locked", client=client, until=lock.isoformat())
        session.commit()
        log.warning("sign-in refused for %r from %s: locked until %s", actor, client, lock.isoformat())
        return Outcome(None, f"Too many failed sign-ins: try again in {_wait_text(lock, now)}.", lock)
    user = users.authenticate(session, name, password)
    if user is not None:
        session.merge(SignInThrottle(key=rows[0].key, failures=0, window_started_at=now))
        audit.record(session, user.username, "sign_in", method="password", client=client)
        session.commit()
        log.info("sign-in by %s from %s", user.username, client)
        return Outcome(user)
    new_lock = None
    for row in rows:
        row.failures += 1
        if row.failures >= _threshold(row.key, settings) and row.locked_until is None:
            row.locked_until = new_lock = now + timedelta(seconds=settings.signin_lock_seconds)
            audit.record(session, actor, "sign_in_lock", key=row.key.split(":")[0], client=client,
                         failures=row.failures, until=row.locked_until.isoformat())
            log.warning("sign-in locked for %s after %d failures (until %s)", row.key, row.failures,
                        row.locked_until.isoformat())
        session.merge(row)
    worst = max(r.failures for r in rows)
    delay = min(MAX_DELAY_S, settings.signin_delay_seconds * 2 ** (worst - 1))
    audit.record(session, actor, "sign_in_failed", client=client, failures=worst)
    session.commit()  # before the delay: a parallel guess already sees the new count
    log.info("failed sign-in for %r from %s (%d in a row)", actor, client, worst)
    sleep(delay)
    if new_lock is not None:
        return Outcome(None, f"Too many failed sign-ins: try again in {_wait_text(new_lock, now)}.", new_lock,
                       delay)
    return Outcome(None, "Wrong username or password.", None, delay)
