"""A post its author deleted is no open case of its customer, as it is no longer in the inbox: each stream
that reports deletions (Jetstream, Mastodon) marks it through services/streams.py, which refreshes the
customer's open count there; the customer view, the inbox's customer flags and the `customer_open_cases`
routing condition all see one open case left, and the stored count is what a full recount gives."""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from mastodon import Mastodon
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from careline.models import Brand, Customer, Mention
from careline.services import customer_counts, customer_timeline, customers, routing
from careline.services.ingest import ingest
from careline.streams import DbSink
from collectors.base import RawMention
from collectors.jetstream import JetstreamStream
from collectors.mastodon import parse_status
from collectors.mastodon_stream import Instance, MastodonStream
from collectors.matcher import Matcher
from collectors.replay import jetstream_delete
from collectors.stream import StreamBatch, StreamStats
from tests.collectors.test_mastodon_stream import MASTO, status, update
from tests.factories import make_raw

T0 = datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
DID = "did:plc:samsam"


def _post_uri(rkey: str) -> str:
    return f"at://{DID}/app.bsky.feed.post/{rkey}"


def _jetstream() -> tuple[str, list[RawMention], Callable[[], StreamBatch]]:
    """Two posts by one Bluesky author four days apart (two cases), and the stream's batch that deletes
    the second: a Jetstream delete event parsed by the real collector."""
    posts = [make_raw(platform="bluesky", external_id=_post_uri(f"3l{n}"), author_handle=DID,
                      text=f"acme air lost my bag {n}", created_at=T0 + timedelta(days=4 * n)) for n in (0, 1)]

    def deletes() -> StreamBatch:
        batch = StreamBatch()
        event = jetstream_delete(2, "3l1", DID, int((T0 + timedelta(days=5)).timestamp() * 1e6))
        JetstreamStream(["ws://127.0.0.1:9/subscribe"]).handle(json.dumps(event), batch, Matcher([]))
        return batch
    return "jetstream", posts, deletes


def _mastodon() -> tuple[str, list[RawMention], Callable[[], StreamBatch]]:
    """The same on Mastodon: the posts as the collector parses them, and the stream's batch for the
    second's delete event (it names the status id, so the stream saw the status first)."""
    statuses = [status(n) for n in (1, 2)]
    for n, s in enumerate(statuses):
        s["account"] = statuses[0]["account"]
        s["created_at"] = (T0 + timedelta(days=4 * n)).isoformat().replace("+00:00", "Z")

    def deletes() -> StreamBatch:
        stream = MastodonStream([Instance(MASTO, Mastodon(api_base_url=MASTO, version_check_mode="none"))])
        inst, batch = stream.instances[0], StreamBatch()
        stream.handle(inst, json.dumps(update(statuses[1])), batch)
        stream.handle(inst, json.dumps({"event": "delete", "payload": statuses[1]["id"]}), batch)
        return batch
    return "mastodon-stream", [parse_status(s) for s in statuses], deletes


@pytest.mark.parametrize("path", [_jetstream, _mastodon], ids=["jetstream", "mastodon"])
def test_a_deleted_post_leaves_the_open_count_everywhere(
        any_engine: Engine, path: Callable[[], tuple[str, list[RawMention], Callable[[], StreamBatch]]]) -> None:
    source, posts, deletes = path()
    platform = posts[0].platform
    with Session(any_engine, expire_on_commit=False) as s:
        brand = Brand(name="Acme Air", keywords=["acme air"])
        s.add(brand)
        s.commit()
        kept, doomed = (s.get(Mention, i) for i in ingest(s, posts, brand_id=brand.id).new_ids)
        assert kept is not None and doomed is not None
        person = customers.for_author(s, platform, kept.author_handle)
        assert person is not None and person.open_count == 2
        other_open = routing.compile_rule({"customer_open_cases": 1}, [{"tag": "again"}], routing.Context.load(s))
        assert other_open.matches(kept)
    batch = deletes()
    assert batch.deleted == [doomed.external_id]
    DbSink(any_engine, source, platform, "worker-1").store(batch, StreamStats())
    with Session(any_engine, expire_on_commit=False) as s:
        person = customers.get(s, person.id or 0)
        kept, doomed = s.get(Mention, kept.id), s.get(Mention, doomed.id)
        assert kept is not None and doomed is not None and doomed.deleted_at is not None
        flags = customer_timeline.row_flags(s, [kept, doomed])
        routed = routing.compile_rule({"customer_open_cases": 1}, [{"tag": "again"}],
                                      routing.Context.load(s)).matches(kept)
        stored = person.open_count
        customer_counts.refresh_everyone(s)
        s.commit()
        recount = s.exec(select(Customer.open_count).where(col(Customer.id) == person.id)).one()
    assert stored == recount == 1  # the customer view (and the Customers page) read this count
    assert flags[kept.id or 0].other_open == 0  # the inbox's Customer column: no other open case
    assert flags[doomed.id or 0].other_open == 1  # a search lists the deleted post: the kept one is other
    assert not routed  # customer_open_cases: no other open case now


def test_a_follow_up_in_a_deleted_posts_case_opens_it_again(any_engine: Engine) -> None:
    """Ingest adds to the count instead of recounting (services/customer_ingest_counts.py): a new post
    joining a case whose only open post was deleted is a new open case, as a recount has it."""
    source, posts, deletes = _jetstream()
    with Session(any_engine, expire_on_commit=False) as s:
        brand = Brand(name="Acme Air", keywords=["acme air"])
        s.add(brand)
        s.commit()
        ingest(s, posts, brand_id=brand.id)
    DbSink(any_engine, source, "bluesky", "worker-1").store(deletes(), StreamStats())
    follow_up = make_raw(platform="bluesky", external_id=_post_uri("3l2"), author_handle=DID,
                         text="acme air still no bag", created_at=posts[1].created_at + timedelta(hours=1))
    with Session(any_engine, expire_on_commit=False) as s:
        (new_id,) = ingest(s, [follow_up], brand_id=brand.id).new_ids
        joined = s.get(Mention, new_id)
        person = customers.for_author(s, "bluesky", DID)
        assert joined is not None and person is not None
        stored = person.open_count
        customer_counts.refresh_everyone(s)
        s.commit()
        s.refresh(person)
    assert joined.case_id is not None  # it joined the deleted post's case
    assert stored == person.open_count == 2
