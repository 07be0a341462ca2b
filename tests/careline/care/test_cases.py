"""Cases: a follow-up joins the open case, a resolved case reopens to its owner, the conversation in order."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from careline.models import AuditEvent, Brand, Mention
from careline.services import cases, customer_counts, customers, replies, triage, users
from careline.services.ingest import ingest
from tests.conftest import make_raw
from tests.factories import make_brand

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


def _case_outcome(session: Session, batched: bool) -> list[tuple[object, ...]]:
    """Two open cases with owners, one waiting on the customer, then six follow-ups by three authors (in one
    batch or one post at a time; handles, threads and the brand differ between the two runs)."""
    tag = "batch" if batched else "single"
    brand = Brand(name=f"Acme Air {tag}")
    session.add(brand)
    session.commit()
    first = [_one(session, brand, text=f"Acme Air {i}", author_handle=f"{h}-{tag}", thread_id=f"{h}-{tag}",
                  created_at=T0, author_followers=100) for i, h in enumerate(("kim", "lou", "max"))]
    triage.assign(session, first[0].id, "ana", "ana")
    triage.assign(session, first[1].id, "bo", "bo")
    triage.set_status(session, first[2].id, "waiting", "ana")
    later = [make_raw(text=f"follow-up {i}", author_handle=f"{h}-{tag}", thread_id=f"{t}-{tag}",
                      created_at=T0 + timedelta(hours=i), author_followers=100)
             for i, (h, t) in enumerate([("kim", "kim"), ("lou", "x1"), ("kim", "x2"), ("max", "max"), ("max", "x3"),
                                         ("lou", "lou")], start=1)]
    for batch in ([later] if batched else [[r] for r in later]):
        ingest(session, batch, brand_id=brand.id)
    rows = session.exec(select(Mention).where(Mention.brand_id == brand.id).order_by(Mention.id)).all()
    index = {m.id: n for n, m in enumerate(rows)}
    events = session.exec(select(AuditEvent).where(AuditEvent.actor == cases.ACTOR,
                                                   AuditEvent.mention_id.in_(list(index)))  # type: ignore[union-attr]
                          .order_by(AuditEvent.id)).all()
    return ([(index.get(m.case_id), m.status, m.assignee, m.priority) for m in rows]
            + [(e.action, index[e.mention_id], index[e.detail["case_id"]], e.detail["owner"], e.detail["via"])
               for e in events])


def test_a_batch_joins_cases_as_one_post_at_a_time_would(any_engine: Engine) -> None:
    """plan() reads every case's state once per batch: the outcome must match one-post batches."""
    with Session(any_engine, expire_on_commit=False) as session:
        users.create_user(session, "ana", "password-1")
        users.create_user(session, "bo", "password-1")
        batched = _case_outcome(session, batched=True)
        single = _case_outcome(session, batched=False)
    assert batched == single
    posts = batched[:9]
    assert {p[0] for p in posts} == {0, 1, 2}  # every follow-up found its case
    assert posts[2][1] == "resolved" and posts[3][2] == "ana" and posts[4][2] == "bo"  # waiting closed; owners
    assert len(batched) == 9 + 6  # one audit event per join


def _case_events(session: Session, ids: list[int]) -> list[tuple[str, int, int, str]]:
    rows = session.exec(select(AuditEvent).where(AuditEvent.actor == cases.ACTOR,
                                                 AuditEvent.mention_id.in_(ids))  # type: ignore[union-attr]
                        .order_by(AuditEvent.id)).all()
    return [(e.action, e.mention_id, e.detail["case_id"], e.detail["via"]) for e in rows]  # type: ignore[misc]


def test_two_posts_of_a_new_thread_in_one_batch_form_one_case(any_engine: Engine) -> None:
    """Cases are decided before the batch is stored: a post can follow one that is not stored yet (listed
    after it in the batch, too), and the first post of the thread takes its own id as the case."""
    with Session(any_engine, expire_on_commit=False) as session:
        brand = make_brand(session, "Acme Air")
        later = make_raw(text="Acme Air still nothing", thread_id="t9", author_handle="bo9",
                         created_at=T0 + timedelta(hours=1))
        first = make_raw(text="Acme Air lost my bag", thread_id="t9", author_handle="ana9", created_at=T0)
        res = ingest(session, [later, first], brand_id=brand.id)
        b, a = (session.get(Mention, i) for i in res.new_ids)  # new_ids in the batch's order
        assert a is not None and b is not None and b.external_id == later.external_id
        assert a.case_id == a.id and b.case_id == a.id
        assert _case_events(session, res.new_ids) == [("case_join", b.id, a.id, "thread")]
        # a third post next batch joins the same case, by author within the window
        third = ingest(session, [make_raw(text="Acme Air hello?", thread_id="t10", author_handle="bo9",
                                          created_at=T0 + timedelta(hours=2))], brand_id=brand.id)
        assert session.get(Mention, third.new_ids[0]).case_id == a.id  # type: ignore[union-attr]


def test_a_follow_up_in_the_same_batch_as_the_reopen_goes_to_the_owner(any_engine: Engine) -> None:
    with Session(any_engine, expire_on_commit=False) as session:
        brand = make_brand(session, "Acme Air")
        users.create_user(session, "ana", "password-1")
        root = _one(session, brand, text="Acme Air lost my bag", thread_id="r1", author_handle="kim", created_at=T0)
        triage.assign(session, root.id, "ana", "ana")
        triage.set_status(session, root.id, "resolved", "ana")
        customer = customers.for_author(session, "x", "kim")
        assert customer is not None and customer.open_count == 0
        batch = [make_raw(text=f"Acme Air again {i}", thread_id="r1", author_handle="kim",
                          created_at=T0 + timedelta(days=4, hours=i)) for i in range(2)]
        res = ingest(session, batch, brand_id=brand.id)
        posts = [session.get(Mention, i) for i in res.new_ids]
        assert [(p.case_id, p.assignee, p.status) for p in posts] == [(root.id, "ana", "assigned")] * 2  # type: ignore[union-attr]
        assert [e[0] for e in _case_events(session, res.new_ids)] == ["case_reopen", "case_join"]
        session.refresh(customer)
        assert customer.open_count == 1  # one case, reopened, counted once
        customer_counts.refresh_everyone(session)
        session.commit()
        session.refresh(customer)
        assert customer.open_count == 1 and customer.mention_count == 3
