"""The upstream tweepy/praw/prawcore cassettes in ../shared/fixtures/api, replayed by vcrpy through our sources.

They are real recorded traffic (read-only, never copied into the repo). vcrpy matches on method, host and
path: our sources send more parameters (expansions, sort=new...) than the upstream tests did.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import vcr
from sqlmodel import Session, select

from careline.models import Mention, SourceState
from careline.services.collection import collect
from collectors.base import Query
from collectors.cursors import MultiCursor, part_key
from collectors.reddit import RedditSource
from collectors.x import XSource
from tests.collectors.conftest import add_brand, reddit_client, x_client
from tests.conftest import shared_path

pytestmark = pytest.mark.shared
REPLAY = vcr.VCR(record_mode="none", match_on=["method", "scheme", "host", "path"], decode_compressed_response=True)


def _cassette(*parts: str):  # type: ignore[no-untyped-def]
    path = shared_path("fixtures", "api", *parts)
    return REPLAY.use_cassette(str(path), serializer="json" if path.suffix == ".json" else "yaml")


def test_tweepy_recent_search_cassette_through_xsource(engine) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine, name="Tweepy", keywords=("Tweepy",), handles=())
    with _cassette("tweepy", "test_client_search_recent_tweets.yaml") as cassette:
        summary = collect(engine, XSource(x_client()), max_pages=1)
    assert cassette.play_count == 1 and summary.errors == []
    assert summary.seen == 10 and summary.new == 10
    with Session(engine) as s:
        rows = list(s.exec(select(Mention)))
        state = s.exec(select(SourceState)).one()
    # no expansions in this old recording: stored without author, dated from the snowflake id
    assert all(m.author_handle is None and m.text for m in rows)
    assert all(datetime(2022, 1, 1, tzinfo=timezone.utc) < m.created_at < datetime(2022, 10, 8, tzinfo=timezone.utc)
               for m in rows)
    assert state.rate_limit_limit == 450  # the recorded x-rate-limit-* headers
    assert '"tok"' in (state.cursor or "")  # the recorded meta.next_token: the pass continues next run


def test_praw_subreddit_search_cassette_through_redditsource(engine, sdk_sleeps) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine, name="praw", keywords=("praw",), handles=(), options={"reddit": {"query": "praw oauth search"}})
    with _cassette("praw", "TestSubreddit.test_search.json") as cassette:
        summary = collect(engine, RedditSource(reddit_client()))
    assert summary.errors == [] and cassette.play_count == 2  # token + one search page
    assert summary.new == 6
    with Session(engine) as s:
        rows = list(s.exec(select(Mention)))
    assert all(m.external_id.startswith("t3_") and m.url and m.url.startswith("https://www.reddit.com/r/") for m in rows)
    assert all(2005 < m.created_at.year <= 2016 for m in rows)  # recorded in July 2016


@pytest.mark.parametrize("name,part,kind", [("TestSubredditListings.test_comments.json", "comments", "t1_"),
                                            ("TestSubredditListings.test_new.json", "new", "t3_")])
def test_praw_listing_cassettes_through_redditsource(name, part, kind, sdk_sleeps) -> None:  # type: ignore[no-untyped-def]
    query = Query(brand="AskReddit", terms=("askreddit",), key="reddit:1",
                  options=(("own_subreddits", "askreddit"), ("search", "0")))
    keys = [part_key("comments", "askreddit"), part_key("new", "askreddit")]
    cursor = MultiCursor.load(None, keys)
    cursor.at = part_key(part, "askreddit")
    with _cassette("praw", name):
        batch = RedditSource(reddit_client()).fetch(query, cursor.dump())
    assert len(batch.mentions) + len(batch.skipped) == 100
    assert len(batch.mentions) >= 90 and all(m.external_id.startswith(kind) for m in batch.mentions)
    assert batch.has_more  # a full page with an `after`: the pass goes on
    assert MultiCursor.load(batch.cursor, keys).parts[cursor.at].tok  # type: ignore[index]


def test_prawcore_429_cassette_waits_then_pauses(engine, sdk_sleeps, fake_sleep) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    replay = vcr.VCR(record_mode="none", match_on=["method", "host"])
    path = shared_path("fixtures", "api", "prawcore", "TestSession.test_request__too__many_requests__with_retry_headers.json")
    with replay.use_cassette(str(path), serializer="json", allow_playback_repeats=True):
        summary = collect(engine, RedditSource(reddit_client()), sleep=fake_sleep)
    assert len(fake_sleep.calls) == 2 and all(4 <= s <= 6 for s in fake_sleep.calls)  # retry-after: 4, jittered
    assert "rate limit" in summary.errors[0]
    with Session(engine) as s:
        st = s.exec(select(SourceState)).one()
    assert st.paused_until is not None and st.rate_limit_remaining == 0 and st.healthy
