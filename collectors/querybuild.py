"""Turning a brand's keywords, handles and exclusions into each platform's search strings.

X caps a recent-search query at 512 characters (4,096 on Pro and above), so a brand with many
keywords becomes several queries, each carrying every exclusion; Reddit's search has the same cap.
The other platforms are searched one term at a time and exclusions are applied to the text we get back
(collectors/matcher.py, the same rules the streams match with).
"""
from __future__ import annotations

import re

from collectors.base import Query

X_MAX_QUERY = 512
REDDIT_MAX_QUERY = 512
_PLAIN = re.compile(r"^[\w#@$.'-]+$", re.UNICODE)


class QueryTooLong(ValueError):
    """One keyword plus the exclusions already exceeds the platform's limit: no split can help."""


def quote(term: str) -> str:
    """A term as one search atom: bare if it is a single plain word, otherwise a quoted phrase."""
    term = term.strip().replace('"', "")
    return term if _PLAIN.match(term) else f'"{term}"'


def pack(atoms: list[str], suffix: str, limit: int, joiner: str = " OR ") -> list[str]:
    """Greedily group `atoms` into `(a OR b ...) suffix` strings no longer than `limit` characters."""
    out: list[str] = []
    group: list[str] = []

    def render(items: list[str]) -> str:
        body = items[0] if len(items) == 1 else "(" + joiner.join(items) + ")"
        return f"{body} {suffix}".strip()

    for atom in atoms:
        if len(render([atom])) > limit:
            raise QueryTooLong(f"the keyword {atom!r} with the exclusions is {len(render([atom]))} characters; "
                               f"the limit is {limit}")
        if group and len(render(group + [atom])) > limit:
            out.append(render(group))
            group = []
        group.append(atom)
    if group:
        out.append(render(group))
    return out


def x_queries(query: Query, limit: int | None = None) -> list[str]:
    """X recent-search strings for one brand: keywords and @handles OR-ed, exclusions and retweets removed.

    A hand-written query (option "query") is used as is. Options: "lang" (e.g. "en"), "retweets" ("1"
    keeps retweets), "max_query_length" (4096 on Pro).
    """
    limit = limit or int(query.option("max_query_length") or X_MAX_QUERY)
    custom = query.option("query")
    if custom:
        if len(custom) > limit:
            raise QueryTooLong(f"the hand-written X query is {len(custom)} characters; the limit is {limit}")
        return [custom]
    handles = [h.strip().lstrip("@") for h in query.handles if h.strip()]
    atoms = _unique([quote(t) for t in query.terms if t.strip()] + [f"@{h}" for h in handles])
    if not atoms:
        atoms = [quote(query.brand)]
    suffix_parts = [f"-{quote(e)}" for e in query.exclusions if e.strip()]
    suffix_parts += [f"-from:{h}" for h in handles]  # the brand's own posts are not mentions
    if query.option("retweets") != "1":
        suffix_parts.append("-is:retweet")
    if query.option("lang"):
        suffix_parts.append(f"lang:{query.option('lang')}")
    return pack(atoms, " ".join(suffix_parts), limit)


def reddit_queries(query: Query, limit: int = REDDIT_MAX_QUERY) -> list[str]:
    """Reddit search strings (lucene syntax): terms OR-ed, exclusions as NOT."""
    custom = query.option("query")
    if custom:
        return [custom]
    atoms = _unique([quote(t) for t in query.terms if t.strip()]) or [quote(query.brand)]
    suffix = " ".join(f"NOT {quote(e)}" for e in query.exclusions if e.strip())
    return pack(atoms, suffix, limit)


def search_terms(query: Query) -> list[str]:
    """One search per term, for platforms without reliable OR (Bluesky, Mastodon, Hacker News)."""
    custom = query.option("query")
    if custom:
        return [custom]
    return _unique([t.strip() for t in query.terms if t.strip()]) or [query.brand]


def _unique(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item.lower() not in seen:
            seen.add(item.lower())
            out.append(item)
    return out
