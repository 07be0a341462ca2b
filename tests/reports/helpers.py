"""Seeding helpers for report tests: mentions with exact UTC times and labels, inserted in bulk."""
from __future__ import annotations

from sqlmodel import Session

from careline.models import Brand, Mention
from tests.factories import make_brand, make_mention, utc  # noqa: F401 - utc re-exported


def brands(session: Session) -> tuple[Brand, Brand]:
    return make_brand(session, "Acme Air"), make_brand(session, "Skyhop", competitor=True)


mention = make_mention


def add(session: Session, *mentions: Mention) -> None:
    session.add_all(mentions)
    session.commit()
