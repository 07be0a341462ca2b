"""Timeline across platforms, export (JSON/CSV) and erasure that survives the next collection."""
from __future__ import annotations

import csv
import io
import json

import pytest
from sqlmodel import Session, func, select

from careline.errors import PermissionDenied
from careline.models import AuditEvent, Brand, Customer, ErasureTombstone, Mention, Note
from careline.services import customer_privacy, customer_timeline, customers, inbox_search, replies, triage
from careline.services.ingest import ingest
from tests.careline.test_customers import label
from tests.conftest import make_raw


def _sam(s: Session) -> tuple[Customer, list[int]]:
    b = Brand(name="Acme Air", keywords=["acme"])
    s.add(b)
    s.commit()
    x = ingest(s, [make_raw(platform="x", author_handle="sam", author_name="Sam Q", author_id="77",
                            text="Acme lost my bag")], brand_id=b.id)
    r = ingest(s, [make_raw(platform="reddit", author_handle="sam_q", author_name="Sam Q",
                            text="Still no bag from Acme, day 3")], brand_id=b.id)
    ingest(s, [make_raw(platform="x", author_handle="someone_else")], brand_id=b.id)
    label(s, x.new_ids + r.new_ids, "complaint")
    keep = customers.for_author(s, "x", "sam")
    other = customers.for_author(s, "reddit", "sam_q")
    assert keep and other
    customers.merge(s, keep.id or 0, other.id or 0, "kim", "agent")
    return keep, x.new_ids + r.new_ids


def test_timeline_shows_both_platforms_replies_notes_and_statuses_in_order(any_engine) -> None:
    with Session(any_engine, expire_on_commit=False) as s:
        c, (on_x, on_reddit) = _sam(s)
        replies.queue_reply(s, on_x, "Sorry Sam, DM us your booking", "kim")
        triage.add_note(s, on_reddit, "same bag as the X complaint", "kim")
        triage.set_status(s, on_reddit, "resolved", "kim")
        customers.add_note(s, c.id or 0, "frequent flyer", "kim", "agent")
        entries = customer_timeline.timeline(s, c.id or 0)
        kinds = [e.kind for e in entries]
        assert {"post", "reply", "note", "status", "customer_note", "merge"} <= set(kinds)
        posts = [e for e in entries if e.kind == "post"]
        assert [(e.platform, e.summary) for e in posts] == [("reddit", "Still no bag from Acme, day 3"),
                                                            ("x", "Acme lost my bag")]
        assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
        flags = customer_timeline.row_flags(s, [s.get(Mention, on_x)])  # type: ignore[list-item]
        assert flags[on_x].complained_before == 1 and flags[on_x].platforms == 2
        assert "complained 1× before" in flags[on_x].text()


def test_export_json_and_csv(session: Session) -> None:
    c, _ = _sam(session)
    data = json.loads(customer_privacy.export(session, c.id or 0, "kim", "agent"))
    assert {i["handle"] for i in data["identities"]} == {"sam", "sam_q"}
    assert sorted(m["text"] for m in data["mentions"]) == ["Acme lost my bag", "Still no bag from Acme, day 3"]
    rows = list(csv.reader(io.StringIO(customer_privacy.export(session, c.id or 0, "kim", "agent", fmt="csv").decode())))
    assert rows[0][0] == "kind" and len(rows) == 3
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "customer_export")).first() is not None


def test_erase_anonymises_keeps_counts_and_survives_collection(any_engine) -> None:
    with Session(any_engine, expire_on_commit=False) as s:
        c, (on_x, on_reddit) = _sam(s)
        triage.add_note(s, on_x, "called Sam Q on the phone", "kim")
        replies.queue_reply(s, on_x, "Sorry @sam, DM us", "kim")
        total = s.exec(select(func.count()).select_from(Mention)).one()
        assert inbox_search.search(s, "still").total == 1  # found before the erasure
        with pytest.raises(PermissionDenied):
            customer_privacy.erase(s, c.id or 0, "kim", "agent")
        summary = customer_privacy.erase(s, c.id or 0, "ada", "admin")
        assert summary == {"mentions": 2, "identities": 2, "notes": 0}
        s.expire_all()
        erased = customers.get(s, c.id or 0)
        assert erased.erased_at and erased.display_name == "Erased customer"
        assert (erased.mention_count, erased.complaint_count) == (2, 2)  # aggregate counts kept
        assert s.exec(select(func.count()).select_from(Mention)).one() == total  # trends keep their rows
        for mid in (on_x, on_reddit):
            m = s.get(Mention, mid)
            assert m and m.text == customer_privacy.ERASED_TEXT and m.author_handle is None and m.url is None
            assert m.intent == "complaint"
        assert s.exec(select(Note)).all() == []
        blob = json.dumps([e.detail for e in s.exec(select(AuditEvent))])
        assert "sam" not in blob.lower() and "DM us" not in blob
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "customer_erase")).one().detail["mentions"] == 2
        assert customers.for_author(s, "x", "sam") is None
        # the full-text index (triggers / generated column) followed the anonymising UPDATE
        assert inbox_search.search(s, "still").total == 0 and inbox_search.search(s, "sam").total == 0

        # the next collection: Sam posts again on X (same handle) and on Reddit under the same account
        again = ingest(s, [make_raw(platform="x", author_handle="SAM", text="Acme again?"),
                           make_raw(platform="x", author_handle="new_name", author_id="77", text="renamed, same account"),
                           make_raw(platform="reddit", author_handle="sam_q", text="still here"),
                           make_raw(platform="x", author_handle="fresh_person")])
        assert again.new == 1 and len(again.skipped) == 3
        assert all("erased customer" in r and "sam" not in r.lower() for r in again.skipped)
        assert customers.for_author(s, "x", "SAM") is None and customers.for_author(s, "reddit", "sam_q") is None
        assert sum(t.skipped_count for t in s.exec(select(ErasureTombstone))) == 3
