"""The demo's real-time stream: a local Jetstream replay of generated posts (no network), consumed by the
real stream pipeline (collectors/jetstream.py, careline/streams.py), so the Sources page shows a stream with
its events per minute and lag, and matched posts reach the inbox like any other mention.

`careline demo` replays a short burst once (so `--no-serve` shows it too) and, while it serves the
dashboard, keeps a slow live replay running that the serve's stream runner consumes.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from careline.models import Brand
from careline.services import streams as stream_service
from careline.settings import Settings
from careline.streams import DbSink
from collectors.jetstream import JetstreamStream
from collectors.matcher import Matcher, Rule
from collectors.replay import ReplayServer, demo_text, jetstream_delete, jetstream_events

log = logging.getLogger(__name__)
LIVE_RATE = 3.0  # events per second in the live demo (the real Jetstream carries ~25 posts a second)
HIT_RATE = 0.05  # share of generated posts that mention a demo brand
BURST = 600


def _rules(engine: Engine) -> list[Rule]:
    with Session(engine) as session:
        queries, _ = stream_service.brand_queries(session, "bluesky")
    return [Rule.from_query(q) for q in queries]


def burst(engine: Engine, count: int = BURST) -> int:
    """Replay `count` generated events of the last seconds through the Jetstream collector; returns matches."""
    step_us = 40_000
    start_us = int(time.time() * 1e6) - count * step_us
    # the seed and ids are fixed, so a second `careline demo` re-reads the same posts and stores none twice
    rules = _rules(engine)
    events = list(jetstream_events(count, rules, hit_rate=HIT_RATE, start_us=start_us, step_us=step_us,
                                   seed=2026, text=demo_text))
    with Session(engine) as session:  # a post about one of our brands: competitors' are not in the inbox anyway
        ours = [b.name for b in session.exec(select(Brand).where(col(Brand.competitor).is_(False)))]
    events.append(_delete_first_match(events, [r for r in rules if r.brand in ours], start_us + count * step_us))
    count += 1
    sink = DbSink(engine, "jetstream", "bluesky", "demo", encoding="plain JSON (local replay)")
    frames: list[str | bytes] = [*events]  # the server also sends binary (zstd) frames
    with ReplayServer(frames) as server:
        stream = JetstreamStream([server.url], flush_s=0.1)
        asyncio.run(_until_replayed(stream, sink, start_us + (count - 1) * step_us))
    with Session(engine) as session:
        stream_service.stopped(session, "jetstream", "demo")
    return stream.stats.matched


def _delete_first_match(events: list[str], rules: list[Rule], time_us: int) -> str:
    """The author of the burst's first matching post deletes it: the inbox hides it, a search finds it badged
    "deleted by the author" (services/inbox.py)."""
    matcher = Matcher(rules)
    for line in events:
        event = json.loads(line)
        commit = event.get("commit") or {}
        if commit.get("operation") == "create" and matcher.match(commit["record"]["text"]):
            return json.dumps(jetstream_delete(len(events), commit["rkey"], event["did"], time_us))
    raise RuntimeError("the demo burst holds no post that names a demo brand")


async def _until_replayed(stream: JetstreamStream, sink: DbSink, last_us: int, timeout_s: float = 30.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(stream.run(sink, None, stop))
    deadline = time.monotonic() + timeout_s
    while (stream.cursor_us or 0) < last_us and time.monotonic() < deadline and not task.done():
        await asyncio.sleep(0.05)
    stop.set()
    await task


def start_live(settings: Settings, engine: Engine) -> tuple[ReplayServer, Settings]:
    """Start a live local replay and return settings whose `jetstream` stream points at it."""
    server = ReplayServer(live_rate=LIVE_RATE, rules=_rules(engine), hit_rate=HIT_RATE, text=demo_text)
    server.start()
    log.info("demo stream: a local Jetstream replay at %s", server.url)
    # the generated authors are not real Bluesky accounts, and the demo stays offline: no handle lookups
    return server, settings.model_copy(update={"streams": ["jetstream"], "jetstream_urls": [server.url],
                                               "jetstream_resolve_handles": False})
