"""Fixtures for collector tests: real SDK clients pointed at the repo's recorded payloads.

HTTP is served by `responses` (requests-based SDKs: tweepy, praw, Mastodon.py, our HN client) or by
httpx's MockTransport (atproto). SDK sleeps (prawcore's retry and rate-limit pauses) are recorded, not slept.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import praw
import pytest
import responses
import tweepy
from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.models import Brand, BrandQuery

PAYLOADS = Path(__file__).parent / "payloads"
X_SEARCH = "https://api.twitter.com/2/tweets/search/recent"
REDDIT_TOKEN = "https://www.reddit.com/api/v1/access_token"


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def sdk_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """prawcore sleeps before retries and to pace requests; record those sleeps instead."""
    import prawcore.rate_limit
    import prawcore.sessions

    slept: list[float] = []
    monkeypatch.setattr(prawcore.sessions.time, "sleep", slept.append)
    monkeypatch.setattr(prawcore.rate_limit.time, "sleep", slept.append)
    return slept


class FakeSleep:
    """Stands in for time.sleep in the collection loop: records how long it was asked to wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()


def x_client() -> tweepy.Client:
    return tweepy.Client(bearer_token="test-bearer-token")


def reddit_client() -> praw.Reddit:
    return praw.Reddit(client_id="test-client-id", client_secret="test-client-secret",
                       user_agent="careline-tests/0.1", check_for_updates=False)


def add_brand(engine: Engine, name: str = "Acme Air", keywords: tuple[str, ...] = ("acme air", "acmeair"),
              handles: tuple[str, ...] = ("AcmeAir",), exclusions: tuple[str, ...] = (),
              options: dict[str, dict[str, str]] | None = None, competitor: bool = False) -> int:
    """A brand, plus per-platform query options (e.g. {"reddit": {"subreddits": "travel"}})."""
    with Session(engine) as session:
        brand = Brand(name=name, keywords=list(keywords), handles=list(handles), exclusions=list(exclusions),
                      competitor=competitor)
        session.add(brand)
        session.flush()
        for platform, opts in (options or {}).items():
            session.add(BrandQuery(brand_id=brand.id, platform=platform, query=opts.pop("query", ""), options=opts))
        session.commit()
        assert brand.id is not None
        return brand.id
