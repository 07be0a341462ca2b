"""Comments under the Reddit posts a brand search found: bounded, matched with the brand's rules.

A search only finds posts (and comments whose text Reddit's search indexed); the complaint is often a
comment under a post about the brand. For the newest posts of each search page (at most `posts`), the
comment tree is read once (GET /comments/<id>, praw's `request`, `depth` levels, `limit` comments, newest
first) and walked as plain JSON. Query options: "comments" = "matched" (the default: comments that mention
the brand by collectors/matcher.py's rules, after its exclusions), "all" (every comment under the post), or
"0" (off); "comment_posts" (5), "comment_depth" (3), "comment_limit" (100).
The brand's own subreddits already collect every new comment there (the "own_subreddits" option).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from collectors.base import Query, RateLimited, RawMention, SourceError
from collectors.matcher import Matcher, Rule
from collectors.reddit_parse import parse_thing
from collectors.screen import screen

log = logging.getLogger(__name__)
MAX_POSTS, MAX_DEPTH, MAX_LIMIT = 25, 8, 500  # hard ceilings, whatever the options say


def options(query: Query) -> tuple[str, int, int, int]:
    """(mode, posts per page, depth, comments per post) from the query's options, within the ceilings."""
    mode = (query.option("comments") or "matched").strip().lower()
    if mode in ("0", "off", "no", "false"):
        mode = "off"
    elif mode != "all":
        mode = "matched"
    return (mode, _bounded(query.option("comment_posts"), 5, MAX_POSTS),
            _bounded(query.option("comment_depth"), 3, MAX_DEPTH),
            _bounded(query.option("comment_limit"), 100, MAX_LIMIT))


def collect_comments(get: Callable[[str, dict[str, Any]], Any], posts: list[RawMention], query: Query,
                     ) -> tuple[list[RawMention], list[str], int]:
    """Comments under `posts` (newest first, at most the option's count): (mentions, skip reasons, calls).

    One post whose comments cannot be read costs only its comments; a rate limit stops reading comments for
    this page (the posts themselves are kept) and says so among the skip reasons."""
    mode, count, depth, limit = options(query)
    if mode == "off":
        return [], [], 0
    matcher = Matcher([Rule.from_query(query)])
    mentions: list[RawMention] = []
    skipped: list[str] = []
    calls = 0
    for post in [p for p in posts if p.external_id.startswith("t3_")][:count]:
        post_id = post.external_id[3:]
        calls += 1
        try:
            tree = get(f"comments/{post_id}", {"depth": depth, "limit": limit, "sort": "new", "raw_json": 1})
        except RateLimited as exc:
            skipped.append(f"reddit:{post.external_id} comments not read ({exc})")
            break
        except SourceError as exc:
            skipped.append(f"reddit:{post.external_id} comments not read ({exc})")
            continue
        for data in walk(tree, depth):
            result = screen("reddit", data, parse_thing, query.exclusions, id_key="name",
                            gone="removed or deleted with nothing left to store")
            if isinstance(result, str):
                skipped.append(result)
            elif mode == "all" or matcher.match(result.text, author=result.author_handle):
                mentions.append(result)
    for reason in skipped:
        log.info("reddit: skipped %s", reason)
    return mentions, skipped, calls


def walk(tree: Any, depth: int) -> list[dict[str, Any]]:
    """Every comment's data in a /comments/<id> answer ([post listing, comment listing]) down to `depth`."""
    out: list[dict[str, Any]] = []
    if not isinstance(tree, list) or len(tree) < 2:
        return out

    def visit(listing: Any, level: int) -> None:
        if level >= depth or not isinstance(listing, dict):
            return
        children = (listing.get("data") or {}).get("children") if isinstance(listing.get("data"), dict) else None
        for child in children if isinstance(children, list) else []:
            if not isinstance(child, dict) or child.get("kind") != "t1" or not isinstance(child.get("data"), dict):
                continue  # "more" stubs and anything unexpected: not fetched (the bound is the point)
            data = child["data"]
            out.append({**data, "name": data.get("name") or f"t1_{data.get('id', '')}"})
            visit(data.get("replies"), level + 1)

    visit(tree[1], 0)
    return out


def _bounded(value: str | None, default: int, ceiling: int) -> int:
    try:
        number = int(value) if value not in (None, "") else default
    except ValueError:
        number = default
    return max(1, min(ceiling, number))
