"""Per-platform text limits, checked before a reply is queued.

- X: 280 "weighted" characters (twitter-text v3): code points in the Latin/common-punctuation ranges
  weigh 1, everything else 2; an emoji sequence weighs 2 however many code points it has; every URL
  weighs 23 (t.co); text is NFC-normalised first.
- Bluesky: 300 graphemes (user-perceived characters, Unicode extended grapheme clusters via `regex`)
  and 3,000 UTF-8 bytes.
- Mastodon: the instance's limit (500 unless the instance says otherwise); URLs count as 23 and a
  mention `@user@domain` counts as `@user`.
"""
from __future__ import annotations

import unicodedata

import regex

X_LIMIT, URL_WEIGHT = 280, 23
X_URL_WEIGHT = URL_WEIGHT  # older name
BLUESKY_GRAPHEMES, BLUESKY_BYTES = 300, 3000
MASTODON_DEFAULT = 500
LIMITS = {"reddit": 10_000, "demo": 10_000}
# twitter-text v3 "weight 100" ranges; everything outside weighs 200 (i.e. counts twice)
_X_LIGHT = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
# URLs with a scheme, "www." ones, and bare domains on common TLDs (twitter-text links those too)
URL_RE = regex.compile(
    r"(?:https?://|www\.)[^\s<>\"]+|"
    r"\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|co|ly|app|dev|ai|me|info|biz|us|uk|de|fr|gl)"
    r"\b(?:/[^\s<>\"]*)?",
    regex.IGNORECASE,
)
_EMOJI_RE = regex.compile(r"\p{Extended_Pictographic}|\p{Regional_Indicator}")
_MASTODON_MENTION_RE = regex.compile(r"(@[a-z0-9_]+)@[a-z0-9.-]+\.[a-z]{2,}", regex.IGNORECASE)


def graphemes(text: str) -> int:
    """User-perceived characters (extended grapheme clusters): one flag, one family emoji, é = 1 each."""
    return len(regex.findall(r"\X", text))


def _x_weight(cluster: str) -> int:
    if _EMOJI_RE.search(cluster):
        return 2
    total = 0
    for ch in cluster:
        cp = ord(ch)
        total += 1 if any(lo <= cp <= hi for lo, hi in _X_LIGHT) else 2
    return total


def x_weighted_length(text: str) -> int:
    text = unicodedata.normalize("NFC", text)
    urls = URL_RE.findall(text)
    rest = URL_RE.sub("", text)
    return URL_WEIGHT * len(urls) + sum(_x_weight(c) for c in regex.findall(r"\X", rest))


def mastodon_length(text: str) -> int:
    text = _MASTODON_MENTION_RE.sub(r"\1", text)
    urls = URL_RE.findall(text)
    return URL_WEIGHT * len(urls) + len(URL_RE.sub("", text))


def length(platform: str, text: str) -> int:
    if platform == "x":
        return x_weighted_length(text)
    if platform == "bluesky":
        return graphemes(text)
    if platform == "mastodon":
        return mastodon_length(text)
    return len(text)


def limit(platform: str, mastodon_limit: int = MASTODON_DEFAULT) -> int:
    if platform == "x":
        return X_LIMIT
    if platform == "bluesky":
        return BLUESKY_GRAPHEMES
    if platform == "mastodon":
        return mastodon_limit
    return LIMITS.get(platform, 10_000)


def posted_text(platform: str, text: str, reply_to_handle: str | None = None) -> str:
    """The text as it will be posted: Mastodon replies start with the author's @handle so they notify."""
    if platform == "mastodon" and reply_to_handle:
        handle = "@" + reply_to_handle.lstrip("@")
        if handle.lower() not in text.lower():
            return f"{handle} {text}"
    return text


def measure(
    platform: str, text: str, mastodon_limit: int = MASTODON_DEFAULT, reply_to_handle: str | None = None
) -> tuple[int, int, str | None]:
    """(length of the text as posted and as the platform counts it, the limit, a sentence saying why it
    can't be posted or None). The composer's counter and the queue's check both come from here."""
    text = posted_text(platform, text, reply_to_handle)
    n, cap = length(platform, text), limit(platform, mastodon_limit)
    unit = {"x": "weighted characters (URLs count as 23)", "bluesky": "characters (graphemes)"}.get(
        platform, "characters"
    )
    if n > cap:
        return n, cap, (f"This reply is {n} {unit} as {platform} counts them; the limit is {cap}. "
                        f"Shorten it by {n - cap}.")
    if platform == "bluesky" and len(text.encode("utf-8")) > BLUESKY_BYTES:
        return n, cap, f"This reply is over Bluesky's {BLUESKY_BYTES}-byte limit; shorten it."
    return n, cap, None


def check(
    platform: str, text: str, mastodon_limit: int = MASTODON_DEFAULT, reply_to_handle: str | None = None
) -> str | None:
    """A sentence saying why this text is too long to post here, or None."""
    return measure(platform, text, mastodon_limit, reply_to_handle)[2]
