"""Hacker News through the public Algolia search API (hn.algolia.com, no key, ~10,000 requests/hour/IP).

One part per brand term (`search_by_date`, stories and comments). A pass pins its upper bound
(`created_at_i <= newest seen on its first page`) so pages stay stable while new items arrive, and the
high-water mark becomes the lower bound (`created_at_i >= hw`, inclusive; the upsert drops the repeat).
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

import requests

from collectors.base import AccessDenied, Batch, Query, RateLimited, RawMention, SourceError
from collectors.cursors import MultiCursor, part_key
from collectors.markup import html_to_text
from collectors.querybuild import search_terms
from collectors.ratelimit import DEFAULT_PAUSE, TransientError, retry_after
from collectors.screen import as_list, screen_all

log = logging.getLogger(__name__)
BASE_URL = "https://hn.algolia.com/api/v1"
PAGE = 100


class HackerNewsSource:
    name = "hackernews"

    def __init__(self, session: requests.Session | None = None, base_url: str = BASE_URL, page_size: int = PAGE,
                 timeout: float = 30.0) -> None:
        self.session = session or requests.Session()
        self.base_url = base_url.rstrip("/")
        self.page_size = max(1, min(1000, page_size))
        self.timeout = timeout

    def fetch(self, query: Query, cursor: str | None) -> Batch:
        terms = {part_key("search", t): t for t in search_terms(query)}
        state = MultiCursor.load(cursor, list(terms))
        key = state.current()
        part = state.parts[key]
        # During a pass `tok` holds "page:upper"; the first page has no upper bound yet.
        page, upper = 0, None
        if part.tok:
            p, _, u = part.tok.partition(":")
            page, upper = int(p or 0), (int(u) if u.isdigit() else None)
        filters = [f"created_at_i>={part.hw}"] if part.hw else []
        if upper is not None:
            filters.append(f"created_at_i<={upper}")
        term = terms[key]
        params: dict[str, Any] = {"query": f'"{term}"' if " " in term else term, "tags": "(story,comment)",
                                  "hitsPerPage": self.page_size, "page": page, "advancedSyntax": "true"}
        if filters:
            params["numericFilters"] = ",".join(filters)
        payload = self._get("/search_by_date", params)
        hits = as_list(payload.get("hits"))
        mentions, skipped = parse_hits(hits, query.exclusions)
        given = [h.get("created_at_i") for h in hits if isinstance(h, dict)]
        stamps: list[int] = [s for s in given if isinstance(s, int) and not isinstance(s, bool) and s > 0]
        newest = str(max(stamps)) if stamps else None
        upper = upper if upper is not None else (max(stamps) if stamps else None)
        pages = payload.get("nbPages")
        more = isinstance(pages, int) and page + 1 < pages and upper is not None
        has_more = state.page_done(key, newest=newest, next_token=f"{page + 1}:{upper}" if more else None)
        return Batch(mentions=mentions, cursor=state.dump(), has_more=has_more, skipped=skipped)

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            resp = self.session.get(self.base_url + path, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise TransientError(f"Cannot reach Hacker News search ({type(exc).__name__}).") from exc
        if resp.status_code == 429:
            at = retry_after(resp.headers) or datetime.now(timezone.utc) + DEFAULT_PAUSE
            raise RateLimited(f"Hacker News search rate limit reached; retry after {at:%H:%M:%S} UTC.", retry_at=at)
        if resp.status_code == 403:
            raise AccessDenied("Hacker News search refused the request (403); this query is paused.")
        if resp.status_code >= 500:
            raise TransientError(f"Hacker News search had a server error ({resp.status_code}).")
        if resp.status_code != 200:
            raise SourceError(f"Hacker News search answered {resp.status_code}: {resp.text[:200]}")
        try:
            data = resp.json()
        except json.JSONDecodeError as exc:
            raise TransientError("Hacker News search sent a response that is not JSON.") from exc
        return data if isinstance(data, dict) else {}


def parse_hits(hits: list[Any], exclusions: tuple[str, ...] = ()) -> tuple[list[RawMention], list[str]]:
    return screen_all("hackernews", as_list(hits), parse_hit, exclusions, id_key="objectID")


def parse_hit(hit: dict[str, Any]) -> RawMention | None:
    oid = hit.get("objectID")
    if not isinstance(oid, (str, int)) or isinstance(oid, bool) or not str(oid).strip():
        raise ValueError(f"objectID {oid!r} is not an id")
    oid = str(oid)
    stamp = hit.get("created_at_i")
    if isinstance(stamp, int) and not isinstance(stamp, bool):
        created = datetime.fromtimestamp(stamp, tz=timezone.utc)
    else:
        created = datetime.fromisoformat(str(hit["created_at"]).replace("Z", "+00:00"))
    tags = [t for t in as_list(hit.get("_tags")) if isinstance(t, str)]
    for field in ("comment_text", "story_text", "title", "story_title"):
        if hit.get(field) is not None and not isinstance(hit.get(field), str):
            raise ValueError(f"{field} is a {type(hit.get(field)).__name__}, not text")
    if "comment" in tags or hit.get("comment_text"):
        text = html_to_text(hit.get("comment_text"))
        title = hit.get("story_title")
    else:
        title = hit.get("title") or ""
        body = html_to_text(hit.get("story_text"))
        link = hit.get("url") if isinstance(hit.get("url"), str) else ""
        text = "\n\n".join(x for x in (title, body or link) if x)
    if not text:
        return None
    story = hit.get("story_id")
    parent = hit.get("parent_id")
    return RawMention(
        platform="hackernews", external_id=oid, text=text, created_at=created,
        url=f"https://news.ycombinator.com/item?id={oid}", author_handle=hit.get("author"),
        parent_id=parent or None, thread_id=story or oid,
        raw={"points": hit.get("points"), "story_title": title,
             "tags": [t for t in tags if not t.startswith("author_")]},
    )
