"""The outbox state machine, dry run, the duplicate guard and two concurrent senders (SQLite and PostgreSQL).

Platform behaviour is tested through the real SDKs in the other files; here a scripted Responder stands
in for "a platform that answers like this" so each transition can be driven exactly.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from mastodon import Mastodon
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from careline.errors import Conflict, InvalidInput
from careline.factory import build_responder, dry_run_reason
from careline.models import Mention, Reply, ReplyState
from careline.services import app_settings, outbox, replies
from careline.settings import Settings
from responders.base import OutcomeUnknown, PostedReply, ReplyError, ReplyTarget
from responders.dry_run import DryRunResponder
from responders.keys import key_time
from responders.mastodon import MastodonResponder
from tests.responders.conftest import add_mention, events, later, reply_row
from tests.responders.fakes import FakeMastodon


class Scripted:
    """Answers reply()/find_existing_reply() from two scripts; each item is a value or an exception."""

    platform = "x"

    def __init__(self, replies_: list[Any] | None = None, finds: list[Any] | None = None) -> None:
        self.replies, self.finds = list(replies_ or []), list(finds or [])
        self.posts: list[str] = []
        self.looked = 0

    def reply(self, target: ReplyTarget, text: str, idempotency_key: str) -> PostedReply:
        self.posts.append(text)
        item = self.replies.pop(0) if self.replies else PostedReply(f"p{len(self.posts)}", url=f"https://x.test/{len(self.posts)}")
        if isinstance(item, BaseException):
            raise item
        return item

    def find_existing_reply(self, target: ReplyTarget, idempotency_key: str,
                            text: str | None = None) -> PostedReply | None:
        self.looked += 1
        item = self.finds.pop(0) if self.finds else None
        if isinstance(item, BaseException):
            raise item
        return item


def queue(engine: Engine, mid: int, text: str = "hello", **kw: Any) -> Reply:
    with Session(engine, expire_on_commit=False) as s:
        return replies.queue_reply(s, mid, text, kw.pop("actor", "alice"), **kw)


def test_dry_run_is_the_default_without_write_credentials(engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    r = queue(engine, mention("x", "42"))
    assert dry_run_reason("x", settings) == ("CARELINE_X_CONSUMER_KEY, CARELINE_X_CONSUMER_SECRET, "
                                             "CARELINE_X_ACCESS_TOKEN, CARELINE_X_ACCESS_TOKEN_SECRET not set")
    assert outbox.send_due(settings, engine) == 1
    row = reply_row(engine, r.id)
    assert row.state == "sent" and row.dry_run and row.url is None
    assert outbox.status_line(row).startswith("Recorded as a dry run: nothing was published")
    (ev,) = events(engine, r.id)
    assert ev.detail["dry_run"] is True and "not set" in ev.detail["dry_run_reason"]
    with Session(engine) as s:
        assert s.get(Mention, row.mention_id).first_response_at is None  # type: ignore[union-attr]


def test_factory_builds_real_responders_only_with_credentials(tmp_path) -> None:  # type: ignore[no-untyped-def]
    creds = dict(x_consumer_key="a", x_consumer_secret="b", x_access_token="1-c", x_access_token_secret="d",
                 mastodon_base_url="https://brand.example", mastodon_access_token="t",
                 bluesky_handle="acme.bsky.social", bluesky_app_password="p",
                 reddit_client_id="i", reddit_client_secret="s", reddit_username="u", reddit_password="w")
    s = Settings(data_dir=tmp_path, sources=["demo"], _env_file=None, **creds)  # type: ignore[call-arg]
    kinds = {p: type(build_responder(p, s)).__name__ for p in ("x", "reddit", "bluesky", "mastodon", "demo")}
    assert kinds == {"x": "XResponder", "reddit": "RedditResponder", "bluesky": "BlueskyResponder",
                     "mastodon": "MastodonResponder", "demo": "DryRunResponder"}
    forced = s.model_copy(update={"dry_run": True})
    assert isinstance(build_responder("x", forced), DryRunResponder)
    assert dry_run_reason("x", forced) == "CARELINE_DRY_RUN is on"


def test_row_queued_as_dry_run_never_reaches_the_platform(engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    r = queue(engine, mention("x", "43"), dry_run=True)
    platform = Scripted()
    assert outbox.send_due(settings, engine, responders={"x": platform}) == 1
    assert platform.posts == [] and reply_row(engine, r.id).dry_run


def test_sent_records_link_first_response_and_audit(engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    mid = mention("x", "44")
    r = queue(engine, mid, "We're on it")
    assert key_time(r.idempotency_key) is not None  # UUIDv7: carries the queue time
    assert outbox.send_due(settings, engine, responders={"x": Scripted()}) == 1
    row = reply_row(engine, r.id)
    assert (row.state, row.platform_reply_id, row.url, row.attempts) == ("sent", "p1", "https://x.test/1", 1)
    assert row.lease_owner is None and row.sent_at is not None
    with Session(engine) as s:
        assert s.get(Mention, mid).first_response_at is not None  # type: ignore[union-attr]
    (q,) = events(engine, r.id, "queue_reply")
    (ev,) = events(engine, r.id)
    assert q.actor == "alice" and ev.actor == "sender"
    assert {k: ev.detail[k] for k in ("approved_by", "text", "result")} == {"approved_by": "alice", "text": "We're on it", "result": "posted"}


def test_transient_errors_back_off_then_give_up(engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    r = queue(engine, mention("x", "45"))
    platform = Scripted(replies_=[ReplyError("Could not reach X; nothing was sent.")] * 10)
    when = later(0)
    for _ in range(outbox.MAX_ATTEMPTS):
        outbox.send_due(settings, engine, responders={"x": platform}, now=when)
        row = reply_row(engine, r.id)
        when = row.next_attempt_at or when
    assert row.state == "failed" and row.error.startswith(f"Gave up after {outbox.MAX_ATTEMPTS} attempts")
    assert len(platform.posts) == outbox.MAX_ATTEMPTS
    results = [e.detail["result"] for e in events(engine, r.id)]
    assert results == ["retry_later"] * (outbox.MAX_ATTEMPTS - 1) + ["gave_up"]
    outbox.send_due(settings, engine, responders={"x": platform}, now=later(600))
    assert len(platform.posts) == outbox.MAX_ATTEMPTS  # nothing is retried forever


def test_uncertain_then_checked_absent_is_sent_again(engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    r = queue(engine, mention("x", "46"))
    platform = Scripted(replies_=[OutcomeUnknown("X answered 503 while posting.")], finds=[None, None])
    outbox.send_due(settings, engine, responders={"x": platform})
    row = reply_row(engine, r.id)
    assert row.state == "sending" and "Checking whether it was posted" in row.error
    outbox.send_due(settings, engine, responders={"x": platform}, now=later(1))  # too early to check
    assert platform.looked == 0
    # Not on the timeline 3 minutes later: the platform may still show it, so wait rather than re-post.
    assert outbox.send_due(settings, engine, responders={"x": platform}, now=later(3)) == 0
    assert platform.looked == 1 and len(platform.posts) == 1 and reply_row(engine, r.id).state == "sending"
    # Settled and still absent: requeued, but never posted again in the pass that decided it.
    assert outbox.send_due(settings, engine, responders={"x": platform}, now=later(11)) == 0
    assert platform.looked == 2 and len(platform.posts) == 1 and reply_row(engine, r.id).state == "queued"
    assert outbox.send_due(settings, engine, responders={"x": platform}, now=later(12)) == 1
    assert len(platform.posts) == 2
    assert [e.detail["result"] for e in events(engine, r.id)] == [
        "outcome_uncertain", "not_visible_yet", "not_posted_requeued", "posted"]


def test_unknown_waits_for_a_person_then_retry(engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    r = queue(engine, mention("x", "47"))
    platform = Scripted(replies_=[RuntimeError("SDK blew up after sending")],
                        finds=[OutcomeUnknown("X's timeline is not readable on this plan.")])
    outbox.send_due(settings, engine, responders={"x": platform})
    outbox.send_due(settings, engine, responders={"x": platform}, now=later(3))
    row = reply_row(engine, r.id)
    assert row.state == "unknown" and "timeline is not readable" in row.error
    for minutes in (10, 60, 600):
        outbox.send_due(settings, engine, responders={"x": platform}, now=later(minutes))
    assert len(platform.posts) == 1 and platform.looked == 1 and reply_row(engine, r.id).state == "unknown"
    with Session(engine) as s:
        replies.retry(s, r.id, "carol")
    with Session(engine) as s, pytest.raises(Conflict):
        replies.retry(s, r.id, "carol")  # already queued again
    row = reply_row(engine, r.id)
    assert row.state == "queued" and row.idempotency_key == r.idempotency_key
    assert outbox.send_due(settings, engine, responders={"x": platform}, now=later(601)) == 1
    assert [e.actor for e in events(engine, r.id, "retry_reply")] == ["carol"]


def test_second_agent_must_confirm(engine, mention) -> None:  # type: ignore[no-untyped-def]
    mid = mention("x", "48")
    queue(engine, mid, actor="alice")
    with pytest.raises(Conflict, match="already queued.*alice"):
        queue(engine, mid, actor="bob")
    second = queue(engine, mid, actor="bob", confirm_duplicate=True)
    assert events(engine, second.id, "queue_reply")[0].detail["confirmed_duplicate"] is True


def test_length_checked_before_queueing(engine, mention) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="281 weighted characters.*limit is 280"):
        queue(engine, mention("x", "49"), "a" * 281)
    queue(engine, mention("x", "50"), "a" * 256 + " https://example.com/" + "b" * 300)  # 256 + 1 + 23 (the URL) = 280
    with pytest.raises(InvalidInput, match="Hacker News has no reply API"):
        queue(engine, mention("hackernews", "51"), "hi")
    mid = mention("mastodon", "52", author_handle="bob@mastodon.social")
    with Session(engine) as s:
        app_settings.put(s, replies.MASTODON_LIMIT_KEY, 100)
    with pytest.raises(InvalidInput, match="limit is 100"):
        queue(engine, mid, "a" * 97)  # "@bob " is added for Mastodon
    queue(engine, mid, "a" * 95)


def test_cancel_only_queued(engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    r = queue(engine, mention("x", "54"))
    with Session(engine) as s:
        replies.cancel(s, r.id, "alice")
    assert outbox.send_due(settings, engine, responders={"x": Scripted()}) == 0
    assert reply_row(engine, r.id).state == "cancelled"


@pytest.fixture
def fake_mastodon() -> Iterator[FakeMastodon]:
    app = FakeMastodon()
    app.honour_keys = False  # count every POST: the server must not be what prevents duplicates
    with app.serving() as base:
        app.base = base  # type: ignore[attr-defined]
        yield app


def test_two_senders_never_post_the_same_reply(any_engine: Engine, fake_mastodon: FakeMastodon, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, sources=["demo"], _env_file=None)  # type: ignore[call-arg]
    ids = []
    for i in range(24):
        sid = str(5000 + i)
        fake_mastodon.statuses[sid] = {"account": {"id": "7", "acct": "bob"}, "in_reply_to_id": None}
        mid = add_mention(any_engine, "mastodon", f"https://m.example/{sid}", raw={"id": sid})
        ids.append(queue(any_engine, mid, f"reply {i}").id)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def loop(name: str) -> None:
        api = Mastodon(access_token="t", api_base_url=fake_mastodon.base, ratelimit_method="throw")  # type: ignore[attr-defined]
        try:
            barrier.wait()
            for _ in range(30):
                if not outbox.send_due(settings, any_engine, responders={"mastodon": MastodonResponder(api)},
                                       owner=name, limit=3):
                    break
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(f"w{n}",)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    parents = [s["in_reply_to_id"] for s in fake_mastodon.statuses.values() if s.get("in_reply_to_id")]
    assert len(parents) == len(set(parents)) == 24
    assert fake_mastodon.calls[("POST", "/api/v1/statuses")] == 24
    with Session(any_engine) as s:
        rows = s.exec(select(Reply).where(Reply.id.in_(ids))).all()  # type: ignore[union-attr]
        assert {r.state for r in rows} == {ReplyState.sent.value} and {r.attempts for r in rows} == {1}
        workers = {e.detail["worker"] for r in rows for e in events(any_engine, r.id)}
    assert workers == {"w0", "w1"}  # both really sent


def test_two_agents_at_once_one_wins_one_must_confirm(any_engine: Engine) -> None:
    mid = add_mention(any_engine, "x", "race-1")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def agent(name: str) -> None:
        barrier.wait()
        try:
            queue(any_engine, mid, f"from {name}", actor=name)
            outcomes.append("queued")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=agent, args=(n,)) for n in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["conflict", "queued"]
    with Session(any_engine) as s:
        assert len(s.exec(select(Reply).where(Reply.mention_id == mid)).all()) == 1


def test_scheduler_job_sends_through_the_outbox(engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    from careline import jobs

    r = queue(engine, mention("demo", "d-1"))
    assert jobs.send_queued(settings, engine) == 1
    assert reply_row(engine, r.id).state == "sent" and reply_row(engine, r.id).dry_run


class Overtaken(Scripted):
    """While this sender is still posting, another one takes the row over (its lease had run out)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine

    def reply(self, target: ReplyTarget, text: str, idempotency_key: str) -> PostedReply:
        with Session(self.engine) as s:
            row = s.exec(select(Reply)).one()
            row.lease_owner = "someone-else"
            s.add(row)
            s.commit()
        return super().reply(target, text, idempotency_key)


def test_a_sender_that_lost_its_lease_records_nothing_but_the_audit(engine, mention, settings) -> None:  # type: ignore[no-untyped-def]
    r = queue(engine, mention("x", "60"))
    assert outbox.send_due(settings, engine, responders={"x": Overtaken(engine)}, owner="slow") == 0
    row = reply_row(engine, r.id)
    assert row.state == "sending" and row.lease_owner == "someone-else"
    (ev,) = events(engine, r.id)
    assert ev.detail["result"] == "posted (lease lost, not recorded)" and ev.detail["worker"] == "slow"

