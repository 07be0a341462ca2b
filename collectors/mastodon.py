"""Mastodon through Mastodon.py: hashtag timelines and (with a token) status search on one instance.

A brand's parts are the hashtags made from its keywords (e.g. "acme air" → #acmeair), its own
"hashtags" option (comma-separated), the configured hashtags (the `hashtags` argument) that contain one of its
keywords, and, when an access token is set, a
full-text status search per keyword (instances only search posts whose authors opted in). Each part
walks forward with `min_id`, so the cursor is simply the newest status id committed.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from typing import Any

import requests
from mastodon import Mastodon
from mastodon import errors as merr

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
from collectors.markup import html_to_text
from collectors.querybuild import search_terms
from collectors.ratelimit import DEFAULT_PAUSE, TransientError
from collectors.screen import as_dict, as_list, screen_all

log = logging.getLogger(__name__)
PAGE = 40  # the API's maximum for timelines and search
_TAG = re.compile(r"[^\w]", re.UNICODE)


class MastodonSource:
    name = "mastodon"

    def __init__(self, client: Mastodon, hashtags: list[str] | None = None, search: bool | None = None,
                 credentials: str = "the access token") -> None:
        """`credentials` says where the access token is configured, for the message a refused token gives
        (careline/factory.py names its settings)."""
        self.client = client
        self.credentials = credentials
        self.hashtags = [h.lstrip("#").strip() for h in hashtags or [] if h.strip("# ")]
        self.search = bool(getattr(client, "access_token", None)) if search is None else search

    def parts(self, query: Query) -> dict[str, tuple[str, str]]:
        terms = search_terms(query)
        own = [h for h in (query.option("hashtags") or "").split(",")]
        out = {part_key("tag", t): ("tag", t) for t in brand_hashtags(terms + list(query.handles), own, self.hashtags)}
        if self.search:
            out.update({part_key("search", t): ("search", t) for t in terms})
        return out

    def fetch(self, query: Query, cursor: str | None) -> Batch:
        parts = self.parts(query)
        if not parts:
            return Batch(mentions=[], cursor=cursor, api_calls=0)
        state = MultiCursor.load(cursor, list(parts))
        key = state.current()
        kind, value = parts[key]
        hw = state.parts[key].hw
        if kind == "tag":
            statuses = self._call(lambda: self.client.timeline_hashtag(value, min_id=hw, limit=PAGE))
        else:
            result = self._call(lambda: self.client.search_v2(value, resolve=False, result_type="statuses",
                                                                min_id=hw, limit=PAGE, exclude_unreviewed=False))
            statuses = as_dict(result).get("statuses")
        statuses = as_list(statuses)
        mentions, skipped = parse_statuses(statuses, query.exclusions)
        ids = [str(s.get("id")) for s in statuses if isinstance(s, dict) and isinstance(s.get("id"), (str, int))
               and str(s.get("id")).isdigit()]
        newest = max(ids, key=_id_order) if ids else None
        has_more = state.forward_done(key, newest=newest, more=len(statuses) >= PAGE)
        return Batch(mentions=mentions, cursor=state.dump(), has_more=has_more, rate_limit=self._rate_limit(),
                     skipped=skipped)

    def _rate_limit(self) -> RateLimit | None:
        remaining = getattr(self.client, "ratelimit_remaining", None)
        reset = getattr(self.client, "ratelimit_reset", None)
        if remaining is None:
            return None
        return RateLimit(remaining=int(remaining), limit=getattr(self.client, "ratelimit_limit", None),
                         reset_at=datetime.fromtimestamp(reset, tz=timezone.utc) if reset else None)

    def _call(self, fn: Any) -> Any:
        try:
            return fn()
        except merr.MastodonRatelimitError as exc:
            reset = getattr(self.client, "ratelimit_reset", None)
            at = (datetime.fromtimestamp(reset, tz=timezone.utc) if reset
                  else datetime.now(timezone.utc) + DEFAULT_PAUSE)
            raise RateLimited(f"Mastodon rate limit reached; resets at {at:%H:%M:%S} UTC.", retry_at=at) from exc
        except merr.MastodonUnauthorizedError as exc:
            raise AuthFailed(f"The Mastodon instance rejected the access token (401): check {self.credentials} "
                             "(Preferences → Development → your app).") from exc
        except merr.MastodonNotFoundError as exc:
            raise SourceError(f"The Mastodon instance has no such endpoint or tag ({_last(exc)}).") from exc
        except merr.MastodonServerError as exc:
            raise TransientError(f"The Mastodon instance had a server error ({_status(exc) or exc}).") from exc
        except merr.MastodonNetworkError as exc:
            raise TransientError(f"Cannot reach the Mastodon instance ({type(exc).__name__}).") from exc
        except merr.MastodonAPIError as exc:
            status = _status(exc)
            if status == 403:
                raise AccessDenied(f"The Mastodon instance refused the request (403): {_last(exc)}") from exc
            if status == 429:
                at = datetime.now(timezone.utc) + DEFAULT_PAUSE
                raise RateLimited("Mastodon rate limit reached.", retry_at=at) from exc
            raise SourceError(f"The Mastodon instance answered {status}: {_last(exc)}") from exc
        except requests.RequestException as exc:
            raise TransientError(f"Cannot reach the Mastodon instance ({type(exc).__name__}).") from exc


def brand_hashtags(terms: list[str], own: list[str], configured: list[str]) -> list[str]:
    """A brand's hashtags: its keywords and handles squashed ("acme air" → acmeair), its own "hashtags"
    option, and the configured hashtags that contain one of its keywords."""
    squashed = {_TAG.sub("", t.lower()) for t in terms} - {""}
    mine = {h.strip().lstrip("#").lower() for h in own if h.strip("# ")}
    extra = {h.strip().lstrip("#").lower() for h in configured if h.strip("# ")}
    return sorted(squashed | mine | {h for h in extra if any(s in h for s in squashed)})


def parse_statuses(statuses: list[Any], exclusions: tuple[str, ...] = ()) -> tuple[list[RawMention], list[str]]:
    return screen_all("mastodon", as_list(statuses), parse_status, exclusions, id_key="id",
                      gone="is a boost; the original is collected on its own")


def parse_status(status: dict[str, Any]) -> RawMention | None:
    if status.get("reblog"):
        return None
    if status.get("id") in (None, "") or isinstance(status.get("id"), (dict, list)):
        raise ValueError("no id")
    sid = str(status["id"])
    uri = status.get("uri") if isinstance(status.get("uri"), str) else ""
    account = as_dict(status.get("account"))
    created = status.get("created_at")
    if isinstance(created, str):
        created = datetime.fromisoformat(created.replace("Z", "+00:00"))
    if not isinstance(created, datetime):
        raise ValueError("no created_at")
    content = status.get("content")
    if content is not None and not isinstance(content, str):
        raise ValueError(f"content is a {type(content).__name__}, not text")
    text = html_to_text(content)
    if isinstance(status.get("spoiler_text"), str) and status["spoiler_text"]:
        text = f"[CW: {status['spoiler_text']}] {text}"
    return RawMention(
        platform="mastodon",
        # the federated URI is the same on every instance, so one post seen via two instances is one row
        external_id=uri if uri and len(uri) <= 200 else sid,
        text=text, created_at=created, url=status.get("url") or uri or None,
        author_handle=account.get("acct"), author_name=account.get("display_name") or None,
        author_followers=account.get("followers_count"), author_id=account.get("id"),
        author_url=account.get("url") or None, author_links=profile_links(account),
        author_verified_links=profile_links(account, verified_only=True),
        language=status.get("language"),
        parent_id=status.get("in_reply_to_id"),
        thread_id=sid, raw={"id": sid, "favourites": status.get("favourites_count"),
                            "reblogs": status.get("reblogs_count")},
    )


_HREF = re.compile(r"""href=["']([^"']+)["']""")


def profile_links(account: dict[str, Any], verified_only: bool = False) -> list[str]:
    """The http(s) links in the account's profile fields; `verified_only`: those the instance verified (rel=me)."""
    out: list[str] = []
    for f in account.get("fields") or []:
        if not isinstance(f, dict) or (verified_only and not f.get("verified_at")):
            continue
        value = str(f.get("value") or "")
        found = _HREF.findall(value) or [w for w in html_to_text(value).split() if w.startswith(("http://", "https://"))]
        out += [u for u in found if u.startswith(("http://", "https://"))]
    return list(dict.fromkeys(out))


def _status(exc: Exception) -> int | None:
    """Mastodon.py's API errors carry (message, status code, reason, detail) as args."""
    return exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None


def _last(exc: Exception) -> str:
    return str(exc.args[-1]) if exc.args else str(exc)


def _id_order(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)
