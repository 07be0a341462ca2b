"""Parse-and-ingest rate from recorded payloads: JSON bytes → RawMention → normalise → upsert (SQLite).

    python benchmarks/ingest_parse.py [--pages 200] [--platform x reddit bluesky hackernews]

Each platform's recorded page (tests/collectors/payloads) is cloned into `--pages` pages of 100 items with
fresh ids, serialised to bytes as an HTTP body would be, then parsed by the collector's own parser (for
Reddit through praw's objector, as in production) and stored with the ingest service, one commit per page
with its cursor, as the collection loop does. Prints a Markdown table; exits 1 under --target per CPU-second.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlmodel import Session  # noqa: E402

from careline.db import create_all, make_engine  # noqa: E402
from careline.services.ingest import ingest  # noqa: E402
from collectors.base import RawMention  # noqa: E402

PAYLOADS = ROOT / "tests" / "collectors" / "payloads"
PER_PAGE = 100


def _load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def x_pages(n: int) -> list[bytes]:
    base = _load("x_search_page1.json")
    tweets, users = base["data"], base["includes"]["users"]
    pages = []
    for p in range(n):
        data = []
        for i in range(PER_PAGE):
            t = copy.deepcopy(tweets[i % len(tweets)])
            t["id"] = str(1862000000000000000 + p * PER_PAGE + i)
            t["author_id"] = users[i % len(users)]["id"]
            data.append(t)
        pages.append(json.dumps({"data": data, "includes": {"users": users},
                                 "meta": {"newest_id": data[0]["id"], "result_count": PER_PAGE}}).encode())
    return pages


def x_parse() -> Callable[[bytes], list[RawMention]]:
    from collectors.x import parse_page

    return lambda body: parse_page(json.loads(body))[0]


def reddit_pages(n: int) -> list[bytes]:
    base = _load("reddit_search_page1.json")["data"]["children"]
    pages = []
    for p in range(n):
        children = []
        for i in range(PER_PAGE):
            c = copy.deepcopy(base[i % len(base)])
            ident = f"b{p:04d}{i:03d}"
            c["data"].update(id=ident, name=f"t3_{ident}", created_utc=1763633100.0 - p * PER_PAGE - i)
            children.append(c)
        pages.append(json.dumps({"kind": "Listing", "data": {"after": None, "children": children}}).encode())
    return pages


def reddit_parse() -> Callable[[bytes], list[RawMention]]:
    import praw

    from collectors.reddit_parse import parse_thing

    reddit = praw.Reddit(client_id="bench", client_secret="bench", user_agent="bench", check_for_updates=False)

    def parse(body: bytes) -> list[RawMention]:
        listing = reddit._objector.objectify(data=json.loads(body))  # what reddit.get() does with a response
        return [m for m in (parse_thing(vars(c)) for c in listing.children) if m is not None]

    return parse


def bluesky_pages(n: int) -> list[bytes]:
    base = _load("bsky_search_page1.json")["posts"]
    pages = []
    for p in range(n):
        posts = []
        for i in range(PER_PAGE):
            post = copy.deepcopy(base[i % len(base)])
            post["uri"] = f"at://did:plc:bench/app.bsky.feed.post/{p:05d}{i:03d}"
            posts.append(post)
        pages.append(json.dumps({"posts": posts, "cursor": str(p)}).encode())
    return pages


def bluesky_parse() -> Callable[[bytes], list[RawMention]]:
    from collectors.bluesky import parse_page

    return lambda body: parse_page(json.loads(body))[0]


def hn_pages(n: int) -> list[bytes]:
    base = _load("hn_page0.json")["hits"]
    pages = []
    for p in range(n):
        hits = []
        for i in range(PER_PAGE):
            h = copy.deepcopy(base[i % len(base)])
            h["objectID"] = str(43000000 + p * PER_PAGE + i)
            hits.append(h)
        pages.append(json.dumps({"hits": hits, "nbPages": n, "page": p}).encode())
    return pages


def hn_parse() -> Callable[[bytes], list[RawMention]]:
    from collectors.hackernews import parse_hits

    return lambda body: parse_hits(json.loads(body)["hits"])[0]


PLATFORMS = {"x": (x_pages, x_parse), "reddit": (reddit_pages, reddit_parse),
             "bluesky": (bluesky_pages, bluesky_parse), "hackernews": (hn_pages, hn_parse)}


def bench(platform: str, pages: int, url: str) -> tuple[int, float, float, float]:
    make_pages, make_parser = PLATFORMS[platform]
    bodies = make_pages(pages)
    parse = make_parser()
    engine = make_engine(url)
    create_all(engine)
    stored = 0
    parse_cpu = 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    with Session(engine) as session:
        for i, body in enumerate(bodies):
            p0 = time.process_time()
            mentions = parse(body)
            parse_cpu += time.process_time() - p0
            stored += ingest(session, mentions, source=platform, query_key=f"{platform}:bench", cursor=str(i)).new
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    engine.dispose()
    return stored, stored / wall, stored / cpu, stored / parse_cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--platform", nargs="*", default=list(PLATFORMS))
    ap.add_argument("--target", type=float, default=5000.0)
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs (the machine is shared)")
    args = ap.parse_args()
    print(f"| platform ({args.pages} pages × {PER_PAGE}, best of {args.repeat}) | stored | mentions/s (wall) | per CPU-second | parse only, per CPU-second |")
    print("|---|---:|---:|---:|---:|")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.platform:
            runs = [bench(name, args.pages, f"sqlite:///{Path(tmp) / f'{name}{i}.db'}") for i in range(args.repeat)]
            stored = runs[0][0]
            wall, cpu, parse = (max(r[k] for r in runs) for k in (1, 2, 3))
            ok = ok and cpu >= args.target
            print(f"| {name} | {stored:,} | {wall:,.0f} | {cpu:,.0f} | {parse:,.0f} |")
    print(f"\nload average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s). Target ≥ {args.target:,.0f} "
          f"mentions/s end to end per CPU-second: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
