"""The `Source` protocol every collector implements, and the small dataclasses it speaks.

Collectors are leaves: they never import `careline`. The core maps `RawMention` to the `Mention` table.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

# Codes platforms send for "no language" (undetermined, no linguistic content, media-only, hashtag-only...)
_NO_LANGUAGE = {"und", "zxx", "qme", "qst", "qht", "qam", "qct", "mul", "art"}
_PRIMARY = re.compile(r"^[a-z]{2,3}$")


def normalise_language(value: Any) -> str | None:
    """A BCP-47 tag ("en-US-u-ca-gregory", "pt_BR", "EN") as its short primary subtag ("en", "pt").

    Everything downstream (the classifier's language check, filters, the 16-character column) wants the
    primary language only; a tag that has none (or none we can read) is stored as unknown.
    """
    if not isinstance(value, str):
        return None
    primary = value.strip().replace("_", "-").split("-", 1)[0].lower()
    if not _PRIMARY.match(primary) or primary in _NO_LANGUAGE:
        return None
    return primary


def _opt_str(value: Any) -> str | None:
    """An optional text field: numbers become their digits (an id or a name sent as a number is still that
    id or name); anything that is not text (a dict, a list) is dropped rather than stored as garbage."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return str(value) if not isinstance(value, float) or math.isfinite(value) else None
    if isinstance(value, str):
        return value or None
    return None


_MAX_COUNT = 2**31 - 1  # the column is a 32-bit integer on PostgreSQL; no account has more followers


def _opt_count(value: Any) -> int | None:
    """A follower count, or None when the platform sent something that is not one."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        value = int(value) if math.isfinite(value) else None
    elif isinstance(value, str):
        value = int(value.strip()) if value.strip().isdigit() and len(value.strip()) < 12 else None
    if isinstance(value, int) and 0 <= value <= _MAX_COUNT:
        return value
    return None


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
        """Coerce every field to its type here, once for every collector (a platform that sends a number
        where text belongs must not cost the page); what cannot be coerced raises ValueError, which the
        collectors' per-item screen turns into one skipped item with its reason."""
        ident = _opt_str(self.external_id)
        if not ident:
            raise ValueError(f"external id {self.external_id!r} is not an id")
        self.external_id = ident
        if self.text is None or isinstance(self.text, (int, float)) and not isinstance(self.text, bool):
            self.text = "" if self.text is None else str(self.text)
        if not isinstance(self.text, str):
            raise ValueError(f"text is a {type(self.text).__name__}, not text")
        if not isinstance(self.created_at, datetime):
            raise ValueError(f"created_at {self.created_at!r} is not a time")
        for name in ("url", "author_handle", "author_name", "author_id", "parent_id", "thread_id", "author_url"):
            setattr(self, name, _opt_str(getattr(self, name)))
        links = self.author_links if isinstance(self.author_links, (list, tuple)) else []
        self.author_links = [link for link in links if isinstance(link, str) and link]
        self.author_followers = _opt_count(self.author_followers)
        self.language = normalise_language(self.language)
        if not isinstance(self.raw, dict):
            self.raw = {"value": self.raw} if self.raw is not None else {}
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
    reads: int = 0  # posts the platform returned (and bills for, on X's pay-per-post plans)


@runtime_checkable
class Source(Protocol):
    name: str

    def fetch(self, query: Query, cursor: str | None) -> Batch: ...


class SourceError(Exception):
    """A collector failed; the message is one sentence a user can act on.

    `api_calls`: the platform calls the failure cost (counted on the run: they used up budget too).
    """

    api_calls: int = 1


class RateLimited(SourceError):
    def __init__(self, message: str, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class AuthFailed(SourceError):
    """Credentials are missing, invalid or expired: the source is unhealthy until fixed."""


class AccessDenied(SourceError):
    """The account's plan or permissions don't allow this call: pause the source, don't retry.

    `source_wide`: the refusal covers every query of the source (e.g. X's plan has no search at all), so
    the run stops instead of trying the next query."""

    def __init__(self, message: str, *, source_wide: bool = False) -> None:
        super().__init__(message)
        self.source_wide = source_wide
