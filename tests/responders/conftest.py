"""Fixtures for the responder and outbox tests: mentions to answer, and helpers to read the outbox."""
from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from careline.models import AuditEvent, Mention, Reply

_n = itertools.count(1)


def add_mention(engine: Engine, platform: str = "mastodon", external_id: str | None = None, **kw: Any) -> int:
    n = next(_n)
    with Session(engine) as session:
        m = Mention(platform=platform, external_id=external_id or f"{platform}-{n}", text=f"Acme Air lost my bag {n}",
                    author_handle=kw.pop("author_handle", "bob"), **kw)
        session.add(m)
        session.commit()
        assert m.id is not None
        return m.id


@pytest.fixture
def mention(engine: Engine) -> Callable[..., int]:
    return lambda platform="mastodon", external_id=None, **kw: add_mention(engine, platform, external_id, **kw)


def reply_row(engine: Engine, reply_id: int) -> Reply:
    with Session(engine) as session:
        row = session.get(Reply, reply_id)
        assert row is not None
        return row


def events(engine: Engine, reply_id: int, action: str = "send_reply") -> list[AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.reply_id == reply_id,
                                                          AuditEvent.action == action).order_by(AuditEvent.id)))


def later(minutes: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(minutes=minutes)
