"""X (Twitter) through tweepy's v2 `Client`: recent search per brand, plus the brand account's mentions.

One brand query becomes one or more search strings (512-character limit), each a cursor part with its
own `since_id`; when a user token is configured and the account's username is one of the brand's
handles, the account's mentions timeline is one more part. Pages are fetched newest first with
`next_token`; see collectors/cursors.py for how a pass survives a crash.

The client is asked for raw `requests.Response` objects, so we can read the `x-rate-limit-*` headers
and parse the JSON straight into `RawMention`s (no intermediate tweepy objects).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import requests
import tweepy

from collectors.base import AccessDenied, AuthFailed, Batch, Query, RateLimited, RawMention, SourceError
from collectors.cursors import MultiCursor, part_key
from collectors.querybuild import QueryTooLong, x_queries
from collectors.ratelimit import DEFAULT_PAUSE, TransientError, from_x_headers
from collectors.screen import as_dict, as_list, screen_all

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)
# tweepy's client logs every request's headers, Authorization included, at DEBUG: never let it.
logging.getLogger("tweepy.client").setLevel(max(logging.INFO, logging.getLogger("tweepy.client").level))

TWEET_FIELDS = ("author_id,conversation_id,created_at,in_reply_to_user_id,lang,referenced_tweets,public_metrics,"
                "note_tweet")
USER_FIELDS = "username,name,public_metrics,verified,url,entities"  # url/entities: the profile's links
EXPANSIONS = "author_id"
MENTIONS = "mentions"
_TWEPOCH_MS = 1288834974657
PLAN_HELP = (
    "Your X API access does not include {what}. The Free tier is write-only (posting and your own "
    "account); recent search and the mentions timeline need pay-per-use credits or a Basic or Pro plan "
    "(full-archive search: Pro or Enterprise). The x source is paused; after adding credits or upgrading "
    "at developer.x.com run `careline sources resume x`."
)


@dataclass(frozen=True)
class XPlanUsage:
    cap: int | None = None  # posts a month the plan allows
    used: int | None = None  # posts the project has read this billing month
    reset_day: int | None = None  # day of the month the cap resets


class XSource:
    name = "x"

    def __init__(self, client: tweepy.Client, user_client: tweepy.Client | None = None,
                 page_size: int = 100, app_credentials: str = "the app's bearer token",
                 user_credentials: str = "the consumer key/secret and access token/secret") -> None:
        """`app_credentials` / `user_credentials` say where the two clients' keys are configured; a 401
        message tells the person to check them there (careline/factory.py names its settings)."""
        # Raw responses give us the rate-limit headers; waiting is the collection loop's job (with jitter).
        for c in (client, user_client):
            if c is not None:
                c.return_type = requests.Response
                c.wait_on_rate_limit = False
        self.client, self.user_client = client, user_client
        self.page_size = max(10, min(100, page_size))
        self._me: dict[str, str] | None = None
        self._uncounted = 0  # calls made outside a page fetch (GET /2/users/me), added to the next batch
        self._credentials = {False: app_credentials, True: user_credentials}

    # -- the Source protocol -------------------------------------------------------------------------

    def fetch(self, query: Query, cursor: str | None) -> Batch:
        try:
            strings = x_queries(query)
        except QueryTooLong as exc:
            err = SourceError(f"X query for {query.brand} is too long: {exc}; shorten the exclusions.")
            err.api_calls = 0  # refused before any request
            raise err from exc
        parts: dict[str, Callable[[str | None, str | None], requests.Response]] = {}
        for text in strings:
            parts[part_key("search", text)] = self._search(text)
        if self._mentions_apply(query):
            parts[part_key(MENTIONS)] = self._mentions
        state = MultiCursor.load(cursor, list(parts), legacy_key=next(iter(parts)))
        key = state.current()
        part = state.parts[key]
        calls, self._uncounted = 1 + self._uncounted, 0
        try:
            response = parts[key](part.hw, part.tok)
        except tweepy.BadRequest as exc:
            if not (part.tok or part.hw) or not _about_cursor(exc):
                raise SourceError(f"X rejected the query for {query.brand}: {_detail(exc)}") from exc
            # An expired next_token or a since_id older than the 7-day window: start that part afresh.
            log.warning("x: %s; restarting the pass for %s", _detail(exc), query.key)
            state.reset(key, keep_hw=not _about_since(exc))
            part = state.parts[key]
            response = self._call(parts[key], part.hw, part.tok)
            calls += 1
        payload = _json(response)
        mentions, skipped = parse_page(payload)
        meta = as_dict(payload.get("meta"))
        newest = _snowflake(meta.get("newest_id")) or newest_id(payload)
        token = meta.get("next_token")
        has_more = state.page_done(key, newest=newest, next_token=token if isinstance(token, str) and token else None)
        reads = sum(1 for t in payload.get("data") or [] if isinstance(t, dict))  # X bills every post returned
        return Batch(mentions=mentions, cursor=state.dump(), has_more=has_more,
                     rate_limit=from_x_headers(response.headers), skipped=skipped, api_calls=calls, reads=reads)

    def plan_usage(self) -> XPlanUsage | None:
        """The plan's monthly post cap and this project's usage (GET /2/usage/tweets), or None where the plan
        does not open that endpoint (403) or X cannot be asked now; never raises."""
        try:
            response = self.client.request("GET", "/2/usage/tweets",
                                           params={"usage.fields": "cap_reset_day,project_cap,project_usage"})
            data = _json(response).get("data") or {}
        except tweepy.Forbidden:
            log.info("x: the plan does not include the usage endpoint; counting reads ourselves only")
            return None
        except (tweepy.TweepyException, requests.RequestException, TransientError) as exc:
            log.warning("x: could not read the plan's usage (%s)", exc)
            return None
        return XPlanUsage(cap=_int(data.get("project_cap")), used=_int(data.get("project_usage")),
                          reset_day=_int(data.get("cap_reset_day")))

    # -- requests ------------------------------------------------------------------------------------

    def _search(self, text: str) -> Callable[[str | None, str | None], requests.Response]:
        def call(since_id: str | None, token: str | None) -> requests.Response:
            return self._call_raw(lambda: self.client.search_recent_tweets(
                text, since_id=since_id, next_token=token, max_results=self.page_size, expansions=EXPANSIONS,
                tweet_fields=TWEET_FIELDS, user_fields=USER_FIELDS), "recent search (GET /2/tweets/search/recent)")
        return call

    def _mentions(self, since_id: str | None, token: str | None) -> requests.Response:
        me = self._whoami()
        assert self.user_client is not None
        return self._call_raw(lambda: self.user_client.get_users_mentions(  # type: ignore[union-attr]
            me["id"], since_id=since_id, pagination_token=token, max_results=self.page_size,
            expansions=EXPANSIONS, tweet_fields=TWEET_FIELDS, user_fields=USER_FIELDS, user_auth=True),
            "the mentions timeline (GET /2/users/:id/mentions)", user=True)

    def _mentions_apply(self, query: Query) -> bool:
        if self.user_client is None:
            return False
        me = self._whoami()
        return me["username"].lower() in {h.lstrip("@").lower() for h in query.handles}

    def _whoami(self) -> dict[str, str]:
        if self._me is None:
            assert self.user_client is not None
            resp = self._call_raw(lambda: self.user_client.get_me(user_auth=True),  # type: ignore[union-attr]
                                  "GET /2/users/me", user=True)
            self._uncounted += 1
            data = _json(resp).get("data") or {}
            self._me = {"id": str(data.get("id", "")), "username": str(data.get("username", ""))}
        return self._me

    @staticmethod
    def _call(fn: Callable[[str | None, str | None], requests.Response], since: str | None,
              tok: str | None) -> requests.Response:
        try:
            return fn(since, tok)
        except tweepy.BadRequest as exc:
            raise SourceError(f"X rejected the request: {_detail(exc)}") from exc

    def _call_raw(self, fn: Callable[[], Any], what: str, user: bool = False) -> requests.Response:
        """Run one tweepy call, turning its errors into ours (BadRequest passes through for the caller)."""
        try:
            return fn()
        except tweepy.TooManyRequests as exc:
            body = _body(exc)
            if "UsageCapExceeded" in str(body.get("title", "")) or "usage cap" in str(body.get("detail", "")).lower():
                raise _denied(f"X says the monthly usage cap of your plan is used up ({_detail(exc)}); the x "
                              "source is paused until you raise the plan or the month resets.") from exc
            reset = getattr(exc, "reset_time", None)
            retry_at = (datetime.fromtimestamp(reset, tz=timezone.utc) if reset
                        else datetime.now(timezone.utc) + DEFAULT_PAUSE)
            raise RateLimited(f"X rate limit reached for {what}; resets at {retry_at:%H:%M:%S} UTC.",
                              retry_at=retry_at) from exc
        except tweepy.Unauthorized as exc:
            raise AuthFailed(f"X rejected the credentials (401 Unauthorized) for {what}: check "
                             f"{self._credentials[user]}, "
                             "or regenerate them in the developer portal if they were revoked.") from exc
        except tweepy.Forbidden as exc:
            if 453 in (exc.api_codes or []) or "client-not-enrolled" in str(_body(exc).get("reason", "")) \
                    or "access level" in _detail(exc).lower() or "subset of" in _detail(exc).lower():
                raise _denied(PLAN_HELP.format(what=what) + f" (X said: {_detail(exc)[:200]})") from exc
            raise _denied(f"X refused {what} (403 Forbidden): {_detail(exc)[:200]}") from exc
        except tweepy.TwitterServerError as exc:
            raise TransientError(f"X had a server error ({exc.response.status_code}) on {what}.") from exc
        except tweepy.NotFound as exc:
            raise SourceError(f"X says {what} was not found: {_detail(exc)}") from exc
        except tweepy.HTTPException as exc:
            if isinstance(exc, tweepy.BadRequest):
                raise
            raise SourceError(f"X answered {exc.response.status_code} for {what}: {_detail(exc)}") from exc
        except requests.RequestException as exc:
            raise TransientError(f"Cannot reach X ({type(exc).__name__}).") from exc


# -- parsing (pure functions: the benchmark and the tests call these on recorded payloads) ------------

def parse_page(payload: Any) -> tuple[list[RawMention], list[str]]:
    """Tweets of one search/mentions page with their authors; malformed ones skipped with a reason.

    Every level is read defensively (`as_dict`/`as_list`): `includes` sent as a list, `public_metrics` as
    a string or a user without an id costs at most that one item, never the page.
    """
    payload = as_dict(payload)
    users = {str(u.get("id")): u for u in as_list(as_dict(payload.get("includes")).get("users"))
             if isinstance(u, dict) and u.get("id") is not None}
    mentions, skipped = screen_all(
        "x", as_list(payload.get("data")), lambda t: parse_tweet(t, users.get(str(t.get("author_id")))), (),
        id_key="id")
    for err in as_list(payload.get("errors")):  # deleted/withheld tweets come back here, not in data
        if isinstance(err, dict) and err.get("resource_type") == "tweet" and err.get("parameter") != "query":
            reason = f"x:{err.get('resource_id') or err.get('value')} unavailable ({err.get('title')})"
            log.info("x: skipped %s", reason)
            skipped.append(reason)
    return mentions, skipped


def parse_tweet(tweet: dict[str, Any], user: dict[str, Any] | None) -> RawMention:
    if tweet.get("id") in (None, ""):
        raise ValueError("a result without an id")
    tid = str(tweet["id"])
    if not tid.isdigit():
        raise ValueError(f"id {tid!r} is not numeric")
    text = as_dict(tweet.get("note_tweet")).get("text") or tweet.get("text") or ""
    created = _created(tweet.get("created_at"), tid)
    parent = next((str(r.get("id")) for r in as_list(tweet.get("referenced_tweets"))
                   if isinstance(r, dict) and r.get("type") == "replied_to" and r.get("id")), None)
    user = as_dict(user)
    handle = user.get("username")
    handle = str(handle) if isinstance(handle, (str, int)) and not isinstance(handle, bool) and handle != "" else None
    followers = as_dict(user.get("public_metrics")).get("followers_count")
    conversation = tweet.get("conversation_id")
    return RawMention(
        platform="x", external_id=tid, text=text, created_at=created,
        url=f"https://x.com/{handle or 'i/web'}/status/{tid}",
        author_handle=handle, author_name=user.get("name"), author_followers=followers,
        author_id=tweet.get("author_id"), language=tweet.get("lang"),
        author_url=f"https://x.com/{handle}" if handle else None, author_links=profile_links(user),
        parent_id=parent, thread_id=str(conversation) if isinstance(conversation, (str, int)) and conversation else tid,
        raw=_raw(tweet, user or None),
    )


def profile_links(user: dict[str, Any]) -> list[str]:
    """The expanded links of the user's profile url and bio (X shortens them to t.co in the plain fields)."""
    entities = as_dict(user.get("entities"))
    out = []
    for part in ("url", "description"):
        for u in as_list(as_dict(entities.get(part)).get("urls")):
            if isinstance(u, dict) and str(u.get("expanded_url") or "").startswith(("http://", "https://")):
                out.append(str(u["expanded_url"]))
    return list(dict.fromkeys(out))


