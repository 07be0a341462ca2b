"""Per-platform length rules, checked before a reply is queued."""
from __future__ import annotations

import pytest

from careline import textlimits as t


@pytest.mark.parametrize("text, n", [
    ("hello", 5),
    ("see https://example.com/a/very/long/path?with=query", 4 + 23),
    ("two links http://a.co and www.acme.example", 10 + 23 + 5 + 23),
    ("日本語", 6),                       # CJK weighs 2
    ("café", 4),                          # Latin-1 weighs 1, NFC
    ("cafe\u0301", 4),                    # decomposed é normalises to one code point
    ("👍", 2), ("👨‍👩‍👧‍👦", 2), ("🇫🇷", 2),        # an emoji sequence weighs 2 in all
    ("“quotes” — dash…", 17),            # quotes and dash are light; the ellipsis U+2026 weighs 2
])
def test_x_weighted_length(text: str, n: int) -> None:
    assert t.x_weighted_length(text) == n


def test_bluesky_counts_graphemes_and_bytes() -> None:
    assert t.graphemes("👨‍👩‍👧‍👦🇫🇷é") == 3
    assert t.check("bluesky", "👍" * 300) is None
    assert "limit is 300" in (t.check("bluesky", "a" * 301) or "")


def test_mastodon_counts_urls_as_23_and_mentions_by_username() -> None:
    assert t.mastodon_length("@bob@mastodon.social hi https://example.com/" + "x" * 100) == len("@bob hi ") + 23
    assert t.check("mastodon", "a" * 495, reply_to_handle="bob@mastodon.social") is None  # "@bob " + 495 = 500
    assert "limit is 500" in (t.check("mastodon", "a" * 496, reply_to_handle="bob") or "")
    assert t.check("mastodon", "a" * 700, mastodon_limit=1000) is None
    assert t.posted_text("mastodon", "hi @Bob", "bob") == "hi @Bob"  # already mentioned


def test_messages_say_what_to_do() -> None:
    assert t.check("x", "a" * 280) is None
    msg = t.check("x", "a" * 290)
    assert msg == ("This reply is 290 weighted characters (URLs count as 23) as x counts them; "
                   "the limit is 280. Shorten it by 10.")
    assert t.check("reddit", "a" * 10_000) is None and t.check("reddit", "a" * 10_001)
