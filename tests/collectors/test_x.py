"""XSource with a real tweepy.Client against recorded X API v2 payloads (served by `responses`)."""
from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from sqlmodel import Session, func, select

from careline import factory
from careline.models import CollectorRun, CustomerIdentity, IdentityLink, Mention, SourceState
from careline.services.collection import collect
from collectors.base import Query
from collectors.querybuild import x_queries
from collectors.x import XSource
from tests.collectors.conftest import X_SEARCH, add_brand, payload, x_client

HEADERS = {"x-rate-limit-limit": "450", "x-rate-limit-remaining": "449", "x-rate-limit-reset": "1900000000"}


def _params(call: responses.Call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(call.request.url).query).items()}


def _count(engine) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(Mention)).one()


def _state(engine, key: str = "x:1") -> SourceState:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return s.exec(select(SourceState).where(SourceState.query_key == key)).one()


def _search(http: responses.RequestsMock, *names: str, status: int = 200, headers: dict | None = None) -> None:
    for name in names:
        http.add(responses.GET, X_SEARCH, json=payload(name), status=status, headers=headers or HEADERS)


def test_pages_with_next_token_then_steady_state_uses_since_id(engine, http) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    _search(http, "x_search_page1.json", "x_search_page2.json", "x_search_page3.json")
    summary = collect(engine, XSource(x_client()))
    assert (summary.seen, summary.new, summary.api_calls, summary.errors) == (6, 6, 3, [])
    calls = [_params(c) for c in http.calls]
    assert "next_token" not in calls[0] and "since_id" not in calls[0]
    assert calls[1]["next_token"] == "b26v89c19zqg8o3fr5qv1e5"
    assert calls[2]["next_token"] == "b26v89c19zqg8o3fr5qv1e6"
    assert calls[0]["max_results"] == "100" and "author_id" in calls[0]["expansions"]
    assert "public_metrics" in calls[0]["user.fields"] and "entities" in calls[0]["user.fields"] and "conversation_id" in calls[0]["tweet.fields"]
    assert http.calls[0].request.headers["Authorization"] == "Bearer test-bearer-token"

    with Session(engine) as s:
        m = s.exec(select(Mention).where(Mention.external_id == "1862000000000000103")).one()
        assert (m.author_handle, m.author_followers, m.parent_id, m.thread_id) == (
            "sam_travels", 1520, "1862000000000000090", "1862000000000000090")
        assert m.url == "https://x.com/sam_travels/status/1862000000000000103"
        ident = s.exec(select(CustomerIdentity).where(CustomerIdentity.handle == "sam_travels")).one()
        assert ident.profile_url == "https://x.com/sam_travels"  # and the profile's expanded links, not t.co
        assert {link.url for link in s.exec(select(IdentityLink))} == {"https://samtravels.example",
                                                                        "https://mastodon.example/@sam"}
        run = s.exec(select(CollectorRun)).one()
        assert (run.items_new, run.api_calls, run.rate_limit_remaining) == (6, 3, 449)
        assert run.cursor_before is None and json.loads(run.cursor_after)  # type: ignore[arg-type]
    state = _state(engine)
    assert state.rate_limit_limit == 450 and state.healthy

    # Steady state: one call, since_id = the newest committed tweet, no page fetched twice.
    http.calls.reset()
    _search(http, "x_search_newer.json")
    http.replace(responses.GET, X_SEARCH, json=payload("x_search_newer.json"), headers=HEADERS)
    again = collect(engine, XSource(x_client()))
    assert (again.new, again.api_calls) == (1, 1)
    assert _params(http.calls[0])["since_id"] == "1862000000000000105"
    assert "next_token" not in _params(http.calls[0])


