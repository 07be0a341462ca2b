"""Cases: a follow-up joins the open case, a resolved case reopens to its owner, the conversation in order."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from careline.models import AuditEvent, Brand, Mention
from careline.services import cases, replies, triage, users
from careline.services.ingest import ingest
from tests.conftest import make_raw

T0 = datetime(2026, 11, 3, 9, tzinfo=timezone.utc)


def _one(session: Session, brand: Brand, **kw: object) -> Mention:
    result = ingest(session, [make_raw(**kw)], brand_id=brand.id)
    return session.get(Mention, result.new_ids[0])  # type: ignore[return-value]


def test_follow_up_in_thread_reopens_a_resolved_case_to_its_owner(any_engine: Engine) -> None:
    with Session(any_engine, expire_on_commit=False) as session:
        brand = Brand(name="Acme Air")
        session.add(brand)
        session.commit()
        users.create_user(session, "ana", "password-1")
        first = _one(session, brand, text="Acme Air lost my bag", thread_id="t1", author_handle="kim", created_at=T0)
        triage.assign(session, first.id, "ana", "ana")
        reply = replies.queue_reply(session, first.id, "So sorry, DM us your file number", "ana")
        reply.created_at = T0 + timedelta(hours=1)  # as if answered then (the test's clock is in the past)
        session.add(reply)
        session.commit()
        triage.set_status(session, first.id, "resolved", "ana")
        follow = _one(session, brand, text="Still no bag", thread_id="t1", author_handle="kim",
                      created_at=T0 + timedelta(days=5))  # outside the window, but the same thread
        assert follow.case_id == first.id and follow.assignee == "ana" and follow.status == "assigned"
        session.refresh(first)
        assert first.case_id == first.id
        reopen = session.exec(select(AuditEvent).where(AuditEvent.action == "case_reopen")).one()
        assert reopen.mention_id == follow.id and reopen.detail["owner"] == "ana"
        triage.add_note(session, follow.id, "Called the airport", "ana")
        kinds = [(e.kind, e.mention_id) for e in cases.conversation(session, follow)]
        assert kinds == [("post", first.id), ("reply", first.id), ("post", follow.id), ("note", follow.id)]


def test_new_post_by_same_author_joins_within_the_window_only(session: Session, brand: Brand) -> None:
    first = _one(session, brand, text="Acme Air delayed", author_handle="lee", thread_id="a", created_at=T0)
    near = _one(session, brand, text="Acme Air still delayed", author_handle="lee", thread_id="b",
                created_at=T0 + timedelta(hours=5))
    far = _one(session, brand, text="Acme Air again", author_handle="lee", thread_id="c",
               created_at=T0 + timedelta(days=10))
    other = _one(session, brand, text="Acme Air hi", author_handle="someone", thread_id="d",
                 created_at=T0 + timedelta(hours=1))
    assert near.case_id == first.id
    assert far.case_id is None and other.case_id is None
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "case_join")).one().mention_id == near.id


def test_waiting_on_customer_closes_when_they_answer(session: Session, brand: Brand) -> None:
    first = _one(session, brand, text="Acme Air where is my refund", author_handle="max", thread_id="r", created_at=T0)
    triage.set_status(session, first.id, "waiting", "agent")
    assert first.priority == 0  # nothing for us to do while we wait
    follow = _one(session, brand, text="here is my booking ref", author_handle="max", thread_id="r",
                  created_at=T0 + timedelta(hours=2))
    session.refresh(first)
    assert first.status == "resolved" and follow.status == "new" and follow.case_id == first.id
    assert cases.sizes(session, [first.id]) == {first.id: 2}


def test_competitor_posts_form_no_case(session: Session) -> None:
    rival = Brand(name="Skyhop", competitor=True)
    session.add(rival)
    session.commit()
    _one(session, rival, text="Skyhop late", author_handle="z", thread_id="q", created_at=T0)
    second = _one(session, rival, text="Skyhop later", author_handle="z", thread_id="q", created_at=T0 + timedelta(hours=1))
    assert second.case_id is None
