"""Runs the real-time streams (CARELINE_STREAMS) in `careline worker --role stream` and beside `careline serve`.

Each stream is consumed by exactly one worker: it holds the lock `stream:<name>` (careline/coordination.py:
a PostgreSQL advisory lock on its own connection, or an expiring row on SQLite) for as long as it streams,
re-checking it every `leader_retry_seconds`. If that worker dies, its connection closes, the lock is free,
and the next worker to try takes the stream over from the stored cursor (rewound a few seconds).
Each stream runs its asyncio loop in a thread of its own; database work happens in the sink, off the loop.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.coordination import LeaderLease
from careline.services import streams as stream_service
from careline.settings import Settings
from collectors.matcher import Matcher
from collectors.stream import Stream, StreamBatch, StreamStats

log = logging.getLogger(__name__)
MATCHER_REFRESH_S = 30.0  # brands edited in Settings reach a running stream within this long


class DbSink:
    """The core side of a stream: current brand rules in, batches stored in one transaction each."""

    def __init__(self, engine: Engine, source: str, platform: str, owner: str, encoding: str | None = None,
                 on_new: Callable[[list[int]], None] | None = None) -> None:
        self.engine, self.source, self.platform, self.owner = engine, source, platform, owner
        self.encoding, self.on_new = encoding, on_new
        self._matcher: Matcher | None = None
        self._built_at = 0.0
        self.brand_ids: dict[str, int] = {}

    def matcher(self) -> Matcher:
        if self._matcher is None or time.monotonic() - self._built_at > MATCHER_REFRESH_S:
            with Session(self.engine) as session:
                queries, self.brand_ids = stream_service.brand_queries(session, self.platform)
            self._matcher = Matcher.from_queries(queries)
            self._built_at = time.monotonic()
        return self._matcher

    def store(self, batch: StreamBatch, stats: StreamStats) -> None:
        with Session(self.engine, expire_on_commit=False) as session:
            result = stream_service.store_batch(session, self.source, batch, self.brand_ids, stats, self.owner,
                                                self.platform)
        if result.new_ids and self.on_new is not None:
            self.on_new(result.new_ids)

    def state(self, connected: bool, message: str | None, url: str | None = None) -> None:
        with Session(self.engine) as session:
            stream_service.set_state(session, self.source, self.owner, connected=connected, message=message,
                                     url=url, encoding=self.encoding)

    def cursor(self) -> str | None:
        with Session(self.engine) as session:
            return stream_service.cursor(session, self.source)


def consume(stream: Stream, sink: DbSink, engine: Engine, owner: str, stop: threading.Event,
            retry_s: float = 5.0) -> None:
    """Hold the stream's lock and run it until `stop` is set; wait for the lock while another worker has it."""
    lease = LeaderLease(engine, f"stream:{stream.name}", owner, ttl_seconds=max(15, int(retry_s * 6)))
    waiting_logged = False
    try:
        while not stop.is_set():
            if not lease.try_acquire():
                if not waiting_logged:
                    log.info("stream %s is consumed by another worker; %s stands by", stream.name, owner)
                    waiting_logged = True
                stop.wait(retry_s)
                continue
            waiting_logged = False
            log.info("%s consumes the stream %s", owner, stream.name)
            try:
                asyncio.run(_run_held(stream, sink, lease, stop, retry_s))
            except Exception:  # noqa: BLE001 - a stream never takes the worker down; try again shortly
                log.exception("stream %s stopped unexpectedly", stream.name)
                stop.wait(retry_s)
            finally:
                with Session(engine) as session:
                    stream_service.stopped(session, sink.source, owner)
    finally:
        lease.release()


async def _run_held(stream: Stream, sink: DbSink, lease: LeaderLease, stop: threading.Event,
                    retry_s: float) -> None:
    astop = asyncio.Event()
    cursor = await asyncio.to_thread(sink.cursor)
    task = asyncio.create_task(stream.run(sink, cursor, astop))
    renewed = time.monotonic()
    while not task.done():
        await asyncio.wait({task}, timeout=min(retry_s, 1.0))  # wakes every second to notice `stop`
        if task.done():
            break
        if stop.is_set():
            astop.set()
            break
        if time.monotonic() - renewed >= retry_s:
            renewed = time.monotonic()
            if not await asyncio.to_thread(lease.try_acquire):
                log.warning("lost the lock on stream %s; handing it over", stream.name)
                astop.set()
                break
    await task


def stream_loop(settings: Settings, engine: Engine, stop: threading.Event, owner: str) -> None:
    """The worker's `stream` role: one thread per configured stream, each behind its own lock."""
    from careline.factory import build_stream

    threads = []
    for name in settings.streams:
        try:
            stream, platform = build_stream(name, settings, engine)
        except Exception as exc:  # noqa: BLE001 - e.g. a missing token: said on Sources, other streams go on
            log.error("stream %s cannot start: %s", name, exc)
            DbSink(engine, stream_service.source_name(name), "", owner).state(
                False, f"The {name} stream cannot start: {exc}")
            continue
        sink = DbSink(engine, stream.name, platform, owner, encoding=getattr(stream, "compression", None))
        threads.append(threading.Thread(target=consume, name=f"stream-{name}", daemon=True,
                                        args=(stream, sink, engine, owner, stop, settings.leader_retry_seconds)))
    if not threads:
        log.info("no real-time streams configured (CARELINE_STREAMS is empty)")
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
