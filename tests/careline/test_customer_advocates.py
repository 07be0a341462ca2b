"""Advocates per customer across platforms, for our brand only; thanked at most once a day anywhere."""
from __future__ import annotations

import pytest
from sqlmodel import Session

from careline.errors import Conflict, InvalidInput, NotFound
from careline.models import Brand, Mention
from careline.services import advocates, customers
from careline.services.ingest import ingest
from tests.careline.test_customers import label
from tests.conftest import make_raw


def _world(s: Session) -> tuple[int, int]:
    own, rival = Brand(name="Acme Air", keywords=["acme"]), Brand(name="Skyhop", keywords=["skyhop"], competitor=True)
    s.add_all([own, rival])
    s.commit()
    # the rival's biggest fan: five praises, lots of followers, none for us
    fan = ingest(s, [make_raw(platform="x", author_handle="rivalfan", author_followers=90_000, text="Skyhop is wonderful")
                     for _ in range(5)],
                 brand_id=rival.id)
    # ours: two praises on X, two on Mastodon, one person once linked
    x = ingest(s, [make_raw(platform="x", author_handle="lee", author_name="Lee") for _ in range(2)], brand_id=own.id)
    m = ingest(s, [make_raw(platform="mastodon", author_handle="lee@mastodon.social", author_name="Lee")
                   for _ in range(2)], brand_id=own.id)
    solo = ingest(s, [make_raw(platform="reddit", author_handle="pat", author_name="pat") for _ in range(3)], brand_id=own.id)
    label(s, fan.new_ids + x.new_ids + m.new_ids + solo.new_ids, "praise")
    lee_x, lee_m = customers.for_author(s, "x", "lee"), customers.for_author(s, "mastodon", "lee@mastodon.social")
    customers.merge(s, lee_x.id or 0, lee_m.id or 0, "kim", "agent")  # type: ignore[union-attr]
    return own.id or 0, rival.id or 0


def test_ranked_per_customer_across_platforms_never_a_competitor(any_engine) -> None:
    with Session(any_engine, expire_on_commit=False) as s:
        own, rival = _world(s)
        ranked = advocates.top_advocates(s)
        assert [(a.display_name, a.praise_count, a.brand) for a in ranked] == [("Lee", 4, "Acme Air"), ("pat", 3, "Acme Air")]
        assert set(ranked[0].identities) == {"x:@lee", "mastodon:@lee@mastodon.social"}
        assert all(a.handle != "rivalfan" for a in ranked)
        with pytest.raises(InvalidInput):
            advocates.top_advocates(s, brand_id=rival)
        assert [a.display_name for a in advocates.top_advocates(s, platforms=["mastodon"])] == ["Lee"]


def test_thank_uses_our_praise_and_once_a_day_across_platforms(session: Session) -> None:
    own, _ = _world(session)
    with pytest.raises(NotFound):
        advocates.thank(session, "x", "rivalfan", "Thanks! – Acme Air", "kim", "agent")  # only rival praise
    first = advocates.thank(session, "x", "lee", "Thanks Lee! – Acme Air", "kim", "agent", dry_run=True)
    praised = session.get(Mention, first.mention_id)
    assert praised is not None and praised.brand_id == own
    lee = customers.for_author(session, "mastodon", "lee@mastodon.social")
    assert lee is not None and lee.last_thanked_at is not None and lee.last_thanked_platform == "x"
    with pytest.raises(Conflict, match="already thanked on x"):
        advocates.thank(session, "mastodon", "lee@mastodon.social", "Thanks again!", "bob", "agent", dry_run=True)


def test_equal_scores_rank_by_handle_platform_and_brand_on_both_databases(any_engine) -> None:
    from datetime import datetime, timezone

    with Session(any_engine, expire_on_commit=False) as s:
        air, rail = Brand(name="Acme Air", keywords=["acme"]), Brand(name="Acme Rail", keywords=["rail"])
        s.add_all([air, rail])
        s.commit()
        at = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
        ids: list[int] = []
        # the same handle on X and on Mastodon (two customers), and one of them praising both brands alike
        for platform, brand in (("x", rail), ("x", air), ("mastodon", air)):
            ids += ingest(s, [make_raw(platform=platform, author_handle="sam", author_followers=10, created_at=at)
                              for _ in range(2)], brand_id=brand.id).new_ids
        label(s, ids, "praise")
        ranked = advocates.top_advocates(s, now=at)
        assert [(a.platform, a.brand) for a in ranked] == [("mastodon", "Acme Air"), ("x", "Acme Air"),
                                                           ("x", "Acme Rail")]
        assert len({a.score for a in ranked}) == 1
        assert [(a.platform, a.brand) for a in advocates.top_advocates(s, now=at, limit=2)] == \
            [(a.platform, a.brand) for a in ranked[:2]]
