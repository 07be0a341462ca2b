"""Dashboard sign-in sessions: a server-side row per signed-in browser, found again from a signed cookie.

The browser holds `careline_session=<token>.<timestamp>.<signature>` (itsdangerous TimestampSigner). The
server keeps only SHA-256(token), so neither a copy of the table nor a log line can sign anybody in.
A session ends when it is revoked (sign out, password change, disabling or removing the user), after
`session_idle_minutes` without use, or `session_max_hours` after sign-in, whichever comes first.

The cookie is set HttpOnly by an HTTP route (dashboard/asgi.py), not by page JavaScript: the page only
receives a one-time hand-off code that is valid for a minute and is swapped for the cookie once.
"""
from __future__ import annotations

import hashlib
import logging
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from itsdangerous import BadSignature, TimestampSigner
from sqlmodel import Session, col, select, update

from careline.models import User, UserSession, utcnow
from careline.services import audit
from careline.settings import Settings

log = logging.getLogger(__name__)
COOKIE = "careline_session"
HANDOFF_TTL = timedelta(seconds=60)
TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most once a minute per session
_KEYS: dict[str, bytes] = {}


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def signing_key(settings: Settings) -> bytes:
    """CARELINE_SESSION_SECRET, else a random key kept in data_dir/session.key (mode 0600, never in the DB)."""
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value().encode("utf-8")
    path = Path(settings.data_dir) / "session.key"
    cached = _KEYS.get(str(path))
    if cached:
        return cached
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
            log.info("created the session signing key %s", path)
        except FileExistsError:  # another process won the race; read theirs
            pass
    key = path.read_text().strip().encode("utf-8")
    _KEYS[str(path)] = key
    return key


def _signer(settings: Settings) -> TimestampSigner:
    return TimestampSigner(signing_key(settings), salt="careline-session")


def start(session: Session, user: User, settings: Settings, *, method: str = "password",
          client: str | None = None, handoff: bool = True,
          replaces: str | None = None) -> tuple[UserSession, str | None]:
    """A new session for `user`, always with a fresh token (a sign-in never adopts a token the browser
    already held: no session fixation); `replaces`, the browser's old cookie, ends the session it stood
    for. Returns the session and the one-time hand-off code for the cookie route."""
    now = utcnow()
    old = resume(session, replaces, settings) if replaces else None
    if old is not None and old[0].id is not None:
        end(session, old[0].id)
        log.info("sign-in on a browser that held session %s: that session ended", old[0].id)
    code = secrets.token_urlsafe(32) if handoff else None
    row = UserSession(username=user.username, method=method, client=(client or "")[:100] or None,
                      created_at=now, last_seen_at=now,
                      expires_at=now + timedelta(hours=settings.session_max_hours),
                      handoff_hash=_hash(code) if code else None,
                      handoff_expires_at=now + HANDOFF_TTL if code else None)
    session.add(row)
    session.commit()
    return row, code


def redeem_handoff(session: Session, code: str, settings: Settings) -> str | None:
    """Swap a fresh hand-off code for the signed cookie value (once); None if unknown, used or expired."""
    now = utcnow()
    row = session.exec(select(UserSession).where(UserSession.handoff_hash == _hash(code or ""))).first()
    if row is None or row.revoked_at is not None or (row.handoff_expires_at or now) <= now:
        return None
    token = secrets.token_urlsafe(32)
    row.token_hash, row.handoff_hash, row.handoff_expires_at = _hash(token), None, None
    session.add(row)
    session.commit()
    return _signer(settings).sign(token).decode("ascii")


def cookie_max_age(settings: Settings) -> int:
    return settings.session_max_hours * 3600


def _valid(row: UserSession | None, settings: Settings, now: datetime) -> bool:
    return (row is not None and row.revoked_at is None and row.expires_at > now
            and row.last_seen_at > now - timedelta(minutes=settings.session_idle_minutes))


def check(session: Session, session_id: int, settings: Settings) -> User | None:
    """The session's user as the database has it now (role, active), or None if the session is over.

    Called at every interaction, so a role change, disabling or removal counts at the next click.
    """
    now = utcnow()
    row = session.get(UserSession, session_id)
    if not _valid(row, settings, now):
        return None
    assert row is not None
    user = session.exec(select(User).where(User.username == row.username)).first()
    if user is None or not user.active:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        session.add(row)
        session.commit()
    return user


def resume(session: Session, cookie: str | None, settings: Settings) -> tuple[UserSession, User] | None:
    """The session and user a browser's cookie stands for, if the signature, token and session hold."""
    if not cookie:
        return None
    try:
        token = _signer(settings).unsign(cookie, max_age=cookie_max_age(settings)).decode("ascii")
    except (BadSignature, UnicodeDecodeError):
        log.info("ignored a session cookie with a bad or expired signature")
        return None
    row = session.exec(select(UserSession).where(UserSession.token_hash == _hash(token))).first()
    if row is None or row.id is None:
        return None
    user = check(session, row.id, settings)
    return (row, user) if user is not None else None


def end(session: Session, session_id: int, *, commit: bool = True) -> int:
    """End one session (a browser: all its tabs share it); returns 1 if it was still open, else 0."""
    return _revoke(session, col(UserSession.id) == session_id, commit)


def sign_out(session: Session, username: str, session_id: int | None, *, everywhere: bool = False) -> int:
    """A person signs out: this browser's session (or, `everywhere`, all of theirs) ends and the audit row is
    written in the same transaction. Returns how many sessions were still open."""
    if everywhere:
        ended = end_all(session, username, commit=False)
    else:
        ended = end(session, session_id, commit=False) if session_id is not None else 0
    audit.record(session, username, "sign_out", everywhere=everywhere, ended=ended)
    session.commit()
    log.info("%s signed out (%s, %d session(s) ended)", username, "everywhere" if everywhere else "this browser",
             ended)
    return ended


def end_all(session: Session, username: str, *, commit: bool = True) -> int:
    """Sign `username` out everywhere; returns how many sessions were open."""
    return _revoke(session, col(UserSession.username) == username, commit)


def _revoke(session: Session, which: sa.ColumnElement[bool], commit: bool) -> int:
    """End the still-open sessions `which` picks; how many there were."""
    result = session.exec(update(UserSession).where(  # type: ignore[call-overload]
        which, col(UserSession.revoked_at).is_(None)).values(revoked_at=utcnow()))
    if commit:
        session.commit()
    return int(result.rowcount or 0)


def active(session: Session, username: str | None = None) -> list[UserSession]:
    now = utcnow()
    stmt = select(UserSession).where(col(UserSession.revoked_at).is_(None), UserSession.expires_at > now)
    if username:
        stmt = stmt.where(UserSession.username == username)
    return list(session.exec(stmt.order_by(col(UserSession.last_seen_at).desc())))
