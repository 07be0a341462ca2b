"""Test factories in one place: collected mentions (RawMention), stored mentions, brands and users.

Fixtures live in tests/conftest.py and use these; `from tests.conftest import make_raw` keeps working.
"""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlmodel import Session

from careline.models import Brand, Mention, User
from collectors.base import RawMention

_raw_ids = itertools.count(1)
_mention_ids = itertools.count(1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)  # type: ignore[misc]


def make_raw(**kw: object) -> RawMention:
    """A collected post as a collector returns it; every field can be overridden."""
    n = next(_raw_ids)
    base: dict[str, object] = {
        "platform": "x",
        "external_id": f"ext-{n}",
        "text": f"Acme Air lost my bag #{n}",
        "created_at": datetime(2026, 11, 1, 12, tzinfo=timezone.utc) + timedelta(minutes=n),
        "url": f"https://x.com/u/status/{n}",
        "author_handle": f"user{n % 7}",
        "author_name": f"User {n % 7}",
        "author_followers": 100 * (n % 7),
    }
    base.update(kw)
    return RawMention(**base)  # type: ignore[arg-type]


def make_brand(session: Session, name: str = "Acme Air", *, competitor: bool = False, **kw: Any) -> Brand:
    """A stored brand (keywords default to its lower-cased name)."""
    values: dict[str, Any] = {"name": name, "keywords": [name.lower()], "competitor": competitor}
    values.update(kw)
    brand = Brand(**values)
    session.add(brand)
    session.commit()
    return brand


def make_mention(brand: Brand, at: datetime, sentiment: str | None = "neutral", intent: str | None = "other",
                 **kw: Any) -> Mention:
    """A stored-mention row (not yet added) with labels and an exact UTC time, for bulk seeding."""
    n = next(_mention_ids)
    values: dict[str, Any] = {"platform": "x", "external_id": f"r-{n}", "brand_id": brand.id,
                              "text": f"{brand.name} mention {n}", "created_at": at, "author_handle": f"user{n % 5}",
                              "sentiment": sentiment, "intent": intent}
    if sentiment is not None:
        values["classified_at"] = at
    values.update(kw)
    return Mention(**values)


def make_user(session: Session, username: str, role: str = "agent", password: str = "password-123") -> User:
    """A dashboard user through the real service (bcrypt hash, audit event)."""
    from careline.services import users

    return users.create_user(session, username, password, role=role, display_name=username.title())
