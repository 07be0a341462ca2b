"""Bluesky (atproto over httpx's MockTransport), Mastodon (Mastodon.py) and Hacker News (requests) against
recorded payloads."""
from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qs, urlparse

import httpx
import responses
from atproto import Client
from atproto_client.request import Request
from mastodon import Mastodon
from sqlmodel import Session, select

from careline import factory
from careline.models import CustomerIdentity, IdentityLink, Mention, SourceState
from careline.services.collection import collect
from collectors.bluesky import BlueskySource
from collectors.hackernews import HackerNewsSource
from collectors.mastodon import MastodonSource
from tests.collectors.conftest import add_brand, payload

HN = "https://hn.algolia.com/api/v1/search_by_date"
MASTO = "https://mastodon.example"


def _rows(engine, platform: str) -> dict[str, Mention]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return {m.external_id: m for m in s.exec(select(Mention).where(Mention.platform == platform))}


class Xrpc:
    """A recorded XRPC server: method name → list of (status, body, headers), served in order."""

    def __init__(self, routes: dict[str, list[tuple[int, object, dict[str, str]]]]) -> None:
        self.routes, self.requests = routes, []  # type: ignore[var-annotated]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.routes[request.url.path.rsplit("/", 1)[-1]]
        status, body, headers = queue.pop(0) if len(queue) > 1 else queue[0]
        return httpx.Response(status, json=body, headers=headers)

    def params(self, i: int) -> dict[str, str]:
        return dict(self.requests[i].url.params)


def bsky(server: Callable[[httpx.Request], httpx.Response]) -> Client:
    return Client(base_url="https://pds.example/xrpc", request=Request(transport=httpx.MockTransport(server)))


def test_bluesky_login_search_pages_since_and_malformed_posts(engine) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine, keywords=("acme air",), exclusions=("air fryer",))
    server = Xrpc({
        "com.atproto.server.createSession": [(200, payload("bsky_session.json"), {})],
        "app.bsky.feed.searchPosts": [
            (200, payload("bsky_search_page1.json"), {"ratelimit-remaining": "2999", "ratelimit-limit": "3000",
                                                      "ratelimit-reset": "1900000000"}),
            (200, payload("bsky_search_page2.json"), {}),
        ],
    })
    src = BlueskySource(bsky(server), "careline.bsky.social", "app-pass-word", page_size=2)
    summary = collect(engine, src)
    assert summary.errors == [] and summary.new == 2 and summary.skipped == 2  # air-fryer post, undated post
    assert summary.api_calls == 3  # login + two pages
    login = json.loads(server.requests[0].content)
    assert login["identifier"] == "careline.bsky.social"
    first, second = server.params(1), server.params(2)
    assert first["q"] == "acme air" and first["sort"] == "latest" and "cursor" not in first and "since" not in first
    assert second["cursor"] == "2"
    assert server.requests[1].headers["Authorization"].startswith("Bearer ")
    rows = _rows(engine, "bluesky")
    reply = rows["at://did:plc:bbb/app.bsky.feed.post/3lbq2aaaa2"]
    assert reply.thread_id == "at://did:plc:ccc/app.bsky.feed.post/3lbq1root"
    assert reply.url == "https://bsky.app/profile/kate.bsky.social/post/3lbq2aaaa2"

    later = collect(engine, BlueskySource(bsky(server), "careline.bsky.social", "app-pass-word", page_size=2))
    assert later.new == 0
    assert server.params(-1)["since"] == "2026-11-20T10:05:00Z"  # the newest committed post's sort time


def test_bluesky_bad_app_password_is_unhealthy(engine) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine)
    server = Xrpc({"com.atproto.server.createSession": [(401, payload("bsky_auth_failed.json"), {})]})
    summary = collect(engine, BlueskySource(bsky(server), "careline.bsky.social", "wrong",
                                            credentials=factory.BLUESKY_CREDENTIALS))
    assert "CARELINE_BLUESKY_APP_PASSWORD" in summary.errors[0] and "Invalid identifier" in summary.errors[0]
    with Session(engine) as s:
        assert not s.exec(select(SourceState)).one().healthy


def _masto(token: str | None = "token") -> Mastodon:
    return Mastodon(api_base_url=MASTO, access_token=token, ratelimit_method="throw", version_check_mode="none")


