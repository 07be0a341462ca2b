from __future__ import annotations

import pytest
from sqlmodel import Session, select

from careline.errors import Conflict, InvalidInput, NotFound
from careline.models import AuditEvent, Author, Mention, Reply
from careline.services import classification, inbox, queue, replies, triage
from careline.services.ingest import ingest
from classify.lexicon import LexiconClassifier
from tests.conftest import make_raw


@pytest.fixture
def loaded(session: Session) -> list[int]:
    texts = ["Acme Air lost my bag, awful", "Thank you Acme Air, great crew!", "Does Acme Air allow pets?",
             "Sitting at the gate", "Acme Air cancelled my flight, refund please"]
    result = ingest(session, [make_raw(text=t, author_followers=10 ** i) for i, t in enumerate(texts)])
    queue.drain(session, LexiconClassifier())
    return result.new_ids


def test_inbox_orders_by_priority_and_filters(any_engine, ) -> None:
    with Session(any_engine, expire_on_commit=False) as s:
        ids = ingest(s, [make_raw(text="lost my bag, awful"), make_raw(text="love it, thanks!")]).new_ids
        queue.drain(s, LexiconClassifier())
        page = inbox.list_inbox(s)
        assert [m.intent for m in page.items] == ["complaint", "praise"]
        only = inbox.list_inbox(s, inbox.InboxFilter(intents=["praise"], platforms=["x"]))
        assert [m.id for m in only.items] == [ids[1]]
        assert inbox.count(s, inbox.InboxFilter(text="BAG")) == 1
        assert inbox.count(s, inbox.InboxFilter(text="100%_")) == 0


def test_pagination(session: Session) -> None:
    ingest(session, [make_raw() for _ in range(7)])
    p1 = inbox.list_inbox(session, page=1, page_size=5)
    p2 = inbox.list_inbox(session, page=2, page_size=5)
    assert p1.has_next and not p2.has_next
    assert len({m.id for m in p1.items + p2.items}) == 7


def test_status_assign_note_are_audited(session: Session, loaded: list[int]) -> None:
    mid = loaded[0]
    triage.assign(session, mid, "kim", actor="lee")
    triage.set_status(session, mid, "resolved", actor="kim")
    triage.add_note(session, mid, "called the customer", actor="kim")
    triage.set_tags(session, mid, ["Baggage", "baggage", " vip "], actor="kim")
    m = session.get(Mention, mid)
    assert m is not None and m.status == "resolved" and m.assignee == "kim" and m.tags == ["baggage", "vip"]
    assert m.priority == 0.0
    actions = [e.action for e in session.exec(select(AuditEvent).where(AuditEvent.mention_id == mid))]
    assert actions == ["assign", "status", "note", "tags"]
    with pytest.raises(InvalidInput):
        triage.set_status(session, mid, "done", actor="kim")
    with pytest.raises(NotFound):
        triage.assign(session, 999_999, "kim", actor="kim")


def test_bulk_resolve(session: Session, loaded: list[int]) -> None:
    assert triage.bulk(session, loaded[:3], "resolve", actor="lee") == 3
    assert inbox.count(session) == 2


def test_correction_is_stored_and_counts_for_authors(session: Session, loaded: list[int]) -> None:
    m = classification.correct(session, loaded[3], "lee", intent="praise", sentiment="positive")
    assert (m.intent, m.corrected_intent) == ("other", "praise")
    assert any("Sitting at the gate" in t for t, _, _ in classification.corrections(session))
    author = session.exec(select(Author).where(Author.handle == m.author_handle)).one()
    assert author.praise_count >= 1
    with pytest.raises(InvalidInput):
        classification.correct(session, loaded[3], "lee", intent="rant")


def test_queue_reply_refuses_second_without_confirmation(session: Session, loaded: list[int]) -> None:
    mid = loaded[0]
    r1 = replies.queue_reply(session, mid, "Sorry about that, please DM us.", actor="kim")
    assert r1.state == "queued" and session.get(Mention, mid).status == "replied"  # type: ignore[union-attr]
    with pytest.raises(Conflict, match="already queued"):
        replies.queue_reply(session, mid, "Another one", actor="lee")
    r2 = replies.queue_reply(session, mid, "Another one", actor="lee", confirm_duplicate=True)
    assert r1.idempotency_key != r2.idempotency_key
    assert len(session.exec(select(Reply)).all()) == 2


def test_reply_length_checked_per_platform(session: Session, loaded: list[int]) -> None:
    with pytest.raises(InvalidInput, match="limit is 280"):
        replies.queue_reply(session, loaded[0], "é" * 281, actor="kim")
    replies.queue_reply(session, loaded[0], "https://example.com/" + "a" * 300 + " thanks", actor="kim")


def test_competitor_mentions_stay_out_of_the_inbox_unless_asked_for(session: Session) -> None:
    from careline.models import Brand

    ours, theirs = Brand(name="Acme Air"), Brand(name="Skyhop", competitor=True)
    session.add_all([ours, theirs])
    session.commit()
    ingest(session, [make_raw(text="lost my bag")], brand_id=ours.id)
    ingest(session, [make_raw(text="lost my bag too")], brand_id=theirs.id)
    assert [m.brand_id for m in inbox.list_inbox(session).items] == [ours.id]
    assert [m.brand_id for m in inbox.list_inbox(session, inbox.InboxFilter(brand_ids=[theirs.id])).items] == [theirs.id]
    assert inbox.count(session, inbox.InboxFilter(include_competitors=True)) == 2


def test_needs_review_is_set_by_confidence_filtered_and_cleared_by_a_correction(any_engine) -> None:  # type: ignore[no-untyped-def]
    from classify.base import Labels

    with Session(any_engine, expire_on_commit=False) as s:
        ids = ingest(s, [make_raw(text="Acme Air lost my bag"), make_raw(text="Acme Air maybe fine?")]).new_ids
        rows = [s.get(Mention, i) for i in ids]
        sure = Labels("negative", "complaint", {"negative": 0.95}, {"complaint": 0.9})
        unsure = Labels("neutral", "question", {"neutral": 0.41}, {"question": 0.9})  # under 0.55 on one head
        classification.apply_labels(s, rows, [sure, unsure], "t-1", low_confidence=0.55)  # type: ignore[arg-type]
        s.commit()
        assert [s.get(Mention, i).needs_review for i in ids] == [False, True]  # type: ignore[union-attr]
        flagged = inbox.list_inbox(s, inbox.InboxFilter(needs_review=True)).items
        assert [m.id for m in flagged] == [ids[1]]
        assert [m.id for m in inbox.list_inbox(s, inbox.InboxFilter(needs_review=False)).items] == [ids[0]]
        assert [m.id for m in classification.review_queue(s)] == [ids[1]]
        classification.correct(s, ids[1], "kim", sentiment="negative")  # a person looked: reviewed
        assert inbox.count(s, inbox.InboxFilter(needs_review=True)) == 0
        assert classification.review_queue(s) == []
