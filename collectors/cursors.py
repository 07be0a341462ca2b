"""The stored cursor of one brand query on one platform, when that query runs as several parts.

A part is one request stream: one X query string (a brand's terms split to fit 512 characters), the
brand account's mentions timeline, one subreddit search, one hashtag. Each part keeps:

- `hw` (high-water mark): the newest item already committed, e.g. an X `since_id`;
- `tok`: the page token of a pass in progress (results come newest first, so a pass walks back in time
  from the newest item to `hw`, one page per fetch);
- `pend`: the newest item of the pass in progress, which becomes `hw` when the pass completes.

The whole state is stored as one JSON string after each committed page, so a crash between pages
resumes the pass at the page that was not committed (fetched at most twice), and a crash never moves
`hw` past items that were not stored. Parts are keyed by a hash of their request, so editing a brand's
keywords starts new parts fresh and drops the stale ones.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any


def part_key(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:10]


@dataclass
class Part:
    hw: str | None = None
    tok: str | None = None
    pend: str | None = None

    def dump(self) -> dict[str, str]:
        return {k: v for k, v in (("hw", self.hw), ("tok", self.tok), ("pend", self.pend)) if v is not None}


@dataclass
class MultiCursor:
    order: list[str]
    parts: dict[str, Part] = field(default_factory=dict)
    at: str | None = None  # the part to fetch next; None: start a new round at the first part

    @classmethod
    def load(cls, raw: str | None, keys: list[str], legacy_key: str | None = None) -> "MultiCursor":
        """Parse a stored cursor for these part keys; an old plain-string cursor becomes `legacy_key`'s hw."""
        state: dict[str, Any] = {}
        if raw:
            try:
                state = json.loads(raw)
            except ValueError:
                state = {}
            if not isinstance(state, dict):
                state = {}
            if not state and legacy_key is not None:
                state = {"p": {legacy_key: {"hw": raw}}}
        stored: dict[str, Any] = state["p"] if isinstance(state.get("p"), dict) else {}
        parts = {}
        for key in keys:
            item: dict[str, Any] = stored[key] if isinstance(stored.get(key), dict) else {}
            parts[key] = Part(hw=_str(item.get("hw")), tok=_str(item.get("tok")), pend=_str(item.get("pend")))
        at = state.get("at")
        return cls(order=list(keys), parts=parts, at=at if at in parts else None)

    def current(self) -> str:
        if self.at in self.parts:
            return self.at  # type: ignore[return-value]
        for key in self.order:  # a part with a pass in progress goes first
            if self.parts[key].tok:
                return key
        return self.order[0]

    def page_done(self, key: str, *, newest: str | None, next_token: str | None) -> bool:
        """Record one committed page of a newest-first pass; returns whether more pages are ready now."""
        part = self.parts[key]
        if part.pend is None and part.tok is None:
            part.pend = newest  # first page of a pass: its newest item is the pass's newest
        if next_token:
            part.tok = next_token
            self.at = key
            return True
        part.hw = later(part.hw, part.pend)
        part.tok = part.pend = None
        return self._next(key)

    def forward_done(self, key: str, *, newest: str | None, more: bool) -> bool:
        """Record one committed page of an oldest-first (min_id style) walk: hw moves every page."""
        part = self.parts[key]
        if newest is not None:
            part.hw = later(part.hw, newest)
        if more and newest is not None:
            self.at = key
            return True
        return self._next(key)

    def reset(self, key: str, *, keep_hw: bool = True) -> None:
        """Forget a pass in progress (e.g. the platform rejected its page token)."""
        part = self.parts[key]
        part.tok = part.pend = None
        if not keep_hw:
            part.hw = None

    def _next(self, key: str) -> bool:
        idx = self.order.index(key)
        if idx + 1 < len(self.order):
            self.at = self.order[idx + 1]
            return True
        self.at = None  # round complete: the next run starts again at the first part
        return False

    def dump(self) -> str:
        data: dict[str, Any] = {"p": {k: self.parts[k].dump() for k in self.order}}
        if self.at is not None:
            data["at"] = self.at
        return json.dumps(data, separators=(",", ":"), sort_keys=True)


def later(old: str | None, new: str | None) -> str | None:
    """The later of two high-water marks: a mark never moves backwards (a pass whose newest item is
    older than the mark, e.g. because the newest post was deleted, must not make the next run re-read).

    Marks are numbers (X and Mastodon ids, Reddit and HN timestamps) or ISO times (Bluesky); numbers are
    compared as numbers (exactly: ids have 19 digits), anything else as text (ISO times sort as text).
    """
    if old is None or new is None:
        return new if old is None else old
    try:
        return new if Decimal(new) > Decimal(old) else old
    except (InvalidOperation, ValueError):
        return new if new > old else old


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