def _raw(tweet: dict[str, Any], user: dict[str, Any] | None) -> dict[str, Any]:
    """What the columns don't hold and the dashboard may want; small, since every mention stores it."""
    metrics = tweet.get("public_metrics")
    raw: dict[str, Any] = {"metrics": metrics if isinstance(metrics, dict) else None}
    if isinstance(tweet.get("referenced_tweets"), list) and tweet["referenced_tweets"]:
        raw["refs"] = tweet["referenced_tweets"]
    if tweet.get("in_reply_to_user_id"):
        raw["reply_to_user"] = tweet["in_reply_to_user_id"]
    if user is None:
        raw["author_missing"] = True  # the author expansion was absent (suspended or protected account)
    elif user.get("verified"):
        raw["verified"] = True
    return raw


def _created(value: Any, tid: str) -> datetime:
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass  # an unreadable time: the snowflake still dates the tweet
    # Snowflake ids carry their own timestamp, so a tweet without created_at still sorts right.
    return datetime.fromtimestamp(((int(tid) >> 22) + _TWEPOCH_MS) / 1000, tz=timezone.utc)


def _snowflake(value: Any) -> str | None:
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return text if text.isdigit() else None


def newest_id(payload: dict[str, Any]) -> str | None:
    """The newest tweet id read on the page, good items or bad: the cursor must move past all of them."""
    ids = [i for i in (_snowflake(as_dict(t).get("id")) for t in as_list(payload.get("data"))) if i]
    return max(ids, key=int) if ids else None


