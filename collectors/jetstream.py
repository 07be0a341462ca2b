"""Bluesky in real time through Jetstream (a public WebSocket of every post as JSON), matched locally.

Jetstream can filter by collection (`wantedCollections=app.bsky.feed.post`) but not by keyword, so every
post comes down the socket (about 2 million a day, peaks over 130,000 an hour) and collectors/matcher.py
keeps the ones that mention a brand. Events carry `time_us`, the cursor: after each stored batch the core
saves the newest `time_us`, and a (re)connection asks for `cursor = saved - rewind`, so a restart or a
failover to another instance re-reads a few seconds and the (platform, external_id) upsert drops repeats
(external_id is the post's at:// URI, the same the search collector stores). A connection that drops
moves to the next configured instance after an exponential backoff with jitter.

Optional zstd: Jetstream compresses with a custom dictionary (its repository's `zstd_dictionary` file). With
`compress` on, the `zstandard` package installed and the dictionary file configured, frames come
compressed (about 44% of the size); otherwise the stream is plain JSON, and the log says why.
Malformed events (unknown kinds, missing records, invalid UTF-8, huge posts) are counted by reason, logged,
and skipped; they never stop the stream.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import websockets
from websockets.asyncio.client import ClientConnection, connect

from collectors.base import RawMention
from collectors.bluesky import parse_time
from collectors.matcher import Matcher
from collectors.stream import Backoff, Reconnect, StreamBatch, StreamSink, StreamStats, flush, sleep_or_stop

log = logging.getLogger(__name__)
POST = "app.bsky.feed.post"
_IGNORED_KINDS = ("identity", "account")


class JetstreamStream:
    name = "jetstream"
    platform = "bluesky"

    def __init__(self, urls: Sequence[str], *, compress: bool = False,
                 dictionary: Path | None = None, rewind_s: float = 5.0, flush_s: float = 0.5, max_batch: int = 500,
                 max_post_chars: int = 10_000, max_event_bytes: int = 1_000_000, open_timeout_s: float = 10.0,
                 backoff_base_s: float = 1.0, backoff_cap_s: float = 60.0,
                 resolve: Callable[[list[str]], dict[str, dict[str, Any]]] | None = None) -> None:
        if not urls:
            raise ValueError("Jetstream needs at least one instance URL")
        self.urls = list(urls)
        self.rewind_us = int(rewind_s * 1_000_000)
        self.flush_s, self.max_batch = flush_s, max_batch
        self.max_post_chars, self.max_event_bytes = max_post_chars, max_event_bytes
        self.open_timeout_s = open_timeout_s
        self.backoff_base_s, self.backoff_cap_s = backoff_base_s, backoff_cap_s
        self._zstd, self.compression = _decoder(compress, dictionary)
        self.resolve = resolve  # DIDs → handle/name/followers for matched posts (collectors/bluesky.py)
        self.cursor_us: int | None = None  # the newest time_us the sink has stored
        self.stats = StreamStats()

    def subscribe_url(self, base: str, cursor_us: int | None) -> str:
        parts = urlsplit(base)
        query = [("wantedCollections", POST), ("maxMessageSizeBytes", str(self.max_event_bytes))]
        if cursor_us is not None:
            query.append(("cursor", str(cursor_us)))
        if self._zstd is not None:
            query.append(("compress", "true"))
        extra = f"{parts.query}&" if parts.query else ""
        return urlunsplit((parts.scheme, parts.netloc, parts.path or "/subscribe", extra + urlencode(query), ""))

    async def run(self, sink: StreamSink, cursor: str | None, stop: asyncio.Event) -> None:
        """Consume until `stop` is set, reconnecting and failing over as needed; never raises on bad input."""
        self.cursor_us = int(cursor) if cursor and cursor.isdigit() else None
        backoff = Backoff(self.urls, self.backoff_base_s, self.backoff_cap_s)
        while not stop.is_set():
            url = backoff.current()
            start = None if self.cursor_us is None else max(0, self.cursor_us - self.rewind_us)
            try:
                async with connect(self.subscribe_url(url, start), open_timeout=self.open_timeout_s,
                                   max_size=self.max_event_bytes * 2, close_timeout=2) as ws:
                    self.stats.connects += 1
                    self.stats.url = url
                    log.info("jetstream: connected to %s (cursor %s, %s)", url, start, self.compression)
                    await asyncio.to_thread(sink.state, True, None, url)
                    await self._consume(ws, sink, stop, backoff)
            except (OSError, asyncio.TimeoutError, websockets.WebSocketException, Reconnect) as exc:
                reason = _why(exc)
                delay = backoff.failed()
                log.warning("jetstream: %s: %s; next try %s in %.1fs", url, reason, backoff.current(), delay)
                if backoff.tried_every_instance:
                    await asyncio.to_thread(sink.state, False, (
                        f"Cannot connect to Jetstream ({len(self.urls)} instance(s) tried, last {url}: {reason}); "
                        "retrying with backoff while the polling sources keep running."))
                if await sleep_or_stop(stop, delay):
                    break
            except Exception as exc:  # noqa: BLE001 - e.g. the database is down: the stream retries, never dies
                log.exception("jetstream: storing failed; reconnecting from the stored cursor")
                delay = backoff.failed()
                await asyncio.to_thread(sink.state, False, f"Jetstream events could not be stored: {exc}")
                if await sleep_or_stop(stop, delay):
                    break

    async def _consume(self, ws: ClientConnection, sink: StreamSink, stop: asyncio.Event, backoff: Backoff) -> None:
        batch, matcher = StreamBatch(), sink.matcher()
        deadline = time.monotonic() + self.flush_s
        try:
            while not stop.is_set():
                try:
                    message = await asyncio.wait_for(ws.recv(decode=False), max(0.0, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    message = None
                if message is not None:
                    self.handle(message, batch, matcher)
                    if batch.events == 1:
                        backoff.succeeded()  # this instance works: the next failure starts the backoff afresh
                full = len(batch.posts) + len(batch.deleted) >= self.max_batch or batch.events >= 20 * self.max_batch
                if batch.events and (full or time.monotonic() >= deadline):
                    # a batch whose storing fails is not retried from memory: it is re-read from the cursor
                    pending, batch = batch, StreamBatch()
                    await self._flush(sink, pending)
                    matcher = sink.matcher()
                if time.monotonic() >= deadline:
                    deadline = time.monotonic() + self.flush_s
        finally:
            if batch.events:  # what arrived before a disconnect or stop is stored, not re-read
                await self._flush(sink, batch)

    async def _flush(self, sink: StreamSink, batch: StreamBatch) -> None:
        if self.resolve is not None and batch.posts:
            await asyncio.to_thread(self._authors, batch)
        await flush(sink, batch, self.stats)
        if batch.cursor is not None:
            self.cursor_us = int(batch.cursor)

    def _authors(self, batch: StreamBatch) -> None:
        """Fill in handles, names and followers of the matched posts' authors (only matches are looked up)."""
        assert self.resolve is not None
        try:
            found = self.resolve([raw.author_id for raw, _ in batch.posts if raw.author_id])
        except Exception:  # noqa: BLE001 - a lookup never costs the batch: the posts go in without handles
            log.warning("jetstream: author lookup failed; storing the posts without handles", exc_info=True)
            return
        for raw, _ in batch.posts:
            profile = found.get(raw.author_id or "")
            if profile and profile.get("handle"):
                raw.author_handle, raw.author_name = str(profile["handle"]), profile.get("name")
                followers = profile.get("followers")
                raw.author_followers = followers if isinstance(followers, int) else None
                raw.url = raw.url.replace(f"/profile/{raw.author_id}/", f"/profile/{raw.author_handle}/") \
                    if raw.url else raw.url

    # -- one event ------------------------------------------------------------------------------------

    def handle(self, message: bytes | str, batch: StreamBatch, matcher: Matcher) -> None:
        """Parse one frame into the batch: a matched post, a deletion, or a counted reason to skip it."""
        batch.events += 1
        batch.bytes += len(message)
        reason = self._parse(message, batch, matcher)
        if reason is not None:
            batch.skipped[reason] += 1
            if reason not in _IGNORED_KINDS:
                log.info("jetstream: skipped an event: %s", reason)

    def _parse(self, message: bytes | str, batch: StreamBatch, matcher: Matcher) -> str | None:
        if isinstance(message, bytes):
            data: bytes = message
            if self._zstd is not None:
                try:
                    data = self._zstd.decompress(data, max_output_size=self.max_event_bytes * 4)
                except Exception:  # noqa: BLE001 - zstandard raises ZstdError and others
                    return "zstd frame could not be decompressed"
            if len(data) > self.max_event_bytes:
                return f"event over {self.max_event_bytes:,} bytes"
            try:
                message = data.decode("utf-8")
            except UnicodeDecodeError:
                return "invalid UTF-8"
        try:
            event = json.loads(message)
        except ValueError:
            return "not JSON"
        if not isinstance(event, dict):
            return "not a JSON object"
        time_us = event.get("time_us")
        if not isinstance(time_us, int) or isinstance(time_us, bool) or time_us <= 0:
            return "no time_us"
        if batch.cursor is None or time_us > int(batch.cursor):
            batch.cursor = str(time_us)
            batch.newest_event_s = time_us / 1e6
        kind = event.get("kind")
        if kind in _IGNORED_KINDS:
            return str(kind)
        if kind != "commit":
            return f"unknown kind {str(kind)[:40]!r}"
        commit, did = event.get("commit"), event.get("did")
        if not isinstance(commit, dict):
            return "commit event without a commit"
        if commit.get("collection") != POST:
            return "not a post"
        rkey = commit.get("rkey")
        if not isinstance(did, str) or not did.startswith("did:") or not isinstance(rkey, str) or not rkey:
            return "missing did or rkey"
        uri = f"at://{did}/{POST}/{rkey}"
        operation = commit.get("operation")
        if operation == "delete":
            batch.deleted.append(uri)
            return None
        if operation not in ("create", "update"):
            return f"unknown operation {str(operation)[:40]!r}"
        record = commit.get("record")
        if not isinstance(record, dict):
            return "missing record"
        text = record.get("text")
        if not isinstance(text, str):
            return "record without text"
        if len(text) > self.max_post_chars:
            return f"post over {self.max_post_chars:,} characters"
        brands = matcher.match(text)
        if brands:
            batch.posts.append((to_mention(uri, did, rkey, commit, record, time_us), brands))
        return None


