"""Replies on Reddit through praw: `comment.reply(text)` or `submission.reply(text)`.

Posting needs a "script" app and the brand account's username and password (scopes `submit` and
`read`). Reddit has no idempotency key; `find_existing_reply` reads the brand account's newest comments
for one whose parent is the target. praw returns None when Reddit created the reply but did not return
it (quarantined subreddits): the reply exists, so we look it up and otherwise record it without a link.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import praw
import prawcore
from praw.exceptions import RedditAPIException
from prawcore.sessions import FiniteRetryStrategy

from responders.base import OutcomeUnknown, PostedReply, RateLimited, ReplyError, ReplyRejected, ReplyTarget
from responders.keys import posted_since, same_text

log = logging.getLogger(__name__)
LOOKUP_LIMIT = 100

_REASONS = {
    "THREAD_LOCKED": "The thread is locked: nobody can reply to it.",
    "DELETED_COMMENT": "The comment being answered was deleted.",
    "DELETED_LINK": "The post being answered was deleted.",
    "TOO_OLD": "The post is archived (too old to reply to).",
    "SUBREDDIT_NOTALLOWED": "The brand account is not allowed to post in this subreddit.",
    "USER_BLOCKED": "The author has blocked the brand account.",
    "SOMETHING_IS_BROKEN": "Reddit could not post there (the thread may be removed).",
    "BANNED_FROM_SUBREDDIT": "The brand account is banned from this subreddit.",
    "NOT_WHITELISTED_BY_USER_MESSAGE": "The author does not accept replies from the brand account.",
}
_WAIT_RE = re.compile(r"(\d+)\s*(second|minute|hour)", re.IGNORECASE)


def _fullname(target: ReplyTarget) -> str:
    """Mentions store either the fullname (t1_/t3_) or the bare id with the kind in `raw`."""
    ext = target.external_id
    if ext.startswith(("t1_", "t3_")):
        return ext
    raw = target.raw or {}
    kind = str(raw.get("kind") or raw.get("type") or "")
    is_comment = kind in ("t1", "comment") or "body" in raw or "link_id" in raw
    return f"{'t1' if is_comment else 't3'}_{ext}"


def _wait_from(message: str) -> datetime:
    match = _WAIT_RE.search(message or "")
    seconds = 60
    if match:
        unit = match.group(2).lower()
        seconds = int(match.group(1)) * {"second": 1, "minute": 60, "hour": 3600}[unit]
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


class _NoRetry(FiniteRetryStrategy):
    def should_retry_on_failure(self) -> bool:
        return False


@contextmanager
def _single_attempt(reddit: praw.Reddit) -> Iterator[None]:
    """prawcore retries a request after a read timeout or a 5xx, which for a POST can post twice.

    For the reply itself we want one attempt and an honest "don't know" instead (the outbox then checks).
    This reaches into prawcore's session (`_retry_strategy_class`); if that ever changes we keep going
    with prawcore's retries rather than fail.
    """
    core = getattr(reddit, "_core", None)
    if core is None or not hasattr(core, "_retry_strategy_class"):
        yield
        return
    before = core._retry_strategy_class
    core._retry_strategy_class = _NoRetry
    try:
        yield
    finally:
        core._retry_strategy_class = before


class RedditResponder:
    platform = "reddit"

    def __init__(self, reddit: praw.Reddit, username: str | None = None) -> None:
        self.reddit = reddit
        self.username = username

    def _thing(self, fullname: str) -> Any:
        kind, _, rid = fullname.partition("_")
        return self.reddit.comment(id=rid) if kind == "t1" else self.reddit.submission(id=rid)

    def reply(self, target: ReplyTarget, text: str, idempotency_key: str) -> PostedReply:
        fullname = _fullname(target)
        try:
            thing = self._thing(fullname)
            with _single_attempt(self.reddit):
                created = thing.reply(text)
        except RedditAPIException as exc:
            item = exc.items[0] if exc.items else None
            kind = item.error_type if item else ""
            said = item.message if item else str(exc)
            if kind == "RATELIMIT":
                raise RateLimited(f"Reddit asks us to slow down: {said}", _wait_from(said or "")) from exc
            raise ReplyRejected(_REASONS.get(kind, f"Reddit refused the reply: {said} ({kind}).")) from exc
        except prawcore.TooManyRequests as exc:
            retry_at = None
            if exc.retry_after:
                retry_at = datetime.now(timezone.utc) + timedelta(seconds=float(exc.retry_after))
            raise RateLimited("Reddit rate limit reached (429).", retry_at) from exc
        except prawcore.Forbidden as exc:
            raise ReplyRejected("Reddit refused (403): the thread is locked, the brand account is banned "
                                "there, or the app lacks the submit scope.") from exc
        except prawcore.NotFound as exc:
            raise ReplyRejected("The post being answered no longer exists on Reddit.") from exc
        except (prawcore.OAuthException, prawcore.InvalidToken) as exc:
            raise ReplyRejected("Reddit rejected the credentials (check the client id/secret, "
                                "username and password of the script app).") from exc
        except prawcore.ServerError as exc:
            raise OutcomeUnknown(f"Reddit answered {exc.response.status_code} while posting.") from exc
        except prawcore.RequestException as exc:
            raise OutcomeUnknown(f"The connection to Reddit broke while posting "
                                 f"({type(exc.original_exception).__name__}).") from exc
        except prawcore.ResponseException as exc:
            raise ReplyRejected(f"Reddit refused the reply ({exc.response.status_code}).") from exc
        if created is None:
            return self._accepted_without_reply(target, idempotency_key, text)
        return self._posted(created)

    def _posted(self, comment: Any) -> PostedReply:
        data = vars(comment)
        permalink = data.get("permalink")
        created = data.get("created_utc")
        return PostedReply(
            platform_reply_id=f"t1_{comment.id}",
            url=f"https://www.reddit.com{permalink}" if permalink else None,
            posted_at=datetime.fromtimestamp(created, tz=timezone.utc) if created else datetime.now(timezone.utc),
        )

    def _accepted_without_reply(self, target: ReplyTarget, key: str, text: str | None = None) -> PostedReply:
        log.info("reddit accepted the reply to %s but returned no comment (quarantined subreddit?)",
                 target.external_id)
        try:
            found = self.find_existing_reply(target, key, text)
        except ReplyError:
            found = None
        return found or PostedReply(platform_reply_id=None, url=None, posted_at=datetime.now(timezone.utc))

    def _me(self) -> str:
        if not self.username:
            me = self.reddit.user.me()
            if me is None:
                raise OutcomeUnknown("Reddit is in read-only mode, so our own comments can't be listed.")
            self.username = me.name
        return self.username

    def find_existing_reply(self, target: ReplyTarget, idempotency_key: str,
                            text: str | None = None) -> PostedReply | None:
        """Our comment whose parent is the target, among our newest comments; None when surely absent."""
        fullname = _fullname(target)
        since = posted_since(idempotency_key)
        try:
            seen = 0
            for comment in self.reddit.redditor(self._me()).comments.new(limit=LOOKUP_LIMIT):
                seen += 1
                created = datetime.fromtimestamp(comment.created_utc, tz=timezone.utc)
                if since is not None and created < since:
                    return None  # newest first: everything after this is older than our reply
                if comment.parent_id == fullname and same_text(vars(comment).get("body"), text):
                    return self._posted(comment)
        except prawcore.TooManyRequests as exc:
            raise RateLimited("Reddit rate limit reached while checking for an earlier reply.") from exc
        except (prawcore.PrawcoreException, RedditAPIException) as exc:
            raise OutcomeUnknown(f"Could not list the brand's Reddit comments to check ({type(exc).__name__}).") from exc
        if since is None or seen >= LOOKUP_LIMIT:
            raise OutcomeUnknown("Could not rule out an earlier reply among the brand's recent Reddit comments.")
        return None
