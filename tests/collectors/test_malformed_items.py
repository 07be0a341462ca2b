"""One malformed item costs only itself: every platform parser, through the real SDK clients where they parse.

Each case is a shape a platform (or a proxy in front of it) has really sent or could send: numbers where
text belongs, a string where an object belongs, nulls, unknown kinds. The good items of the page are
stored, the bad ones reported with a reason, and the cursor moves past everything read.
"""
from __future__ import annotations

import json
from datetime import UTC

import pytest
import responses
from sqlmodel import Session, select

from careline.models import CollectorRun, Mention, SourceState
from careline.services.collection import collect
from careline.services.ingest import ingest
from collectors.base import RawMention, normalise_language
from collectors.bluesky import parse_page as bsky_page
from collectors.cursors import MultiCursor, later
from collectors.hackernews import parse_hits
from collectors.mastodon import parse_statuses
from collectors.reddit import RedditSource
from collectors.reddit_parse import parse_listing
from collectors.x import XSource, parse_page
from tests.collectors.conftest import REDDIT_TOKEN, X_SEARCH, add_brand, payload, reddit_client, x_client
from tests.conftest import make_raw

GOOD_X = {"id": "1862000000000000401", "text": "acme air lost my bag", "author_id": "101",
          "created_at": "2026-11-20T11:00:00.000Z", "lang": "en"}


def _rows(engine) -> dict[str, Mention]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return {m.external_id: m for m in s.exec(select(Mention))}


@pytest.mark.parametrize("bad, stored_as", [
    ({"id": "1862000000000000402", "text": 12345, "created_at": "2026-11-20T11:01:00.000Z"}, "12345"),
    ({"id": "1862000000000000402", "text": {"nested": "object"}, "created_at": "2026-11-20T11:01:00.000Z"}, None),
    ({"id": "1862000000000000402", "text": "acme air", "public_metrics": "n/a", "note_tweet": "x",
      "referenced_tweets": "replied_to", "created_at": 7}, "acme air"),
    ("a tweet that is a string", None),
    (["a", "list"], None),
])
def test_x_bad_tweet_costs_only_itself(engine, http, bad, stored_as) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    page = {"data": [bad, GOOD_X], "includes": {"users": [{"id": "101", "username": 987654, "name": None,
                                                          "public_metrics": "lots"}]},
            "meta": {"newest_id": "1862000000000000402"}}
    http.add(responses.GET, X_SEARCH, json=page)
    summary = collect(engine, XSource(x_client()))
    assert summary.errors == []
    rows = _rows(engine)
    good = rows["1862000000000000401"]
    assert good.author_handle == "987654" and good.author_followers is None  # a numeric username is a name
    assert ("1862000000000000402" in rows) == (stored_as is not None)
    if stored_as is not None:
        assert rows["1862000000000000402"].text == stored_as
    else:
        assert summary.skipped == 1
    with Session(engine) as s:
        cursor = json.loads(s.exec(select(SourceState)).one().cursor)  # type: ignore[arg-type]
    assert "1862000000000000402" in json.dumps(cursor)  # the mark moved past what was read


def test_x_includes_as_a_list_keeps_the_page(engine, http) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    http.add(responses.GET, X_SEARCH, json={"data": [GOOD_X], "includes": [{"users": []}], "meta": "?"})
    summary = collect(engine, XSource(x_client()))
    assert summary.errors == [] and summary.new == 1
    assert _rows(engine)["1862000000000000401"].author_handle is None


def test_x_page_shapes_never_raise() -> None:
    for shape in (None, [], "text", {"data": "x"}, {"data": {"id": 1}}, {"errors": "x"}, {"includes": {"users": 3}}):
        mentions, _ = parse_page(shape)
        assert mentions == []


def _listing(children: list[object]) -> dict[str, object]:
    return {"kind": "Listing", "data": {"after": None, "children": children}}


