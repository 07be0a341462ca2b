"""Seeding helpers for report tests: mentions with exact UTC times and labels, inserted in bulk."""
from __future__ import annotations

import itertools
from datetime import datetime, timezone
from typing import Any

from sqlmodel import Session

from careline.models import Brand, Mention

_n = itertools.count(1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)  # type: ignore[misc]


def brands(session: Session) -> tuple[Brand, Brand]:
    own = Brand(name="Acme Air", keywords=["acme air"])
    rival = Brand(name="Skyhop", keywords=["skyhop"], competitor=True)
    session.add_all([own, rival])
    session.commit()
    return own, rival


def mention(brand: Brand, at: datetime, sentiment: str | None = "neutral", intent: str | None = "other",
            **kw: Any) -> Mention:
    n = next(_n)
    values: dict[str, Any] = {"platform": "x", "external_id": f"r-{n}", "brand_id": brand.id,
                              "text": f"{brand.name} mention {n}", "created_at": at, "author_handle": f"user{n % 5}",
                              "sentiment": sentiment, "intent": intent}
    if sentiment is not None:
        values["classified_at"] = at
    values.update(kw)
    return Mention(**values)


def add(session: Session, *mentions: Mention) -> None:
    session.add_all(mentions)
    session.commit()
