"""Whether a search's words are common: then its page is found by walking the listing's order.

A search's page (the best 50 in inbox order) is found one of two ways. **Walk** the order's index from the
top and test each row's words: with a share `d` of the rows matching, that reads about `need / d` rows, one
at a time. Or **gather** the matches first and keep the best: PostgreSQL reads the rows above the count's
floor (inbox.count_with_floor), about `need * M / cap` of the `M = d * rows` matches, read ahead; SQLite
lists every match's id from FTS5 (`id IN (SELECT rowid ...)`), `M` entries. The walk wins when the words
are common, and both databases come to the same test, `d² * rows > COMMON`:

- PostgreSQL: walk when `need / d < need * d * rows / cap`, i.e. `d² * rows > cap` (the count's 1,001).
- SQLite: a walk's probe (FTS5 `MATCH ... AND rowid = ?`) cost ~8 µs warm a row and a listed id ~0.4 µs
  (at 1,000,000 mentions, `the` over every status: the 613,000 listed ids 230 ms, the probed walk 1.5 ms;
  `pram`, 1,760 probes, 13.5 ms): walk when `20 * need / d < d * rows`, for a page of 51 about `d² * rows >
  1,000`.

Measured at 1,000,000 mentions, PostgreSQL, the open inbox (41,788 of our open mentions), warm, buffers the
page read: `the` (in three in five) 1,455 with the floor against 156 walking, `my` 788 / 194; `refund` (one in
eighteen) 166 / 581, `flight -delayed platform:x` 220 / 624 (EXPLAIN ANALYZE; cold figures in the README).

Where `d` comes from. PostgreSQL: the open index's column statistics (pg_stats' most common lexemes and
their frequencies, gathered by ANALYZE/autovacuum): the words', the platforms' and our brands' lexemes
multiplied (the planner's own independence assumption; a phrase counts as its words, so it is never
thought commoner than they are), a lexeme not among the most common counted as absent: rare. No
statistics, no walk; read at most every STATS_TTL_S per engine. SQLite: the count's own result: it reads the first 1,001 matches in id order, so
`1,001 / (their id span)` is the share of mentions that match; for the open inbox, 1,001 over our open
mentions in that span (one more short FTS5 count, stopped where the words could no longer be common). Every other filter (tags, labels, `from:`) makes
the matches rarer than `d` says, so only a search of words, platforms, open/closed and our brands is
judged; anything else keeps the gathering plan.
"""
from __future__ import annotations

import time
import weakref
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from careline.search_index import BRAND_LEXEME, PG_OPEN_INDEX, PLATFORM_LEXEME
from careline.services.search_facets import Facets
from careline.services.search_query import ParsedQuery, Term

COMMON = 1_000  # d² * rows above this: walk (see above)


def common(density: float | None, rows: float) -> bool:
    """The one rule: whether walking the listing's order finds the page sooner than gathering the matches."""
    return density is not None and density * density * rows > COMMON


def from_span(counted: int, first_id: int | None, last_id: int | None) -> float | None:
    """SQLite: the share of mentions matching, from `counted` matches read in id order between two ids."""
    if not counted or first_id is None or last_id is None:
        return None
    return counted / (last_id - first_id + 1)


def scope_bound(counted: int, span: int, ids: int) -> int:
    """SQLite, open or closed only: how many mentions of that state in the matches' id span would make the
    words not common (`within_scope`'s d² * rows at most COMMON), so counting them can stop there."""
    return int(counted * counted * ids / (COMMON * span)) + 1


def within_scope(counted: int, in_scope: int, span: int, ids: int) -> tuple[float | None, float]:
    """SQLite, open or closed only: (d, rows) among the mentions in that state: `counted` of the `in_scope`
    ones in the id span match, and the state holds about its share of the span, of all `ids` (the low ids
    the count reads are older, fewer of them open: an underestimate, so it walks only when sure)."""
    if not in_scope:
        return None, 0.0
    return counted / in_scope, in_scope * ids / span


def judged(q: ParsedQuery, facets: Facets) -> bool:
    """Whether `d` can be told for this search: words, and only filters the index applies (see above)."""
    return bool(q.positive) and facets.exact and not q.values("from")


# the open index's most common lexemes with their frequency and whether each is one of our brands', and
# its row count
_PG_STATS = sa.text(
    "SELECT e.lexeme, e.freq, e.lexeme IN (SELECT :brand || b.id FROM brand b WHERE b.competitor IS NOT true "
    "UNION ALL SELECT :brand) AS own, (SELECT c.reltuples FROM pg_class c WHERE c.oid = to_regclass(:index)) "
    "FROM pg_stats s CROSS JOIN LATERAL unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) "
    "AS e(lexeme, freq) WHERE s.schemaname = current_schema() AND s.tablename = :index AND e.lexeme IS NOT NULL")
# Read at most this often per engine: in a new backend the statement above took ~17 ms (its catalogs; 1.5 ms
# once loaded), and PostgreSQL changes the statistics only at ANALYZE. A brand marked competitor meanwhile
# only moves this estimate, never a result.
STATS_TTL_S = 600.0


@dataclass(frozen=True)
class _OpenStats:
    freq: dict[str, float]
    own_share: float  # of the open mentions, the share whose primary brand is ours (or none)
    rows: float
    read_at: float


_stats: weakref.WeakKeyDictionary[sa.Engine, _OpenStats] = weakref.WeakKeyDictionary()


def _open_stats(session: Session) -> _OpenStats | None:
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, sa.Connection) else bind
    cached = _stats.get(engine)
    if cached is not None and time.monotonic() - cached.read_at < STATS_TTL_S:
        return cached
    found = session.execute(_PG_STATS, {"brand": BRAND_LEXEME, "index": PG_OPEN_INDEX}).all()
    if not found:
        return None  # never analysed (not kept: the next search looks again)
    stats = _OpenStats({lexeme: float(f) for lexeme, f, _own, _n in found},
                       min(1.0, sum(float(f) for _lexeme, f, own, _n in found if own)), float(found[0][3] or 0),
                       time.monotonic())
    _stats[engine] = stats
    return stats


def pg_open(session: Session, q: ParsedQuery, facets: Facets) -> tuple[float, float] | None:
    """PostgreSQL, the open inbox: (d, rows) from the open index's statistics, or None (none gathered)."""
    stats = _open_stats(session)
    if stats is None:
        return None
    freq = stats.freq
    density = 1.0
    for term in q.positive:
        density *= _term_share(term, freq)
    for term in q.negative:
        density *= 1 - min(1.0, _term_share(term, freq))
    for group in facets.platforms:
        density *= min(1.0, sum(freq.get(PLATFORM_LEXEME + p, 0.0) for p in group))
    if facets.own_brands_only:
        density *= stats.own_share
    return density, stats.rows


def _term_share(term: Term, freq: dict[str, float]) -> float:
    """A word's frequency; a phrase's, its words' product; a prefix's last word, its commonest completion
    (a lower bound: a mention may hold several)."""
    share = 1.0
    for i, word in enumerate(term.words):
        if term.prefix and i == len(term.words) - 1:
            share *= max((f for lexeme, f in freq.items() if lexeme.startswith(word)), default=0.0)
        else:
            share *= freq.get(word, 0.0)
    return share
