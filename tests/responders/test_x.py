"""X through the real tweepy Client (OAuth 1.0a user context) against recorded/local HTTP via `responses`."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import responses
import tweepy
import vcr
from sqlmodel import Session

from careline.models import Mention, ReplyState
from careline.services import app_settings, outbox, replies
from responders.base import OutcomeUnknown, ReplyTarget
from responders.keys import new_key
from responders.x import XResponder
from tests.conftest import shared_path
from tests.responders.conftest import events, later, reply_row

API = "https://api.twitter.com/2"


class SimulatedCrash(BaseException):
    """The process dies: raised after the platform stored the post, before tweepy returns to us."""


def client() -> tweepy.Client:
    return tweepy.Client(consumer_key="ck", consumer_secret="cs", access_token="1234-at", access_token_secret="ats")


def created(tweet_id: str, text: str = "ok") -> dict:
    return {"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}}


def posted_bodies(rsps: responses.RequestsMock) -> list[dict]:
    return [json.loads(c.request.body) for c in rsps.calls if c.request.method == "POST" and c.request.url == f"{API}/tweets"]


@responses.activate
def test_reply_posts_in_reply_to_the_mention() -> None:
    responses.post(f"{API}/tweets", json=created("1700"), status=201)
    posted = XResponder(client()).reply(ReplyTarget(platform="x", external_id="1600"), "Sorry!", new_key())
    assert posted.platform_reply_id == "1700" and posted.url == "https://x.com/i/web/status/1700"
    body = json.loads(responses.calls[0].request.body)
    assert body == {"text": "Sorry!", "reply": {"in_reply_to_tweet_id": "1600"}}
    assert responses.calls[0].request.headers["Authorization"].startswith("OAuth ")


@pytest.mark.shared
def test_recorded_create_tweet_cassette() -> None:
    """tweepy's own recorded POST /2/tweets (201), replayed by vcrpy, parsed by our responder."""
    cassette = shared_path("fixtures", "api", "tweepy", "test_client_create_and_delete_tweet.yaml")
    # the recorded bodies are gzip bytes; vcrpy decodes them on load with this option
    with vcr.VCR(record_mode="none", decode_compressed_response=True).use_cassette(str(cassette)):
        posted = XResponder(client()).reply(ReplyTarget(platform="x", external_id="1600"), "Test Tweet", new_key())
    assert posted.platform_reply_id == "1456012973835788293"


