"""Reddit through praw: brand-term search over configured subreddits (or all), the comments under the posts
it finds (collectors/reddit_comments.py), and every new comment in the brand's own subreddits.

Query options (from the brand's per-platform query, see docs/collectors.md): "subreddits" ("travel+flights";
default "all") scopes the search; "own_subreddits" ("acmeair") adds parts that collect every new comment
and post there; "search" = "0" turns the term search off (own subreddits only).
Listings come newest first; a part's high-water mark is the newest `created_utc` committed,
and a pass stops as soon as a page reaches it (see collectors/cursors.py). Author karma is left out: praw
fetches it with one extra request per author, which is not worth the rate-limit budget.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import praw
import prawcore
import requests

from collectors.base import (
    AccessDenied,
    AuthFailed,
    Batch,
    Query,
    RateLimit,
    RateLimited,
    RawMention,
    SourceError,
)
from collectors.cursors import MultiCursor, part_key
from collectors.querybuild import QueryTooLong, reddit_queries
from collectors.ratelimit import DEFAULT_PAUSE, TransientError, from_reddit_headers, retry_after
from collectors.reddit_comments import collect_comments
from collectors.screen import as_dict, as_list, item_id, screen

log = logging.getLogger(__name__)
PAGE = 100
_GONE = {"[removed]", "[deleted]", ""}


class RedditSource:
    name = "reddit"

    def __init__(self, reddit: praw.Reddit, page_size: int = PAGE,
                 credentials: str = "the app's client id and secret and, for a script app, the username and "
                                    "password") -> None:
        """`credentials` says where the app's keys are configured, for the message a refused login gives
        (careline/factory.py names its settings)."""
        self.reddit = reddit
        self.credentials = credentials
        self.page_size = max(1, min(100, page_size))
        self._last_headers: Mapping[str, str] | None = None
        # prawcore keeps the rate-limit headers to itself; a response hook on its session lets us record them.
        for http in _http_sessions(reddit):
            http.hooks.setdefault("response", []).append(self._remember_headers)

    def _remember_headers(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if "x-ratelimit-remaining" in response.headers:
            self._last_headers = response.headers

    # -- the Source protocol -------------------------------------------------------------------------

    def fetch(self, query: Query, cursor: str | None) -> Batch:
        try:
            strings = reddit_queries(query)
        except QueryTooLong as exc:
            err = SourceError(f"Reddit query for {query.brand} is too long: {exc}.")
            err.api_calls = 0  # refused before any request
            raise err from exc
        subs = (query.option("subreddits") or "all").strip("+ ") or "all"
        parts: dict[str, tuple[str, dict[str, Any]]] = {}
        if query.option("search") != "0":
            for text in strings:
                parts[part_key("search", subs, text)] = (f"r/{subs}/search/", {
                    "q": text, "sort": "new", "t": "all", "syntax": "lucene", "restrict_sr": subs != "all"})
        own = (query.option("own_subreddits") or "").strip("+ ")
        if own:  # everything in the brand's own subreddits is about the brand: new comments and new posts
            parts[part_key("comments", own)] = (f"r/{own}/comments/", {})
            parts[part_key("new", own)] = (f"r/{own}/new", {})  # the paths praw itself uses
        if not parts:
            return Batch(mentions=[], cursor=cursor, api_calls=0)
        state = MultiCursor.load(cursor, list(parts))
        key = state.current()
        part = state.parts[key]
        path, params = parts[key]
        listing = as_dict(as_dict(self._get(path, {**params, "limit": self.page_size,
                                                   **({"after": part.tok} if part.tok else {})})).get("data"))
        hw = _float(part.hw)
        children = as_list(listing.get("children"))
        mentions, skipped, newest, reached = parse_listing(children, hw, query.exclusions)
        calls = 1
        if path.endswith("/search/"):  # comments under the posts the search found (bounded, matched)
            found, why, calls_made = collect_comments(self._get, mentions, query)
            mentions, skipped, calls = mentions + found, skipped + why, calls + calls_made
        after = listing.get("after")
        next_token = after if (isinstance(after, str) and after and not reached
                               and len(children) >= self.page_size) else None
        # The high-water mark only moves forward (cursors.MultiCursor keeps the later of old and new).
        has_more = state.page_done(key, newest=repr(newest) if newest is not None and part.tok is None else None,
                                   next_token=next_token)
        return Batch(mentions=mentions, cursor=state.dump(), has_more=has_more, rate_limit=self._rate_limit(),
                     skipped=skipped, api_calls=calls)

    def _rate_limit(self) -> RateLimit | None:
        return from_reddit_headers(self._last_headers)

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        """The listing as plain JSON: praw's objector would turn the whole page into objects first, and one
        child it cannot build (a null subreddit, an unknown kind) would fail the page before we see it."""
        try:
            return self.reddit.request(method="GET", path=path, params=params)
        except prawcore.TooManyRequests as exc:
            at = retry_after(exc.response.headers) or datetime.now(timezone.utc) + DEFAULT_PAUSE
            raise RateLimited(f"Reddit rate limit reached; retry after {at:%H:%M:%S} UTC.", retry_at=at) from exc
        except prawcore.OAuthException as exc:
            raise AuthFailed(f"Reddit refused the login ({exc.error}): check {self.credentials}.") from exc
        except prawcore.Redirect as exc:
            raise SourceError(f"Reddit has no subreddit at {path.split('/')[1]!r} (it redirected to search); "
                              "check the brand's subreddits.") from exc
        except prawcore.NotFound as exc:
            raise SourceError(f"Reddit says {path} does not exist (banned or misspelt subreddit?).") from exc
        except prawcore.ServerError as exc:
            raise TransientError(f"Reddit had a server error ({exc.response.status_code}).") from exc
        except prawcore.ResponseException as exc:
            status = exc.response.status_code
            if status == 401:
                raise AuthFailed(f"Reddit rejected the app credentials (401): check {self.credentials} "
                                 "(script or web app at reddit.com/prefs/apps).") from exc
            if status == 403:
                raise AccessDenied(f"Reddit refused {path} (403 Forbidden): the subreddit is private or "
                                   "quarantined, or the app lacks access; this query is paused.") from exc
            if status >= 500:
                raise TransientError(f"Reddit had a server error ({status}).") from exc
            raise SourceError(f"Reddit answered {status} for {path}.") from exc
        except prawcore.RequestException as exc:
            raise TransientError(f"Cannot reach Reddit ({type(exc.original_exception).__name__}).") from exc
        except praw.exceptions.RedditAPIException as exc:
            raise SourceError(f"Reddit API error: {exc}") from exc


def _http_sessions(reddit: praw.Reddit) -> list[requests.Session]:
    """The requests.Session(s) under praw's cores (private attributes: absent ones just mean no budget shown)."""
    found: list[requests.Session] = []
    for core in (getattr(reddit, "_read_only_core", None), getattr(reddit, "_authorized_core", None)):
        auth = getattr(getattr(core, "_authorizer", None), "_authenticator", None)
        http = getattr(getattr(auth, "_requestor", None), "_http", None)
        if isinstance(http, requests.Session) and all(http is not f for f in found):
            found.append(http)
    return found


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
        created = _float(data.get("created_utc"))
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


def _float(value: Any) -> float | None:
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
    stamp = _float(data.get("created_utc"))
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
