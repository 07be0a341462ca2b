"""The inbox filters a SQLite full-text match can apply itself: open/closed, platform, our brands, handles.

The FTS5 index carries filter columns beside the text (careline/search_index.py FACETS), so a search in
the open inbox asks FTS5 for `"refund" AND state:("open1")` (open, of our own brand 1) and gets the few
thousand rows the inbox can show, instead of every "refund" ever written to intersect in SQL; `from:` is
the handle's own token. The SQL
conditions stay (they are the definition; the facets only narrow), so the results are the same with or
without them, and the same as PostgreSQL's, which does not use them.

When the facets say everything the filter says (`Facets.exact`), FTS5 counts the matches alone: at
1,000,000 mentions the open-inbox count of "refund" took ~70-110 ms intersected in SQL and ~4 ms in FTS5.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from careline.models import Status
from careline.search_index import OPEN_STATUSES
from careline.services.inbox_filter import InboxFilter
from careline.services.search_query import ParsedQuery, tokens

ALL_STATUSES = tuple(s.value for s in Status)
CLOSED_STATUSES = tuple(s for s in ALL_STATUSES if s not in OPEN_STATUSES)


@dataclass(frozen=True)
class Facets:
    states: tuple[str, ...] = ()  # "open" / "closed"; empty: either
    platforms: tuple[tuple[str, ...], ...] = ()  # each group: any of these (every group must hold)
    own_brands_only: bool = False  # leave out the mentions whose primary brand is a competitor
    exact: bool = False  # with the words, these say all the filter says: FTS5 alone can count

    @property
    def empty(self) -> bool:
        return not (self.states or self.platforms or self.own_brands_only)


def statuses_of(f: InboxFilter, q: ParsedQuery) -> list[str]:
    """The statuses the filter keeps (a `status:` in the query replaces the filter's choice); [] = all."""
    picked = [x.value for x in q.filters if x.field == "status" and not x.negated]
    if any(x.field == "status" for x in q.filters):  # the same rule as search.overrides_status
        if len(picked) != 1 or any(x.negated for x in q.filters if x.field == "status"):
            return []  # several or negated status terms: leave it to SQL (no facet)
        value = picked[0]
        return [] if value == "all" else list(OPEN_STATUSES) if value == "open" else [value]
    return list(f.statuses)


def for_filter(f: InboxFilter, q: ParsedQuery) -> Facets:
    """What FTS5 can apply of `f` and the query's own field filters, and whether that is all of it."""
    statuses = set(statuses_of(f, q))
    states: tuple[str, ...] = ()
    exact_states = True
    if statuses and not statuses >= set(ALL_STATUSES):
        states = tuple(name for name, group in (("open", OPEN_STATUSES), ("closed", CLOSED_STATUSES))
                       if statuses & set(group))
        covered = {s for name, group in (("open", OPEN_STATUSES), ("closed", CLOSED_STATUSES)) if name in states
                   for s in group}
        exact_states = covered == statuses
    groups = [tuple(f.platforms)] if f.platforms else []
    groups += [(x.value,) for x in q.filters if x.field == "platform" and not x.negated]
    names_brand = any(x.field == "brand" and not x.negated for x in q.filters)
    own_only = not f.brand_ids and not f.include_competitors and not names_brand
    facets = Facets(states=states, platforms=tuple(groups), own_brands_only=own_only)
    # FTS5 holds a platform as its folded tokens, so a chosen "X" matches the stored "x" there, where the
    # SQL `platform IN (...)` is exact: such a choice leaves the count to SQL (it counted 44 for 19 listed)
    exact_platforms = all(tokens(p) == [p] for p in f.platforms)
    return replace(facets, exact=exact_states and exact_platforms and _nothing_else(f, q))


def _nothing_else(f: InboxFilter, q: ParsedQuery) -> bool:
    """The filter is only words, handles, statuses, platforms and the brand choice the facets express."""
    bare = InboxFilter(text=f.text, statuses=f.statuses, platforms=f.platforms,
                       include_competitors=f.include_competitors, me=f.me, include_deleted=f.include_deleted,
                       now=f.now)  # `now` only matters with `overdue`, which is not bare
    # a status term is said by the facets only when statuses_of reads it: one, not negated (`-status:new` or
    # two of them are left to SQL, so FTS5 alone would count every status)
    status_terms = [x for x in q.filters if x.field == "status"]
    fields_ok = (all(x.field in ("platform", "from") and not x.negated for x in q.filters if x.field != "status")
                 and len(status_terms) <= 1 and not any(x.negated for x in status_terms))
    return bool(q.positive or q.values("from")) and f == bare and fields_ok and bool(f.text)
