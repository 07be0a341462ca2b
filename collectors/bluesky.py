"""Bluesky through the `atproto` SDK: `app.bsky.feed.searchPosts` per brand term, newest first.

Each term is a cursor part whose high-water mark is the newest post's sort time, sent back as `since`
(inclusive: the boundary post comes again and the upsert drops it); the search `cursor` pages a pass.
We call the XRPC method through `invoke_query` and read the JSON ourselves, so one malformed post is
skipped with a reason instead of failing the model validation of the whole page.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from atproto import Client, exceptions, models

from collectors.base import AccessDenied, AuthFailed, Batch, Query, RateLimited, RawMention, SourceError
from collectors.cursors import MultiCursor, part_key
from collectors.querybuild import search_terms
from collectors.ratelimit import DEFAULT_PAUSE, TransientError, from_ietf_headers
from collectors.screen import as_dict, as_list, screen_all

log = logging.getLogger(__name__)
METHOD = "app.bsky.feed.searchPosts"


class BlueskySource:
    name = "bluesky"

    def __init__(self, client: Client, handle: str | None = None, app_password: str | None = None,
                 page_size: int = 100, credentials: str = "the handle and app password") -> None:
        """`credentials` says where the handle and app password are configured, for the message a refused
        login gives (careline/factory.py names its settings)."""
        self.client = client
        self.credentials = credentials
        self._handle, self._password = handle, app_password
        self.page_size = max(1, min(100, page_size))
        self._logged_in = False

    def fetch(self, query: Query, cursor: str | None) -> Batch:
        calls = self._login()
        terms = search_terms(query)
        keys = {part_key("search", t): t for t in terms}
        state = MultiCursor.load(cursor, list(keys))
        key = state.current()
        part = state.parts[key]
        params = models.AppBskyFeedSearchPosts.Params(q=keys[key], sort="latest", limit=self.page_size,
                                                      since=part.hw, cursor=part.tok, lang=query.option("lang"))
        response = self._call(lambda: self.client.invoke_query(METHOD, params=params,
                                                               output_encoding="application/json"))
        calls += 1
        content = response.content if isinstance(response.content, dict) else {}
        mentions, skipped = parse_page(content, query.exclusions)
        posts = as_list(content.get("posts"))
        # the newest sort time of every post read (bad ones too), so the mark moves past all of them
        stamps = [t for t in (_sort_at(p) for p in posts if isinstance(p, dict)) if t]
        newest = max(stamps) if stamps else None
        token = content.get("cursor") if posts and len(posts) >= self.page_size else None
        token = token if isinstance(token, str) and token else None
        has_more = state.page_done(key, newest=newest, next_token=token)
        return Batch(mentions=mentions, cursor=state.dump(), has_more=has_more,
                     rate_limit=from_ietf_headers(response.headers), skipped=skipped, api_calls=calls)

    def _login(self) -> int:
        if self._logged_in or not self._handle or not self._password:
            return 0
        self._call(lambda: self.client.login(self._handle, self._password, fetch_bsky_profile=False),
                   login=True)
        self._logged_in = True
        return 1

    def _call(self, fn: Any, login: bool = False) -> Any:
        try:
            return fn()
        except exceptions.RateLimitExceededError as exc:
            at = exc.reset_at or datetime.now(timezone.utc) + DEFAULT_PAUSE
            raise RateLimited(f"Bluesky rate limit reached; resets at {at:%H:%M:%S} UTC.", retry_at=at) from exc
        except exceptions.UnauthorizedError as exc:
            if login or _status(exc) == 401:
                raise AuthFailed(f"Bluesky rejected the login: check {self.credentials} (create an app password "
                                 f"in Settings → Privacy and security). ({_message(exc)})") from exc
            raise AccessDenied(f"Bluesky refused the search (403): {_message(exc)}") from exc
        except exceptions.BadRequestError as exc:
            if login or "auth" in _message(exc).lower() or "token" in _message(exc).lower():
                raise AuthFailed(f"Bluesky rejected the session: {_message(exc)}.") from exc
            raise SourceError(f"Bluesky rejected the search: {_message(exc)}.") from exc
        except exceptions.NetworkError as exc:
            raise TransientError(f"Cannot reach Bluesky ({type(exc).__name__}).") from exc
        except exceptions.RequestException as exc:
            if (_status(exc) or 500) >= 500:
                raise TransientError(f"Bluesky had a server error ({_status(exc)}).") from exc
            raise SourceError(f"Bluesky answered {_status(exc)}: {_message(exc)}.") from exc


def parse_page(content: dict[str, Any], exclusions: tuple[str, ...] = ()) -> tuple[list[RawMention], list[str]]:
    return screen_all("bluesky", as_list(as_dict(content).get("posts")), parse_post, exclusions, id_key="uri")


def parse_post(post: dict[str, Any]) -> RawMention:
    uri = post.get("uri")
    if not isinstance(uri, str) or not uri.startswith("at://"):
        raise ValueError(f"uri {uri!r} is not an at:// URI")
    record = as_dict(post.get("record"))
    author = as_dict(post.get("author"))
    created = parse_time(record.get("createdAt")) or parse_time(post.get("indexedAt"))
    if created is None:
        raise ValueError("no createdAt or indexedAt")
    handle = author.get("handle")
    rkey = uri.rsplit("/", 1)[-1]
    reply = as_dict(record.get("reply"))
    langs = as_list(record.get("langs"))
    return RawMention(
        platform="bluesky", external_id=uri, text=record.get("text", ""), created_at=created,
        url=f"https://bsky.app/profile/{handle or author.get('did')}/post/{rkey}",
        author_handle=handle, author_name=author.get("displayName") or None, author_id=author.get("did"),
        language=langs[0] if langs else None,
        parent_id=as_dict(reply.get("parent")).get("uri"), thread_id=as_dict(reply.get("root")).get("uri") or uri,
        raw={"cid": post.get("cid"), "likes": post.get("likeCount"), "reposts": post.get("repostCount")},
    )


def _sort_at(post: dict[str, Any]) -> str | None:
    """The search index sorts on min(createdAt, indexedAt); `since` compares against the same."""
    times = [t for t in (parse_time(as_dict(post.get("record")).get("createdAt")), parse_time(post.get("indexedAt"))) if t]
    return min(times).isoformat().replace("+00:00", "Z") if times else None


def parse_time(value: Any) -> datetime | None:
    """An AT Protocol timestamp as an aware UTC datetime; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _status(exc: exceptions.RequestErrorBase) -> int | None:
    return getattr(exc.response, "status_code", None)


