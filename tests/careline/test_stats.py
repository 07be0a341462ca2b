"""The inbox header's and `careline status`'s "Open" is the open inbox's own count (services/stats.py):
our brands, new or assigned, a post its author deleted left out as the listing leaves it out."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.models import MentionBrand
from careline.services import inbox, stats, views
from careline.services.inbox_filter import InboxFilter
from careline.services.priority import OPEN_STATUSES
from tests.factories import make_brand, make_mention, utc


def test_open_headline_status_and_open_inbox_agree(any_engine: Engine) -> None:
    with Session(any_engine) as session:
        own, rival = make_brand(session, "Acme Air"), make_brand(session, "Skyhop", competitor=True)
        at = utc(2026, 10, 20, 9)
        both = make_mention(own, at, "negative", "complaint", status="new")  # names the competitor too
        session.add_all([
            both,
            make_mention(own, at, "neutral", "other", corrected_intent="complaint", status="assigned",
                         assignee="kim", respond_by=at + timedelta(hours=1)),  # overdue
            make_mention(own, at, "negative", "complaint", status="new", deleted_at=at + timedelta(hours=2),
                         respond_by=at + timedelta(hours=1)),  # deleted by its author: out of the inbox
            make_mention(own, at, "negative", "complaint", status="resolved"),
            make_mention(rival, at, "negative", "complaint", status="new"),  # a competitor's: never open work
        ])
        session.commit()
        session.add(MentionBrand(mention_id=both.id, brand_id=rival.id))  # type: ignore[arg-type]
        session.commit()
        views.ensure_builtins(session)
        listed = inbox.list_inbox(session, InboxFilter(), page_size=500).items
        headline = stats.workload(session)["open"]
        counted = inbox.count(session, InboxFilter(), cap=None)
        status = stats.overview(session)["counts"]["open"]
        live = {v.builtin: n for v, n, _ in views.counts(session, "kim")}
        overdue = inbox.list_inbox(session, InboxFilter(overdue=True), page_size=500).items
    assert headline == status == counted == len(listed) == 2
    assert all(m.status in OPEN_STATUSES and m.deleted_at is None for m in listed)
    assert live["mine"] == 1 and live["overdue"] == len(overdue) == 1  # the deleted overdue post is out
