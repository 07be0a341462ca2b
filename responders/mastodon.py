"""Replies on Mastodon through Mastodon.py `status_post(..., in_reply_to_id=..., idempotency_key=...)`.

Needs an access token with the `write:statuses` and `read:statuses` scopes from the brand's account on
the configured instance (Preferences → Development → New application). The server keeps an
idempotency key for about an hour: a repeated post with the same key returns the first status instead
of posting again. `find_existing_reply` also reads the target's thread (status context), where our own
replies always appear, so a check after that hour is still reliable.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from responders.base import OutcomeUnknown, PostedReply, RateLimited, ReplyError, ReplyRejected, ReplyTarget
from responders.keys import posted_since, same_text

log = logging.getLogger(__name__)


def _status_id(target: ReplyTarget) -> str:
    """The status id on our instance (collectors store it as external_id, or in raw for remote posts)."""
    raw = target.raw or {}
    return str(raw.get("local_id") or raw.get("id") or target.external_id)


def _said(exc: MastodonAPIError) -> tuple[int | None, str]:
    args = exc.args
    status = args[1] if len(args) > 1 and isinstance(args[1], int) else None
    message = str(args[3]) if len(args) > 3 and args[3] else (str(args[2]) if len(args) > 2 else str(exc))
    return status, message


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None


class MastodonResponder:
    platform = "mastodon"

    def __init__(self, api: Mastodon, *, mention_author: bool = True) -> None:
        self.api = api
        self.mention_author = mention_author
        self._me: str | None = None

    def _retry_at(self) -> datetime | None:
        reset = getattr(self.api, "ratelimit_reset", None)
        try:
            return datetime.fromtimestamp(float(reset), tz=timezone.utc) if reset else None
        except (TypeError, ValueError):
            return None

    def text_for(self, target: ReplyTarget, text: str) -> str:
        """A reply only notifies the author if it mentions them, as Mastodon's own client does."""
        handle = (target.author_handle or "").lstrip("@")
        if self.mention_author and handle and f"@{handle}".lower() not in text.lower():
            return f"@{handle} {text}"
        return text

    def reply(self, target: ReplyTarget, text: str, idempotency_key: str) -> PostedReply:
        visibility = (target.raw or {}).get("visibility")
        try:
            status = self.api.status_post(
                self.text_for(target, text), in_reply_to_id=_status_id(target), idempotency_key=idempotency_key,
                visibility=visibility if visibility in ("unlisted", "private") else None,
            )
        except MastodonRatelimitError as exc:
            raise RateLimited("Mastodon rate limit reached for posting.", self._retry_at()) from exc
        except MastodonNotFoundError as exc:
            raise ReplyRejected("The post being answered was deleted or isn't visible from this instance.") from exc
        except MastodonUnauthorizedError as exc:
            raise ReplyRejected("Mastodon rejected the access token (it needs the write:statuses scope).") from exc
        except MastodonServerError as exc:
            raise OutcomeUnknown(f"Mastodon answered {_said(exc)[0]} while posting.") from exc
        except MastodonAPIError as exc:
            status, message = _said(exc)
            if status == 403:
                raise ReplyRejected(f"Mastodon refused the reply (403): {message}") from exc
            raise ReplyRejected(f"Mastodon refused the reply: {message}") from exc
        except MastodonNetworkError as exc:
            raise OutcomeUnknown("The connection to Mastodon broke while posting.") from exc
        except MastodonError as exc:
            raise ReplyError(f"Mastodon.py could not post ({type(exc).__name__}).") from exc
        return PostedReply(platform_reply_id=str(status["id"]), url=status.get("url") or status.get("uri"),
                           posted_at=_when(status.get("created_at")) or datetime.now(timezone.utc))

    def max_characters(self) -> int | None:
        """The instance's post length limit, when it publishes one."""
        try:
            info = self.api.instance()
        except Exception:  # noqa: BLE001 - Mastodon.py's version probing can fail in odd ways; the limit is optional
            log.debug("could not read the instance's limits", exc_info=True)
            return None
        config = info.get("configuration") or {}
        statuses = config.get("statuses") or {}
        value = statuses.get("max_characters") or info.get("max_toot_chars")
        return int(value) if value else None

    def find_existing_reply(self, target: ReplyTarget, idempotency_key: str,
                            text: str | None = None) -> PostedReply | None:
        """Our reply in the target's thread (posted after the reply was queued); None when absent."""
        since = posted_since(idempotency_key)
        try:
            if self._me is None:
                self._me = str(self.api.account_verify_credentials()["id"])
            context = self.api.status_context(_status_id(target))
        except MastodonRatelimitError as exc:
            raise RateLimited("Mastodon rate limit reached while checking.", self._retry_at()) from exc
        except MastodonNotFoundError:
            return None  # the target is gone, so nothing can hang under it
        except MastodonError as exc:
            raise OutcomeUnknown(f"Could not read the thread on Mastodon to check ({type(exc).__name__}).") from exc
        for status in context.get("descendants") or []:
            if str(status["account"]["id"]) != self._me:
                continue
            if str(status.get("in_reply_to_id")) != _status_id(target):
                continue
            created = _when(status.get("created_at"))
            if since and created and created < since:
                continue
            if text is not None and not same_text(status.get("content"), self.text_for(target, text)):
                continue  # the brand's other reply in this thread (an earlier answer), not this one
            return PostedReply(platform_reply_id=str(status["id"]), url=status.get("url") or status.get("uri"),
                               posted_at=created)
        return None
