"""What every real-time stream collector shares: the sink it hands work to, its counters, and reconnecting.

A stream (Jetstream, Mastodon's streaming API) is a long-lived WebSocket. The collector reads events,
matches them (collectors/matcher.py) and hands a `StreamBatch` to a `StreamSink` the core provides, which
stores the batch and its cursor in one transaction. The collector never imports `careline`.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from collectors.base import RawMention
from collectors.matcher import Matcher
from collectors.ratelimit import backoff_delay

log = logging.getLogger(__name__)


@dataclass
class StreamBatch:
    """Matched posts (each with the brands it matched), deletions, and the cursor after them."""

    posts: list[tuple[RawMention, list[str]]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # external ids of posts deleted on the platform
    cursor: str | None = None
    events: int = 0
    bytes: int = 0  # as received (compressed, when it was), for the bandwidth figure on Sources
    skipped: Counter[str] = field(default_factory=Counter)
    newest_event_s: float | None = None  # the platform's time of the newest event (epoch seconds)


@dataclass
class StreamStats:
    """Running counters for the Sources page: events per minute, lag, skip reasons, connections."""

    events: int = 0
    matched: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    connects: int = 0
    url: str | None = None
    lag_s: float | None = None
    _window: deque[tuple[float, int]] = field(default_factory=deque)

    def add(self, batch: StreamBatch, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.events += batch.events
        self.matched += len(batch.posts)
        self.skipped.update(batch.skipped)
        self._window.append((now, batch.events))
        while self._window and self._window[0][0] < now - 60:
            self._window.popleft()
        if batch.newest_event_s is not None:
            self.lag_s = max(0.0, now - batch.newest_event_s)

    def per_minute(self, now: float | None = None) -> float:
        now = time.time() if now is None else now
        recent = [(t, n) for t, n in self._window if t >= now - 60]
        if not recent:
            return 0.0
        span = max(1.0, min(60.0, now - recent[0][0]))
        return sum(n for _, n in recent) * 60.0 / span


class StreamSink(Protocol):
    def matcher(self) -> Matcher:
        """The current brands' rules (the core rebuilds it when brands change)."""
        ...

    def store(self, batch: StreamBatch, stats: StreamStats) -> None:
        """Store the batch and its cursor in one transaction (called from a worker thread)."""
        ...

    def state(self, connected: bool, message: str | None, url: str | None = None) -> None:
        """The stream connected to `url` (message None) or cannot connect (message: one sentence)."""
        ...


class Stream(Protocol):
    """A real-time collector (collectors/jetstream.py, collectors/mastodon_stream.py): it runs until `stop`,
    resuming from `cursor`, and hands what matched to the sink."""

    name: str
    platform: str

    async def run(self, sink: StreamSink, cursor: str | None, stop: asyncio.Event) -> None:
        ...


class Reconnect(Exception):
    """The connection dropped or could not be opened: try again (the next instance) after a backoff."""


@dataclass
class Backoff:
    """Exponential backoff with jitter over a list of instances, failing over to the next on each error."""

    urls: Sequence[str]
    base_s: float = 1.0
    cap_s: float = 60.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0
    index: int = 0

    def current(self) -> str:
        return self.urls[self.index % len(self.urls)]

    def failed(self) -> float:
        """Move to the next instance; returns the seconds to wait before trying it."""
        self.index = (self.index + 1) % len(self.urls)
        delay = backoff_delay(self.attempt, self.base_s, self.cap_s, self.rng)
        self.attempt += 1
        return delay

    def succeeded(self) -> None:
        self.attempt = 0

    @property
    def tried_every_instance(self) -> bool:
        return self.attempt >= len(self.urls)


async def flush(sink: StreamSink, batch: StreamBatch, stats: StreamStats) -> None:
    """Hand the batch to the sink in a thread (database work must not block the event loop)."""
    stats.add(batch)
    await asyncio.to_thread(sink.store, batch, stats)


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep, waking early when stop is set; returns whether to stop."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        return False
    return True