def test_mastodon_hashtag_timeline_walks_forward_with_min_id(engine, http, fake_sleep) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine, keywords=("acme air",), handles=())
    rl = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "297", "X-RateLimit-Reset": "2026-11-20T10:10:00.000Z"}
    http.add(responses.GET, f"{MASTO}/api/v1/timelines/tag/acmeair", json=payload("mastodon_tag.json"), headers=rl)
    http.add(responses.GET, f"{MASTO}/api/v1/timelines/tag/acmeairsupport", json=[], headers=rl)
    http.add(responses.GET, f"{MASTO}/api/v2/search", json={"accounts": [], "hashtags": [], "statuses": []}, headers=rl)
    http.add(responses.GET, f"{MASTO}/api/v1/timelines/tag/acmeair", json=[], headers=rl)
    summary = collect(engine, MastodonSource(_masto(), hashtags=["AcmeAirSupport", "unrelated"]), sleep=fake_sleep)
    assert summary.errors == [] and summary.new == 2 and summary.skipped == 1  # the boost
    rows = _rows(engine, "mastodon")
    first = rows["https://mastodon.example/users/sam/statuses/113500000000000003"]
    assert first.text == "#AcmeAir lost my bag & nobody answers\nagain!" and first.author_followers == 42
    with Session(engine) as s:  # the profile's page and its links are kept for customer link suggestions
        ident = s.exec(select(CustomerIdentity).where(CustomerIdentity.handle == "sam")).one()
        links = {(link.url, link.verified) for link in s.exec(select(IdentityLink))}
    assert ident.profile_url == "https://mastodon.example/@sam"
    assert links == {("https://samtravels.example", True), ("https://x.com/sam_travels", False)}
    urls = [c.request.url for c in http.calls]
    assert any("/tag/acmeairsupport" in u for u in urls) and not any("unrelated" in u for u in urls)
    with Session(engine) as s:
        st = s.exec(select(SourceState)).one()
    assert st.rate_limit_remaining == 297
    http.calls.reset()
    collect(engine, MastodonSource(_masto(), hashtags=[]), sleep=fake_sleep)
    tag_call = next(c for c in http.calls if "/tag/acmeair" in c.request.url)
    assert parse_qs(urlparse(tag_call.request.url).query)["min_id"] == ["113500000000000003"]


def test_mastodon_bad_token_is_unhealthy(engine, http) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine, handles=())
    http.add(responses.GET, f"{MASTO}/api/v1/timelines/tag/acmeair", json=payload("mastodon_401.json"), status=401)
    summary = collect(engine, MastodonSource(_masto(), credentials=factory.MASTODON_CREDENTIALS))
    assert "check CARELINE_MASTODON_ACCESS_TOKEN" in summary.errors[0]


def test_hackernews_pins_the_pass_and_keeps_a_lower_bound(engine, http) -> None:  # type: ignore[no-untyped-def]
    add_brand(engine, keywords=("acme air",), handles=())
    http.add(responses.GET, HN, json=payload("hn_page0.json"))
    http.add(responses.GET, HN, json=payload("hn_page1.json"))
    http.add(responses.GET, HN, json={"hits": [], "nbPages": 0, "page": 0})
    summary = collect(engine, HackerNewsSource(page_size=2))
    assert summary.new == 2 and summary.skipped == 1 and summary.errors == []
    p = [{k: v[0] for k, v in parse_qs(urlparse(c.request.url).query).items()} for c in http.calls]
    assert p[0]["query"] == '"acme air"' and "numericFilters" not in p[0]
    assert p[1]["page"] == "1" and p[1]["numericFilters"] == "created_at_i<=1763633100"
    rows = _rows(engine, "hackernews")
    assert rows["42000003"].text == "Acme Air's app is terrible\n\nsecond para"
    assert rows["42000003"].thread_id == "42000000" and rows["42000002"].text.startswith("Show HN")
    collect(engine, HackerNewsSource(page_size=2))
    last = {k: v[0] for k, v in parse_qs(urlparse(http.calls[-1].request.url).query).items()}
    assert last["numericFilters"] == "created_at_i>=1763633100" and last["page"] == "0"
