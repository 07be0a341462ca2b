"""Dashboard users: bcrypt-hashed passwords and roles (admin, agent, viewer)."""
from __future__ import annotations

import bcrypt
from sqlmodel import Session, col, select

from careline.errors import InvalidInput, PermissionDenied
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
        bcrypt.checkpw(b"timing", hash_password("timing-equaliser"))  # same cost whether or not the user exists
        return None
    if bcrypt.checkpw(password.encode("utf-8")[:72], user.password_hash.encode()):
        return user
    return None


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(col(User.username))))


def require(role: str, permission: str) -> None:
    if permission not in CAN.get(role, set()):
        raise PermissionDenied(f"Your role ({role}) cannot {permission}.")


def can(role: str, permission: str) -> bool:
    return permission in CAN.get(role, set())
