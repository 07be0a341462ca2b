"""Per-platform text limits, checked before a reply is queued."""
from __future__ import annotations

import re
import unicodedata

URL_RE = re.compile(r"https?://\S+", re.IGNORECASE)
X_LIMIT, X_URL_WEIGHT = 280, 23
LIMITS = {"bluesky": 300, "mastodon": 500, "reddit": 10_000, "hackernews": 0, "demo": 10_000}


def x_weighted_length(text: str) -> int:
    """X counts most CJK/emoji as 2 and every URL as 23 (twitter-text's weighting, simplified)."""
    total = 0
    rest = URL_RE.sub("", text)
    total += X_URL_WEIGHT * len(URL_RE.findall(text))
    for ch in unicodedata.normalize("NFC", rest):
        cp = ord(ch)
        light = cp <= 0x10FF or 0x2000 <= cp <= 0x200D or 0x2010 <= cp <= 0x201F or 0x2032 <= cp <= 0x2037
        total += 1 if light else 2
    return total


def graphemes(text: str) -> int:
    """Approximate grapheme count: combining marks and joiners don't start a new grapheme."""
    count = 0
    prev_zwj = False
    for ch in text:
        if unicodedata.combining(ch) or ch in "\u200d\ufe0f" or 0x1F3FB <= ord(ch) <= 0x1F3FF:
            prev_zwj = ch == "\u200d"
            continue
        if prev_zwj:
            prev_zwj = False
            continue
        count += 1
    return count


def length(platform: str, text: str) -> int:
    if platform == "x":
        return x_weighted_length(text)
    if platform == "bluesky":
        return graphemes(text)
    return len(text)


def limit(platform: str, mastodon_limit: int = 500) -> int:
    if platform == "x":
        return X_LIMIT
    if platform == "mastodon":
        return mastodon_limit
    return LIMITS.get(platform, 10_000)


def check(platform: str, text: str, mastodon_limit: int = 500) -> str | None:
    """A sentence saying why this text can't be posted here, or None."""
    if platform == "hackernews":
        return "Hacker News has no reply API; answer on the site and mark the mention replied."
    n, cap = length(platform, text), limit(platform, mastodon_limit)
    if n > cap:
        return f"This reply is {n} characters as {platform} counts them; the limit is {cap}."
    return None
