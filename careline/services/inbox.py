"""The inbox query: filter, order by priority, paginate. The only place that reads mentions for triage."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, col, select

from careline.models import Brand, Mention, utcnow
from careline.services import (
    deadline,
    mention_brands,
    search,
    search_density,
    search_facets,
    search_query,
    tags,
)
from careline.services.inbox_filter import InboxFilter
from careline.services.priority import due_clause


@dataclass
class Page:
    items: list[Mention]
    page: int
    page_size: int
    has_next: bool


def _effective(column: str) -> sa.ColumnElement:
    return sa.func.coalesce(getattr(Mention, f"corrected_{column}"), getattr(Mention, column))


def apply_filter(stmt: sa.Select, f: InboxFilter, probe: bool = False) -> sa.Select:
    """`f` as conditions on `stmt` (`probe`: the search's words tested row by row, search.TextMatch)."""
    query = search_query.parse(f.text) if f.text else None
    if query is not None:
        stmt = stmt.where(*search.conditions(query, f.me, search_facets.for_filter(f, query), probe=probe))
    if f.brand_ids:  # a post belongs to every brand it names (services/mention_brands.py)
        stmt = stmt.where(mention_brands.brand_clause(f.brand_ids))
    elif not f.include_competitors and not (query and search.names_brand(query)):
        stmt = stmt.where(mention_brands.own_brand_clause())
    if f.platforms:
        stmt = stmt.where(col(Mention.platform).in_(f.platforms))
    # Plain columns keep the indexes usable; corrections are few, so check them beside.
    if f.sentiments:
        stmt = stmt.where(
            sa.or_(
                sa.and_(col(Mention.corrected_sentiment).is_(None), col(Mention.sentiment).in_(f.sentiments)),
                col(Mention.corrected_sentiment).in_(f.sentiments),
            )
        )
    if f.intents:
        stmt = stmt.where(
            sa.or_(
                sa.and_(col(Mention.corrected_intent).is_(None), col(Mention.intent).in_(f.intents)),
                col(Mention.corrected_intent).in_(f.intents),
            )
        )
    if f.statuses and not (query and search.overrides_status(query)):
        stmt = stmt.where(col(Mention.status).in_(f.statuses))
    if f.assignee is not None:
        stmt = stmt.where(col(Mention.assignee).is_(None) if f.assignee == "" else Mention.assignee == f.assignee)
    if f.languages:
        stmt = stmt.where(col(Mention.language).in_(f.languages))
    if f.since:
        stmt = stmt.where(Mention.created_at >= f.since)
    if f.until:
        stmt = stmt.where(Mention.created_at < f.until)
    if f.tags:
        stmt = stmt.where(tags.any_tag(f.tags))
    if f.overdue:  # open, unanswered (sla.time_left's rows) and past the deadline (services/deadline.py)
        stmt = stmt.where(deadline.overdue_clause(f.now or utcnow()), due_clause())
    if f.needs_review is not None:
        stmt = stmt.where(Mention.needs_review == f.needs_review)
    if f.reply_needed is not None:
        stmt = stmt.where(Mention.reply_needed == f.reply_needed)
    if f.mention_ids is not None:
        stmt = stmt.where(col(Mention.id).in_(f.mention_ids))
    if hides_deleted(f):
        stmt = stmt.where(col(Mention.id).not_in(_deleted_ids()))
    return stmt


def hides_deleted(f: InboxFilter) -> bool:
    """The one rule: a post its author deleted stays out of the inbox unless asked for or searched for."""
    return not (f.include_deleted or f.text)


def _deleted_ids() -> sa.Select:
    """As `id NOT IN (deleted ids)`, not `deleted_at IS NULL`: SQLite keeps the rowid in every index, so a
    count stays index-only (4 → 26 ms at 50k with the plain column test), and the ids come from a partial
    index that holds only the deleted rows (ix_mention_deleted)."""
    return sa.select(Mention.id).where(col(Mention.deleted_at).is_not(None))


DELETED_BADGE = "deleted by the author"


class _Posted(Protocol):
    deleted_at: datetime | None


def deleted_badge(m: _Posted) -> str:
    """What the detail, search results and exports (the weekly report's raw mentions too) say of a post its
    author deleted ('' when not): `m` is a Mention or a row that selects its deleted_at."""
    return DELETED_BADGE if m.deleted_at is not None else ""


ORDERS = ("inbox", "relevance", "newest", "oldest")


def list_inbox(session: Session, f: InboxFilter | None = None, page: int = 1, page_size: int = 50,
               order: str = "inbox", floor: Floor | None = None, walk: bool = False) -> Page:
    """One page in `order`: the inbox order (priority, then newest), search relevance, newest or oldest.
    `floor` (from `count_with_floor`, same filter and order): look only at or above it; the page is the
    same, and it is looked for again without the floor when fewer rows than a page are found above it.
    `walk` (`Counted.common`): the search's words are common, so on SQLite each row the order's index
    yields is tested against the full-text index rather than every match's id listed first (PostgreSQL's
    walk is the caller's planner choice, services/inbox_search.py). The same page either way."""
    f = f or InboxFilter()
    page, page_size = max(1, page), max(1, min(page_size, 500))
    if floor is not None and floor.order == order:
        found = _list(session, f, page, page_size, order, floor, walk)
        if len(found.items) == page_size and found.has_next:  # enough above the floor: it did not matter
            return found
    return _list(session, f, page, page_size, order, None, walk)


def _list(session: Session, f: InboxFilter, page: int, page_size: int, order: str, floor: Floor | None,
          walk: bool = False) -> Page:
    probe = walk and session.get_bind().dialect.name == "sqlite"
    stmt = apply_filter(select(Mention), f, probe=probe)
    if floor is not None:
        key, descending = FLOOR_KEYS[order]
        stmt = stmt.where(key >= floor.value if descending else key <= floor.value)
    keys: list[Any] = [col(Mention.priority).desc(), col(Mention.created_at).desc(), col(Mention.id).desc()]
    if order == "newest":
        keys = [col(Mention.created_at).desc(), col(Mention.id).desc()]
    elif order == "oldest":
        keys = [col(Mention.created_at), col(Mention.id)]
    elif order == "relevance" and f.text and (rank := search.relevance(search_query.parse(f.text))) is not None:
        keys = [rank.desc(), *keys]
    stmt = stmt.order_by(*keys)
    few = None if probe else _few_text_matches(session, f, FEW_ROWS_FOR_A_PAGE)
    if few is not None:
        stmt = stmt.where(col(Mention.id).in_(few))
    rows = list(session.exec(stmt.offset((page - 1) * page_size).limit(page_size + 1)))
    return Page(items=rows[:page_size], page=page, page_size=page_size, has_next=len(rows) > page_size)


# The inbox says "1,000+" beyond this (a search shows its exact total). Counting is reading: to know there
# are 10,000 one must read 10,000 index entries, and on PostgreSQL their heap pages too (the open rows are
# the ones being written, so never all-visible): at 1,000,000 mentions a 10,000 cap cost 57-98 ms a page,
# 1,000 costs 5 ms (benchmarks/care_workflow.py). Nobody triages differently at 1,000 or 10,000 open.
COUNT_CAP = 1_000


def count(session: Session, f: InboxFilter | None = None, cap: int | None = COUNT_CAP) -> int:
    """How many match, counted up to `cap` (None: exact; an exact count of a million rows takes time)."""
    f = f or InboxFilter()
    if f.text:
        q = search_query.parse(f.text)
        facets = search_facets.for_filter(f, q)
        n = None
        if session.get_bind().dialect.name == "sqlite" and facets.exact:
            n = search.text_count(session, q, cap, facets)  # the index counts the filters too
        elif _text_alone(f):
            n = search.text_count(session, q, cap)
        if n is not None:
            return n
    if hides_deleted(f):
        # As a subtraction, so the big count stays index-only on PostgreSQL too (it has no id in its
        # indexes to test `NOT IN` against: 107 → 40 ms at 100k); the deleted ones are a partial-index read.
        everything = replace(f, include_deleted=True)
        gone = _capped(session, everything, None, col(Mention.id).in_(_deleted_ids()))
        n = _capped(session, everything, None if cap is None else cap + gone)
        return n - gone if cap is None else min(cap, n - gone)
    return _capped(session, f, cap)


def capped(n: int, cap: int | None = None) -> tuple[int, bool]:
    """(total, capped) from a count made up to `cap` + 1 (default COUNT_CAP, read at the call): the one rule
    for "1,000+", which only a count past the cap earns (a count of exactly `cap` reads "1,000"; the search
    listing and the saved views use it)."""
    cap = COUNT_CAP if cap is None else cap
    return min(n, cap), n > cap


def count_capped(session: Session, f: InboxFilter | None = None, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """`count` up to `cap` with whether more match (`capped`)."""
    return capped(count(session, f, cap=cap + 1), cap)


@dataclass(frozen=True)
class Floor:
    """A value of `order`'s first sort key that at least `need` matching rows reach (see count_with_floor)."""

    order: str
    value: Any


# the first sort key of each order a floor can serve, and whether it sorts descending
FLOOR_KEYS: dict[str, tuple[Any, bool]] = {"inbox": (col(Mention.priority), True),
                                           "newest": (col(Mention.created_at), True),
                                           "oldest": (col(Mention.created_at), False)}


@dataclass(frozen=True)
class Counted:
    """A search's count up to a cap, with what it tells about finding the page (count_with_floor)."""

    n: int
    floor: Floor | None = None
    common: bool = False  # the words are common: walk the order's index for the page (search_density)


def count_with_floor(session: Session, f: InboxFilter, cap: int, order: str, need: int) -> Counted:
    """`count(f, cap)` and, from the rows that count read anyway: on PostgreSQL, the `need`-th best value of
    the order's first key among them (`floor`): the first `need` rows of the listing all reach it, since the
    counted rows are some of the matches (None: fewer than `need` counted, another order, or a count that
    reads no rows); and on either database whether the words are common (`common`, when `cap` is reached:
    services/search_density.py), for which walking the order finds the page sooner.

    Why the floor: PostgreSQL found a search's page by walking the priority index backwards and reading each
    row's heap page, one at a time, to test the words: at 1,000,000 mentions, cold, the open-inbox "refund"
    page read 535 heap pages in 47 ms of I/O to keep 51 of 572. With `priority >= floor` it ANDs the words'
    bitmap with that index's range and reads the 126 rows above the floor, prefetched: 12 ms (EXPLAIN
    ANALYZE, fresh copy, OS cache dropped; the count's 1,001 heap pages were read either way). For a word
    in most open mentions the floor is reached by thousands, and the walk is the shorter read: `common`."""
    if order not in FLOOR_KEYS or not f.text:
        return Counted(count(session, f, cap))
    q = search_query.parse(f.text)
    facets = search_facets.for_filter(f, q)
    judged = search_density.judged(q, facets)
    if session.get_bind().dialect.name != "postgresql":
        if not judged:
            return Counted(count(session, f, cap))
        n, density, rows = search.text_count_spread(session, q, cap, facets)
        return Counted(n, common=n >= cap and search_density.common(density, rows))
    key, descending = FLOOR_KEYS[order]
    found = apply_filter(select(Mention.id, key.label("key")), f).limit(cap).subquery()
    best = postgresql.array_agg(postgresql.aggregate_order_by(found.c.key, found.c.key.desc() if descending
                                                              else found.c.key.asc()))[need]
    n, value = session.execute(select(sa.func.count(), best).select_from(found)).one()
    floor = Floor(order, value) if value is not None else None
    if n < cap or not judged or facets.states != ("open",):  # (every status: the planner walks already)
        return Counted(int(n), floor)
    stats = search_density.pg_open(session, q, facets)
    return Counted(int(n), floor, stats is not None and search_density.common(*stats))


def _capped(session: Session, f: InboxFilter, cap: int | None, *where: sa.ColumnElement[bool]) -> int:
    inner = apply_filter(select(Mention.id), f).where(*where)
    few = _few_text_matches(session, f)
    if few is not None:
        inner = inner.where(col(Mention.id).in_(few))
    counted = (inner.limit(cap) if cap is not None else inner).subquery()
    return int(session.exec(select(sa.func.count()).select_from(counted)).one())


# SQLite cannot see how many mentions a full-text match holds, so it walks the priority index and probes
# the match set: ideal for a common word (a page of hits comes quickly), a scan of a million entries for a
# handle or a rare word. When the index says the match is small, its ids go in as a list and SQLite
# reads just those rows. At 1,000,000 mentions a handle with no match went from ~580 ms to ~5 ms.
# A page reads fewer: sorting the list means reading each listed row, one random page apiece when the file
# is not in memory, while the walk reads the (sequential) index. With the open/closed facet the open
# inbox's lists are small and close together: "lost bag" there lists ~1,100, read in 414-441 ms cold with
# 2,000 here against ~150 ms walking; a handle (619 rows, every status) reads in 142-170 ms either way.
FEW_TEXT_MATCHES = 2_000
FEW_ROWS_FOR_A_PAGE = 300


def _few_text_matches(session: Session, f: InboxFilter, limit: int = FEW_TEXT_MATCHES) -> list[int] | None:
    """The ids the search words match, when they are few (SQLite only; PostgreSQL's planner sees it)."""
    if not f.text or session.get_bind().dialect.name != "sqlite":
        return None
    q = search_query.parse(f.text)
    return search.text_ids(session, q, min(limit, FEW_TEXT_MATCHES), search_facets.for_filter(f, q))


def _text_alone(f: InboxFilter) -> bool:
    """The filter is only the search text (every status, date, brand): the index counts it alone."""
    bare = InboxFilter(text=f.text, statuses=[], include_competitors=True, me=f.me)
    return f == bare and search.text_only(search_query.parse(f.text or ""))


def get(session: Session, mention_id: int) -> Mention | None:
    return session.get(Mention, mention_id)


def thread(session: Session, mention: Mention, limit: int = 50) -> list[Mention]:
    """Other collected mentions in the same conversation, oldest first (then as collected: the id breaks a
    tie, or PostgreSQL returns equal times in heap order, which an update reshuffles)."""
    if not mention.thread_id:
        return []
    stmt = (
        select(Mention)
        .where(Mention.platform == mention.platform, Mention.thread_id == mention.thread_id, Mention.id != mention.id)
        .order_by(col(Mention.created_at), col(Mention.id))
        .limit(limit)
    )
    return list(session.exec(stmt))


def author_history(session: Session, mention: Mention, limit: int = 20) -> list[Mention]:
    """The author's other mentions, newest first (the id breaks a tie, as in `thread`, so the `limit`
    keeps the same ones on both databases)."""
    if not mention.author_handle:
        return []
    stmt = (
        select(Mention)
        .where(Mention.platform == mention.platform, Mention.author_handle == mention.author_handle, Mention.id != mention.id)
        .order_by(col(Mention.created_at).desc(), col(Mention.id).desc())
        .limit(limit)
    )
    return list(session.exec(stmt))


def brands(session: Session) -> list[Brand]:
    return list(session.exec(select(Brand).order_by(col(Brand.competitor), col(Brand.name))))


def languages(session: Session) -> list[str]:
    """The languages mentions are in, the first 100 by code: ordered before the limit, so both databases
    keep the same 100 (unordered, each kept whichever its scan met first)."""
    stmt = (select(Mention.language).where(col(Mention.language).is_not(None)).distinct()
            .order_by(col(Mention.language)).limit(100))
    return [x for x in session.exec(stmt) if x]
