"""Tables of the live desk: dashboard sign-in sessions, sign-in throttling and presence heartbeats.

Imported by careline/models.py so that `SQLModel.metadata` (and the migration check) always includes them.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from careline.models_base import ts, utcnow


class UserSession(SQLModel, table=True):
    """A signed-in browser. Only a SHA-256 of the token is stored: a copy of the table signs nobody in."""

    __tablename__ = "user_session"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, index=True)
    token_hash: str | None = Field(default=None, max_length=64, unique=True)
    # one-time code the browser swaps for its HttpOnly cookie (see dashboard/asgi.py); hashed too
    handoff_hash: str | None = Field(default=None, max_length=64, unique=True)
    handoff_expires_at: datetime | None = ts()
    method: str = Field(default="password", max_length=16)
    client: str | None = Field(default=None, max_length=100)
    created_at: datetime = ts(nullable=False, default=utcnow)
    last_seen_at: datetime = ts(nullable=False, default=utcnow)
    expires_at: datetime = ts(nullable=False)
    revoked_at: datetime | None = ts()


class SignInThrottle(SQLModel, table=True):
    """Failed sign-ins per key ("user:NAME" or "client:ADDRESS") inside the current window."""

    __tablename__ = "sign_in_throttle"
    key: str = Field(primary_key=True, max_length=150)
    failures: int = 0
    window_started_at: datetime = ts(nullable=False, default=utcnow)
    locked_until: datetime | None = ts()


class Presence(SQLModel, table=True):
    """A heartbeat: this person has this mention open (viewing) or has a reply in the box (writing)."""

    __table_args__ = (sa.UniqueConstraint("username", "mention_id", name="uq_presence_user_mention"),)
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100)
    mention_id: int = Field(index=True)
    activity: str = Field(default="viewing", max_length=16)
    seen_at: datetime = ts(nullable=False, index=True, default=utcnow)
