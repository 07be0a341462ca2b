"""Bluesky through the real atproto client (httpx) against a local XRPC server."""
from __future__ import annotations

import pytest
from atproto import Client
from sqlmodel import Session

from careline.models import ReplyState
from careline.services import outbox, replies
from responders.base import OutcomeUnknown, RateLimited, ReplyRejected, ReplyTarget
from responders.bluesky import BlueskyResponder
from responders.keys import new_key, tid_for_key
from tests.responders.conftest import events, later, reply_row
from tests.responders.fakes import FakePDS

PARENT = "at://did:plc:someone/app.bsky.feed.post/3kparent"
ROOT = {"uri": "at://did:plc:someone/app.bsky.feed.post/3kroot", "cid": "bafyroot"}


@pytest.fixture
def pds():  # type: ignore[no-untyped-def]
    app = FakePDS()
    app.add_post(PARENT, "bafyparent", reply_root=ROOT)
    with app.serving() as base:
        app.base = base
        yield app


def responder(pds: FakePDS, password: str = "app-pass-1234") -> BlueskyResponder:
    return BlueskyResponder(Client(base_url=f"{pds.base}/xrpc"), handle=FakePDS.account, app_password=password)


def strong(ref: dict[str, str]) -> dict[str, str]:
    return {"uri": ref["uri"], "cid": ref["cid"]}


def target() -> ReplyTarget:
    return ReplyTarget(platform="bluesky", external_id=PARENT, raw={"cid": "bafyparent"})


def test_reply_uses_parent_and_thread_root_and_derived_record_key(pds: FakePDS) -> None:
    key = new_key()
    posted = responder(pds).reply(target(), "Sorry! Details: https://acme.example/help", key)
    rkey = tid_for_key(key)
    assert posted.platform_reply_id == f"at://{FakePDS.did}/app.bsky.feed.post/{rkey}"
    assert posted.url == f"https://bsky.app/profile/{FakePDS.account}/post/{rkey}"
    record = pds.ours[rkey]
    assert strong(record["reply"]["parent"]) == {"uri": PARENT, "cid": "bafyparent"}
    assert strong(record["reply"]["root"]) == ROOT
    link = record["facets"][0]
    assert link["features"][0]["uri"] == "https://acme.example/help" and link["index"]["byteStart"] == 16


def test_second_attempt_with_same_key_returns_the_first_post(pds: FakePDS) -> None:
    key = new_key()
    r = responder(pds)
    first = r.reply(target(), "hi", key)
    second = r.reply(target(), "hi", key)
    assert first.platform_reply_id == second.platform_reply_id and len(pds.ours) == 1
    assert r.find_existing_reply(target(), key).platform_reply_id == first.platform_reply_id  # type: ignore[union-attr]
    assert r.find_existing_reply(target(), new_key()) is None


def test_errors(pds: FakePDS) -> None:
    with pytest.raises(ReplyRejected, match="app password"):
        responder(pds, password="wrong").reply(target(), "hi", new_key())
    r = responder(pds)
    pds.deleted.add(PARENT)
    with pytest.raises(ReplyRejected, match="deleted"):
        r.reply(ReplyTarget(platform="bluesky", external_id=PARENT), "hi", new_key())
    pds.deleted.clear()
    pds.queue.append((429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                      {"ratelimit-reset": "1893456000", "ratelimit-remaining": "0"}))
    with pytest.raises(RateLimited) as rl:
        r.reply(target(), "hi", new_key())
    assert rl.value.retry_at is not None and rl.value.retry_at.year == 2030
    pds.queue.append((502, {"error": "UpstreamFailure", "message": "bad gateway"}, {}))
    with pytest.raises(OutcomeUnknown):
        r.reply(target(), "hi", new_key())


def test_root_post_fetched_when_mention_lacks_cid(pds: FakePDS) -> None:
    root_uri = "at://did:plc:someone/app.bsky.feed.post/3kalone"
    pds.add_post(root_uri, "bafyalone")
    key = new_key()
    responder(pds).reply(ReplyTarget(platform="bluesky", external_id=root_uri), "hi", key)
    reply = pds.ours[tid_for_key(key)]["reply"]  # type: ignore[index]
    assert strong(reply["root"]) == strong(reply["parent"]) == {"uri": root_uri, "cid": "bafyalone"}


def test_outbox_dropped_answer_then_recovered_without_second_post(pds: FakePDS, engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    mid = mention("bluesky", PARENT, raw={"cid": "bafyparent"}, thread_id=ROOT["uri"], parent_id=ROOT["uri"])
    with Session(engine, expire_on_commit=False) as s:
        reply = replies.queue_reply(s, mid, "On it.", "alice")
    pds.drop_after_create = True
    r = {"bluesky": responder(pds)}
    outbox.send_due(settings, engine, responders=r)
    assert reply_row(engine, reply.id).state == ReplyState.sending.value
    assert outbox.send_due(settings, engine, responders=r, now=later(10)) == 1
    row = reply_row(engine, reply.id)
    assert row.state == ReplyState.sent.value and row.platform_reply_id.endswith(tid_for_key(row.idempotency_key))
    assert pds.calls[("POST", "/xrpc/com.atproto.repo.createRecord")] == 1
    assert [e.detail["result"] for e in events(engine, reply.id)] == ["outcome_uncertain", "found_existing"]