class SimulatedCrash(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the loop catches it."""


class CrashAfterFetch:
    """Wraps the real XSource: the n-th fetch returns its batch and then the "process dies"."""

    def __init__(self, source: XSource, crash_on: int) -> None:
        self.source, self.crash_on, self.fetches, self.name = source, crash_on, 0, source.name

    def fetch(self, query, cursor):  # type: ignore[no-untyped-def]
        batch = self.source.fetch(query, cursor)
        self.fetches += 1
        if self.fetches == self.crash_on:
            raise SimulatedCrash("killed between fetch and commit")
        return batch


def test_crash_between_fetch_and_commit_refetches_one_page_and_loses_nothing(any_engine, http) -> None:  # type: ignore[no-untyped-def]
    engine = any_engine  # SQLite and PostgreSQL
    add_brand(engine)
    _search(http, "x_search_page1.json", "x_search_page2.json", "x_search_page2.json", "x_search_page3.json")
    with pytest.raises(SimulatedCrash):  # every page its own transaction: what a live run's pages get
        collect(engine, CrashAfterFetch(XSource(x_client()), crash_on=2), write_every=1)
    assert _count(engine) == 3  # page 1 committed; page 2 was fetched but never stored
    cursor = json.loads(_state(engine).cursor)  # type: ignore[arg-type]
    assert list(cursor["p"].values())[0]["tok"] == "b26v89c19zqg8o3fr5qv1e5"  # resumes at page 2

    summary = collect(engine, XSource(x_client()))  # the restarted process
    assert summary.new == 3 and _count(engine) == 6
    tokens = [_params(c).get("next_token") for c in http.calls]
    assert tokens == [None, "b26v89c19zqg8o3fr5qv1e5", "b26v89c19zqg8o3fr5qv1e5", "b26v89c19zqg8o3fr5qv1e6"]
    with Session(engine) as s:
        runs = s.exec(select(CollectorRun).order_by(CollectorRun.id)).all()
        assert runs[0].error == "interrupted" and runs[0].items_new == 3
        assert runs[1].cursor_before == runs[0].cursor_after


def test_crash_before_a_group_of_pages_is_written_refetches_the_group_and_loses_nothing(any_engine, http) -> None:  # type: ignore[no-untyped-def]
    """A backfill writes its pages in groups (services/collection_pages.py PageGroup): the process dying before a
    group's commit keeps none of it and moves no cursor, so the restarted run fetches those pages again."""
    engine = any_engine
    add_brand(engine)
    _search(http, "x_search_page1.json", "x_search_page2.json", "x_search_page1.json", "x_search_page2.json",
            "x_search_page3.json")
    with pytest.raises(SimulatedCrash):
        collect(engine, CrashAfterFetch(XSource(x_client()), crash_on=2))  # page 1 held, not yet written
    assert _count(engine) == 0
    with Session(engine) as s:
        assert s.exec(select(SourceState)).first() is None  # no cursor stored: the restart starts over

    summary = collect(engine, XSource(x_client()))
    assert summary.new == 6 and summary.pages == 3 and _count(engine) == 6
    tokens = [_params(c).get("next_token") for c in http.calls]
    assert tokens == [None, "b26v89c19zqg8o3fr5qv1e5", None, "b26v89c19zqg8o3fr5qv1e5", "b26v89c19zqg8o3fr5qv1e6"]
    with Session(engine) as s:
        runs = s.exec(select(CollectorRun).order_by(CollectorRun.id)).all()
        assert runs[0].error == "interrupted" and runs[0].items_new == 0 and runs[0].api_calls == 1  # page 1 held
        assert (runs[1].items_new, runs[1].api_calls, runs[1].error) == (6, 3, None)


def test_overlapping_queries_store_each_tweet_once(any_engine, http) -> None:  # type: ignore[no-untyped-def]
    engine = any_engine
    add_brand(engine)
    add_brand(engine, name="Acme Group", keywords=("acme",), handles=(), competitor=True)
    # both brands' searches return the same tweets
    _search(http, "x_search_page3.json", "x_search_page3.json")
    summary = collect(engine, XSource(x_client()))
    assert (summary.seen, summary.new) == (2, 1)
    assert _count(engine) == 1


def test_long_query_is_split_under_512_chars_and_every_part_is_collected(engine, http) -> None:  # type: ignore[no-untyped-def]
    keywords = tuple(f"acme air route {i:03d} lounge" for i in range(30))
    add_brand(engine, keywords=keywords, exclusions=("acme air fryer", "acme anvils"))
    q = Query(brand="Acme Air", terms=keywords, handles=("AcmeAir",), exclusions=("acme air fryer", "acme anvils"))
    strings = x_queries(q)
    assert len(strings) > 1 and all(len(s) <= 512 for s in strings)
    assert all('-"acme air fryer"' in s and "-from:AcmeAir" in s and "-is:retweet" in s for s in strings)
    assert sum(s.count('"acme air route') for s in strings) == 30
    for _ in strings:
        _search(http, "x_search_page3.json")
    summary = collect(engine, XSource(x_client()))
    sent = [_params(c)["query"] for c in http.calls]
    assert sent == strings  # one page per part, in order, then the round is complete
    assert summary.new == 1 and summary.api_calls == len(strings)


def test_rate_limit_waits_for_the_reset_then_resumes(engine, http, fake_sleep) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    reset = int(time.time()) + 3
    http.add(responses.GET, X_SEARCH, json=payload("x_429.json"), status=429,
             headers={"x-rate-limit-limit": "450", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)})
    _search(http, "x_search_page3.json")
    summary = collect(engine, XSource(x_client()), sleep=fake_sleep)
    assert summary.new == 1 and summary.errors == []
    assert len(fake_sleep.calls) == 1 and 1.0 <= fake_sleep.calls[0] <= 5.0  # until the reset, plus jitter
    assert len(http.calls) == 2


