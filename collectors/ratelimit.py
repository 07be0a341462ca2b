"""Rate-limit headers, retry timing and the transient-error type shared by every collector.

Platforms say when a window resets in different ways (X: epoch seconds in `x-rate-limit-reset`;
Reddit: seconds until reset in `x-ratelimit-reset`; Bluesky: epoch in `ratelimit-reset`; anyone may send
`Retry-After`). These helpers turn them into one `RateLimit` and one `retry_at`, so the collection loop
can wait (briefly) or pause (until the reset) without knowing which platform it talks to.
"""
from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from collectors.base import RateLimit, SourceError

DEFAULT_PAUSE = timedelta(minutes=15)  # X's window; a safe guess when a 429 says nothing


class TransientError(SourceError):
    """A network error or a 5xx: worth a few retries with backoff, not a pause or an unhealthy mark."""


def _get(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:  # plain dicts are case-sensitive; requests' and httpx's headers are not
        lower = name.lower()
        for key, val in headers.items():
            if key.lower() == lower:
                return val
    return value


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def _epoch(value: str | None) -> datetime | None:
    seconds = _int(value)
    if seconds is None or seconds <= 0:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def retry_after(headers: Mapping[str, str] | None, now: datetime | None = None) -> datetime | None:
    """`Retry-After` as an absolute time (it may be seconds or an HTTP date)."""
    value = _get(headers, "retry-after")
    if not value:
        return None
    now = now or datetime.now(timezone.utc)
    try:
        return now + timedelta(seconds=max(0.0, float(value)))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def from_x_headers(headers: Mapping[str, str] | None) -> RateLimit | None:
    """X: `x-rate-limit-limit`, `-remaining` and `-reset` (epoch seconds) per endpoint and 15-minute window."""
    remaining = _int(_get(headers, "x-rate-limit-remaining"))
    if remaining is None:
        return None
    return RateLimit(remaining=remaining, limit=_int(_get(headers, "x-rate-limit-limit")),
                     reset_at=_epoch(_get(headers, "x-rate-limit-reset")))


def from_reddit_headers(headers: Mapping[str, str] | None, now: datetime | None = None) -> RateLimit | None:
    """Reddit: `x-ratelimit-remaining` (a float), `-used`, and `-reset` in seconds from now."""
    remaining = _int(_get(headers, "x-ratelimit-remaining"))
    if remaining is None:
        return None
    used = _int(_get(headers, "x-ratelimit-used"))
    reset = _int(_get(headers, "x-ratelimit-reset"))
    now = now or datetime.now(timezone.utc)
    return RateLimit(remaining=remaining, limit=(remaining + used) if used is not None else None,
                     reset_at=now + timedelta(seconds=reset) if reset is not None else None)


def from_ietf_headers(headers: Mapping[str, str] | None) -> RateLimit | None:
    """Bluesky and others: `ratelimit-limit`, `ratelimit-remaining`, `ratelimit-reset` (epoch seconds)."""
    remaining = _int(_get(headers, "ratelimit-remaining"))
    if remaining is None:
        return None
    return RateLimit(remaining=remaining, limit=_int(_get(headers, "ratelimit-limit")),
                     reset_at=_epoch(_get(headers, "ratelimit-reset")))


def backoff_delay(attempt: int, base: float = 2.0, cap: float = 60.0, rng: random.Random | None = None) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, so retries never line up."""
    ceiling = min(cap, base * (2 ** max(0, attempt)))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def wait_until(retry_at: datetime, now: datetime | None = None, rng: random.Random | None = None) -> float:
    """Seconds to sleep until a reset time, plus up to a second or 10% of jitter (many workers, one reset)."""
    now = now or datetime.now(timezone.utc)
    seconds = max(0.0, (retry_at - now).total_seconds())
    return seconds + (rng or random).uniform(0.05, max(1.0, seconds * 0.1))
