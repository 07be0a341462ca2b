"""Mastodon hashtag streaming against a local streaming server (websockets.serve), with the REST catch-up
served to the real Mastodon.py client by `responses`; stored through the real sink (careline/streams.py)."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

import responses
from mastodon import Mastodon
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from websockets.asyncio.server import ServerConnection, serve

from careline.models import Mention, SourceState, StreamStatus
from careline.streams import DbSink
from collectors.mastodon_stream import Instance, MastodonStream
from tests.collectors.conftest import add_brand

MASTO = "https://mastodon.example"


def status(n: int, text: str = "lost my bag", tag: str = "AcmeAir") -> dict[str, Any]:
    sid = str(113500000000000000 + n)
    return {"id": sid, "uri": f"{MASTO}/users/u{n}/statuses/{sid}", "url": f"{MASTO}/@u{n}/{sid}",
            "created_at": "2026-11-20T10:05:00.000Z", "content": f"<p>#{tag} {text}</p>", "spoiler_text": "",
            "language": "en", "in_reply_to_id": None, "reblog": None,
            "account": {"id": str(n), "acct": f"u{n}", "username": f"u{n}", "display_name": "", "followers_count": 3},
            "favourites_count": 0, "reblogs_count": 0, "tags": [{"name": tag.lower()}]}


class StreamingServer:
    """Mastodon's /api/v1/streaming: waits for subscribe messages, then sends what `script` gives the
    connection (its index) as events, and closes when the script says so."""

    def __init__(self, script: Callable[[int], list[dict[str, Any] | str | threading.Event]]) -> None:
        self.script, self.connections, self.subscribed, self.auth = script, 0, [], []  # type: ignore[var-annotated]
        self.loop = asyncio.new_event_loop()
        self.port = 0

    async def handler(self, ws: ServerConnection) -> None:
        index = self.connections
        self.connections += 1
        self.auth.append(ws.request.headers.get("Authorization") if ws.request else None)
        message = json.loads(await ws.recv())
        self.subscribed.append((message["type"], message["stream"], message["tag"]))
        for event in self.script(index):
            if isinstance(event, threading.Event):  # hold the connection open until the test says so
                await asyncio.to_thread(event.wait, 10)
                continue
            if event == "close":
                await ws.close(1012)
                return
            await ws.send(json.dumps(event))
        await ws.wait_closed()

    def __enter__(self) -> "StreamingServer":
        ready = threading.Event()

        def run() -> None:
            async def start() -> Any:
                return await serve(self.handler, "127.0.0.1", 0)

            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(start())
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/streaming"


def update(s: dict[str, Any], tag: str = "acmeair") -> dict[str, Any]:
    return {"stream": ["hashtag", tag], "event": "update", "payload": json.dumps(s)}


def run_until(stream: MastodonStream, sink: DbSink, done: Callable[[], bool], timeout: float = 20) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(stream.run(sink, sink.cursor(), stop))
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 10)

    asyncio.run(main())


def stored(engine: Engine) -> dict[str, Mention]:
    with Session(engine) as session:
        return {m.external_id: m for m in session.exec(select(Mention))}


def rest_timeline(http: responses.RequestsMock, posted: list[dict[str, Any]]) -> None:
    """GET /api/v1/timelines/tag/acmeair?min_id=: the statuses newer than min_id, newest first."""
    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        query = parse_qs(urlparse(request.url).query)
        min_id = int(query.get("min_id", ["0"])[0])
        newer = sorted((s for s in posted if int(s["id"]) > min_id), key=lambda s: int(s["id"]))
        page = newer[: int(query.get("limit", ["40"])[0])]
        return 200, {}, json.dumps(list(reversed(page)))

    http.add_callback(responses.GET, f"{MASTO}/api/v1/timelines/tag/acmeair", callback=reply)


def test_a_disconnection_gap_is_caught_up_over_rest_and_nothing_is_stored_twice(engine: Engine) -> None:
    add_brand(engine, keywords=("acme air",), handles=(), exclusions=("air fryer",))
    first = [status(n) for n in range(1, 6)]
    gap = [status(n) for n in range(6, 9)]  # posted while the stream was down: only REST has them
    later = [status(9)]
    posted = first + gap + later
    script = {0: [update(s) for s in first] + ["close"], 1: [update(s) for s in later] + [update(first[0])]}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http, \
            StreamingServer(lambda i: script.get(i, [])) as server:
        rest_timeline(http, posted)
        client = Mastodon(api_base_url=MASTO, access_token="tok", version_check_mode="none")
        stream = MastodonStream([Instance(MASTO, client, token="tok", streaming_url=server.url)], flush_s=0.05,
                                backoff_base_s=0.01, backoff_cap_s=0.02)
        sink = DbSink(engine, "mastodon-stream", "mastodon", "w")
        run_until(stream, sink, lambda: len(stored(engine)) >= 9)
        assert server.connections == 2 and server.subscribed[0] == ("subscribe", "hashtag", "acmeair")
        assert server.auth == ["Bearer tok", "Bearer tok"]  # the token goes in the header, never the URL
        catch_up = [c.request.url for c in http.calls]
        assert any("min_id=113500000000000005" in u for u in catch_up)
    rows = stored(engine)
    assert set(rows) == {s["uri"] for s in posted}
    assert all(r.platform == "mastodon" and r.brand_id is not None for r in rows.values())
    with Session(engine) as session:
        state = session.exec(select(SourceState).where(SourceState.source == "mastodon-stream")).one()
    assert json.loads(state.cursor or "{}") == {MASTO: {"acmeair": "113500000000000009"}}


class GatedSink(DbSink):
    """The real sink, whose first store waits (in its thread) until the test opens the gate: the window in
    which a batch is neither pending nor committed."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.storing, self.gate, self.calls = threading.Event(), threading.Event(), 0

    def store(self, batch: Any, stats: Any) -> None:
        self.calls += 1
        if self.calls == 1 and batch.posts:
            self.storing.set()
            self.gate.wait(10)
        super().store(batch, stats)