def test_rate_limit_waits_keeping_queue_order_then_sends(engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    first, second = mention("x", "1601"), mention("x", "1602")
    with Session(engine, expire_on_commit=False) as s:
        r1 = replies.queue_reply(s, first, "first", "alice")
        r2 = replies.queue_reply(s, second, "second", "bob")
    reset = int((datetime.now(timezone.utc) + timedelta(minutes=3)).timestamp())
    with responses.RequestsMock() as rsps:
        rsps.post(f"{API}/tweets", status=429, json={"title": "Too Many Requests", "detail": "Too Many Requests"},
                  headers={"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"})
        assert outbox.send_due(settings, engine, responders={"x": XResponder(client())}) == 0
        assert len(posted_bodies(rsps)) == 1  # the second reply waits instead of hitting the limit again
    row1, row2 = reply_row(engine, r1.id), reply_row(engine, r2.id)
    assert row1.state == row2.state == ReplyState.queued.value
    assert int(row1.next_attempt_at.timestamp()) == reset == int(row2.next_attempt_at.timestamp())
    assert "Waiting until" in row1.error and "rate limit" in row2.error
    assert "next attempt in" in outbox.status_line(row1)
    # before the reset: nothing is due
    assert outbox.send_due(settings, engine, responders={"x": XResponder(client())}, now=later(1)) == 0
    with responses.RequestsMock() as rsps:
        rsps.post(f"{API}/tweets", json=created("1701"), status=201)
        rsps.post(f"{API}/tweets", json=created("1702"), status=201)
        assert outbox.send_due(settings, engine, responders={"x": XResponder(client())}, now=later(4)) == 2
        assert [b["text"] for b in posted_bodies(rsps)] == ["first", "second"]
    assert reply_row(engine, r1.id).platform_reply_id == "1701"
    assert [e.detail["result"] for e in events(engine, r1.id)] == ["rate_limited", "posted"]


@pytest.mark.parametrize("detail, words", [
    ("You are not allowed to create a Tweet with duplicate content.", "duplicate"),
    ("You attempted to reply to a Tweet that is deleted or not visible to you.", "deleted"),
    ("Your client app is not configured with the appropriate oauth1 app permissions for this endpoint.", "Read and write"),
])
def test_refusals_fail_with_plain_reason_and_are_not_retried(engine, mention, settings, detail, words) -> None:  # type: ignore[no-untyped-def]
    mid = mention("x", "1603")
    with Session(engine, expire_on_commit=False) as s:
        r = replies.queue_reply(s, mid, "hello", "alice")
        assert s.get(Mention, mid).status == "replied"  # type: ignore[union-attr]
    with responses.RequestsMock() as rsps:
        rsps.post(f"{API}/tweets", status=403, json={"title": "Forbidden", "detail": detail, "type": "about:blank", "status": 403})
        outbox.send_due(settings, engine, responders={"x": XResponder(client())})
        outbox.send_due(settings, engine, responders={"x": XResponder(client())}, now=later(60))
        assert len(posted_bodies(rsps)) == 1
    row = reply_row(engine, r.id)
    assert row.state == ReplyState.failed.value and words in row.error
    with Session(engine) as s:
        assert s.get(Mention, mid).status == "new"  # type: ignore[union-attr]  # back in the inbox
    (ev,) = events(engine, r.id)
    assert ev.detail["result"] == "failed" and words in ev.detail["error"]


def _crash_on_post(tweet_id: str):  # type: ignore[no-untyped-def]
    def callback(request):  # type: ignore[no-untyped-def]
        raise SimulatedCrash(f"the platform stored {tweet_id}; we die before recording it")
    return callback


def test_crash_after_platform_accepted_is_found_not_reposted(engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    mid = mention("x", "1604")
    with Session(engine, expire_on_commit=False) as s:
        r = replies.queue_reply(s, mid, "On it.", "alice")
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.POST, f"{API}/tweets", callback=_crash_on_post("1705"))
        with pytest.raises(SimulatedCrash):
            outbox.send_due(settings, engine, responders={"x": XResponder(client())})
    assert reply_row(engine, r.id).state == ReplyState.sending.value
    # a fresh process, after the lease has expired
    with responses.RequestsMock() as rsps:
        rsps.get(f"{API}/users/me", json={"data": {"id": "1234", "name": "Acme Air", "username": "AcmeAir"}})
        rsps.get(f"{API}/users/1234/tweets", json={
            "data": [{"id": "1705", "text": "@bob On it.", "created_at": "2030-01-01T00:00:00.000Z",
                      "referenced_tweets": [{"type": "replied_to", "id": "1604"}], "edit_history_tweet_ids": ["1705"]}],
            "meta": {"result_count": 1}})
        assert outbox.send_due(settings, engine, responders={"x": XResponder(client())}, now=later(6)) == 1
        assert posted_bodies(rsps) == []
        lookup = [c.request.url for c in rsps.calls if "/tweets?" in c.request.url][0]
        assert "start_time=" in lookup and "referenced_tweets" in lookup
    row = reply_row(engine, r.id)
    assert row.state == ReplyState.sent.value and row.platform_reply_id == "1705"
    assert events(engine, r.id)[-1].detail["result"] == "found_existing"


def test_crash_when_timeline_unreadable_becomes_unknown_for_a_person(engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    mid = mention("x", "1606")
    with Session(engine, expire_on_commit=False) as s:
        r = replies.queue_reply(s, mid, "On it.", "alice")
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.POST, f"{API}/tweets", callback=_crash_on_post("1707"))
        with pytest.raises(SimulatedCrash):
            outbox.send_due(settings, engine, responders={"x": XResponder(client())})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(f"{API}/users/me", json={"data": {"id": "1234", "name": "Acme Air", "username": "AcmeAir"}})
        rsps.get(f"{API}/users/1234/tweets", status=403, json={
            "title": "Client Forbidden", "detail": "When authenticating requests to the Twitter API v2 endpoints, "
            "you must use keys and tokens from a Twitter developer App that is attached to a Project.",
            "reason": "client-not-enrolled", "type": "https://api.twitter.com/2/problems/client-forbidden"})
        rsps.post(f"{API}/tweets", json=created("1799"), status=201)
        outbox.send_due(settings, engine, responders={"x": XResponder(client())}, now=later(6))
        outbox.send_due(settings, engine, responders={"x": XResponder(client())}, now=later(60))
        assert posted_bodies(rsps) == []  # never posted twice
    row = reply_row(engine, r.id)
    assert row.state == ReplyState.unknown.value and f"--mark-sent {r.id}" in row.error
    with Session(engine) as s:
        replies.mark_sent(s, r.id, "carol", url="https://x.com/AcmeAir/status/1707")
    row = reply_row(engine, r.id)
    assert row.state == "sent" and row.url.endswith("1707")
    assert [e.actor for e in events(engine, r.id, "mark_reply_sent")] == ["carol"]


def test_lookup_surely_absent_returns_none() -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(f"{API}/users/me", json={"data": {"id": "1234", "name": "Acme Air", "username": "AcmeAir"}})
        rsps.get(f"{API}/users/1234/tweets", json={"meta": {"result_count": 0}})
        assert XResponder(client()).find_existing_reply(ReplyTarget(platform="x", external_id="1"), new_key()) is None
    with pytest.raises(OutcomeUnknown), responses.RequestsMock() as rsps:
        rsps.get(f"{API}/users/me", status=503, json={"title": "Service Unavailable"})
        XResponder(client()).find_existing_reply(ReplyTarget(platform="x", external_id="1"), new_key())


def test_thanks_also_likes_when_enabled(engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    mid = mention("x", "1608")
    with Session(engine, expire_on_commit=False) as s:
        app_settings.put(s, outbox.LIKE_SETTING, True)
        r = replies.queue_reply(s, mid, "Thank you!", "alice", kind="thanks")
    with responses.RequestsMock() as rsps:
        rsps.post(f"{API}/tweets", json=created("1709"), status=201)
        rsps.post(f"{API}/users/1234/likes", json={"data": {"liked": True}})
        assert outbox.send_due(settings, engine, responders={"x": XResponder(client())}) == 1
        assert json.loads(rsps.calls[-1].request.body) == {"tweet_id": "1608"}
    assert events(engine, r.id)[-1].detail["liked"] is True


def test_lookup_gives_up_on_a_very_busy_timeline() -> None:
    with pytest.raises(OutcomeUnknown, match="Too many recent posts"), responses.RequestsMock() as rsps:
        rsps.get(f"{API}/users/me", json={"data": {"id": "1234", "name": "Acme Air", "username": "AcmeAir"}})
        page = {"data": [{"id": "1", "text": "other", "edit_history_tweet_ids": ["1"]}],
                "meta": {"result_count": 1, "next_token": "more"}}
        rsps.get(f"{API}/users/1234/tweets", json=page)
        XResponder(client()).find_existing_reply(ReplyTarget(platform="x", external_id="9"), new_key())
