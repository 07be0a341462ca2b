"""RedditSource with a real praw.Reddit against recorded Reddit payloads (served by `responses`)."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import responses
from sqlmodel import Session, select

from careline import factory
from careline.models import Mention, SourceState
from careline.services.collection import collect
from collectors.reddit import RedditSource
from tests.collectors.conftest import REDDIT_TOKEN, add_brand, payload, reddit_client

SEARCH_ALL = "https://oauth.reddit.com/r/all/search/"
RL = {"x-ratelimit-remaining": "98.0", "x-ratelimit-used": "2", "x-ratelimit-reset": "420"}


def _params(call: responses.Call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(call.request.url).query).items()}


def _token(http: responses.RequestsMock) -> None:
    http.add(responses.POST, REDDIT_TOKEN, json=payload("reddit_token.json"))


def _rows(engine) -> dict[str, Mention]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return {m.external_id: m for m in s.exec(select(Mention))}


def test_search_pages_removed_posts_and_deleted_authors(engine, http, sdk_sleeps) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine, exclusions=("acme air fryer",), options={"reddit": {"comments": "0"}})  # comments: own test
    _token(http)
    http.add(responses.GET, SEARCH_ALL, json=payload("reddit_search_page1.json"), headers=RL)
    http.add(responses.GET, SEARCH_ALL, json=payload("reddit_search_page2.json"), headers=RL)
    src = RedditSource(reddit_client(), page_size=3)
    summary = collect(engine, src)
    assert summary.errors == [] and summary.new == 4
    assert summary.skipped == 1  # t3_1gq0004: removed, deleted author, no title: nothing to store
    gets = [c for c in http.calls if c.request.method == "GET"]
    first, second = _params(gets[0]), _params(gets[1])
    assert first["q"] == '"acme air" OR acmeair NOT "acme air fryer"' or first["q"].startswith('("acme air" OR acmeair)')
    assert first["sort"] == "new" and first["limit"] == "3" and "after" not in first
    assert second["after"] == "t3_1gq0005"
    rows = _rows(engine)
    removed = rows["t3_1gq0008"]  # moderator-removed self text: the title is still the mention
    assert removed.text == "Acme Air refund question" and removed.raw["removed"] == "moderator"
    deleted = rows["t3_1gq0007"]
    assert deleted.author_handle is None and deleted.raw["author_deleted"]
    good = rows["t3_1gq0009"]
    assert good.author_handle == "sam_travels" and good.url == "https://www.reddit.com/r/travel/comments/1gq0009/slug/"
    with Session(engine) as s:
        st = s.exec(select(SourceState)).one()
    assert st.rate_limit_remaining == 98 and st.rate_limit_limit == 100 and st.rate_limit_reset_at is not None
    assert sdk_sleeps == [] or all(x < 11 for x in sdk_sleeps)

    # next run: page 1 again (Reddit search has no since); older items end the pass at once
    http.calls.reset()
    again = collect(engine, RedditSource(reddit_client(), page_size=3))
    assert again.new == 0
    cursor = json.loads(st.cursor)  # type: ignore[arg-type]
    assert list(cursor["p"].values())[0]["hw"] == "1763633100.0"


def test_own_subreddit_comments_and_scoped_search(engine, http, sdk_sleeps) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine, exclusions=("air fryer",), options={"reddit": {"subreddits": "travel+flights",
                                                                      "own_subreddits": "AcmeAir"}})
    _token(http)
    http.add(responses.GET, "https://oauth.reddit.com/r/travel+flights/search/", json=payload("reddit_empty.json"))
    http.add(responses.GET, "https://oauth.reddit.com/r/AcmeAir/comments/", json=payload("reddit_comments.json"))
    http.add(responses.GET, "https://oauth.reddit.com/r/AcmeAir/new", json=payload("reddit_empty.json"))
    summary = collect(engine, RedditSource(reddit_client()))
    assert summary.errors == []
    rows = _rows(engine)
    assert set(rows) == {"t1_m1c0003"}  # the [deleted] comment and the air-fryer one are skipped
    assert rows["t1_m1c0003"].thread_id == "t3_1gp0001"
    search = _params(next(c for c in http.calls if "/search/" in c.request.url))
    assert search["restrict_sr"] == "True"


def test_bad_app_credentials_are_unhealthy(engine, http, sdk_sleeps) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    http.add(responses.POST, REDDIT_TOKEN, json={"message": "Unauthorized", "error": 401}, status=401)
    summary = collect(engine, RedditSource(reddit_client(), credentials=factory.REDDIT_CREDENTIALS))
    assert "401" in summary.errors[0] and "CARELINE_REDDIT_CLIENT_ID" in summary.errors[0]
    with Session(engine) as s:
        assert not s.exec(select(SourceState)).one().healthy


def test_429_with_retry_after_waits_then_resumes(engine, http, sdk_sleeps, fake_sleep) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    _token(http)
    http.add(responses.GET, SEARCH_ALL, body="<html>Too Many Requests</html>", status=429, headers={"retry-after": "4"})
    http.add(responses.GET, SEARCH_ALL, json=payload("reddit_search_page2.json"), headers=RL)
    summary = collect(engine, RedditSource(reddit_client()), sleep=fake_sleep)
    assert summary.errors == [] and summary.new == 1
    assert len(fake_sleep.calls) == 1 and 4 <= fake_sleep.calls[0] <= 6


def test_server_errors_back_off_with_jitter_then_give_up_for_this_run(engine, http, sdk_sleeps, fake_sleep) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    _token(http)
    http.add(responses.GET, SEARCH_ALL, json={"error": 503}, status=503)
    summary = collect(engine, RedditSource(reddit_client()), sleep=fake_sleep)
    assert "server error" in summary.errors[0]
    assert len(fake_sleep.calls) == 3  # our retries, growing: about 1-2s, 2-4s, 4-8s
    assert 1 <= fake_sleep.calls[0] <= 2 and 2 <= fake_sleep.calls[1] <= 4 and 4 <= fake_sleep.calls[2] <= 8
    assert sdk_sleeps  # prawcore's own retry sleeps were recorded, not slept
    with Session(engine) as s:
        st = s.exec(select(SourceState)).one()
    assert st.healthy and st.paused_until is None and "server error" in (st.last_error or "")


def test_private_subreddit_pauses_only_that_brand(engine, http, sdk_sleeps) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine, options={"reddit": {"subreddits": "acmeprivate"}})
    add_brand(engine, name="Skyhop", keywords=("skyhop",), handles=())
    _token(http)
    http.add(responses.GET, "https://oauth.reddit.com/r/acmeprivate/search/", json={"message": "Forbidden",
                                                                                    "error": 403}, status=403)
    http.add(responses.GET, SEARCH_ALL, json=payload("reddit_search_page2.json"), headers=RL)
    summary = collect(engine, RedditSource(reddit_client()))
    assert summary.new == 1 and len(summary.errors) == 1 and "private" in summary.errors[0]
    with Session(engine) as s:
        states = {st.query_key: st for st in s.exec(select(SourceState))}
    assert states["reddit:1:1"].paused_until is not None and not states["reddit:1:1"].healthy
    assert states["reddit:2"].healthy and states["reddit:2"].paused_until is None