def _json(response: Any) -> dict[str, Any]:
    if isinstance(response, requests.Response):
        try:
            data = response.json()
        except ValueError as exc:
            raise TransientError("X sent a response that is not JSON.") from exc
    elif isinstance(response, dict):
        data = response
    else:  # a tweepy.Response, if someone hands in a client we could not switch to raw responses
        data = {"data": [getattr(t, "data", t) for t in response.data or []],
                "includes": {k: [getattr(o, "data", o) for o in v] for k, v in (response.includes or {}).items()},
                "errors": response.errors, "meta": response.meta}
    return data if isinstance(data, dict) else {}


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _body(exc: tweepy.HTTPException) -> dict[str, Any]:
    try:
        body = exc.response.json()
    except (ValueError, AttributeError):
        return {}
    return body if isinstance(body, dict) else {}


def _detail(exc: tweepy.HTTPException) -> str:
    body = _body(exc)
    msgs = list(exc.api_messages or [])
    for key in ("detail", "title", "reason"):
        if body.get(key) and str(body[key]) not in msgs:
            msgs.append(str(body[key]))
    return "; ".join(msgs) or f"HTTP {getattr(exc.response, 'status_code', '?')}"


def _about_cursor(exc: tweepy.HTTPException) -> bool:
    text = _detail(exc).lower() + str(_body(exc)).lower()
    return any(w in text for w in ("since_id", "next_token", "pagination_token", "pagination token"))


def _about_since(exc: tweepy.HTTPException) -> bool:
    return "since_id" in (_detail(exc).lower() + str(_body(exc)).lower())


def _denied(message: str) -> AccessDenied:
    return AccessDenied(message, source_wide=True)  # the plan covers every query of the source
