"""Comments under matched Reddit posts (collectors/reddit_comments.py): a real praw.Reddit against a recorded
thread served by `responses`; bounded depth and count, matched with the brand's rules."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import responses
from sqlmodel import Session, select

from careline.models import Mention
from careline.services.collection import collect
from collectors.base import Query
from collectors.reddit import RedditSource
from collectors.reddit_comments import MAX_DEPTH, options, walk
from tests.collectors.conftest import REDDIT_TOKEN, add_brand, payload, reddit_client

SEARCH_ALL = "https://oauth.reddit.com/r/all/search/"
THREAD = "https://oauth.reddit.com/comments/1gq0009"


def serve(http: responses.RequestsMock) -> None:
    http.add(responses.POST, REDDIT_TOKEN, json=payload("reddit_token.json"))
    http.add(responses.GET, SEARCH_ALL, json=payload("reddit_search_one.json"))
    http.add(responses.GET, THREAD, json=payload("reddit_thread.json"))


def stored(engine) -> dict[str, Mention]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return {m.external_id: m for m in session.exec(select(Mention))}


def test_matched_comments_under_a_found_post_are_stored_within_the_depth(engine, http, sdk_sleeps) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine, exclusions=("air fryer",))
    serve(http)
    summary = collect(engine, RedditSource(reddit_client()))
    assert summary.errors == []
    rows = stored(engine)
    # the post, the top comment naming the brand, the third-level one, and the @handle one; not the
    # unmatched reply, the deleted one, the excluded air fryer, nor the fourth level (depth 3)
    assert set(rows) == {"t3_1gq0009", "t1_c1", "t1_c3", "t1_c7"}
    assert rows["t1_c1"].thread_id == "t3_1gq0009" and rows["t1_c1"].parent_id == "t3_1gq0009"
    call = next(c for c in http.calls if c.request.url.startswith(THREAD))
    assert {k: v[0] for k, v in parse_qs(urlparse(call.request.url).query).items()} == {
        "depth": "3", "limit": "100", "sort": "new", "raw_json": "1"}
    assert summary.api_calls == 2  # the search page and one thread


def test_all_mode_keeps_every_readable_comment_and_off_reads_none(engine, http, sdk_sleeps) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine, options={"reddit": {"comments": "all", "comment_depth": "9"}})
    serve(http)
    collect(engine, RedditSource(reddit_client()))
    assert {k for k in stored(engine) if k.startswith("t1_")} == {"t1_c1", "t1_c2", "t1_c3", "t1_c4", "t1_c6",
                                                                  "t1_c7"}


def test_comments_off(engine, http, sdk_sleeps) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine, options={"reddit": {"comments": "0"}})
    serve(http)
    collect(engine, RedditSource(reddit_client()))
    assert set(stored(engine)) == {"t3_1gq0009"}
    assert not any(c.request.url.startswith(THREAD) for c in http.calls)


def test_a_thread_that_cannot_be_read_costs_only_its_comments(engine, http, sdk_sleeps) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    http.add(responses.POST, REDDIT_TOKEN, json=payload("reddit_token.json"))
    http.add(responses.GET, SEARCH_ALL, json=payload("reddit_search_one.json"))
    http.add(responses.GET, THREAD, status=404, json={"message": "Not Found"})
    summary = collect(engine, RedditSource(reddit_client()))
    assert summary.errors == [] and set(stored(engine)) == {"t3_1gq0009"} and summary.skipped == 1


def test_options_are_bounded_and_walk_never_raises() -> None:
    q = Query(brand="A", options=(("comment_depth", "99"), ("comment_limit", "x"), ("comment_posts", "-4")))
    assert options(q) == ("matched", 1, MAX_DEPTH, 100)
    for tree in (None, [], [{}], [{}, "x"], [{}, {"data": {"children": [None, {"kind": "t1"}]}}]):
        assert walk(tree, 3) == []
