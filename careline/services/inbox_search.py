"""Running a search: the parsed query (services/search.py) as an inbox listing with its total.

Above both the inbox query and the search conditions (the inbox applies `search.conditions()`), so neither
imports the other: the search box, `careline search` and the demo call `search()` here.

The total is exact up to the inbox's `COUNT_CAP` (1,000) and "1,000+" beyond, the inbox's own rule, unless
`exact_total` asks for the full count. Why: counting is reading every match. On PostgreSQL a GIN index
cannot count (a bitmap heap scan visits the heap page of every match, all-visible or not), so the exact
total of a common word at 1,000,000 mentions ("refund", 56,629 matches) read 42,000 heap pages: 490 ms warm
and 6.6 s with a cold cache. Counting to 1,001 reads about a thousand: ~20 ms warm (benchmarks/search.py).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlmodel import Session

from careline.models import Mention
from careline.services import inbox, search_facets
from careline.services.inbox import InboxFilter, Page, count, list_inbox
from careline.services.search_query import ParsedQuery, parse


@dataclass
class SearchResult:
    items: list[Mention]
    total: int
    page: int
    page_size: int
    has_next: bool
    query: ParsedQuery
    capped: bool = False  # more than `total` match (the count stopped at COUNT_CAP)

    @property
    def total_text(self) -> str:
        """The total as a person reads it: "56" or "1,000+"."""
        return f"{self.total:,}+" if self.capped else f"{self.total:,}"

    @property
    def note(self) -> str | None:
        return self.query.note


def search(
    session: Session,
    text: str,
    *,
    base: InboxFilter | None = None,
    everywhere: bool = True,
    order: str = "inbox",
    me: str | None = None,
    page: int = 1,
    page_size: int = 50,
    exact_total: bool = False,
) -> SearchResult:
    """Mentions matching `text` (search syntax), ordered as the inbox orders them or by relevance, with
    the total (exact up to COUNT_CAP, or always with `exact_total`). `everywhere` searches every status
    and date; otherwise `base`'s choices hold."""
    q = parse(text)
    f = filter_for(text, base=base, everywhere=everywhere, me=me)
    found, total, capped = listing(session, f, page=page, page_size=page_size, order=order, exact_total=exact_total)
    return SearchResult(found.items, total, found.page, found.page_size, found.has_next, q, capped)


def listing(session: Session, f: InboxFilter, page: int = 1, page_size: int = 50, order: str = "inbox",
            exact_total: bool = False) -> tuple[Page, int, bool]:
    """One inbox page for `f` with its total and whether the total is capped (the inbox page calls this).

    The count comes first because it tells how to find the page. PostgreSQL: the floor (inbox.count_with_floor)
    and, for words in a large share of the open inbox, the walk instead (services/search_density.py: `the`
    read 1,455 buffers above its floor, 156 walking). And a phrase: the planner estimates it from its words
    as if they were independent ("lost bag": 1,786 expected, 28,408 at 1,000,000 mentions), so it gathered
    every match and sorted them (24,000 heap pages, 150 ms warm, 2.9 s cold) where reading the priority
    index finds the page in about 1,800 rows. So when over 1,000 of every status match a phrase, it is read
    in the listing's order. (Not within a status choice: the order index holds every status, and the open
    "lost bag" ones are rarer in it, 720 ms to find a page that way against ~70 ms as planned.) SQLite walks
    common words too, probing the full-text index row by row (inbox.list_inbox)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    with _planner(session, SEARCH_SETTINGS if postgres and f.text else {}):
        total, capped, counted = _counted(session, f, exact_total, order, need=max(1, page) * page_size + 1)
        floor, walk = (counted.floor, counted.common) if counted else (None, False)
        q = parse(f.text or "")
        if postgres and (walk or ((capped or total > inbox.COUNT_CAP) and any(
                len(t.words) > 1 for t in q.positive) and not search_facets.statuses_of(f, q))):
            with _planner(session, IN_INDEX_ORDER):  # (a floor only ends that walk sooner, but not a common word's)
                return list_inbox(session, f, page=page, page_size=page_size, order=order,
                                  floor=None if walk else floor), total, capped
        return list_inbox(session, f, page=page, page_size=page_size, order=order, floor=floor, walk=walk), total, capped


# PostgreSQL, a search's statements: a word in a sixth of the mentions ("flight", 174,051 at 1,000,000) has
# more heap pages than a 4 MB bitmap keeps one bit per row for, so the bitmap goes lossy and every row of
# those pages is re-checked: the count of `flight -delayed platform:x` read 4,936 heap pages at the default
# 4 MB and 1,638 at 8 MB (EXPLAIN ANALYZE at 1M). 16 MB leaves room; it is one bitmap per search.
SEARCH_SETTINGS = {"work_mem": "16MB"}
# no bitmap or sequential scan, so the planner reads the listing's order index (priority, created_at) and
# stops at the page. JIT off: a disabled scan the plan cannot avoid (the brand table's, for "our brands")
# costs 10^10 in PostgreSQL 15, over jit_above_cost, and compiling took ~300-600 ms for a 0.4 ms walk
IN_INDEX_ORDER = {"enable_bitmapscan": "off", "enable_seqscan": "off", "jit": "off"}


@contextmanager
def _planner(session: Session, values: dict[str, str]) -> Iterator[None]:
    """PostgreSQL, for the statements inside only: these planner settings, then the server's settings put
    back as they were (per-transaction choices, not the database's configuration)."""
    if not values:
        yield
        return
    before = {n: session.execute(sa.text("SELECT current_setting(:n)"), {"n": n}).scalar_one() for n in values}
    for n, v in values.items():
        session.execute(sa.text("SELECT set_config(:n, :v, true)"), {"n": n, "v": v})
    try:
        yield
    finally:
        for n in values:
            session.execute(sa.text("SELECT set_config(:n, :v, true)"), {"n": n, "v": before[n]})


def capped_count(session: Session, f: InboxFilter, exact: bool = False) -> tuple[int, bool]:
    """(total, capped): the count up to COUNT_CAP, and whether more match (never capped when `exact`)."""
    total, capped, _counted_ = _counted(session, f, exact)
    return total, capped


def _counted(session: Session, f: InboxFilter, exact: bool, order: str = "", need: int = 0
             ) -> tuple[int, bool, inbox.Counted | None]:
    """capped_count's (total, capped) and what the count tells about finding the first `need` rows of
    `order` (inbox.count_with_floor; None for an exact count)."""
    if exact:
        return count(session, f, cap=None), False, None
    counted = inbox.count_with_floor(session, f, inbox.COUNT_CAP + 1, order, need)  # past the cap: inbox.capped
    return (*inbox.capped(counted.n), counted)


def filter_for(text: str, *, base: InboxFilter | None = None, everywhere: bool = True,
               me: str | None = None) -> InboxFilter:
    """The inbox filter a search means: `base`'s choices plus the query; `everywhere` lifts status and dates."""
    f = replace(base or InboxFilter(), text=text or None, me=me or (base.me if base else None))
    if everywhere:
        f = replace(f, statuses=[], since=None, until=None, include_competitors=True)
    return f
