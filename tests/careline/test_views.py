"""Saved views: personal or shared, built-ins, counts, audit, and what a view means for whoever opens it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session, select

from careline.errors import InvalidInput, NotFound
from careline.models import AuditEvent, Mention
from careline.models_views import SavedView
from careline.services import inbox, inbox_search, triage, views
from careline.services.ingest import ingest
from tests.conftest import make_raw
from tests.factories import make_brand, make_mention


def _seed(s: Session) -> list[int]:
    now = datetime.now(timezone.utc)
    raws = [make_raw(text="lost bag in Lisbon", created_at=now - timedelta(days=1)),
            make_raw(text="lost bag again", created_at=now - timedelta(days=20)),
            make_raw(text="great crew", created_at=now - timedelta(hours=3))]
    ids = ingest(s, raws).new_ids
    triage.assign(s, ids[0], "dana", "admin")
    triage.assign(s, ids[2], "lee", "admin")
    return ids


def test_builtin_mine_counts_per_person(any_engine) -> None:
    with Session(any_engine) as s:
        _seed(s)
        mine = next(v for v in views.visible(s, "dana") if v.builtin == "mine")
        assert mine.name == "Mine" and mine.shared
        assert views.count(s, mine, "dana") == 1 and views.count(s, mine, "lee") == 1
        assert views.count(s, mine, "kim") == 0
        with pytest.raises(InvalidInput):
            views.delete(s, mine.id, "admin", is_admin=True)  # built in


def test_personal_and_shared_views_with_relative_dates(any_engine) -> None:
    with Session(any_engine) as s:
        _seed(s)
        recent = views.save(s, "Recent lost bags", "dana", query='"lost bag"', filters={"days": 7, "statuses": []})
        team = views.save(s, "All lost bags", "dana", query='"lost bag"', filters={"statuses": []}, shared=True)
        assert [v.name for v in views.visible(s, "lee") if not v.builtin] == ["All lost bags"]
        assert {v.name for v in views.visible(s, "dana") if not v.builtin} == {"Recent lost bags", "All lost bags"}
        assert views.count(s, recent, "dana") == 1 and views.count(s, team, "lee") == 2
        with pytest.raises(NotFound):
            views.get(s, recent.id, "lee")  # someone else's personal view
        with pytest.raises(InvalidInput):
            views.delete(s, team.id, "lee")  # shared, but not theirs
        again = views.save(s, "Recent lost bags", "dana", query="lost", filters={"days": 30}, sort="newest")
        assert again.id == recent.id and views.to_filter(again, "dana").since is not None
        views.delete(s, team.id, "admin", is_admin=True)
        actions = [e.action for e in s.exec(select(AuditEvent).where(AuditEvent.action.like("view_%")))]
        assert actions == ["view_save", "view_save", "view_save", "view_delete"]
        assert s.get(SavedView, team.id) is None


def test_bad_views_are_one_sentence(session: Session) -> None:
    with pytest.raises(InvalidInput, match="needs a name"):
        views.save(session, "  ", "dana")
    with pytest.raises(InvalidInput, match="cannot hold colour"):
        views.save(session, "x", "dana", filters={"colour": "red"})
    with pytest.raises(InvalidInput, match="built-in"):
        views.save(session, "mine", "dana")
    with pytest.raises(InvalidInput, match="at most"):
        views.save(session, "big", "dana", query="x" * 5000)


def test_view_filter_is_the_inbox_filter(session: Session) -> None:
    ids = _seed(session)
    triage.set_tags(session, ids[1], ["vip"], "admin")
    v = views.save(session, "VIP", "dana", filters={"tags": ["vip"], "statuses": []}, sort="oldest")
    f = views.to_filter(v, "dana")
    assert [m.id for m in inbox.list_inbox(session, f, order=v.sort).items] == [ids[1]]


def test_builtin_overdue_is_open_unanswered_past_the_deadline(any_engine) -> None:
    now = datetime.now(timezone.utc)
    with Session(any_engine, expire_on_commit=False) as s:
        ids = _seed(s)
        rows = [s.get(Mention, i) for i in ids]
        rows[0].respond_by = now - timedelta(minutes=5)  # type: ignore[union-attr]
        rows[1].respond_by = now - timedelta(hours=2)  # type: ignore[union-attr]
        rows[1].first_response_at = now  # type: ignore[union-attr]  (answered: not overdue)
        rows[2].respond_by = now + timedelta(hours=1)  # type: ignore[union-attr]
        for m in rows:
            s.add(m)
        s.commit()
        overdue = next(v for v in views.visible(s, "dana") if v.builtin == "overdue")
        assert [v.builtin for v in views.visible(s, "dana")][:2] == ["mine", "overdue"]
        f = views.to_filter(overdue, "dana")
        assert [m.id for m in inbox.list_inbox(s, f, order=overdue.sort).items] == [ids[0]]


def test_view_counts_say_capped_only_past_the_cap_as_the_listing_does(any_engine) -> None:
    """A view of exactly 1,000 mentions was titled "1,000+" while its listing said 1,000: the count stopped
    at the cap, so exactly the cap and more than it looked the same."""

    with Session(any_engine) as s:
        brand = make_brand(s)
        start = datetime(2026, 11, 1, tzinfo=timezone.utc)
        s.add_all([make_mention(brand, start + timedelta(seconds=i)) for i in range(inbox.COUNT_CAP)])
        s.commit()
        view = views.save(s, "Everything open", "dana", filters={"statuses": ["new"]})
        listed = inbox_search.capped_count(s, views.to_filter(view, "dana"))
        assert views.capped_count(s, view, "dana") == listed == (inbox.COUNT_CAP, False)
        assert dict((v.name, (n, capped)) for v, n, capped in views.counts(s, "dana"))["Everything open"] == (
            inbox.COUNT_CAP, False)
        s.add(make_mention(brand, start - timedelta(days=1)))
        s.commit()
        listed = inbox_search.capped_count(s, views.to_filter(view, "dana"))
        assert views.capped_count(s, view, "dana") == listed == (inbox.COUNT_CAP, True)


def test_shared_views_with_the_same_name_keep_their_order_after_a_save(any_engine) -> None:
    """Two people's shared "Bags" and "bags" sorted equal and came out in the order the rows were read:
    on PostgreSQL saving dana's again moved her row behind lee's, on SQLite it stayed first."""
    with Session(any_engine) as s:
        first = views.save(s, "Bags", "dana", query="bag", shared=True)
        second = views.save(s, "bags", "lee", query="bags", shared=True)
        views.save(s, "Bags", "dana", query="lost bag", shared=True)  # the same row, updated
        assert [v.id for v in views.visible(s, "kim") if not v.builtin] == [first.id, second.id]
