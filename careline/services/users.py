"""Dashboard users: bcrypt-hashed passwords and roles (admin, agent, viewer)."""
from __future__ import annotations

from collections.abc import Iterable

import bcrypt
from sqlmodel import Session, col, select

from careline.errors import InvalidInput, NotFound, PermissionDenied
from careline.models import Role, User
from careline.services import audit

ROLES = tuple(r.value for r in Role)
CAN = {
    "admin": {"read", "triage", "reply", "settings", "users", "export"},
    "agent": {"read", "triage", "reply", "export"},
    "viewer": {"read", "export"},
}


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode("utf-8")[:72], bcrypt.gensalt(rounds=10)).decode()


def create_user(session: Session, username: str, password: str, role: str = "agent",
                display_name: str | None = None, actor: str = "system") -> User:
    username = username.strip().lower()
    if not username or len(username) > 100:
        raise InvalidInput("A username needs 1 to 100 characters.")
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}; use one of {', '.join(ROLES)}.")
    if len(password) < 8:
        raise InvalidInput("A password needs at least 8 characters.")
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        user = User(username=username, password_hash="")
    else:  # a password reset: sessions opened with the old password end
        from careline.services import sessions

        sessions.end_all(session, username, commit=False)
    user.password_hash, user.role = hash_password(password), role
    user.display_name = display_name or user.display_name or username
    user.active = True
    session.add(user)
    audit.record(session, actor, "user_save", username=username, role=role)
    session.commit()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.exec(select(User).where(User.username == username.strip().lower())).first()
    if user is None or not user.active:
        dummy_check()  # same cost whether or not the user exists
        return None
    if bcrypt.checkpw(password.encode("utf-8")[:72], user.password_hash.encode()):
        return user
    return None


_DUMMY: list[bytes] = []


def dummy_check() -> None:
    """One bcrypt check against a fixed hash: exactly the cost of checking a real user's wrong password."""
    if not _DUMMY:
        _DUMMY.append(hash_password("timing-equaliser").encode())
    bcrypt.checkpw(b"timing", _DUMMY[0])


def get(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username == username.strip().lower())).first()


def _existing(session: Session, username: str) -> User:
    user = get(session, username)
    if user is None:
        raise NotFound(f"There is no user {username.strip().lower()!r}.")
    return user


def _keep_an_admin(session: Session, user: User) -> None:
    admins = [u for u in list_users(session) if u.role == "admin" and u.active and u.id != user.id]
    if user.role == "admin" and not admins:
        raise InvalidInput(f"{user.username} is the last active admin; make someone else an admin first.")


def set_active(session: Session, username: str, active: bool, actor: str) -> User:
    """Disable (signed out everywhere at once) or enable a user; audited."""
    from careline.services import sessions

    user = _existing(session, username)
    if not active:
        _keep_an_admin(session, user)
        sessions.end_all(session, user.username, commit=False)
    user.active = active
    session.add(user)
    audit.record(session, actor, "user_enable" if active else "user_disable", username=user.username)
    session.commit()
    return user


RANK = {"viewer": 0, "agent": 1, "admin": 2}


def set_role(session: Session, username: str, role: str, actor: str) -> User:
    """Change a role. Fewer rights: open sessions lose them at their next interaction (no sign-out).
    More rights: open sessions end, so the new rights only ever come with a token issued by a fresh sign-in
    (a session token someone planted or copied before the promotion never becomes an admin's)."""
    from careline.services import sessions

    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}; use one of {', '.join(ROLES)}.")
    user = _existing(session, username)
    if role != "admin":
        _keep_an_admin(session, user)
    old, user.role = user.role, role
    session.add(user)
    ended = sessions.end_all(session, user.username, commit=False) if RANK[role] > RANK.get(old, 0) else 0
    audit.record(session, actor, "user_role", username=user.username, old=old, role=role, sessions_ended=ended)
    session.commit()
    return user


def set_password(session: Session, username: str, password: str, actor: str) -> User:
    """A new password ends every open session of that user (a leaked one stops working too)."""
    from careline.services import sessions

    if len(password) < 8:
        raise InvalidInput("A password needs at least 8 characters.")
    user = _existing(session, username)
    user.password_hash = hash_password(password)
    session.add(user)
    ended = sessions.end_all(session, user.username, commit=False)
    audit.record(session, actor, "user_passwd", username=user.username, sessions_ended=ended)
    session.commit()
    return user


def remove(session: Session, username: str, actor: str) -> str:
    """Delete a user (their audit trail stays, under their name) and end their sessions."""
    from careline.services import sessions

    user = _existing(session, username)
    _keep_an_admin(session, user)
    sessions.end_all(session, user.username, commit=False)
    session.delete(user)
    audit.record(session, actor, "user_remove", username=user.username)
    session.commit()
    return user.username


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(col(User.username))))


def require(role: str, permission: str) -> None:
    if permission not in CAN.get(role, set()):
        raise PermissionDenied(f"Your role ({role}) cannot {permission}.")


def can(role: str, permission: str) -> bool:
    return permission in CAN.get(role, set())


def assignable(session: Session) -> list[str]:
    """Who a mention can be assigned to: active users whose role may triage (not viewers), by username."""
    return [u.username for u in list_users(session) if u.active and can(u.role, "triage")]


def active_by_names(session: Session, names: Iterable[str]) -> User | None:
    """The first active user whose username is one of `names` (lower-cased), e.g. a single-sign-on
    account's e-mail address, then its preferred username."""
    for name in (n.strip().lower() for n in names):
        if not name:
            continue
        user = session.exec(select(User).where(User.username == name, col(User.active).is_(True))).first()
        if user is not None:
            return user
    return None
