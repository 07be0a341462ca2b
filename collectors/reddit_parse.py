"""Reading Reddit listings and things (posts t3, comments t1) as plain JSON into RawMentions.

The one parser for posts and comments: collectors/reddit.py (listings) and collectors/reddit_comments.py
(comment trees) both call it, so it sits below them.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from collectors.base import RawMention
from collectors.screen import item_id, screen

log = logging.getLogger(__name__)
_GONE = {"[removed]", "[deleted]", ""}


def parse_listing(children: list[Any], hw: float | None, exclusions: tuple[str, ...] = ()
                  ) -> tuple[list[RawMention], list[str], float | None, bool]:
    """One listing page: (mentions, skip reasons, newest created_utc read, whether `hw` was reached).

    Every child is read on its own: a plain string, an unknown kind, a child without `data` or with a
    null author or subreddit is skipped (or stored with what is known) with its reason.
    """
    mentions: list[RawMention] = []
    skipped: list[str] = []
    newest: float | None = None
    reached = False
    for child in children:
        if not isinstance(child, dict):
            skipped.append(f"reddit:? unreadable (a listing child that is a {type(child).__name__})")
            continue
        kind, data = child.get("kind"), child.get("data")
        if not isinstance(data, dict):
            skipped.append(f"reddit:? unreadable (a {kind!r} child without data)")
            continue
        if kind not in ("t1", "t3"):
            skipped.append(f"reddit:{item_id(data, 'name')} is a {kind!r}, not a post or comment")
            continue
        created = float_or_none(data.get("created_utc"))
        if created is not None and created <= _LATEST_PLAUSIBLE():  # a far-future stamp must not end every pass
            newest = created if newest is None else max(newest, created)
            if hw is not None and created < hw:
                reached = True  # older than what we have: the pass is complete
                continue
        # exclusions again: search already says NOT, but own-subreddit comments need them
        result = screen("reddit", {**data, "name": data.get("name") or f"{kind}_{data.get('id', '')}"},
                        parse_thing, exclusions, id_key="name", gone="removed or deleted with nothing left to store")
        if isinstance(result, str):
            skipped.append(result)
        else:
            mentions.append(result)
    for reason in skipped:
        log.info("reddit: skipped %s", reason)
    return mentions, skipped, newest, reached


def _LATEST_PLAUSIBLE() -> float:  # noqa: N802 - reads like the constant it almost is
    return datetime.now(timezone.utc).timestamp() + 86_400


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"{key} is a {type(value).__name__}, not text")


def float_or_none(value: Any) -> float | None:
    """A finite number, else None (a bool, text, NaN or infinity in a listing is no time)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def parse_thing(data: Mapping[str, Any]) -> RawMention | None:
    """A submission (t3) or comment (t1) as a RawMention; None when removed with nothing left to store."""
    fullname = str(data.get("name") or "")
    if not fullname or fullname.endswith("_"):
        raise ValueError("no fullname")
    stamp = float_or_none(data.get("created_utc"))
    if stamp is None:
        raise ValueError(f"created_utc {data.get('created_utc')!r} is not a time")
    created = datetime.fromtimestamp(stamp, tz=timezone.utc)
    author = data.get("author")
    handle = author if isinstance(author, str) and author not in ("[deleted]", "[removed]", "") else None
    removed = data.get("removed_by_category") or None
    sub = data.get("subreddit")
    sub_name = sub if isinstance(sub, str) and sub else None
    permalink = data.get("permalink")
    url = f"https://www.reddit.com{permalink}" if isinstance(permalink, str) and permalink.startswith("/") else None
    raw: dict[str, Any] = {"subreddit": sub_name, "score": data.get("score"), "removed": removed,
                           "author_deleted": handle is None}
    if fullname.startswith("t1_"):
        body = _text(data, "body")
        if body.strip() in _GONE:
            return None
        return RawMention(platform="reddit", external_id=fullname, text=body, created_at=created, url=url,
                          author_handle=handle, author_id=data.get("author_fullname"),
                          parent_id=data.get("parent_id"), thread_id=data.get("link_id"), raw=raw)
    title = _text(data, "title")
    body = _text(data, "selftext")
    if body.strip() in _GONE:
        body = ""  # removed or deleted self text: the title is still the mention
    if not title and not body:
        return None
    raw.update(num_comments=data.get("num_comments"), link=data.get("url"))
    return RawMention(platform="reddit", external_id=fullname, text=f"{title}\n\n{body}".strip(),
                      created_at=created, url=url, author_handle=handle, author_id=data.get("author_fullname"),
                      thread_id=fullname, raw=raw)