def _message(exc: exceptions.RequestErrorBase) -> str:
    content = getattr(exc.response, "content", None)
    for attr in ("message", "error"):
        value = getattr(content, attr, None)
        if value:
            return str(value)
    return f"HTTP {_status(exc)}"


PUBLIC_APPVIEW = "https://public.api.bsky.app/xrpc"  # Bluesky's unauthenticated read API


class ProfileResolver:
    """DIDs → handle, display name and followers (`app.bsky.actor.getProfiles`, 25 a call, cached).

    Jetstream names authors by DID only; the inbox and priority want the handle and follower count. One
    failing lookup leaves those authors without a handle (logged); it never fails the batch."""

    def __init__(self, client: Client | None = None, cache_size: int = 50_000) -> None:
        self.client = client or Client(base_url=PUBLIC_APPVIEW)
        self.cache_size = cache_size
        self._cache: dict[str, dict[str, Any]] = {}

    def __call__(self, dids: list[str]) -> dict[str, dict[str, Any]]:
        missing = [d for d in dict.fromkeys(dids) if d not in self._cache]
        for start in range(0, len(missing), 25):
            chunk = missing[start:start + 25]
            try:
                response = self.client.invoke_query("app.bsky.actor.getProfiles",
                                                    params=models.AppBskyActorGetProfiles.Params(actors=chunk),
                                                    output_encoding="application/json")
            except exceptions.AtProtocolError as exc:
                log.warning("bluesky: could not look up %d author(s): %s", len(chunk), type(exc).__name__)
                continue
            content = response.content if isinstance(response.content, dict) else {}
            for profile in content.get("profiles") or []:
                if isinstance(profile, dict) and isinstance(profile.get("did"), str):
                    self._cache[profile["did"]] = {"handle": profile.get("handle"),
                                                   "name": profile.get("displayName") or None,
                                                   "followers": profile.get("followersCount")}
            for did in chunk:
                self._cache.setdefault(did, {})  # gone or suspended: not asked again
        if len(self._cache) > self.cache_size:
            self._cache.clear()  # simple and rare: a day of posters fits; the next lookups refill it
        return {d: self._cache[d] for d in dids if self._cache.get(d)}
