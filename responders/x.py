"""Replies on X through tweepy's v2 `Client.create_tweet(text=..., in_reply_to_tweet_id=...)`.

Posting needs user context: OAuth 1.0a with the app's consumer key/secret and the brand account's access
token/secret, generated with "Read and write" permission. X offers no idempotency key, so after a crash
`find_existing_reply` reads our own timeline (GET /2/users/:id/tweets, from the time the reply was
queued) for a tweet that answers the target; plans that cannot read timelines make the outcome unknown.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

import requests
import tweepy

from responders.base import OutcomeUnknown, PostedReply, RateLimited, ReplyError, ReplyRejected, ReplyTarget
from responders.keys import posted_since, same_text

log = logging.getLogger(__name__)
# tweepy's client logs every request's headers, Authorization included, at DEBUG: never let it.
logging.getLogger("tweepy.client").setLevel(max(logging.INFO, logging.getLogger("tweepy.client").level))
LOOKUP_PAGES = 5
TIMEOUT = 30  # seconds; tweepy sets none, and the outbox lease (5 min) must outlast any one request


class TimeoutSession(requests.Session):
    """The session to give a posting tweepy.Client (careline/factory.py does): every request gets TIMEOUT."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", TIMEOUT)
        return super().request(*args, **kwargs)

# X's own messages, in the words we show an agent (matched case-insensitively, first hit wins)
_REASONS = (
    ("duplicate content", "X refused it as a duplicate: this account already posted exactly this text."),
    ("deleted or not visible", "The post being answered was deleted or is not visible to the brand account."),
    ("not permitted to reply", "The author limits who can reply to this post."),
    ("reply to this conversation", "The author limits who can reply to this post."),
    ("oauth1 app permissions", "The X app has read-only access: set it to Read and write and regenerate "
                               "the access token."),
    ("suspended", "The brand's X account is suspended."),
    ("locked", "The brand's X account is temporarily locked; unlock it on x.com."),
    ("client-not-enrolled", "The X app is not attached to a project with API access."),
)


def _message(exc: tweepy.HTTPException) -> str:
    return "; ".join(str(m) for m in exc.api_messages if m) or str(exc).splitlines()[0]


def _plain(exc: tweepy.HTTPException) -> str:
    said = _message(exc)
    for needle, words in _REASONS:
        if needle in said.lower():
            return words
    if isinstance(exc, tweepy.Unauthorized):
        return "X rejected the credentials (check the X consumer key/secret and access token/secret)."
    if isinstance(exc, tweepy.NotFound):
        return "The post being answered no longer exists."
    return f"X refused the reply ({exc.response.status_code}): {said}"


def _reset_at(exc: tweepy.TooManyRequests) -> datetime | None:
    reset = getattr(exc, "reset_time", None) or exc.response.headers.get("x-rate-limit-reset")
    try:
        return datetime.fromtimestamp(int(reset), tz=timezone.utc) if reset else None
    except (TypeError, ValueError):
        return None


class XResponder:
    platform = "x"

    def __init__(self, client: tweepy.Client) -> None:
        self.client = client
        self._me: str | None = None

    def reply(self, target: ReplyTarget, text: str, idempotency_key: str) -> PostedReply:
        try:
            resp = self.client.create_tweet(text=text, in_reply_to_tweet_id=target.external_id, user_auth=True)
        except tweepy.TooManyRequests as exc:
            raise RateLimited("X rate limit reached for posting.", _reset_at(exc)) from exc
        except tweepy.TwitterServerError as exc:
            # A 5xx on a POST may come after the tweet was created: check before any retry.
            raise OutcomeUnknown(f"X answered {exc.response.status_code} while posting.") from exc
        except tweepy.HTTPException as exc:
            raise ReplyRejected(_plain(exc)) from exc
        except requests.exceptions.ConnectionError as exc:
            if isinstance(exc, requests.exceptions.ConnectTimeout):
                raise ReplyError("Could not reach X (connection timed out); nothing was sent.") from exc
            raise OutcomeUnknown(f"The connection to X broke while posting ({type(exc).__name__}).") from exc
        except requests.exceptions.Timeout as exc:
            raise OutcomeUnknown("X did not answer in time while posting.") from exc
        data = resp.data or {}
        tweet_id = str(data.get("id") or "")
        if not tweet_id:
            raise OutcomeUnknown("X accepted the request but returned no post id.")
        return PostedReply(platform_reply_id=tweet_id, url=f"https://x.com/i/web/status/{tweet_id}",
                           posted_at=datetime.now(timezone.utc))

    def like(self, target: ReplyTarget) -> None:
        """Like the target post (used when thanking an advocate, if enabled)."""
        try:
            self.client.like(target.external_id, user_auth=True)
        except tweepy.TooManyRequests as exc:
            raise RateLimited("X rate limit reached for likes.", _reset_at(exc)) from exc
        except tweepy.HTTPException as exc:
            raise ReplyRejected(_plain(exc)) from exc
        except requests.exceptions.RequestException as exc:
            raise ReplyError(f"Could not reach X to like the post ({type(exc).__name__}).") from exc

    def _my_id(self) -> str:
        if self._me is None:
            me = self.client.get_me(user_auth=True)
            self._me = str(me.data["id"] if isinstance(me.data, dict) else me.data.id)
        return self._me

    def find_existing_reply(self, target: ReplyTarget, idempotency_key: str,
                            text: str | None = None) -> PostedReply | None:
        """Our tweet replying to the target since the reply was queued; None when surely absent.

        Raises OutcomeUnknown when the timeline can't be read (plan without read access, errors) or is
        longer than we page through.
        """
        since = posted_since(idempotency_key)
        token: str | None = None
        try:
            me = self._my_id()
            for _ in range(LOOKUP_PAGES):
                resp = self.client.get_users_tweets(
                    me, max_results=100, pagination_token=token, start_time=since,
                    tweet_fields=["referenced_tweets", "created_at", "text"], user_auth=True,
                )
                for tweet in resp.data or []:
                    for ref in tweet.referenced_tweets or []:
                        ref_type = ref["type"] if isinstance(ref, dict) else ref.type
                        ref_id = ref["id"] if isinstance(ref, dict) else ref.id
                        if (ref_type == "replied_to" and str(ref_id) == str(target.external_id)
                                and same_text(getattr(tweet, "text", None), text)):
                            return PostedReply(platform_reply_id=str(tweet.id),
                                               url=f"https://x.com/i/web/status/{tweet.id}",
                                               posted_at=tweet.created_at)
                token = (resp.meta or {}).get("next_token")
                if not token:
                    break
            else:
                raise OutcomeUnknown("Too many recent posts on the brand's X timeline to check them all.")
            if since is None:
                raise OutcomeUnknown("This reply has no queue time, so X's timeline can't be checked reliably.")
            return None
        except tweepy.TooManyRequests as exc:
            raise RateLimited("X rate limit reached while checking for an earlier reply.", _reset_at(exc)) from exc
        except tweepy.HTTPException as exc:
            raise OutcomeUnknown(f"Could not read the brand's X timeline to check: {_plain(exc)}") from exc
        except requests.exceptions.RequestException as exc:
            raise OutcomeUnknown(f"Could not reach X to check for an earlier reply ({type(exc).__name__}).") from exc
