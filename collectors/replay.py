"""Generated stream traffic for tests, benchmarks and the offline demo: brands, post texts, Jetstream events.

Nothing here talks to a network. The texts are word salad from a fixed vocabulary with a chosen share of
posts that mention a brand keyword, which is what the matcher and the stream pipeline care about; the
events have the shape Jetstream sends (https://github.com/bluesky-social/jetstream, `commit` events for
`app.bsky.feed.post`, `identity` and `account` events in between).
"""
from __future__ import annotations

import asyncio
import bisect
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from collectors.matcher import Rule

_WORDS = ("the", "a", "my", "flight", "was", "late", "again", "love", "this", "app", "why", "is", "it", "so",
          "slow", "today", "thanks", "for", "help", "customer", "service", "never", "order", "lost", "bag",
          "great", "weekend", "coffee", "morning", "train", "delayed", "new", "phone", "update", "broke",
          "support", "team", "ticket", "refund", "please", "anyone", "else", "seeing", "this", "issue", "lol",
          "best", "day", "ever", "weather", "cat", "dog", "music", "game", "tonight", "football", "news")
_SYLLABLES = ("ka", "lo", "mi", "ra", "ve", "to", "zu", "ne", "sa", "pi", "do", "qua", "rex", "lin", "mor")


def synthetic_rules(brands: int = 50, keywords: int = 10, seed: int = 7) -> list[Rule]:
    """`brands` brands of `keywords` keywords each (some two-word phrases), one handle and one exclusion each."""
    rng = random.Random(seed)
    rules = []
    for b in range(brands):
        name = "".join(rng.choice(_SYLLABLES) for _ in range(3)) + str(b)
        terms = [name] + [f"{name} {rng.choice(('app', 'air', 'bank', 'care', 'shop'))}{k}" if k % 3 == 0
                          else f"{name}{k}" for k in range(1, keywords)]
        rules.append(Rule(brand=name.title(), terms=tuple(terms[:keywords]), handles=(f"{name}help",),
                          exclusions=(f"{name} stock",)))
    return rules


