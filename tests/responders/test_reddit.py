"""Reddit through the real praw/prawcore clients against recorded traffic (praw's own cassettes when
../shared is present) and the repo's small payloads, served with `responses`."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import praw
import pytest
import responses
from sqlmodel import Session

from careline.models import ReplyState
from careline.services import outbox, replies
from responders.base import RateLimited, ReplyRejected, ReplyTarget
from responders.keys import new_key
from responders.reddit import RedditResponder
from tests.conftest import shared_path
from tests.responders.conftest import events, later, reply_row

TOKEN_URL = "https://www.reddit.com/api/v1/access_token"
COMMENT_URL = "https://oauth.reddit.com/api/comment/"
MY_COMMENTS = "https://oauth.reddit.com/user/AcmeAir/comments"
PAYLOADS = Path(__file__).parent / "payloads"
PLACEHOLDERS = {"<USERNAME>": "AcmeAir", "<TEST_SUBREDDIT>": "careline_test"}


class SimulatedCrash(BaseException):
    pass


def reddit() -> praw.Reddit:
    return praw.Reddit(client_id="cid", client_secret="secret", username="AcmeAir", password="pw",
                       user_agent="careline-tests", check_for_updates=False, ratelimit_seconds=0)


def responder() -> RedditResponder:
    return RedditResponder(reddit(), username="AcmeAir")


def token(rsps: responses.RequestsMock) -> None:
    rsps.post(TOKEN_URL, json={"access_token": "tok", "token_type": "bearer", "expires_in": 3600, "scope": "*"})


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


def replay(rsps: responses.RequestsMock, cassette: Path, only: str | None = None, at: str | None = None) -> None:
    """Serve a praw/prawcore vcrpy-JSON cassette's responses (placeholders filled in)."""
    for item in json.loads(cassette.read_text())["interactions"]:
        req, resp = item["request"], item["response"]
        if only and only not in req["uri"]:
            continue
        body = resp["body"]["string"]
        for k, v in PLACEHOLDERS.items():
            body = body.replace(k, v)
        headers = {k: v[0] for k, v in resp["headers"].items()
                   if k.lower() in ("retry-after", "x-ratelimit-remaining", "x-ratelimit-used", "x-ratelimit-reset")}
        rsps.add(req["method"] if at is None else "POST", at or req["uri"].split("?")[0], body=body,
                 status=resp["status"]["code"], headers=headers,
                 content_type=resp["headers"].get("Content-Type", ["application/json"])[0])


def sent_bodies(rsps: responses.RequestsMock) -> list[str]:
    return [c.request.body for c in rsps.calls if c.request.url.startswith(COMMENT_URL)]


def test_comment_reply_from_repo_payload() -> None:
    with responses.RequestsMock() as rsps:
        token(rsps)
        rsps.post(COMMENT_URL, json=payload("reddit_comment_created.json"))
        posted = responder().reply(ReplyTarget(platform="reddit", external_id="t1_abc123"), "Sorry!", new_key())
        assert "thing_id=t1_abc123" in sent_bodies(rsps)[0]
    assert posted.platform_reply_id == "t1_zz9001"
    assert posted.url == "https://www.reddit.com/r/travel/comments/xyz/bag/zz9001/"


@pytest.mark.shared
@pytest.mark.parametrize("cassette, thing", [("TestComment.test_reply.json", "t1_d1616q2"),
                                             ("TestSubmission.test_reply.json", "t3_4b1tfm")])
def test_recorded_reply(cassette: str, thing: str) -> None:
    with responses.RequestsMock() as rsps:
        replay(rsps, shared_path("fixtures", "api", "praw", cassette))
        posted = responder().reply(ReplyTarget(platform="reddit", external_id=thing), "Comment reply", new_key())
    assert posted.platform_reply_id and posted.platform_reply_id.startswith("t1_")


@pytest.mark.shared
@pytest.mark.parametrize("cassette, thing", [("TestComment.test_reply__none.json", "t1_eear2ml"),
                                             ("TestSubmission.test_reply__none.json", "t3_ah19vv")])