def test_a_reconnection_while_a_batch_is_being_stored_catches_up_from_that_batch(engine: Engine) -> None:
    """The catch-up after a reconnection reads from the newest id of the batch still being stored; before
    12670db it saw no position for the tag in that window, read nothing, and the gap was lost."""
    add_brand(engine, keywords=("acme air",), handles=(), exclusions=("air fryer",))
    first, gap = [status(n) for n in range(1, 4)], [status(n) for n in range(4, 7)]
    sink = GatedSink(engine, "mastodon-stream", "mastodon", "w")
    # connection 0 closes only once the first batch's store has begun (and is held at the gate)
    script = {0: [*[update(s) for s in first], sink.storing, "close"]}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http, \
            StreamingServer(lambda i: script.get(i, [])) as server:
        rest_timeline(http, first + gap)
        client = Mastodon(api_base_url=MASTO, access_token="tok", version_check_mode="none")
        stream = MastodonStream([Instance(MASTO, client, token="tok", streaming_url=server.url)], flush_s=0.05,
                                backoff_base_s=0.01, backoff_cap_s=0.02)

        def caught_up() -> bool:
            if any("min_id=" in c.request.url for c in http.calls):
                sink.gate.set()  # the catch-up ran inside the window: let the first store finish
            return len(stored(engine)) >= 6

        run_until(stream, sink, caught_up, timeout=15)
        sink.gate.set()
        assert server.connections >= 2
        catch_ups = [parse_qs(urlparse(c.request.url).query) for c in http.calls if "/timelines/tag/" in c.request.url]
        assert catch_ups and catch_ups[0]["min_id"] == ["113500000000000003"]  # the held batch's newest id
    assert set(stored(engine)) == {s["uri"] for s in first + gap}


def test_exclusions_deletes_and_garbage(engine: Engine) -> None:
    add_brand(engine, keywords=("acme air",), handles=(), exclusions=("air fryer",))
    keep, fryer = status(1), status(2, text="my acme air fryer deal")
    events: list[dict[str, Any] | str] = [update(keep), update(fryer), {"event": "delete", "payload": keep["id"]},
                                          {"event": "delete", "payload": "999"}, {"event": "notification"},
                                          {"event": "update", "payload": "{not json"}]
    with StreamingServer(lambda i: events if i == 0 else []) as server:
        client = Mastodon(api_base_url=MASTO, version_check_mode="none")
        stream = MastodonStream([Instance(MASTO, client, streaming_url=server.url)], flush_s=0.05)
        sink = DbSink(engine, "mastodon-stream", "mastodon", "w")
        run_until(stream, sink, lambda: stream.stats.events >= 6)
    rows = stored(engine)
    assert list(rows) == [keep["uri"]] and rows[keep["uri"]].deleted_at is not None
    with Session(engine) as session:
        status_row = session.get(StreamStatus, "mastodon-stream")
    assert status_row is not None and status_row.skipped_reasons == {
        "delete of a status not stored": 1, "event 'notification'": 1, "status payload not JSON": 1}


def test_a_refused_stream_marks_the_source_failing_with_one_sentence(engine: Engine) -> None:
    add_brand(engine, keywords=("acme air",), handles=())

    async def refuse(connection: ServerConnection, request: Any) -> Any:
        return connection.respond(401, "token required\n")

    loop = asyncio.new_event_loop()
    ready, holder = threading.Event(), {}

    def run() -> None:
        async def start() -> Any:
            return await serve(lambda ws: None, "127.0.0.1", 0, process_request=refuse)

        asyncio.set_event_loop(loop)
        holder["server"] = loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    ready.wait(10)
    port = holder["server"].sockets[0].getsockname()[1]
    client = Mastodon(api_base_url=MASTO, version_check_mode="none")
    stream = MastodonStream([Instance(MASTO, client, streaming_url=f"ws://127.0.0.1:{port}/api/v1/streaming")],
                            backoff_base_s=0.01, backoff_cap_s=0.02)
    sink = DbSink(engine, "mastodon-stream", "mastodon", "w")

    def failing() -> bool:
        with Session(engine) as session:
            state = session.exec(select(SourceState).where(SourceState.source == "mastodon-stream")).first()
        return state is not None and not state.healthy

    run_until(stream, sink, failing, timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    with Session(engine) as session:
        state = session.exec(select(SourceState).where(SourceState.source == "mastodon-stream")).one()
    assert state.last_error is not None
    assert "hashtag streams need an access token since Mastodon 4.2" in state.last_error