def test_rate_limit_with_distant_reset_pauses_the_source_and_resumes_after(engine, http, fake_sleep) -> None:  # type: ignore[no-untyped-def]
    from datetime import datetime, timedelta, timezone

    add_brand(engine)
    add_brand(engine, name="Skyhop", keywords=("skyhop",), handles=())
    reset = int(time.time()) + 600
    http.add(responses.GET, X_SEARCH, json=payload("x_429.json"), status=429,
             headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)})
    summary = collect(engine, XSource(x_client()), sleep=fake_sleep)
    assert fake_sleep.calls == [] and len(http.calls) == 1  # no hammering, no waiting 10 minutes
    assert "rate limit" in summary.errors[0]
    for key in ("x:1", "x:2"):  # one budget for the app: both queries wait for the reset
        st = _state(engine, key)
        assert st.paused_until is not None and int(st.paused_until.timestamp()) == reset
        assert st.rate_limit_remaining == 0 and st.healthy
    assert collect(engine, XSource(x_client())).api_calls == 0  # still paused

    _search(http, "x_search_page3.json", "x_search_page3.json")
    later = datetime.now(timezone.utc) + timedelta(minutes=11)
    resumed = collect(engine, XSource(x_client()), now=later)
    assert resumed.new == 1 and resumed.errors == []


@pytest.mark.parametrize("body", ["x_403_453.json", "x_403_not_enrolled.json"])
def test_plan_error_pauses_the_source_with_a_clear_message(engine, http, body) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    add_brand(engine, name="Skyhop", keywords=("skyhop",), handles=())
    http.add(responses.GET, X_SEARCH, json=payload(body), status=403)
    summary = collect(engine, XSource(x_client()))
    assert len(http.calls) == 1 and summary.stopped
    msg = summary.errors[0]
    assert "access does not include recent search" in msg and "Free tier is write-only" in msg
    assert "pay-per-use credits or a Basic or Pro plan" in msg and "careline sources resume x" in msg
    for key in ("x:1", "x:2"):
        st = _state(engine, key)
        assert st.paused_until is not None and not st.healthy and st.paused_reason == msg
    assert collect(engine, XSource(x_client())).api_calls == 0  # paused: not retried every run
    assert len(http.calls) == 1


def test_monthly_usage_cap_is_a_pause_not_a_retry_loop(engine, http) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    http.add(responses.GET, X_SEARCH, json=payload("x_usage_cap.json"), status=429)
    summary = collect(engine, XSource(x_client()))
    assert "monthly usage cap" in summary.errors[0]
    assert _state(engine).paused_until is not None