def test_reddit_bad_children_cost_only_themselves(engine, http, sdk_sleeps) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine, options={"reddit": {"comments": "0"}})  # comments under posts: tests/collectors/test_reddit_comments.py
    http.add(responses.POST, REDDIT_TOKEN, json=payload("reddit_token.json"))
    good = {"kind": "t3", "data": {"name": "t3_good1", "id": "good1", "title": "Acme Air lost my bag",
                                   "selftext": "", "created_utc": 1764000000.0, "author": "sam",
                                   "subreddit": "travel", "permalink": "/r/travel/comments/good1/x/"}}
    null_author = {"kind": "t3", "data": {"name": "t3_good2", "title": "acme air refund", "created_utc": 1764000001,
                                          "author": None, "subreddit": None, "permalink": None}}
    children = ["a plain string", {"kind": "t3"}, {"kind": "more", "data": {"children": ["abc"]}},
                {"kind": "t5", "data": {"name": "t5_sub"}}, {"kind": "t1", "data": {"name": "t1_bad", "body": {"x": 1},
                                                                                     "created_utc": 1764000002}},
                null_author, good, 42, None]
    http.add(responses.GET, "https://oauth.reddit.com/r/all/search/", json=_listing(children))
    summary = collect(engine, RedditSource(reddit_client()))
    assert summary.errors == []
    rows = _rows(engine)
    assert set(rows) == {"t3_good1", "t3_good2"}
    assert rows["t3_good2"].author_handle is None and rows["t3_good2"].url is None
    assert summary.skipped == 7


def test_reddit_listing_shapes_never_raise() -> None:
    for children in ([None], ["x"], [{"kind": "t1", "data": "str"}], [{"kind": "t1", "data": {"created_utc": "soon"}}]):
        mentions, skipped, _newest, _reached = parse_listing(children, None)
        assert mentions == [] and len(skipped) == 1


def test_reddit_far_future_stamp_does_not_end_every_pass() -> None:
    child = {"kind": "t3", "data": {"name": "t3_future", "title": "acme air", "created_utc": 9e15}}
    _m, skipped, newest, _r = parse_listing([child], None)
    assert newest is None and skipped  # unreadable time: skipped, and the mark does not jump ahead


def test_high_water_mark_never_moves_backwards() -> None:
    state = MultiCursor.load(json.dumps({"p": {"k": {"hw": "1764000000.0"}}}), ["k"])
    # the newest item of the new pass is older than the mark (the newest post was deleted)
    state.page_done("k", newest="1763990000.0", next_token=None)
    assert state.parts["k"].hw == "1764000000.0"
    state.forward_done("k", newest="1763000000", more=False)
    assert state.parts["k"].hw == "1764000000.0"
    assert later("1862000000000000401", "1862000000000000399") == "1862000000000000401"  # exact, 19 digits
    assert later("2026-11-20T11:00:00Z", "2026-11-21T00:00:00Z") == "2026-11-21T00:00:00Z"
    assert later(None, "5") == "5" and later("5", None) == "5" and later("NaN", "3") in ("NaN", "3")


def test_bluesky_mastodon_hn_bad_items_cost_only_themselves() -> None:
    good_post = {"uri": "at://did:plc:a/app.bsky.feed.post/1", "record": {"text": "acme air", "createdAt":
                 "2026-11-20T11:00:00Z", "langs": "en-US"}, "author": {"handle": 5}}
    posts = [good_post, "x", {"uri": 5}, {"uri": "at://x/y/2", "record": []}, {"uri": "at://x/y/3", "record":
             {"text": ["list"], "createdAt": "2026-11-20T11:00:00Z"}}, None]
    mentions, skipped = bsky_page({"posts": posts})
    assert [m.external_id for m in mentions] == ["at://did:plc:a/app.bsky.feed.post/1"] and len(skipped) == 5
    assert mentions[0].author_handle == "5" and mentions[0].language is None  # a string, not a list of tags
    assert bsky_page({"posts": "nope"}) == ([], []) and bsky_page("nope") == ([], [])  # type: ignore[arg-type]

    good_status = {"id": "1", "uri": "https://m.example/1", "content": "<p>acme air</p>",
                   "created_at": "2026-11-20T11:00:00Z", "account": {"acct": 7, "followers_count": "12"},
                   "language": "pt_BR"}
    statuses = [good_status, "x", {"id": {"a": 1}}, {"id": "2", "created_at": "2026-11-20T11:00:00Z",
                                                      "content": 5}, {"id": "3", "account": "me"}]
    mentions, skipped = parse_statuses(statuses)
    assert len(mentions) == 1 and len(skipped) == 4
    assert (mentions[0].author_handle, mentions[0].author_followers, mentions[0].language) == ("7", 12, "pt")

    hits = [{"objectID": "9", "created_at_i": 1764000000, "title": "acme air", "_tags": "story"},
            "x", {"objectID": None}, {"objectID": "8", "created_at_i": 1764000000, "title": {"t": 1}},
            {"objectID": "7", "created_at": "never"}]
    mentions, skipped = parse_hits(hits)
    assert [m.external_id for m in mentions] == ["9"] and len(skipped) == 4


