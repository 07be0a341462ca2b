"""Customers above authors: one per author on ingest, counts kept in one place, backfill of old databases."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlmodel import Session, select

from careline.db import make_engine, migrate
from careline.models import Author, AuthorBrand, Brand, Customer, CustomerIdentity, Mention
from careline.services import classification, customer_counts, customers, triage
from careline.services.ingest import ingest
from classify.base import Labels
from tests.conftest import make_raw


def label(session: Session, mention_ids: list[int], intent: str) -> None:
    ms = [session.get(Mention, i) for i in mention_ids]
    sent = {"praise": "positive", "complaint": "negative"}.get(intent, "neutral")
    classification.apply_labels(session, ms, [Labels(sent, intent, {sent: 0.9}, {intent: 0.9}) for _ in ms],  # type: ignore[arg-type]
                                "test", 0.5)
    session.commit()


def brands(session: Session) -> tuple[Brand, Brand]:
    own, rival = Brand(name="Acme Air", keywords=["acme"]), Brand(name="Rival Air", keywords=["rival"], competitor=True)
    session.add_all([own, rival])
    session.commit()
    return own, rival


def test_every_author_gets_one_customer_and_counts_follow(any_engine) -> None:
    with Session(any_engine, expire_on_commit=False) as s:
        own, rival = brands(s)
        mine = ingest(s, [make_raw(author_handle="sam", platform="x", author_id="42") for _ in range(3)], brand_id=own.id)
        theirs = ingest(s, [make_raw(author_handle="sam", platform="x", text=f"Rival lost my bag {i}") for i in range(2)], brand_id=rival.id)
        ingest(s, [make_raw(author_handle="sam", platform="x", external_id="ext-dup")] * 2, brand_id=own.id)
        label(s, mine.new_ids[:2], "complaint")
        label(s, mine.new_ids[2:], "praise")
        label(s, theirs.new_ids, "praise")
        assert len(s.exec(select(Customer)).all()) == 1
        c = customers.for_author(s, "x", "sam")
        assert c is not None
        s.refresh(c)
        # competitor mentions and praise are not the customer's care history; four open posts close together
        # are one case (services/cases.py), and open_count counts cases
        assert (c.mention_count, c.complaint_count, c.praise_count, c.open_count) == (4, 2, 1, 1)
        ident = s.exec(select(CustomerIdentity)).one()
        assert (ident.external_id, ident.handle_key) == ("42", "sam")
        per_brand = {ab.brand_id: (ab.mention_count, ab.praise_count) for ab in s.exec(select(AuthorBrand))}
        assert per_brand == {own.id: (4, 1), rival.id: (2, 2)}
        classification.correct(s, mine.new_ids[0], "kim", intent="praise")
        triage.set_status(s, mine.new_ids[1], "resolved", "kim")
        s.refresh(c)
        assert (c.complaint_count, c.praise_count, c.open_count) == (1, 2, 1)
        for mid in mine.new_ids:
            triage.set_status(s, mid, "resolved", "kim")
        s.refresh(c)
        assert c.open_count == 1  # the duplicate-id post is still open
        triage.set_status(s, s.exec(select(Mention.id).where(Mention.external_id == "ext-dup")).one(), "resolved", "kim")
        s.refresh(c)
        assert c.open_count == 0


def test_backfill_migration_gives_old_authors_customers(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine, "0002")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO brand (id, name, keywords, handles, exclusions, competitor, created_at) "
                             "VALUES (1, 'Acme', '[]', '[]', '[]', 0, '2026-11-01'), (2, 'Rival', '[]', '[]', '[]', 1, '2026-11-01')"))
        conn.execute(sa.text("INSERT INTO author (platform, handle, display_name, mention_count, praise_count, "
                             "complaint_count, last_seen_at) VALUES ('x', 'Sam', 'Sam S', 3, 1, 1, '2026-11-02 10:00:00'), "
                             "('reddit', 'jo', NULL, 1, 0, 0, '2026-11-03 10:00:00')"))
        for i, (platform, handle, brand, intent, status) in enumerate([
                ("x", "Sam", 1, "praise", "new"), ("x", "Sam", 1, "complaint", "resolved"),
                ("x", "Sam", 2, "praise", "new"), ("reddit", "jo", None, None, "new")]):
            conn.execute(sa.text(
                "INSERT INTO mention (platform, external_id, brand_id, author_handle, text, created_at, collected_at, raw, "
                "sentiment_scores, intent_scores, intent, classified_at, needs_review, status, priority, tags, updated_at) "
                "VALUES (:p, :e, :b, :h, 't', '2026-11-02 10:00:00', '2026-11-02 10:00:00', '{}', '{}', '{}', :i, "
                ":ca, 0, :st, 0, '[]', '2026-11-02 10:00:00')"),
                {"p": platform, "e": f"e{i}", "b": brand, "h": handle, "i": intent,
                 "ca": "2026-11-02 10:00:00" if intent else None, "st": status})
    migrate(engine)
    with Session(engine) as s:
        sam = customers.for_author(s, "x", "Sam")
        jo = customers.for_author(s, "reddit", "jo")
        assert sam is not None and jo is not None and sam.id != jo.id
        assert (sam.display_name, sam.mention_count, sam.praise_count, sam.complaint_count, sam.open_count) == ("Sam S", 2, 1, 1, 1)
        assert (jo.display_name, jo.mention_count) == ("jo", 1)
        assert customers.find(s, "sa")[0].id == sam.id  # found by handle before the link job keyed anything
        # new posts by an old author land on the backfilled customer
        ingest(s, [make_raw(platform="x", author_handle="Sam")], brand_id=1)
        s.refresh(sam)
        assert sam.mention_count == 3 and len(s.exec(select(Customer)).all()) == 2


def test_full_recount_matches_maintained_counts(session: Session) -> None:
    own, _ = brands(session)
    res = ingest(session, [make_raw(author_handle=f"u{i % 3}") for i in range(9)], brand_id=own.id)
    label(session, res.new_ids, "complaint")
    before = {c.id: (c.mention_count, c.complaint_count) for c in session.exec(select(Customer))}
    session.execute(sa.update(Customer).values(mention_count=0, complaint_count=0))
    customer_counts.refresh_everyone(session)
    session.commit()
    session.expire_all()
    assert {c.id: (c.mention_count, c.complaint_count) for c in session.exec(select(Customer))} == before
    assert sum(a.mention_count for a in session.exec(select(Author))) == 9


def _counts(session: Session) -> dict[int | None, tuple[int, int, object]]:
    session.expire_all()
    return {c.id: (c.mention_count, c.open_count, c.last_contact_at) for c in session.exec(select(Customer))}


def _recounted(session: Session) -> dict[int | None, tuple[int, int, object]]:
    customer_counts.refresh_everyone(session)
    session.flush()
    return _counts(session)


def test_counts_ingest_adds_match_a_full_recount(any_engine) -> None:
    """Ingest adds to the counts instead of recounting: after threads shared by two authors, a competitor's
    post, a reopened case, an answer to a waiting post and a merged customer, a recount changes nothing."""
    t0 = datetime(2026, 11, 3, 9, tzinfo=timezone.utc)
    with Session(any_engine, expire_on_commit=False) as s:
        own, rival = brands(s)
        first = ingest(s, [make_raw(author_handle="sam", thread_id="s1", created_at=t0),
                           make_raw(platform="bluesky", author_handle="sam.bsky.social", thread_id="b1", created_at=t0),
                           make_raw(author_handle="ida", thread_id="i1", created_at=t0)], brand_id=own.id)
        sam, bsky = customers.for_author(s, "x", "sam"), customers.for_author(s, "bluesky", "sam.bsky.social")
        assert sam is not None and bsky is not None
        customers.merge(s, sam.id or 0, bsky.id or 0, "kim", "admin")
        triage.set_status(s, first.new_ids[2], "waiting", "kim")
        batches = [
            [make_raw(author_handle="lee", thread_id="s1", created_at=t0 + timedelta(hours=1)),  # another author's case
             make_raw(author_handle="sam", thread_id="s9", created_at=t0 + timedelta(hours=2)),  # sam's case, by author
             make_raw(platform="bluesky", author_handle="sam.bsky.social", thread_id="b1",
                      created_at=t0 + timedelta(hours=2))],
            [make_raw(author_handle="sam", text="Rival Air lost it too", created_at=t0 + timedelta(hours=3))],
            [make_raw(author_handle="ida", thread_id="i1", created_at=t0 + timedelta(hours=4)),  # answers the wait
             make_raw(author_handle="new1", thread_id="n1", created_at=t0 + timedelta(hours=4)),
             make_raw(author_handle="new2", thread_id="n1", created_at=t0 + timedelta(hours=5))],
        ]
        for i, batch in enumerate(batches):
            ingest(s, batch, brand_id=rival.id if i == 1 else own.id)
            assert _counts(s) == _recounted(s), f"after batch {i}"
        for mid in first.new_ids[:1]:
            triage.set_status(s, mid, "resolved", "kim")
        ingest(s, [make_raw(author_handle="sam", thread_id="s1", created_at=t0 + timedelta(days=4))], brand_id=own.id)
        assert _counts(s) == _recounted(s)
        s.refresh(sam)
        assert (sam.mention_count, sam.open_count) == (5, 2)  # s1 (reopened) and sam's case with the bluesky posts