def test_bad_credentials_mark_unhealthy_and_other_sources_keep_running(engine, http) -> None:  # type: ignore[no-untyped-def]
    from collectors.hackernews import HackerNewsSource

    add_brand(engine)
    add_brand(engine, name="Skyhop", keywords=("skyhop",), handles=())
    http.add(responses.GET, X_SEARCH, json=payload("x_401.json"), status=401)
    for page in ("hn_page0.json", "hn_page1.json"):
        http.add(responses.GET, "https://hn.algolia.com/api/v1/search_by_date", json=payload(page))
    summary = collect(engine, XSource(x_client(), app_credentials=factory.X_APP_CREDENTIALS))
    assert len(http.calls) == 1  # stopped after the first refusal
    assert summary.errors == ["X rejected the credentials (401 Unauthorized) for recent search "
                              "(GET /2/tweets/search/recent): check CARELINE_X_BEARER_TOKEN, or regenerate them "
                              "in the developer portal if they were revoked."]
    assert not _state(engine, "x:1").healthy and not _state(engine, "x:2").healthy
    assert _state(engine, "x:1").paused_until is None  # retried next run, once

    hn = collect(engine, HackerNewsSource())
    assert hn.errors == [] and hn.new == 2
    assert _state(engine, "hackernews:1").healthy


def test_malformed_payload_keeps_what_is_known_and_skips_the_rest_with_reasons(engine, http, caplog) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    _search(http, "x_malformed.json")
    with caplog.at_level("INFO"):
        summary = collect(engine, XSource(x_client()))
    # 302's created_at is unreadable: stored with what is known (its snowflake dates it)
    assert (summary.seen, summary.new, summary.skipped) == (4, 4, 2)
    with Session(engine) as s:
        rows = {m.external_id: m for m in s.exec(select(Mention))}
    no_author = rows["1862000000000000305"]
    assert no_author.author_handle is None and no_author.author_external_id == "999"
    assert no_author.url == "https://x.com/i/web/status/1862000000000000305" and no_author.raw["author_missing"]
    undated = rows["1862000000000000304"]  # created_at from the snowflake id
    assert undated.created_at.year == 2024 and undated.text.startswith("acme air tweet without")
    assert rows["1862000000000000301"].parent_id == "1862000000000000299"
    assert rows["1862000000000000302"].created_at.year == 2024
    log = caplog.text
    assert "without an id" in log and "1862000000000000299 unavailable" in log


def test_stale_since_id_restarts_the_part(engine, http) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    _search(http, "x_search_page3.json")
    collect(engine, XSource(x_client()))
    http.calls.reset()
    http.replace(responses.GET, X_SEARCH, json=payload("x_400_since_id.json"), status=400)
    _search(http, "x_search_newer.json")
    summary = collect(engine, XSource(x_client()))
    assert summary.errors == [] and summary.new == 1 and summary.api_calls == 2
    assert "since_id" in _params(http.calls[0]) and "since_id" not in _params(http.calls[1])


def test_mentions_timeline_with_a_user_token(engine, http) -> None:  # type: ignore[no-untyped-def]
    import tweepy

    add_brand(engine)
    user = tweepy.Client(consumer_key="ck", consumer_secret="cs", access_token="at", access_token_secret="ats")
    http.add(responses.GET, "https://api.twitter.com/2/users/me", json=payload("x_me.json"))
    http.add(responses.GET, "https://api.twitter.com/2/users/900/mentions", json=payload("x_mentions.json"),
             headers=HEADERS)
    _search(http, "x_search_page3.json")
    summary = collect(engine, XSource(x_client(), user_client=user))
    assert summary.new == 2 and summary.errors == [] and summary.api_calls == 3  # me, search, mentions
    mention_call = next(c for c in http.calls if "/mentions" in c.request.url)
    assert mention_call.request.headers["Authorization"].startswith("OAuth ")
    with Session(engine) as s:
        assert s.exec(select(Mention).where(Mention.external_id == "1862000000000000400")).one().author_handle == "ben_dev"


def test_server_error_is_retried_with_backoff_then_succeeds(engine, http, fake_sleep) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    http.add(responses.GET, X_SEARCH, json={"title": "Service Unavailable"}, status=503)
    _search(http, "x_search_page3.json")
    summary = collect(engine, XSource(x_client()), sleep=fake_sleep)
    assert summary.errors == [] and summary.new == 1 and summary.api_calls == 2
    assert len(fake_sleep.calls) == 1 and 1 <= fake_sleep.calls[0] <= 2
