"""Idempotency keys shared by the responders: made by the core, read back by the platform modules.

A key is a UUIDv7 in hex (32 characters): its first 48 bits are the Unix time in milliseconds when the
reply was queued. That lets a responder ask "did we post a reply to this post *after* this reply was
queued?" (so an older manual reply by the brand is not mistaken for ours), and lets the Bluesky
responder derive a stable record key from it.
"""
from __future__ import annotations

import html
import re
import secrets
from datetime import datetime, timedelta, timezone

# Platform clocks and ours disagree a little; a reply posted this long before the key's time still counts.
CLOCK_SLACK = timedelta(minutes=2)
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_EARLIEST = datetime(2020, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)


def new_key(now: datetime | None = None) -> str:
    """A UUIDv7 as 32 hex digits (time-ordered, 74 random bits)."""
    now = now or datetime.now(timezone.utc)
    ms = int(now.timestamp() * 1000) & ((1 << 48) - 1)
    rand_a = secrets.randbits(12)
    rand_b = secrets.randbits(62)
    value = (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return f"{value:032x}"


def key_time(key: str) -> datetime | None:
    """When the key was made, or None for keys that are not UUIDv7 hex (older rows, hand-made keys)."""
    if len(key) != 32 or key[12] != "7":
        return None
    try:
        ms = int(key[:12], 16)
    except ValueError:
        return None
    at = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return at if _EARLIEST <= at <= _LATEST else None


def posted_since(key: str) -> datetime | None:
    """The earliest creation time a reply made for this key can have (None: unknown)."""
    at = key_time(key)
    return at - CLOCK_SLACK if at else None


def tid_for_key(key: str) -> str | None:
    """A valid AT Protocol TID (13 chars) that depends only on the key, or None if the key has no time.

    TID layout: 1 zero bit, 53 bits of microseconds since the epoch, 10 bits of clock id, base32-sortable.
    """
    at = key_time(key)
    if at is None:
        return None
    ms = int(key[:12], 16)
    micros = ms * 1000 + int(key[13:16], 16) % 1000
    clock_id = int(key[-3:], 16) & 0x3FF
    value = ((micros & ((1 << 53) - 1)) << 10) | clock_id
    chars = []
    for _ in range(13):
        chars.append(_TID_ALPHABET[value & 0x1F])
        value >>= 5
    return "".join(reversed(chars))


_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"(?i)<br\s*/?>|</p>\s*<p[^>]*>")
_LEADING_MENTIONS = re.compile(r"^(?:@[\w.@-]+\s+)+")
_URL = re.compile(r"https?://\S+")
_SPACE = re.compile(r"\s+")


def comparable(text: str | None) -> str:
    """A posted text reduced to what the platform cannot have changed: HTML (Mastodon) and entities
    unescaped, the leading @mentions a platform or a responder adds dropped, links (X shortens them to
    t.co) reduced to a marker, whitespace collapsed."""
    if not text:
        return ""
    value = _BREAK.sub(" ", text) if "<" in text else text
    value = html.unescape(_TAG.sub("", value))
    value = _LEADING_MENTIONS.sub("", value.strip())
    value = _URL.sub("<link>", value)
    return _SPACE.sub(" ", value).strip()


def same_text(posted: str | None, ours: str | None) -> bool:
    """Whether a post found on the platform is the reply we are recovering (not an earlier one of ours).

    Recovery must recognise only its own reply: the brand's earlier reply to the same post (a first
    answer, before a confirmed follow-up) has other text. With no text to compare (`ours` None), the
    caller falls back on the key's time alone.
    """
    if ours is None:
        return True
    return bool(posted is not None) and comparable(posted) == comparable(ours)
