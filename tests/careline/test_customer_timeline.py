"""The inbox row's customer flags (customer_timeline.row_flags) and the customer's counts
(customer_counts) agree: "other" open cases and earlier complaints leave out only a post the counts hold,
so a competitor's post (listed when its brand is chosen) takes nothing off them."""
from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.models import Mention
from careline.services import customer_timeline, customers, inbox
from careline.services.inbox import InboxFilter
from careline.services.ingest import ingest
from tests.careline.test_customers import brands, label
from tests.factories import make_raw


def test_row_flags_count_what_the_customer_counts_hold(any_engine: Engine) -> None:
    with Session(any_engine, expire_on_commit=False) as s:
        own, rival = brands(s)
        ours = ingest(s, [make_raw(author_handle="sam", text="Acme lost my bag")], brand_id=own.id).new_ids
        theirs = ingest(s, [make_raw(author_handle="sam", text="Rival lost my bag")], brand_id=rival.id).new_ids
        label(s, ours + theirs, "complaint")
        person = customers.for_author(s, "x", "sam")
        assert person is not None
        listed = inbox.list_inbox(s, InboxFilter(brand_ids=[rival.id or 0])).items
        flags = customer_timeline.row_flags(s, [s.get(Mention, ours[0]), *listed])  # type: ignore[list-item]
        posts = [e for e in customer_timeline.timeline(s, person.id or 0) if e.kind == "post"]
    assert [m.id for m in listed] == theirs
    assert (person.open_count, person.complaint_count) == (1, 1)  # our brands only
    assert (flags[theirs[0]].other_open, flags[theirs[0]].complained_before) == (1, 1)
    assert (flags[ours[0]].other_open, flags[ours[0]].complained_before) == (0, 0)
    assert len(posts) == 2  # the timeline lists every post; the counts are ours (docs/customers.md)
