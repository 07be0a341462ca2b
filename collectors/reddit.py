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
    SourceError,
)
from collectors.cursors import MultiCursor, part_key
from collectors.querybuild import QueryTooLong, reddit_queries
from collectors.ratelimit import DEFAULT_PAUSE, TransientError, from_reddit_headers, retry_after
from collectors.reddit_comments import collect_comments
from collectors.reddit_parse import float_or_none, parse_listing
from collectors.screen import as_dict, as_list

log = logging.getLogger(__name__)
PAGE = 100


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
        hw = float_or_none(part.hw)
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
