"""The live desk's probes and presence, on SQLite and PostgreSQL: a stamp moves with every kind of change,
"new since" counts only matching new rows, heartbeats upsert and expire by themselves."""
from __future__ import annotations

import time

from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.models import Brand, Presence
from careline.services import live, presence, replies, triage
from careline.services.inbox import InboxFilter
from careline.services.ingest import ingest
from tests.conftest import make_raw


def _seed(s: Session) -> int:
    brand = Brand(name="Acme Air", keywords=["acme air"])
    s.add(brand)
    s.commit()
    ingest(s, [make_raw(platform="x"), make_raw(platform="reddit")], brand_id=brand.id)
    s.commit()
    return brand.id  # type: ignore[return-value]


def test_stamp_moves_with_new_mentions_triage_and_replies(any_engine: Engine) -> None:
    with Session(any_engine, expire_on_commit=False) as s:
        brand_id = _seed(s)
        first = live.stamp(s)
        assert live.stamp(s) == first  # nothing happened: same stamp
        time.sleep(0.01)
        triage.assign(s, 1, "agent", "admin")
        second = live.stamp(s)
        assert second != first and second.max_mention_id == first.max_mention_id
        time.sleep(0.01)
        replies.queue_reply(s, 1, "Sorry about that, please DM us.", "agent", dry_run=True)
        third = live.stamp(s)
        assert third.reply_changed is not None and third != second
        before = live.max_mention_id(s)
        ingest(s, [make_raw(platform="x"), make_raw(platform="reddit"), make_raw(platform="x")], brand_id=brand_id)
        s.commit()
        assert live.stamp(s).max_mention_id == before + 3
        assert live.new_since(s, InboxFilter(statuses=[]), before) == 3
        assert live.new_since(s, InboxFilter(statuses=[], platforms=["reddit"]), before) == 1
        assert live.new_since(s, InboxFilter(statuses=[]), before + 3) == 0


def test_presence_beats_upsert_expire_and_never_block(any_engine: Engine) -> None:
    with Session(any_engine, expire_on_commit=False) as s:
        _seed(s)
        presence.beat(s, "alice", 1)
        presence.beat(s, "bob", 1, "writing")
        presence.beat(s, "alice", 1, "viewing")  # a second beat updates the same row
        assert s.query(Presence).count() == 2
        here = presence.here(s, 1, ttl_s=30)
        assert [(h.username, h.activity) for h in here] == [("bob", "writing"), ("alice", "viewing")]
        assert [h.username for h in presence.here(s, 1, 30, exclude="bob")] == ["alice"]
        assert presence.here(s, 2, 30) == []
        time.sleep(1.1)
        assert presence.here(s, 1, ttl_s=1) == []  # expired by itself
        assert presence.sweep(s, ttl_s=0) == 2
        presence.beat(s, "alice", 1)
        presence.leave(s, "alice", 1)
        assert presence.here(s, 1, 30) == []
        # presence is information only: a reply goes through while someone else is "writing"
        presence.beat(s, "bob", 1, "writing")
        assert replies.queue_reply(s, 1, "We are on it.", "alice", dry_run=True).id is not None


def test_a_beat_never_waits_long_for_sqlites_write_lock(engine: Engine, caplog) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    caplog.set_level("INFO", logger="careline.services.presence")
    with Session(engine, expire_on_commit=False) as s:
        _seed(s)
        path = engine.url.database
        assert path is not None
        other = sqlite3.connect(path, isolation_level=None)  # a collector in the middle of a long batch
        other.execute("BEGIN IMMEDIATE")
        try:
            t0 = time.perf_counter()
            assert presence.beat(s, "alice", 1) is False  # skipped, not a 10 s stall of the page
            assert time.perf_counter() - t0 < presence.BEAT_WAIT_MS / 1000 + 1
            assert "presence beat of alice on mention 1 skipped" in caplog.text
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert presence.beat(s, "alice", 1) is True and [h.username for h in presence.here(s, 1, 30)] == ["alice"]
        # the connection got its own busy timeout back: a normal write still waits the engine's 10 s
        assert s.connection().exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000


def test_demo_outbox_example_is_added_once(engine: Engine) -> None:
    from careline import demo_desk

    with Session(engine, expire_on_commit=False) as s:
        _seed(s)
    first = demo_desk.seed(engine)
    assert first is not None and demo_desk.seed(engine) == first
    with Session(engine) as s:
        reply = s.get(replies.Reply, first)
        assert reply.state == "unknown" and reply.dry_run and "mark it sent" in reply.error
