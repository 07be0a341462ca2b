"""Query building, multi-part cursors, HTML to text and rate-limit header parsing."""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import pytest

from collectors.base import Query
from collectors.cursors import MultiCursor
from collectors.markup import html_to_text
from collectors.querybuild import QueryTooLong, pack, quote, reddit_queries, search_terms, x_queries
from collectors.ratelimit import backoff_delay, from_reddit_headers, from_x_headers, retry_after, wait_until


def test_quote_and_x_query_shape() -> None:
    assert quote("acmeair") == "acmeair" and quote("acme air") == '"acme air"' and quote('a "b" c') == '"a b c"'
    q = Query(brand="Acme Air", terms=("acme air", "AcmeAir", "acmeair"), handles=("@AcmeAir",),
              exclusions=("acme air fryer",), options=(("lang", "en"),))
    assert x_queries(q) == ['("acme air" OR AcmeAir OR @AcmeAir) -"acme air fryer" -from:AcmeAir -is:retweet lang:en']
    assert reddit_queries(q) == ['("acme air" OR AcmeAir) NOT "acme air fryer"']
    assert search_terms(Query(brand="Skyhop")) == ["Skyhop"]


def test_one_keyword_that_cannot_fit_is_a_clear_error() -> None:
    with pytest.raises(QueryTooLong, match="limit is 512"):
        x_queries(Query(brand="A", terms=("x" * 600,)))
    with pytest.raises(QueryTooLong):
        x_queries(Query(brand="A", terms=("a",), options=(("query", "q" * 513),)))
    assert x_queries(Query(brand="A", terms=("a",), options=(("query", "from:me"),))) == ["from:me"]
    assert pack(["a", "b", "c"], "-z", 12) == ["(a OR b) -z", "c -z"]


def test_cursor_survives_garbage_legacy_values_and_keyword_edits() -> None:
    assert MultiCursor.load("{not json", ["a"]).parts["a"].hw is None
    assert MultiCursor.load("1862000000000000105", ["a"], legacy_key="a").parts["a"].hw == "1862000000000000105"
    cur = MultiCursor.load(None, ["a", "b"])
    assert cur.current() == "a"
    assert cur.page_done("a", newest="10", next_token="t1") is True
    assert cur.page_done("a", newest="8", next_token=None) is True  # on to part b, a's hw is the pass's newest
    assert cur.parts["a"].hw == "10" and cur.at == "b"
    assert cur.page_done("b", newest="5", next_token=None) is False and cur.at is None
    edited = MultiCursor.load(cur.dump(), ["a", "c"])  # "b" was a keyword since removed
    assert set(json.loads(edited.dump())["p"]) == {"a", "c"} and edited.parts["a"].hw == "10"


def test_html_to_text_keeps_words_and_breaks_only() -> None:
    assert html_to_text("<p>Hi &amp; <b>bye</b><br>next</p><p>para</p>") == "Hi & bye\nnext\n\npara"
    assert html_to_text('<p>x<script>alert(1)</script><style>p{}</style> y</p>') == "x y"
    assert html_to_text("plain &lt;b&gt;") == "plain <b>" and html_to_text(None) == ""


def test_rate_limit_headers_and_waits() -> None:
    now = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    x = from_x_headers({"x-rate-limit-limit": "450", "x-rate-limit-remaining": "3", "x-rate-limit-reset": "1763640000"})
    assert x is not None and (x.limit, x.remaining) == (450, 3) and x.reset_at is not None
    r = from_reddit_headers({"X-Ratelimit-Remaining": "41.0", "X-Ratelimit-Used": "59", "X-Ratelimit-Reset": "120"}, now)
    assert r is not None and (r.remaining, r.limit, r.reset_at) == (41, 100, now + timedelta(seconds=120))
    assert retry_after({"Retry-After": "4"}, now) == now + timedelta(seconds=4)
    assert retry_after({"retry-after": "Fri, 20 Nov 2026 12:01:00 GMT"}, now) == now + timedelta(minutes=1)
    assert from_x_headers({}) is None and retry_after(None) is None
    rng = random.Random(1)
    delays = [backoff_delay(i, 2.0, 60.0, rng) for i in range(8)]
    assert 1 <= delays[0] <= 2 and 2 <= delays[1] <= 4 and all(30 <= d <= 60 for d in delays[5:])
    assert 10 < wait_until(now + timedelta(seconds=10), now, rng) <= 11
