"""API calls per collected mention over a 10-page backfill, and what a steady-state run costs after it.

    python benchmarks/ingest_api_calls.py [--pages 10]

Drives the real tweepy and praw clients (through XSource and RedditSource and the collection loop) against
a local recording of 10 full pages (served by `responses`), then runs again as the scheduler would and
counts the requests. A page is "fetched twice" when the same page token (or, for the first page, the same
high-water mark) is requested in both runs.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import praw  # noqa: E402
import responses  # noqa: E402
import tweepy  # noqa: E402
from sqlmodel import Session  # noqa: E402

from careline.db import create_all, make_engine  # noqa: E402
from careline.models import Brand  # noqa: E402
from careline.services.collection import collect  # noqa: E402
from collectors.reddit import RedditSource  # noqa: E402
from collectors.x import XSource  # noqa: E402

X_SEARCH = "https://api.twitter.com/2/tweets/search/recent"
PER_PAGE = 100


def _params(call: responses.Call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(call.request.url).query).items()}


def x_pages(pages: int) -> list[dict]:
    out = []
    top = 1862000000000100000
    for p in range(pages):
        ids = [top - p * PER_PAGE - i for i in range(PER_PAGE)]
        data = [{"id": str(i), "text": f"acme air mention {i}", "author_id": str(i % 50),
                 "created_at": "2026-11-20T10:00:00.000Z", "conversation_id": str(i)} for i in ids]
        meta = {"newest_id": str(ids[0]), "oldest_id": str(ids[-1]), "result_count": PER_PAGE}
        if p + 1 < pages:
            meta["next_token"] = f"token{p + 1}"
        out.append({"data": data, "includes": {"users": [{"id": str(u), "username": f"user{u}", "name": f"U{u}",
                                                            "public_metrics": {"followers_count": u}}
                                                           for u in range(50)]}, "meta": meta})
    return out


def reddit_pages(pages: int) -> list[dict]:
    out = []
    for p in range(pages):
        children = []
        for i in range(PER_PAGE):
            n = p * PER_PAGE + i
            children.append({"kind": "t3", "data": {
                "id": f"bx{n:05d}", "name": f"t3_bx{n:05d}", "title": f"Acme Air post {n}", "selftext": "",
                "author": f"user{n % 50}", "created_utc": 1763633100.0 - n, "subreddit": "travel",
                "permalink": f"/r/travel/comments/bx{n:05d}/x/"}})
        after = f"t3_bx{(p + 1) * PER_PAGE - 1:05d}" if p + 1 < pages else None
        out.append({"kind": "Listing", "data": {"after": after, "children": children}})
    return out


def _engine(tmp: str, name: str):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{Path(tmp) / (name + '.db')}")
    create_all(engine)
    with Session(engine) as s:
        s.add(Brand(name="Acme Air", keywords=["acme air"], handles=[]))
        s.commit()
    return engine


def bench_x(pages: int, tmp: str) -> dict[str, object]:
    engine = _engine(tmp, "x")
    with responses.RequestsMock() as http:
        for page in x_pages(pages):
            http.add(responses.GET, X_SEARCH, json=page)
        backfill = collect(engine, XSource(tweepy.Client(bearer_token="bench")), max_pages=pages)
        first_calls = [_params(c) for c in http.calls]
        http.calls.reset()
        http.replace(responses.GET, X_SEARCH, json={"meta": {"result_count": 0}})
        collect(engine, XSource(tweepy.Client(bearer_token="bench")), max_pages=pages)
        steady_calls = [_params(c) for c in http.calls]
    seen = {(c.get("next_token"), c.get("since_id")) for c in first_calls}
    twice = sum((c.get("next_token"), c.get("since_id")) in seen for c in steady_calls)
    return {"source": "x", "collected": backfill.new, "calls": len(first_calls), "steady_calls": len(steady_calls),
            "twice": twice, "note": f"steady run sends since_id={steady_calls[0].get('since_id')}"}


def bench_reddit(pages: int, tmp: str) -> dict[str, object]:
    import prawcore.rate_limit

    prawcore.rate_limit.time.sleep = lambda s: None  # type: ignore[assignment]  # no real waiting in a benchmark
    engine = _engine(tmp, "reddit")
    url = "https://oauth.reddit.com/r/all/search/"
    reddit = praw.Reddit(client_id="bench", client_secret="bench", user_agent="bench", check_for_updates=False)
    with responses.RequestsMock() as http:
        http.add(responses.POST, "https://www.reddit.com/api/v1/access_token",
                 json={"access_token": "t", "token_type": "bearer", "expires_in": 3600, "scope": "*"})
        for page in reddit_pages(pages):
            http.add(responses.GET, url, json=page)
        backfill = collect(engine, RedditSource(reddit), max_pages=pages)
        first = len(http.calls)
        http.calls.reset()
        http.replace(responses.GET, url, json=reddit_pages(1)[0])  # nothing new: the newest page again
        collect(engine, RedditSource(reddit), max_pages=pages)
        steady = len(http.calls)
    return {"source": "reddit", "collected": backfill.new, "calls": first, "steady_calls": steady,
            "twice": steady, "note": "search has no since filter: each run re-reads its newest page (1 token call "
                                     "in the backfill)"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [bench_x(args.pages, tmp), bench_reddit(args.pages, tmp)]
    print(f"| source ({args.pages}-page backfill, {PER_PAGE}/page) | mentions | API calls | calls per mention "
          "| steady-state run: calls | pages fetched twice | note |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        per = r["calls"] / r["collected"] if r["collected"] else float("nan")  # type: ignore[operator]
        print(f"| {r['source']} | {r['collected']} | {r['calls']} | {per:.3f} | {r['steady_calls']} | {r['twice']} "
              f"| {r['note']} |")
    return 0 if rows[0]["twice"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
