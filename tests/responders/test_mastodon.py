"""Mastodon through the real Mastodon.py client against a local Mastodon-shaped HTTP server."""
from __future__ import annotations

import pytest
from mastodon import Mastodon
from sqlmodel import Session

from careline.models import ReplyState
from careline.services import outbox, replies
from responders.base import OutcomeUnknown, RateLimited, ReplyRejected, ReplyTarget
from responders.keys import new_key
from responders.mastodon import MastodonResponder
from tests.responders.conftest import events, later, reply_row
from tests.responders.fakes import FakeMastodon


@pytest.fixture
def fake():  # type: ignore[no-untyped-def]
    app = FakeMastodon()
    with app.serving() as base:
        app.base = base
        yield app


def responder(fake: FakeMastodon) -> MastodonResponder:
    api = Mastodon(access_token="tok", api_base_url=fake.base, ratelimit_method="throw", request_timeout=5)
    return MastodonResponder(api)


def target() -> ReplyTarget:
    return ReplyTarget(platform="mastodon", external_id="111", author_handle="bob@mastodon.social")


def test_reply_mentions_author_and_sends_idempotency_key(fake: FakeMastodon) -> None:
    key = new_key()
    posted = responder(fake).reply(target(), "Sorry about your bag!", key)
    assert posted.platform_reply_id == "1000" and posted.url == "https://brand.example/@acmeair/1000"
    _, _, headers, body, _ = fake.requests[-1]
    assert headers["Idempotency-Key"] == key
    assert body["status"] == "@bob@mastodon.social Sorry about your bag!" and body["in_reply_to_id"] == "111"


def test_same_key_twice_posts_once(fake: FakeMastodon) -> None:
    key = new_key()
    r = responder(fake)
    first, second = r.reply(target(), "hi", key), r.reply(target(), "hi", key)
    assert first.platform_reply_id == second.platform_reply_id
    assert len([s for s in fake.statuses.values() if s.get("in_reply_to_id") == "111"]) == 1


def test_errors_become_our_hierarchy(fake: FakeMastodon) -> None:
    r = responder(fake)
    fake.queue.append((429, {"error": "Too many requests"}, {"X-RateLimit-Reset": "2030-01-01T00:00:00.000Z",
                                                             "X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "300"}))
    with pytest.raises(RateLimited) as rl:
        r.reply(target(), "hi", new_key())
    assert rl.value.retry_at is not None and rl.value.retry_at.year == 2030
    with pytest.raises(ReplyRejected, match="deleted"):
        r.reply(ReplyTarget(platform="mastodon", external_id="404404"), "hi", new_key())
    with pytest.raises(ReplyRejected, match="character limit"):
        r.reply(target(), "x" * 600, new_key())
    fake.queue.append((403, {"error": "This action is not allowed"}, {}))
    with pytest.raises(ReplyRejected, match="403"):
        r.reply(target(), "hi", new_key())
    fake.queue.append((503, {"error": "unavailable"}, {}))
    with pytest.raises(OutcomeUnknown):
        r.reply(target(), "hi", new_key())


def test_max_characters_from_instance(fake: FakeMastodon) -> None:
    assert responder(fake).max_characters() == 500


def test_outbox_sends_and_audits(fake: FakeMastodon, engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    mid = mention("mastodon", "111", author_handle="bob@mastodon.social")
    with Session(engine, expire_on_commit=False) as s:
        reply = replies.queue_reply(s, mid, "We're on it.", "alice")
    assert outbox.send_due(settings, engine, responders={"mastodon": responder(fake)}) == 1
    row = reply_row(engine, reply.id)
    assert row.state == ReplyState.sent.value and row.url.endswith("/1000") and not row.dry_run
    (ev,) = events(engine, reply.id)
    assert ev.actor == "sender" and ev.detail["approved_by"] == "alice" and ev.detail["result"] == "posted"
    assert ev.detail["text"] == "We're on it."
    # a second pass finds nothing to do
    assert outbox.send_due(settings, engine, responders={"mastodon": responder(fake)}) == 0
    assert fake.calls[("POST", "/api/v1/statuses")] == 1


def test_dropped_connection_then_check_finds_the_post(fake: FakeMastodon, engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    """The server accepted the post but the answer never arrived: checked later, recorded, not re-posted."""
    mid = mention("mastodon", "111")
    with Session(engine, expire_on_commit=False) as s:
        reply = replies.queue_reply(s, mid, "On it.", "alice")
    fake.drop_after_create = True
    fake.honour_keys = False  # prove the thread check alone prevents a second post
    r = {"mastodon": responder(fake)}
    outbox.send_due(settings, engine, responders=r)
    assert reply_row(engine, reply.id).state == ReplyState.sending.value
    assert outbox.send_due(settings, engine, responders=r, now=later(10)) == 1
    row = reply_row(engine, reply.id)
    assert row.state == ReplyState.sent.value and row.platform_reply_id == "1000"
    assert fake.calls[("POST", "/api/v1/statuses")] == 1
    assert [e.detail["result"] for e in events(engine, reply.id)] == ["outcome_uncertain", "found_existing"]


def test_sender_learns_the_instance_limit(fake: FakeMastodon, engine, mention, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from careline.services import app_settings

    monkeypatch.setattr(outbox, "_LIMITS_CHECKED", {})  # a process checks once in a while; start fresh
    mid = mention("mastodon", "111")
    with Session(engine, expire_on_commit=False) as s:
        replies.queue_reply(s, mid, "hi", "alice")
    outbox.send_due(settings, engine, responders={"mastodon": responder(fake)})
    with Session(engine) as s:
        assert app_settings.get(s, replies.MASTODON_LIMIT_KEY) == 500
    before = fake.calls[("GET", "/api/v2/instance")]
    outbox.send_due(settings, engine, responders={"mastodon": responder(fake)})
    assert fake.calls[("GET", "/api/v2/instance")] == before  # not asked again on every pass
