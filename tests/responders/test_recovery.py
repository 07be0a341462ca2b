"""Recovery after a crash recognises only the reply it recovers, and never re-posts while a lost post
may still appear; the dashboard's Retry and Thank obey the same one-reply, one-key rules as the CLI."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import responses
import tweepy
from sqlmodel import Session, select

from careline.errors import Conflict
from careline.models import Author, Reply
from careline.services import advocates, outbox, replies
from responders.base import PostedReply
from responders.keys import comparable, same_text
from responders.x import XResponder
from tests.responders.conftest import events, later, reply_row
from tests.responders.test_outbox import Scripted

API = "https://api.twitter.com/2"


def client() -> tweepy.Client:
    return tweepy.Client(consumer_key="ck", consumer_secret="cs", access_token="1234-at", access_token_secret="ats")


def _crash_after_claim(settings, engine, reply_id: int) -> None:  # type: ignore[no-untyped-def]
    """The sender claims the reply (queued → sending) and dies before posting."""
    sender = outbox._Sender(settings, engine, {}, "dead-sender", None)
    assert sender.claim(False, [reply_id]) is not None


def _timeline(rsps: responses.RequestsMock, tweets: list[dict]) -> None:
    rsps.get(f"{API}/users/me", json={"data": {"id": "1234", "name": "Acme Air", "username": "AcmeAir"}})
    rsps.get(f"{API}/users/1234/tweets", json={"data": tweets, "meta": {"result_count": len(tweets)}})


def test_recovery_never_takes_the_brands_earlier_reply_for_the_lost_one(engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    mid = mention("x", "1900")
    with Session(engine, expire_on_commit=False) as s:
        first = replies.queue_reply(s, mid, "Sorry about your bag, we are on it.", "alice")
    with responses.RequestsMock() as rsps:
        rsps.post(f"{API}/tweets", status=201, json={"data": {"id": "1901", "text": "@bob Sorry about your bag, we are on it.",
                                                              "edit_history_tweet_ids": ["1901"]}})
        assert outbox.send_due(settings, engine, responders={"x": XResponder(client())}) == 1
    with Session(engine, expire_on_commit=False) as s:  # a confirmed follow-up, a minute later
        follow = replies.queue_reply(s, mid, "Your bag is on the 18:05 flight.", "bob", confirm_duplicate=True)
    _crash_after_claim(settings, engine, follow.id)  # type: ignore[arg-type]
    earlier = {"id": "1901", "text": "@bob Sorry about your bag, we are on it.",
               "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
               "referenced_tweets": [{"type": "replied_to", "id": "1900"}], "edit_history_tweet_ids": ["1901"]}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _timeline(rsps, [earlier])
        outbox.send_due(settings, engine, responders={"x": XResponder(client())}, now=later(6))
        row = reply_row(engine, follow.id)  # type: ignore[arg-type]
        assert row.platform_reply_id != "1901" and row.state == "sending"  # not "sent" with the first's id
        outbox.send_due(settings, engine, responders={"x": XResponder(client())}, now=later(11))
        assert reply_row(engine, follow.id).state == "queued"  # type: ignore[arg-type]
        rsps.post(f"{API}/tweets", status=201, json={"data": {"id": "1902", "text": "x", "edit_history_tweet_ids": ["1902"]}})
        assert outbox.send_due(settings, engine, responders={"x": XResponder(client())}, now=later(12)) == 1
    assert reply_row(engine, follow.id).platform_reply_id == "1902"  # type: ignore[arg-type]
    assert reply_row(engine, first.id).platform_reply_id == "1901"  # type: ignore[arg-type]


def test_recovery_refuses_a_post_recorded_for_another_reply(engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    """Whatever a responder answers, a platform post already recorded for another reply is not this one."""
    mid = mention("x", "1910")
    with Session(engine, expire_on_commit=False) as s:
        replies.queue_reply(s, mid, "first", "alice")
    platform = Scripted(finds=[PostedReply("p1"), None])
    outbox.send_due(settings, engine, responders={"x": platform})  # posts "first" as p1
    with Session(engine, expire_on_commit=False) as s:
        follow = replies.queue_reply(s, mid, "second", "alice", confirm_duplicate=True)
    _crash_after_claim(settings, engine, follow.id)  # type: ignore[arg-type]
    outbox.send_due(settings, engine, responders={"x": platform}, now=later(6))
    row = reply_row(engine, follow.id)  # type: ignore[arg-type]
    assert row.state == "sending" and row.platform_reply_id is None and platform.looked == 1


def test_a_lost_post_is_never_reposted_in_the_same_pass(engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    mid = mention("x", "1920")
    with Session(engine, expire_on_commit=False) as s:
        r = replies.queue_reply(s, mid, "hello", "alice")
    _crash_after_claim(settings, engine, r.id)  # type: ignore[arg-type]
    platform = Scripted(finds=[None, None])
    for minutes in (6, 8):  # the timeline may lag: wait, don't post
        outbox.send_due(settings, engine, responders={"x": platform}, now=later(minutes))
        assert platform.posts == [] and reply_row(engine, r.id).state == "sending"  # type: ignore[arg-type]
    summary = outbox.run(settings, engine, responders={"x": platform}, now=later(11))
    assert platform.posts == [] and summary.sent == 0  # requeued, not re-posted in the pass that decided
    assert outbox.send_due(settings, engine, responders={"x": platform}, now=later(12)) == 1
    assert platform.posts == ["hello"]
    assert [e.detail["result"] for e in events(engine, r.id)][-3:] == [  # type: ignore[arg-type]
        "not_visible_yet", "not_posted_requeued", "posted"]


@pytest.mark.parametrize("posted, ours, same", [
    ("@bob Sorry about that", "Sorry about that", True),
    ("<p><span class=\"h-card\"><a href=\"https://m.example/@bob\">@bob</a></span> Sorry &amp; thanks</p>",
     "Sorry & thanks", True),
    ("See https://t.co/abc123 for help", "See https://acme.example/help for help", True),
    ("Sorry about that", "Your bag is on the 18:05 flight.", False),
    (None, "x", False),
])
def test_same_text(posted, ours, same) -> None:  # type: ignore[no-untyped-def]
    assert same_text(posted, ours) is same
    assert same_text(posted, None) is True  # no text to compare: the caller relies on the key alone
    assert comparable("  a\n b ") == "a b"


def test_thank_never_confirms_a_duplicate(engine, mention) -> None:  # type: ignore[no-untyped-def]
    mid = mention("x", "1930", author_handle="fan")
    with Session(engine) as s:
        s.add(Author(platform="x", handle="fan"))
        s.commit()
    with Session(engine, expire_on_commit=False) as s:
        advocates.thank(s, "x", "fan", "Thank you!", "alice", "agent", mention_id=mid)
    with Session(engine, expire_on_commit=False) as s, pytest.raises(Conflict, match="already queued"):
        advocates.thank(s, "x", "fan", "Thank you again!", "bob", "agent", mention_id=mid)
    with pytest.raises(TypeError):
        advocates.thank(None, "x", "fan", "t", "a", "agent", confirm_duplicate=True)  # type: ignore[arg-type,call-arg]
    with Session(engine) as s:
        assert len(list(s.exec(select(Reply).where(Reply.mention_id == mid)))) == 1