def test_recorded_reply_none_is_sent_without_link(cassette: str, thing: str, engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    """praw returns None (quarantined subreddit): the reply exists, so it is sent, never re-posted."""
    mid = mention("reddit", thing)
    with Session(engine, expire_on_commit=False) as s:
        r = replies.queue_reply(s, mid, "TEST", "alice")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        replay(rsps, shared_path("fixtures", "api", "praw", cassette))
        rsps.get(MY_COMMENTS, status=403, json={"message": "Forbidden", "error": 403})  # lookup not possible
        assert outbox.send_due(settings, engine, responders={"reddit": responder()}) == 1
        assert len(sent_bodies(rsps)) == 1
    row = reply_row(engine, r.id)
    assert row.state == ReplyState.sent.value and row.platform_reply_id is None and "no link" in row.error


def test_reply_none_then_found_among_our_comments() -> None:
    listing = payload("reddit_my_comments.json")
    listing["data"]["children"][0]["data"]["created_utc"] = time.time()
    with responses.RequestsMock() as rsps:
        token(rsps)
        rsps.post(COMMENT_URL, json={"json": {"errors": [], "data": {"things": []}}})
        rsps.get(MY_COMMENTS, json=listing)
        posted = responder().reply(ReplyTarget(platform="reddit", external_id="t1_abc123"), "Sorry!", new_key())
    assert posted.platform_reply_id == "t1_zz9001" and posted.url and "zz9001" in posted.url


@pytest.mark.parametrize("status, body, words", [
    (403, {"message": "Forbidden", "error": 403}, "locked"),
    (404, {"message": "Not Found", "error": 404}, "no longer exists"),
    (200, {"json": {"errors": [["THREAD_LOCKED", "Comments are locked.", "parent"]]}}, "locked"),
    (200, {"json": {"errors": [["DELETED_COMMENT", "that comment has been deleted", "parent"]]}}, "deleted"),
    (200, {"json": {"errors": [["TOO_OLD", "that's a piece of history now", "parent"]]}}, "archived"),
])
def test_refusals(status: int, body: dict, words: str) -> None:
    with pytest.raises(ReplyRejected, match=words), responses.RequestsMock() as rsps:
        token(rsps)
        rsps.post(COMMENT_URL, status=status, json=body)
        responder().reply(ReplyTarget(platform="reddit", external_id="t1_abc123"), "hi", new_key())


def test_ratelimit_error_parses_the_wait() -> None:
    with pytest.raises(RateLimited) as exc, responses.RequestsMock() as rsps:
        token(rsps)
        rsps.post(COMMENT_URL, json={"json": {"errors": [["RATELIMIT", "Looks like you've been doing that a lot. "
                                                          "Take a break for 7 minutes before trying again.", "ratelimit"]]}})
        responder().reply(ReplyTarget(platform="reddit", external_id="t3_abc"), "hi", new_key())
    wait = (exc.value.retry_at - datetime.now(timezone.utc)).total_seconds()  # type: ignore[operator]
    assert 400 < wait <= 420


@pytest.mark.shared
def test_recorded_429_then_success(engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    """prawcore's recorded 429 (Retry-After: 4) answers our post; the outbox waits, then sends once."""
    mid = mention("reddit", "t1_abc123")
    with Session(engine, expire_on_commit=False) as s:
        r = replies.queue_reply(s, mid, "Sorry!", "alice")
    cassette = shared_path("fixtures", "api", "prawcore", "TestSession.test_request__too__many_requests__with_retry_headers.json")
    with responses.RequestsMock() as rsps:
        token(rsps)
        replay(rsps, cassette, only="/api/v1/me", at=COMMENT_URL)
        assert outbox.send_due(settings, engine, responders={"reddit": responder()}) == 0
    row = reply_row(engine, r.id)
    assert row.state == ReplyState.queued.value and "429" in row.error
    assert 3 <= (row.next_attempt_at - row.updated_at).total_seconds() <= 6  # type: ignore[operator]
    with responses.RequestsMock() as rsps:
        token(rsps)
        rsps.post(COMMENT_URL, json=payload("reddit_comment_created.json"))
        assert outbox.send_due(settings, engine, responders={"reddit": responder()}, now=later(1)) == 1
    assert [e.detail["result"] for e in events(engine, r.id)] == ["rate_limited", "posted"]


def test_crash_after_reddit_accepted_is_found_not_reposted(engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    mid = mention("reddit", "t1_abc123")
    with Session(engine, expire_on_commit=False) as s:
        r = replies.queue_reply(s, mid, "Sorry!", "alice")

    def crash(request):  # type: ignore[no-untyped-def]
        raise SimulatedCrash("Reddit stored the comment; the sender dies before recording it")

    with responses.RequestsMock() as rsps:
        token(rsps)
        rsps.add_callback(responses.POST, COMMENT_URL, callback=crash)
        with pytest.raises(SimulatedCrash):
            outbox.send_due(settings, engine, responders={"reddit": responder()})
    listing = payload("reddit_my_comments.json")
    listing["data"]["children"][0]["data"]["created_utc"] = time.time()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        token(rsps)
        rsps.get(MY_COMMENTS, json=listing)
        rsps.post(COMMENT_URL, json=payload("reddit_comment_created.json"))
        assert outbox.send_due(settings, engine, responders={"reddit": responder()}, now=later(6)) == 1
        assert sent_bodies(rsps) == []
    row = reply_row(engine, r.id)
    assert row.state == ReplyState.sent.value and row.platform_reply_id == "t1_zz9001"


def test_lookup_ignores_our_older_comments() -> None:
    listing = payload("reddit_my_comments.json")
    listing["data"]["children"][0]["data"]["created_utc"] = time.time() - 86400  # long before the reply was queued
    with responses.RequestsMock() as rsps:
        token(rsps)
        rsps.get(MY_COMMENTS, json=listing)
        assert responder().find_existing_reply(ReplyTarget(platform="reddit", external_id="t1_abc123"), new_key()) is None


def test_server_error_on_post_is_not_retried_by_prawcore() -> None:
    """prawcore would retry a 503 POST (and could post twice); we make one attempt and report doubt."""
    from responders.base import OutcomeUnknown

    with pytest.raises(OutcomeUnknown), responses.RequestsMock() as rsps:
        token(rsps)
        rsps.post(COMMENT_URL, status=503, body="upstream busy")
        try:
            responder().reply(ReplyTarget(platform="reddit", external_id="t1_abc123"), "hi", new_key())
        finally:
            assert len(sent_bodies(rsps)) == 1