def synthetic_text(rng: random.Random, rules: list[Rule], hit_rate: float = 0.01, words: int = 24) -> str:
    """A post of about `words` words; with probability `hit_rate` one brand keyword or handle is in it."""
    out = [rng.choice(_WORDS) for _ in range(rng.randint(max(1, words // 3), words * 2))]
    if rules and rng.random() < hit_rate:
        rule = rng.choice(rules)
        pick = rng.choice(rule.terms + tuple("@" + h for h in rule.handles))
        out.insert(rng.randrange(len(out) + 1), pick.title() if rng.random() < 0.5 else pick)
    return " ".join(out)


def demo_text(rng: random.Random, rules: list[Rule], hit_rate: float = 0.05) -> str:
    """For the offline demo: mostly chatter, sometimes a demo-style complaint, praise or question about a brand."""
    from collectors import demo

    if not rules or rng.random() >= hit_rate:
        return synthetic_text(rng, [], 0.0)
    template = rng.choice(demo.COMPLAINTS + demo.PRAISE + demo.QUESTIONS)
    return template.format(brand=rng.choice(rules).brand, city=rng.choice(demo.CITIES))


def jetstream_post(seq: int, text: str, time_us: int, did: str | None = None) -> dict[str, object]:
    """One Jetstream `commit` create event for an app.bsky.feed.post record."""
    did = did or f"did:plc:replay{seq % 997:04d}"
    created = datetime.fromtimestamp(time_us / 1e6, tz=timezone.utc).isoformat().replace("+00:00", "Z")
    return {"did": did, "time_us": time_us, "kind": "commit",
            "commit": {"rev": f"rev{seq}", "operation": "create", "collection": "app.bsky.feed.post",
                       "rkey": f"3l{seq:011d}", "cid": f"bafyreplay{seq}",
                       "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": created,
                                  "langs": ["en"]}}}


def jetstream_delete(seq: int, rkey: str, did: str, time_us: int) -> dict[str, object]:
    return {"did": did, "time_us": time_us, "kind": "commit",
            "commit": {"rev": f"rev{seq}", "operation": "delete", "collection": "app.bsky.feed.post", "rkey": rkey}}


def jetstream_events(count: int, rules: list[Rule], *, hit_rate: float = 0.05, start_us: int | None = None,
                     step_us: int = 40_000, seed: int = 11, extras: bool = True,
                     text: Callable[[random.Random, list[Rule], float], str] = synthetic_text) -> Iterator[str]:
    """`count` Jetstream events as JSON lines, time_us strictly increasing by `step_us` (40 ms = 25 posts/s).

    With `extras`, about 1 in 50 is an identity/account event and 1 in 100 deletes an earlier post.
    """
    rng = random.Random(seed)
    now_us = start_us if start_us is not None else int(datetime.now(timezone.utc).timestamp() * 1e6)
    posted: list[tuple[str, str]] = []
    for seq in range(count):
        time_us = now_us + seq * step_us
        roll = rng.random() if extras else 1.0
        if roll < 0.01 and posted:
            did, rkey = posted[rng.randrange(len(posted))]
            event: dict[str, object] = jetstream_delete(seq, rkey, did, time_us)
        elif roll < 0.02:
            event = {"did": f"did:plc:replay{seq % 997:04d}", "time_us": time_us, "kind": "identity",
                     "identity": {"did": f"did:plc:replay{seq % 997:04d}", "handle": "someone.bsky.social",
                                  "seq": seq, "time": "2026-01-01T00:00:00Z"}}
        else:
            event = jetstream_post(seq, text(rng, rules, hit_rate), time_us)
            commit = event["commit"]
            assert isinstance(commit, dict)
            posted.append((str(event["did"]), str(commit["rkey"])))
        yield json.dumps(event, separators=(",", ":"))


class ReplayServer:
    """A local Jetstream stand-in: a websockets server replaying events, honouring `cursor` (time_us).

    `events` are JSON lines (or raw frames: bytes go out as text frames unvalidated, to test bad UTF-8),
    sorted by time_us. A connection with `cursor=T` gets the events from time_us >= T (a frame without a
    time_us goes with the event before it); without a cursor, from the start. `disconnect_every` closes
    each connection after that many frames (forced disconnects). With `live_rate`, new post events are made
    on the fly at that many per second, stamped with the current time (for latency tests and the demo).
    `zstd_dict` compresses every frame with that dictionary, as Jetstream does with `compress=true`.
    Runs its own event loop in a daemon thread, so synchronous code can use it.
    """

    def __init__(self, events: list[str | bytes] | None = None, *, disconnect_every: int | None = None,
                 live_rate: float | None = None, rules: list[Rule] | None = None, hit_rate: float = 0.05,
                 zstd_dict: bytes | None = None, host: str = "127.0.0.1", port: int = 0,
                 refuse: bool = False, text: Callable[[random.Random, list[Rule], float], str] = synthetic_text,
                 ) -> None:
        self.events: list[tuple[int, str | bytes]] = []
        last = 0
        for frame in events or []:
            last = _time_us(frame) or last
            self.events.append((last, frame))
        self.disconnect_every, self.live_rate = disconnect_every, live_rate
        self.rules, self.hit_rate = rules or [], hit_rate
        self.zstd_dict, self.host, self.port, self.refuse = zstd_dict, host, port, refuse
        self.connections = 0
        self.cursors: list[int | None] = []
        self.sent = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._rng = random.Random(5)
        self._text = text
        self._seq = int(time.time() * 1000)  # live posts get ids no replayed or earlier run's post has

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/subscribe"

    def start(self) -> str:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def open_server() -> Any:
            return await serve(self._handler, self.host, self.port)

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(open_server())
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="jetstream-replay", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"the replay server did not start on {self.host}:{self.port}")
        return self.url

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> "ReplayServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        cursor = int(query["cursor"][0]) if query.get("cursor", [""])[0].isdigit() else None
        self.cursors.append(cursor)
        if self.refuse:
            await ws.close(1013, "try again later")
            return
        compressor = None
        if self.zstd_dict is not None and query.get("compress") == ["true"]:
            import zstandard

            compressor = zstandard.ZstdCompressor(dict_data=zstandard.ZstdCompressionDict(self.zstd_dict))
        start = bisect.bisect_left([t for t, _ in self.events], cursor) if cursor is not None else 0
        sent_here = 0
        index = start
        try:
            while True:
                if index < len(self.events):
                    frame = self.events[index][1]
                    index += 1
                elif self.live_rate:
                    await asyncio.sleep(1.0 / self.live_rate)
                    frame = self._live_event()
                    self.events.append((_time_us(frame) or 0, frame))
                    index += 1
                else:  # replayed everything: idle until the client leaves or the server stops
                    try:
                        await asyncio.wait_for(ws.wait_closed(), 0.05)
                        return
                    except asyncio.TimeoutError:
                        continue
                if compressor is not None:
                    data = frame.encode("utf-8") if isinstance(frame, str) else frame
                    await ws.send(compressor.compress(data))
                elif isinstance(frame, bytes):
                    await ws.send(frame, text=True)
                else:
                    await ws.send(frame)
                self.sent += 1
                sent_here += 1
                if self.disconnect_every and sent_here >= self.disconnect_every:
                    await ws.close(1012, "forced disconnect")
                    return
        except ConnectionClosed:
            return

    def _live_event(self) -> str:
        self._seq += 1
        now_us = int(time.time() * 1e6)
        text = self._text(self._rng, self.rules, self.hit_rate)
        return json.dumps(jetstream_post(self._seq, text, now_us), separators=(",", ":"))


def _time_us(frame: str | bytes) -> int | None:
    try:
        value = json.loads(frame).get("time_us")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, int) else None
