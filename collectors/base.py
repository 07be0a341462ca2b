"""The `Source` protocol every collector implements, and the small dataclasses it speaks.

Collectors are leaves: they never import `careline`. The core maps `RawMention` to the `Mention` table.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Query:
    """What to look for on one platform for one brand.

    `key` is stable across runs and names the cursor, so that a brand's queries keep their place.
    """

    brand: str
    terms: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()
    key: str = ""
    options: tuple[tuple[str, str], ...] = ()  # platform-specific, e.g. (("subreddits", "a+b"),)

    def option(self, name: str, default: str | None = None) -> str | None:
        return dict(self.options).get(name, default)


@dataclass
class RawMention:
    platform: str
    external_id: str
    text: str
    created_at: datetime
    url: str | None = None
    author_handle: str | None = None
    author_name: str | None = None
    author_followers: int | None = None
    author_id: str | None = None
    # The author's profile page and the links it lists (website, profile fields), where the API sends them;
    # `author_verified_links` are the ones the platform itself verified (Mastodon rel="me" fields).
    author_url: str | None = None
    author_links: list[str] = field(default_factory=list)
    author_verified_links: list[str] = field(default_factory=list)
    language: str | None = None
    parent_id: str | None = None
    thread_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.created_at.tzinfo is None:
            self.created_at = self.created_at.replace(tzinfo=timezone.utc)
        else:
            self.created_at = self.created_at.astimezone(timezone.utc)


@dataclass
class RateLimit:
    remaining: int | None = None
    limit: int | None = None
    reset_at: datetime | None = None


@dataclass
class Batch:
    """One page of results.

    `cursor` is what to store once this batch is committed; `has_more` says another page is ready now.
    """

    mentions: list[RawMention]
    cursor: str | None = None
    has_more: bool = False
    rate_limit: RateLimit | None = None
    skipped: list[str] = field(default_factory=list)  # one reason per malformed item left out
    api_calls: int = 1


@runtime_checkable
class Source(Protocol):
    name: str

    def fetch(self, query: Query, cursor: str | None) -> Batch: ...


class SourceError(Exception):
    """A collector failed; the message is one sentence a user can act on."""


class RateLimited(SourceError):
    def __init__(self, message: str, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class AuthFailed(SourceError):
    """Credentials are missing, invalid or expired: the source is unhealthy until fixed."""


class AccessDenied(SourceError):
    """The account's plan or permissions don't allow this call: pause the source, don't retry."""
