"""The `Responder` protocol and its dataclasses. A leaf: never imports `careline`."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class ReplyTarget:
    platform: str
    external_id: str
    url: str | None = None
    author_handle: str | None = None
    thread_id: str | None = None
    parent_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class PostedReply:
    platform_reply_id: str | None
    url: str | None = None
    posted_at: datetime | None = None
    dry_run: bool = False


@runtime_checkable
class Responder(Protocol):
    platform: str

    def reply(self, target: ReplyTarget, text: str, idempotency_key: str) -> PostedReply: ...

    def find_existing_reply(self, target: ReplyTarget, idempotency_key: str,
                            text: str | None = None) -> PostedReply | None:
        """Our post for this key (or, where the platform keeps no key, with exactly this `text`), or None
        when surely absent; raises OutcomeUnknown when it cannot tell. Never any other reply of ours."""
        ...


class ReplyError(Exception):
    """Posting failed; the message is one plain sentence (the platform's reason)."""


class ReplyRejected(ReplyError):
    """Permanent: the platform refused (no permission, deleted/locked target, duplicate...). Never retried."""


class RateLimited(ReplyError):
    def __init__(self, message: str, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class OutcomeUnknown(ReplyError):
    """The platform may or may not have accepted the post: a human must check before any retry."""
