"""The keys identities are matched by: a handle, a display name and a profile URL, normalised.

Below customer_counts.py (new identities get their handle key at once) and customer_links.py (the link
job keys every identity and matches in SQL), so neither imports the other for them.
"""
from __future__ import annotations

from urllib.parse import urlsplit

_HOST_ALIASES = {"twitter.com": "x.com", "mobile.twitter.com": "x.com", "old.reddit.com": "reddit.com"}


def handle_key(platform: str, handle: str) -> str:
    h = handle.strip().lstrip("@").lower()
    if platform == "mastodon":
        h = h.split("@", 1)[0]
    elif platform == "bluesky" and h.endswith(".bsky.social"):
        h = h[: -len(".bsky.social")]
    return h[:200]


def name_key(name: str | None) -> str | None:
    words = "".join(ch for ch in (name or "").casefold() if ch.isalnum() or ch.isspace()).split()
    key = " ".join(words)
    return key[:200] if len(key) >= 3 else None


def url_key(url: str | None) -> str | None:
    """host/path in lower case, without scheme, www., query or trailing slash; twitter.com counts as x.com."""
    if not url:
        return None
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    for prefix in ("www.", "m."):
        if host.startswith(prefix):
            host = host[len(prefix):]
    host = _HOST_ALIASES.get(host, host)
    if not host or "." not in host:
        return None
    path = parts.path.rstrip("/").lower()
    if host == "reddit.com" and path.startswith("/u/"):
        path = "/user/" + path[3:]
    query = f"?{parts.query.lower()}" if host == "news.ycombinator.com" and parts.query else ""
    return (host + path + query)[:300]
