"""Mastodon in real time: the brands' hashtags streamed from each configured instance, with a REST catch-up.

One WebSocket per instance to its streaming API (`/api/v1/streaming`, or the host the instance names in
`urls.streaming_api`), subscribed to each brand's hashtags (collectors/mastodon.py `brand_hashtags`: the
same tags the polling collector reads). Public and hashtag streams need an access token since Mastodon
4.2; it goes in the `Authorization` header, never the URL.

A stream has no replay, so the cursor is the newest status id stored per (instance, hashtag). On every
(re)connect, after subscribing, each hashtag is read forward from that id over REST (Mastodon.py's
`timeline_hashtag(min_id=...)`, a bounded number of pages), so a gap while disconnected loses nothing;
statuses seen by both paths are stored once (the upsert on the status URI). A status belongs to the brands
whose hashtag it came in on (after their exclusions) plus any brand the matcher finds in its text. Deleted
statuses are marked deleted when this process stored them; malformed events are counted and skipped.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import websockets
from mastodon import Mastodon
from mastodon import errors as merr
from websockets.asyncio.client import ClientConnection, connect

from collectors.mastodon import PAGE, brand_hashtags, parse_status
from collectors.matcher import Matcher, excluded
from collectors.screen import PARSE_ERRORS
from collectors.stream import Backoff, StreamBatch, StreamSink, StreamStats, flush, sleep_or_stop

log = logging.getLogger(__name__)
_REMEMBERED_IDS = 20_000  # status id → URI of recent statuses, to mark deletions (the event carries only the id)


@dataclass
class Instance:
    base_url: str
    client: Mastodon  # for the REST catch-up
    token: str | None = None
    streaming_url: str | None = None  # None: ask the instance (urls.streaming_api), else wss://host
    credentials: str = "the instance's access token"  # where the token is configured, for a 401's message


class MastodonStream:
    name = "mastodon-stream"
    platform = "mastodon"
    compression = "plain JSON"

    def __init__(self, instances: Sequence[Instance], hashtags: Sequence[str] = (), *, flush_s: float = 0.5,
                 catch_up_pages: int = 10, open_timeout_s: float = 10.0, backoff_base_s: float = 1.0,
                 backoff_cap_s: float = 60.0) -> None:
        if not instances:
            raise ValueError("Mastodon streaming needs at least one instance")
        self.instances = list(instances)
        self.hashtags = [h.lstrip("#").strip() for h in hashtags if h.strip("# ")]
        self.flush_s, self.catch_up_pages, self.open_timeout_s = flush_s, catch_up_pages, open_timeout_s
        self.backoff_base_s, self.backoff_cap_s = backoff_base_s, backoff_cap_s
        self.stats = StreamStats()
        self.committed: dict[str, dict[str, str]] = {}  # instance → hashtag → newest status id stored
        self._pending_ids: dict[str, dict[str, str]] = {}
        # ids of the batch being stored right now: in neither of the two above until the store returns, and a
        # reconnection's catch-up that ran in that window saw no position and read nothing (a lost gap)
        self._storing_ids: dict[str, dict[str, str]] = {}
        self._batch = StreamBatch()
        self._uris: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._matcher: Matcher | None = None
        self._tags: dict[str, list[str]] = {}  # hashtag → brands following it

    # -- running ---------------------------------------------------------------------------------------

    async def run(self, sink: StreamSink, cursor: str | None, stop: asyncio.Event) -> None:
        self.committed = _load(cursor)
        self._refresh(sink.matcher())
        tasks = [asyncio.create_task(self._instance(inst, sink, stop)) for inst in self.instances]
        try:
            while not stop.is_set():
                await sleep_or_stop(stop, self.flush_s)
                await self._flush(sink)
                self._refresh(sink.matcher())
        finally:
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._flush(sink)

    async def _flush(self, sink: StreamSink) -> None:
        if not self._batch.events:
            return
        batch, self._batch = self._batch, StreamBatch()
        pending, self._pending_ids = self._pending_ids, {}
        merged = _merge(self.committed, pending)
        batch.cursor = json.dumps(merged, separators=(",", ":"), sort_keys=True)
        self._storing_ids = pending
        try:
            await flush(sink, batch, self.stats)
        except Exception:  # noqa: BLE001 - kept for the next flush: nothing read is dropped
            log.exception("mastodon stream: storing a batch failed; it is retried with the next one")
            self._batch.posts[:0], self._batch.deleted[:0] = batch.posts, batch.deleted
            self._batch.events += batch.events
            self._batch.skipped.update(batch.skipped)
            self._pending_ids = _merge(pending, self._pending_ids)
            self._storing_ids = {}
            return
        self.committed, self._storing_ids = merged, {}

    def _refresh(self, matcher: Matcher) -> None:
        if matcher is self._matcher:
            return
        self._matcher = matcher
        tags: dict[str, list[str]] = {}
        for rule in matcher.rules:
            for tag in brand_hashtags(list(rule.terms) + list(rule.handles), [], self.hashtags):
                tags.setdefault(tag, []).append(rule.brand)
        self._tags = tags

    async def _instance(self, inst: Instance, sink: StreamSink, stop: asyncio.Event) -> None:
        backoff = Backoff([inst.base_url], self.backoff_base_s, self.backoff_cap_s)
        while not stop.is_set():
            try:
                url = inst.streaming_url
                if not url:
                    url = await asyncio.to_thread(streaming_url, inst)
                headers = {"Authorization": f"Bearer {inst.token}"} if inst.token else None
                async with connect(url, additional_headers=headers, open_timeout=self.open_timeout_s,
                                   close_timeout=2) as ws:
                    subscribed = await self._subscribe(ws, set())
                    self.stats.connects += 1
                    self.stats.url = inst.base_url
                    log.info("mastodon stream: connected to %s, %d hashtag(s)", url, len(subscribed))
                    await asyncio.to_thread(sink.state, True, None, inst.base_url)
                    await self._catch_up(inst, sorted(subscribed))
                    backoff.succeeded()
                    while not stop.is_set():
                        try:
                            message = await asyncio.wait_for(ws.recv(decode=False), 1.0)
                        except asyncio.TimeoutError:
                            subscribed = await self._subscribe(ws, subscribed)  # brands edited meanwhile
                            continue
                        self.handle(inst, message, self._batch)
            except (OSError, asyncio.TimeoutError, websockets.WebSocketException, merr.MastodonError) as exc:
                delay = backoff.failed()
                reason = _why(exc, inst)
                log.warning("mastodon stream: %s: %s; retrying in %.1fs", inst.base_url, reason, delay)
                await asyncio.to_thread(sink.state, False, f"Cannot stream from {inst.base_url}: {reason}; "
                                        "retrying with backoff while the polling sources keep running.")
                if await sleep_or_stop(stop, delay):
                    return

    async def _subscribe(self, ws: ClientConnection, done: set[str]) -> set[str]:
        for tag in sorted(set(self._tags) - done):
            await ws.send(json.dumps({"type": "subscribe", "stream": "hashtag", "tag": tag}))
        return done | set(self._tags)

    async def _catch_up(self, inst: Instance, tags: list[str]) -> None:
        """Read each hashtag forward over REST from the newest id stored, so a disconnection loses nothing."""
        # the newest id stored, being stored or about to be (a failed store keeps its batch for the next flush)
        since = _merge(self.committed, self._storing_ids, self._pending_ids).get(inst.base_url, {})
        for tag in tags:
            if tag not in since:
                continue  # never streamed before: the polling collector covers the history
            try:
                pages = await asyncio.to_thread(self._pages, inst, tag, since[tag])
            except merr.MastodonError as exc:
                self._batch.skipped["catch-up failed"] += 1
                log.warning("mastodon stream: catch-up of #%s on %s failed: %s", tag, inst.base_url, exc)
                continue
            for status in pages:
                self._batch.events += 1
                self._status(inst, tag, status, self._batch)

    def _pages(self, inst: Instance, tag: str, min_id: str) -> list[Any]:
        out: list[Any] = []
        for _ in range(self.catch_up_pages):
            page = inst.client.timeline_hashtag(tag, min_id=min_id, limit=PAGE) or []
            out.extend(page)
            ids = [str(s["id"]) for s in page if isinstance(s, dict) and s.get("id")]
            if len(page) < PAGE or not ids:
                break
            min_id = max(ids, key=_order)
        return out

    # -- one event -------------------------------------------------------------------------------------

    def handle(self, inst: Instance, message: bytes | str, batch: StreamBatch) -> None:
        batch.events += 1
        batch.bytes += len(message)
        reason = self._parse(inst, message, batch)
        if reason is not None:
            batch.skipped[reason] += 1
            log.info("mastodon stream: skipped an event from %s: %s", inst.base_url, reason)

    def _parse(self, inst: Instance, message: bytes | str, batch: StreamBatch) -> str | None:
        try:
            text = message.decode("utf-8") if isinstance(message, bytes) else message
            event = json.loads(text)
        except UnicodeDecodeError:
            return "invalid UTF-8"
        except ValueError:
            return "not JSON"
        if not isinstance(event, dict):
            return "not a JSON object"
        kind, payload, stream = event.get("event"), event.get("payload"), event.get("stream")
        if kind == "delete":
            uri = self._uris.get((inst.base_url, str(payload)))
            if uri is None:
                return "delete of a status not stored"
            batch.deleted.append(uri)
            return None
        if kind not in ("update", "status.update"):
            return f"event {str(kind)[:40]!r}"
        try:
            status = json.loads(payload) if isinstance(payload, str) else payload
        except ValueError:
            return "status payload not JSON"
        if not isinstance(status, dict):
            return "update without a status"
        tag = str(stream[1]).lower() if isinstance(stream, list) and len(stream) > 1 else ""
        return self._status(inst, tag, status, batch)

    def _status(self, inst: Instance, tag: str, status: Any, batch: StreamBatch) -> str | None:
        try:
            raw = parse_status(status)
        except PARSE_ERRORS as exc:
            return f"unreadable status ({type(exc).__name__})"
        sid = str(status.get("id") or "")
        if sid and tag:
            pending = self._pending_ids.setdefault(inst.base_url, {})
            if _newer(sid, pending.get(tag)):
                pending[tag] = sid
        if raw is None:
            return "a boost (the original is collected on its own)"
        self._uris[(inst.base_url, sid)] = raw.external_id
        while len(self._uris) > _REMEMBERED_IDS:
            self._uris.popitem(last=False)
        created = raw.created_at.timestamp()
        if batch.newest_event_s is None or created > batch.newest_event_s:
            batch.newest_event_s = created
        matcher = self._matcher or Matcher([])
        rules = {r.brand: r for r in matcher.rules}
        brands = [b for b in self._tags.get(tag, []) if not excluded(raw.text, rules[b].exclusions)]
        brands += [b for b in matcher.match(raw.text, author=raw.author_handle) if b not in brands]
        if brands:
            batch.posts.append((raw, brands))
        return None


def streaming_url(inst: Instance) -> str:
    """The instance's streaming endpoint: what it says in urls.streaming_api, else wss://its host."""
    base = urlsplit(inst.base_url)
    fallback = urlunsplit(("wss" if base.scheme == "https" else "ws", base.netloc, "/api/v1/streaming", "", ""))
    try:
        info = inst.client.instance_v1()
    except merr.MastodonError as exc:
        log.info("mastodon stream: %s did not say its streaming URL (%s); using %s", inst.base_url, exc, fallback)
        return fallback
    named = ((info or {}).get("urls") or {}).get("streaming_api")
    return f"{str(named).rstrip('/')}/api/v1/streaming" if named else fallback


def _load(cursor: str | None) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(cursor) if cursor else {}
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(i): {str(t): str(v) for t, v in tags.items()} for i, tags in data.items() if isinstance(tags, dict)}


def _merge(*cursors: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The newest status id per (instance, hashtag) across cursors."""
    out: dict[str, dict[str, str]] = {}
    for cursor in cursors:
        for inst, tags in cursor.items():
            for tag, sid in tags.items():
                if _newer(sid, out.setdefault(inst, {}).get(tag)):
                    out[inst][tag] = sid
    return out


def _order(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)


def _newer(sid: str, than: str | None) -> bool:
    return than is None or _order(sid) > _order(than)


def _why(exc: BaseException, inst: Instance) -> str:
    if isinstance(exc, websockets.InvalidStatus):
        code = exc.response.status_code
        if code == 401:
            return ("the instance refused the stream (401): hashtag streams need an access token since Mastodon "
                    f"4.2 ({inst.credentials})" if not inst.token else
                    "the instance refused the access token (401)")
        return f"the server answered HTTP {code}"
    if isinstance(exc, websockets.ConnectionClosed):
        return f"connection closed ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"[:200]