def to_mention(uri: str, did: str, rkey: str, commit: dict[str, Any], record: dict[str, Any],
               time_us: int) -> RawMention:
    """The RawMention the search collector would have made of the same post (same URI, same thread ids).

    Jetstream names authors by DID only; the handle is filled in by the search collector or a reply."""
    created = parse_time(record.get("createdAt")) or datetime.fromtimestamp(time_us / 1e6, tz=timezone.utc)
    reply: dict[str, Any] = record["reply"] if isinstance(record.get("reply"), dict) else {}
    langs: list[Any] = record["langs"] if isinstance(record.get("langs"), list) else []
    parent: dict[str, Any] = reply["parent"] if isinstance(reply.get("parent"), dict) else {}
    root: dict[str, Any] = reply["root"] if isinstance(reply.get("root"), dict) else {}
    return RawMention(
        platform="bluesky", external_id=uri, text=str(record.get("text") or ""), created_at=created,
        url=f"https://bsky.app/profile/{did}/post/{rkey}", author_id=did,
        language=str(langs[0])[:16] if langs else None,
        parent_id=parent.get("uri"), thread_id=root.get("uri") or uri,
        raw={"cid": commit.get("cid"), "did": did, "time_us": time_us, "via": "jetstream"},
    )




def _decoder(compress: bool, dictionary: Path | None) -> tuple[Any, str]:
    """A zstd decompressor and a description of the stream's encoding (said in the log and on Sources)."""
    if not compress:
        return None, "plain JSON"
    try:
        import zstandard
    except ImportError:
        log.warning("jetstream: compression is off because the zstandard package is not installed; "
                    "receiving plain JSON")
        return None, "plain JSON (zstandard not installed)"
    if dictionary is None or not Path(dictionary).is_file():
        log.warning("jetstream: compression is off because the configured dictionary does not name "
                    "Jetstream's zstd_dictionary file; receiving plain JSON")
        return None, "plain JSON (no zstd dictionary)"
    data = zstandard.ZstdCompressionDict(Path(dictionary).read_bytes())
    return zstandard.ZstdDecompressor(dict_data=data), "zstd"


def _why(exc: BaseException) -> str:
    if isinstance(exc, websockets.ConnectionClosed):
        return f"connection closed ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
    if isinstance(exc, websockets.InvalidStatus):
        return f"the server answered HTTP {exc.response.status_code}"
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"[:200]