@pytest.mark.parametrize("tag, short", [("en-US-u-ca-gregory", "en"), ("EN", "en"), ("pt_BR", "pt"), ("und", None),
                                        ("zh-Hant-TW", "zh"), ("x-klingon", None), ("", None), (42, None),
                                        ("a" * 40, None), ("fil", "fil")])
def test_language_tags_are_normalised(tag, short) -> None:  # type: ignore[no-untyped-def]
    assert normalise_language(tag) == short


def test_long_language_tag_and_long_fields_never_fail_a_batch(any_engine) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL enforces column widths: one over-wide value used to fail every row of its page."""
    raws = [make_raw(language="en-US-u-ca-gregory"), make_raw(), make_raw(author_handle="h" * 500)]
    bad = make_raw()
    bad.language = "en-US-u-ca-gregory-with-more"  # set after construction: ingest checks again
    bad.author_followers = 2**40  # beyond PostgreSQL's integer: the database itself refuses this one row
    odd = make_raw()
    odd.platform = "x" * 30  # an identity field is never cut: skipped with its reason
    with Session(any_engine) as s:
        result = ingest(s, raws + [bad, odd], source="x", query_key="x:1", cursor="c1")
        s.commit()
    pg = any_engine.dialect.name == "postgresql"
    assert result.new == (3 if pg else 4)
    assert "platform name" in result.skipped[0] and (not pg or "refused by the database" in result.skipped[1])
    with Session(any_engine) as s:
        stored = list(s.exec(select(Mention)))
        assert {m.language for m in stored} <= {"en", None} and any(m.language == "en" for m in stored)
        assert max(len(m.author_handle or "") for m in stored) == 200
        assert s.exec(select(SourceState)).one().cursor == "c1"


def test_rawmention_coerces_or_refuses_each_field() -> None:
    from datetime import datetime

    at = datetime(2026, 11, 1, tzinfo=UTC)
    m = RawMention(platform="x", external_id=123, text=5, created_at=at, author_followers=True,  # type: ignore[arg-type]
                   author_handle={"h": 1}, parent_id=7, raw="plain")  # type: ignore[arg-type]
    assert (m.external_id, m.text, m.author_followers, m.author_handle, m.parent_id, m.raw) == (
        "123", "5", None, None, "7", {"value": "plain"})
    for bad in ({"external_id": None}, {"external_id": {}}, {"text": ["x"]}, {"created_at": "2026-11-01"}):
        kwargs = {"platform": "x", "external_id": "1", "text": "t", "created_at": at, **bad}
        with pytest.raises(ValueError):
            RawMention(**kwargs)  # type: ignore[arg-type]
    assert RawMention(platform="x", external_id="1", text="t", created_at=at, author_followers=2**40).author_followers is None


def test_run_records_skips(engine, http) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    http.add(responses.GET, X_SEARCH, json={"data": [GOOD_X, {"text": "no id"}]})
    collect(engine, XSource(x_client()))
    with Session(engine) as s:
        run = s.exec(select(CollectorRun)).one()
    assert (run.items_new, run.items_skipped, run.error) == (1, 1, None)
