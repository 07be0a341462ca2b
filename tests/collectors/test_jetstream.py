"""The Jetstream collector against a local replay server (collectors/replay.py), stored through the real sink.

No network: the server is websockets.serve on 127.0.0.1, replaying generated Jetstream events.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from careline.models import Mention, SourceState, StreamStatus
from careline.streams import DbSink
from collectors.jetstream import JetstreamStream
from collectors.matcher import Matcher, Rule
from collectors.replay import ReplayServer, jetstream_delete, jetstream_events, jetstream_post
from collectors.stream import StreamBatch
from tests.collectors.conftest import add_brand

ACME = Rule("Acme Air", terms=("acme air", "acmeair"), handles=("AcmeAir",))
T0 = 1_764_000_000_000_000


def run_until(stream: JetstreamStream, sink: DbSink, done, timeout: float = 30.0,  # type: ignore[no-untyped-def]
              cursor: str | None = None) -> None:
    """Run the stream until `done()` is true (checked every 50 ms), then stop it cleanly."""
    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(stream.run(sink, cursor, stop))
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 10)

    asyncio.run(main())


def stored(engine: Engine) -> list[Mention]:
    with Session(engine) as session:
        return list(session.exec(select(Mention).order_by(Mention.external_id)))


def fast(url: str, **kw: object) -> JetstreamStream:
    return JetstreamStream([url], flush_s=0.05, backoff_base_s=0.01, backoff_cap_s=0.05, **kw)  # type: ignore[arg-type]


def expected_matches(events: list[str]) -> set[str]:
    matcher = Matcher([ACME])
    out = set()
    for line in events:
        event = json.loads(line)
        commit = event.get("commit") or {}
        if commit.get("operation") == "create" and matcher.match(commit["record"]["text"]):
            out.add(f"at://{event['did']}/app.bsky.feed.post/{commit['rkey']}")
    return out


def test_matching_posts_are_stored_with_cursor_and_counters(engine: Engine) -> None:
    add_brand(engine)
    events = [json.dumps(jetstream_post(1, "Acme Air lost my bag", T0)),
              json.dumps(jetstream_post(2, "nothing to see", T0 + 10)),
              json.dumps(jetstream_post(3, "hey @acmeair, flight AC1 is late", T0 + 20, did="did:plc:bob"))]
    sink = DbSink(engine, "jetstream", "bluesky", "test-worker")
    with ReplayServer(events) as server:
        stream = fast(server.url)
        run_until(stream, sink, lambda: stream.stats.events >= 3)
    rows = stored(engine)
    assert {r.external_id for r in rows} == {"at://did:plc:replay0001/app.bsky.feed.post/3l00000000001",
                                             "at://did:plc:bob/app.bsky.feed.post/3l00000000003"}
    bob = next(r for r in rows if "bob" in r.external_id)
    assert bob.platform == "bluesky" and bob.author_external_id == "did:plc:bob"
    assert bob.url == "https://bsky.app/profile/did:plc:bob/post/3l00000000003"
    assert bob.brand_id is not None
    with Session(engine) as session:
        state = session.exec(select(SourceState).where(SourceState.source == "jetstream")).one()
        status = session.get(StreamStatus, "jetstream")
    assert state.cursor == str(T0 + 20) and state.healthy
    assert status is not None and status.events_total == 3 and status.matched_total == 2 and status.new_total == 2


def test_restart_rewinds_the_cursor_and_stores_nothing_twice(engine: Engine) -> None:
    add_brand(engine)
    events = list(jetstream_events(300, [ACME], hit_rate=0.3, start_us=T0, extras=False))
    sink = DbSink(engine, "jetstream", "bluesky", "w")
    last_us = json.loads(events[-1])["time_us"]
    with ReplayServer(events[:150]) as before:  # the first run stops after 150 events (a restart)
        first = fast(before.url, rewind_s=1.0)
        run_until(first, sink, lambda: first.stats.events >= 150)
    with ReplayServer(events) as server:
        second = fast(server.url, rewind_s=1.0)
        run_until(second, sink, lambda: (second.cursor_us or 0) >= last_us, cursor=sink.cursor())
        # the restart asked for the stored cursor minus the rewind (1 s = 25 events at 40 ms apart)
        assert server.cursors == [int(first.cursor_us or 0) - 1_000_000]
    assert second.stats.events == 150 + 26  # the 25 events of the rewound second and the one at the cursor
    ids = [r.external_id for r in stored(engine)]
    assert len(ids) == len(set(ids))
    assert set(ids) == expected_matches(events)


def test_forced_disconnects_lose_nothing_and_store_nothing_twice(engine: Engine) -> None:
    add_brand(engine)
    events = list(jetstream_events(6000, [ACME], hit_rate=0.05, start_us=T0))
    want = expected_matches(events)
    deleted = {f"at://{e['did']}/app.bsky.feed.post/{e['commit']['rkey']}" for e in map(json.loads, events)
               if (e.get("commit") or {}).get("operation") == "delete"}
    sink = DbSink(engine, "jetstream", "bluesky", "w")
    with ReplayServer(events, disconnect_every=1500) as server:
        stream = fast(server.url)
        run_until(stream, sink, lambda: stream.cursor_us is not None and stream.cursor_us >= json.loads(events[-1])["time_us"],
                  timeout=60)
        assert server.connections >= 4
    rows = stored(engine)
    ids = [r.external_id for r in rows]
    assert len(ids) == len(set(ids)) and set(ids) == want and len(want) > 100
    # deletions mark the row (kept, not removed); deletes of posts that never matched change nothing
    assert {r.external_id for r in rows if r.deleted_at is not None} == want & deleted


def test_malformed_events_are_counted_by_reason_and_never_stop_the_stream(engine: Engine) -> None:
    add_brand(engine)
    post = jetstream_post(9, "acme air again", T0 + 900)
    huge = jetstream_post(5, "acme air " + "x" * 20_000, T0 + 500)
    norec = jetstream_post(6, "x", T0 + 600)
    del norec["commit"]["record"]  # type: ignore[index]
    frames: list[str | bytes] = [
        b'{"time_us": 1764000000000100, "kind": "commit", "text": "\xff\xfe broken"}',  # invalid UTF-8
        "not json at all",
        json.dumps({"time_us": T0 + 200, "kind": "mystery"}),
        json.dumps({"kind": "commit"}),
        json.dumps({"time_us": T0 + 300, "kind": "account", "account": {"active": True}}),
        json.dumps(huge), json.dumps(norec),
        json.dumps({"time_us": T0 + 700, "kind": "commit", "did": "did:plc:x",
                    "commit": {"operation": "create", "collection": "app.bsky.feed.like", "rkey": "1"}}),
        json.dumps(post),
    ]
    sink = DbSink(engine, "jetstream", "bluesky", "w")
    with ReplayServer(frames) as server:
        stream = fast(server.url)
        run_until(stream, sink, lambda: stream.stats.events >= len(frames))
    assert [r.text for r in stored(engine)] == ["acme air again"]
    with Session(engine) as session:
        status = session.get(StreamStatus, "jetstream")
    assert status is not None
    assert status.skipped_reasons == {"invalid UTF-8": 1, "not JSON": 1, "unknown kind 'mystery'": 1,
                                      "no time_us": 1, "account": 1, "post over 10,000 characters": 1,
                                      "missing record": 1, "not a post": 1}
    assert status.skipped_total == 8 and status.events_total == 9


def test_failover_to_the_next_instance_and_a_dead_stream_says_so(engine: Engine) -> None:
    add_brand(engine)
    sink = DbSink(engine, "jetstream", "bluesky", "w")
    with ReplayServer(refuse=True) as bad, ReplayServer([json.dumps(jetstream_post(1, "acme air", T0))]) as good:
        stream = JetstreamStream([bad.url, good.url], flush_s=0.05, backoff_base_s=0.01, backoff_cap_s=0.02)
        run_until(stream, sink, lambda: stream.stats.events >= 1)
        assert bad.connections >= 1 and good.connections >= 1
    assert len(stored(engine)) == 1

    # nothing listening at all: the source is marked failing with one sentence, and the stream keeps trying
    dead = JetstreamStream(["ws://127.0.0.1:9/subscribe"], backoff_base_s=0.01, backoff_cap_s=0.02,
                           open_timeout_s=1)
    failing = DbSink(engine, "jetstream", "bluesky", "w")
    run_until(dead, failing, lambda: _failing(engine), timeout=10)
    with Session(engine) as session:
        state = session.exec(select(SourceState).where(SourceState.source == "jetstream")).one()
        status = session.get(StreamStatus, "jetstream")
    assert not state.healthy and state.last_error and state.last_error.startswith("Cannot connect to Jetstream")
    assert status is not None and not status.connected and status.message == state.last_error


def _failing(engine: Engine) -> bool:
    with Session(engine) as session:
        state = session.exec(select(SourceState).where(SourceState.source == "jetstream")).first()
    return state is not None and not state.healthy


def test_zstd_frames_are_decompressed_with_the_dictionary(engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    zstandard = pytest.importorskip("zstandard")
    add_brand(engine)
    events = list(jetstream_events(400, [ACME], hit_rate=0.2, start_us=T0, extras=False))
    dictionary = zstandard.train_dictionary(4096, [e.encode() for e in events[:300]])
    path = tmp_path / "zstd_dictionary"
    path.write_bytes(dictionary.as_bytes())
    sink = DbSink(engine, "jetstream", "bluesky", "w")
    with ReplayServer(events, zstd_dict=dictionary.as_bytes()) as server:
        stream = fast(server.url, compress=True, dictionary=path)
        assert stream.compression == "zstd" and "compress=true" in stream.subscribe_url(server.url, None)
        run_until(stream, sink, lambda: stream.stats.events >= 400)
    assert {r.external_id for r in stored(engine)} == expected_matches(events)
    assert not stream.stats.skipped


def test_compression_without_a_dictionary_is_plain_json_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    stream = JetstreamStream(["ws://localhost/subscribe"], compress=True, dictionary=None)
    assert stream.compression.startswith("plain JSON")
    assert "compress" not in stream.subscribe_url("ws://localhost/subscribe", 5)
    assert "compression is off" in caplog.text


def test_deleting_a_stored_post_marks_it_deleted(engine: Engine) -> None:
    add_brand(engine)
    created = jetstream_post(1, "acme air broke my heart", T0)
    events = [json.dumps(created), json.dumps(jetstream_delete(2, "3l00000000001", str(created["did"]), T0 + 5))]
    sink = DbSink(engine, "jetstream", "bluesky", "w")
    with ReplayServer(events) as server:
        stream = fast(server.url)
        run_until(stream, sink, lambda: stream.stats.events >= 2)
    (row,) = stored(engine)
    assert row.deleted_at is not None and row.text == "acme air broke my heart"
    with Session(engine) as session:
        assert session.get(StreamStatus, "jetstream").deleted_total == 1  # type: ignore[union-attr]


def test_handle_never_raises_on_garbage() -> None:
    stream = JetstreamStream(["ws://x/subscribe"])
    batch = StreamBatch()
    for frame in (b"\x00\x01", "[]", "{}", '{"time_us": true}', '{"time_us": 5, "kind": "commit", "commit": []}',
                  '{"time_us": 5, "kind": "commit", "did": 1, "commit": {"collection": "app.bsky.feed.post"}}'):
        stream.handle(frame, batch, Matcher([ACME]))
    assert batch.events == 6 and sum(batch.skipped.values()) == 6 and not batch.posts


def test_brands_edited_while_streaming_reach_the_matcher(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import careline.streams as streams

    add_brand(engine)
    sink = DbSink(engine, "jetstream", "bluesky", "w")
    assert sink.matcher().match("globex down") == []
    add_brand(engine, name="Globex", keywords=("globex",), handles=())
    monkeypatch.setattr(streams, "MATCHER_REFRESH_S", 0.0)
    assert sink.matcher().match("globex down") == ["Globex"]


def test_the_sink_stores_in_a_thread_while_the_loop_keeps_reading(engine: Engine) -> None:
    """A slow database does not block the event loop: storing runs in a worker thread."""
    add_brand(engine)
    seen_threads: set[str] = set()

    class Slow(DbSink):
        def store(self, batch, stats):  # type: ignore[no-untyped-def]
            seen_threads.add(threading.current_thread().name)
            super().store(batch, stats)

    sink = Slow(engine, "jetstream", "bluesky", "w")
    with ReplayServer([json.dumps(jetstream_post(1, "acme air", T0))]) as server:
        stream = fast(server.url)
        run_until(stream, sink, lambda: stream.stats.events >= 1)
    assert seen_threads and threading.main_thread().name not in seen_threads
    with Session(engine) as session:
        assert session.exec(sa.select(sa.func.count()).select_from(Mention)).one()[0] == 1


def test_authors_of_matched_posts_get_handles_from_the_appview(engine: Engine) -> None:
    import httpx
    from atproto import Client
    from atproto_client.request import Request

    from collectors.bluesky import ProfileResolver

    asked: list[list[str]] = []

    def appview(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("app.bsky.actor.getProfiles")
        actors = request.url.params.get_list("actors")
        asked.append(actors)
        return httpx.Response(200, json={"profiles": [
            {"did": "did:plc:bob", "handle": "bob.bsky.social", "displayName": "Bob", "followersCount": 1200}]})

    client = Client(base_url="https://appview.example/xrpc", request=Request(transport=httpx.MockTransport(appview)))
    add_brand(engine)
    events = [json.dumps(jetstream_post(1, "acme air lost my bag", T0, did="did:plc:bob")),
              json.dumps(jetstream_post(2, "acme air again", T0 + 10, did="did:plc:bob")),
              json.dumps(jetstream_post(3, "acme air, says someone unknown", T0 + 20, did="did:plc:ghost")),
              json.dumps(jetstream_post(4, "nothing", T0 + 30, did="did:plc:other"))]
    sink = DbSink(engine, "jetstream", "bluesky", "w")
    with ReplayServer(events) as server:
        stream = fast(server.url, resolve=ProfileResolver(client))
        run_until(stream, sink, lambda: stream.stats.events >= 4)
    rows = {r.external_id.split("/")[-1]: r for r in stored(engine)}
    bob = rows["3l00000000001"]
    assert (bob.author_handle, bob.author_name, bob.author_followers) == ("bob.bsky.social", "Bob", 1200)
    assert bob.url == "https://bsky.app/profile/bob.bsky.social/post/3l00000000001"
    assert rows["3l00000000003"].author_handle is None  # not found: stored all the same
    assert all("did:plc:other" not in a for a in asked)  # only matched posts' authors are looked up
