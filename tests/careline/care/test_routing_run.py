"""What routing's actions do beyond the mention: a status or assignment made by a rule leaves the customer's
counts as a full recount would have them, and an assignment made by a rule notifies the agent the way a
person's assignment does (once, after the commit, one message per agent for the batch; nothing if the
batch rolls back)."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from careline.models import Brand, Customer, Mention
from careline.services import customer_counts, customers, replies, routing, users
from careline.services.classification import apply_labels
from careline.services.ingest import ingest
from careline.services.priority import score_mention
from careline.settings import get_settings
from classify.base import Labels
from tests.conftest import make_raw

RECENT = datetime.now(timezone.utc) - timedelta(hours=1)


def _classify(session: Session, brand: Brand, handle: str, texts: list[str], *, commit: bool = True) -> list[Mention]:
    result = ingest(session, [make_raw(text=t, author_handle=handle, thread_id=f"t-{t}", created_at=RECENT)
                              for t in texts], brand_id=brand.id)
    rows = list(session.exec(select(Mention).where(Mention.id.in_(result.new_ids)).order_by(Mention.id)))  # type: ignore[union-attr]
    apply_labels(session, rows, [Labels("negative", "complaint", {"negative": 0.9}, {"complaint": 0.9}, "en")
                                 for _ in rows], "test", 0.55)
    if commit:
        session.commit()
    return rows


def _counts(session: Session) -> dict[int, tuple[int, int, int, int]]:
    session.expire_all()
    return {c.id: (c.mention_count, c.complaint_count, c.praise_count, c.open_count)  # type: ignore[misc]
            for c in session.exec(select(Customer))}


def test_rule_status_and_assignment_keep_customer_counts_derived(any_engine: Engine) -> None:
    with Session(any_engine, expire_on_commit=False) as session:
        brand = Brand(name="Acme Air", keywords=["acme air"])
        session.add(brand)
        session.commit()
        users.create_user(session, "ana", "password-1", role="agent")
        routing.save_rule(session, "admin", "spam out", {"keywords": ["free crypto"]}, [{"status": "ignored"}],
                          stop=True)
        routing.save_rule(session, "admin", "complaints to ana", {"intent": ["complaint"]}, [{"assign": "ana"}])
        (spam,) = _classify(session, brand, "spammer", ["Acme Air free crypto giveaway"])
        (bag,) = _classify(session, brand, "sam", ["Acme Air lost my bag"])
        assert (spam.status, bag.status, bag.assignee) == ("ignored", "assigned", "ana")
        spammer, sam = customers.for_author(session, "x", "spammer"), customers.for_author(session, "x", "sam")
        assert spammer is not None and sam is not None
        kept = _counts(session)
        assert kept[spammer.id][3] == 0 and kept[sam.id][3] == 1  # ignored by a rule: not open; assigned: open
        customer_counts.refresh_everyone(session)  # the full recount agrees with what was maintained
        session.commit()
        assert _counts(session) == kept
        # a reply recorded from outside closes the mention, and the customer's open count follows
        replies.record_external(session, bag.id, "ana", datetime.now(timezone.utc) - timedelta(minutes=1))  # type: ignore[arg-type]
        assert _counts(session)[sam.id][3] == 0


def _wait_for(received: list[dict[str, str]], n: int) -> None:
    # delivery runs on a background thread that imports apprise first: under a loaded CI machine that
    # took more than 10 s once, so wait generously (the loop ends as soon as the message is there)
    deadline = time.monotonic() + 60
    while len(received) < n and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def ana_hook(hook, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    url, received = hook
    monkeypatch.setenv("CARELINE_ASSIGN_NOTIFY_URLS", f'{{"ana": "{url}"}}')
    get_settings.cache_clear()
    yield received
    get_settings.cache_clear()


def test_rule_assignment_notifies_the_agent_once_after_commit(session: Session, brand: Brand, ana_hook) -> None:  # type: ignore[no-untyped-def]
    users.create_user(session, "ana", "password-1", role="agent")
    routing.save_rule(session, "admin", "complaints to ana", {"intent": ["complaint"]}, [{"assign": "ana"}])
    rows = _classify(session, brand, "sam", ["Acme Air lost my bag", "Acme Air lost my other bag"])
    _wait_for(ana_hook, 1)
    assert len(ana_hook) == 1  # the batch is one message, sent through the same path as a person's assignment
    assert ana_hook[0]["title"] == "Careline: 2 mentions assigned to you"
    assert "Assigned by routing." in ana_hook[0]["message"] and f"#{rows[0].id} on x" in ana_hook[0]["message"]
    _classify(session, brand, "kim", ["Acme Air lost my suitcase"], commit=False)
    session.rollback()  # the assignment never happened: nobody is told it did
    time.sleep(0.5)
    assert len(ana_hook) == 1


def test_first_labels_and_routing_write_each_row_once(any_engine: Engine) -> None:
    """On PostgreSQL routing's changes ride on the labels' UPDATE (a second UPDATE is a second row version
    in every mention index), so a routed row is written once, with labels and routing both."""
    import sqlalchemy as sa

    with Session(any_engine, expire_on_commit=False) as session:
        brand = Brand(name="Acme Air", keywords=["acme air"])
        session.add(brand)
        session.commit()
        users.create_user(session, "ana", "password-1", role="agent")
        routing.save_rule(session, "admin", "bags", {"keywords": ["bag"]}, [{"tag": "baggage"}, {"priority": 10}])
        routing.save_rule(session, "admin", "complaints to ana", {"intent": ["complaint"]}, [{"assign": "ana"}])
        result = ingest(session, [make_raw(text=f"Acme Air lost my bag {n}", author_handle=f"p{n}",
                                           created_at=RECENT) for n in range(5)], brand_id=brand.id)
        rows = list(session.exec(select(Mention).where(Mention.id.in_(result.new_ids))))  # type: ignore[union-attr]
        written: list[int] = []

        def count(_conn, cursor, statement: str, params, _context, executemany: bool) -> None:  # type: ignore[no-untyped-def]
            if statement.lstrip().upper().startswith("UPDATE MENTION "):  # rows.py's one statement: rows it updated
                written.append(len(params) if executemany else cursor.rowcount)

        sa.event.listen(any_engine, "after_cursor_execute", count)
        try:
            before = datetime.now(timezone.utc)
            apply_labels(session, rows, [Labels("negative", "complaint", {"negative": 0.9}, {"complaint": 0.9}, "en")
                                         for _ in rows], "test", 0.55)
            session.commit()
            after = datetime.now(timezone.utc)
        finally:
            sa.event.remove(any_engine, "after_cursor_execute", count)
        # PostgreSQL: one write per row (a second is a second row version in every index); SQLite keeps
        # routing's own UPDATE of the changed columns (cheaper there: services/rows.one_write_per_row)
        assert sum(written) == len(rows) * (1 if any_engine.dialect.name == "postgresql" else 2)
        # and in one statement for the batch (one per set of columns: here every row has the same)
        assert len(written) == (1 if any_engine.dialect.name == "postgresql" else 2)
        session.expire_all()
        for m in session.exec(select(Mention).where(Mention.id.in_(result.new_ids))):  # type: ignore[union-attr]
            assert (m.intent, m.assignee, m.status, m.tags, m.priority_boost) == ("complaint", "ana", "assigned",
                                                                                 ["baggage"], 10)
            assert m.priority in (score_mention(m, before), score_mention(m, after))  # the boost is in the score
        routed = session.exec(select(sa.func.count()).select_from(sa.text("audit_event"))
                              .where(sa.text("action = 'route'"))).one()
        assert routed == 3 * len(rows)  # tag, priority, assign: each action audited
