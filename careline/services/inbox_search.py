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

from dataclasses import dataclass, replace

from sqlmodel import Session

from careline.models import Mention
from careline.services import inbox
from careline.services.inbox import InboxFilter, count, list_inbox
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
    listing = list_inbox(session, f, page=page, page_size=page_size, order=order)
    total, capped = capped_count(session, f, exact=exact_total)
    return SearchResult(listing.items, total, listing.page, listing.page_size, listing.has_next, q, capped)


def capped_count(session: Session, f: InboxFilter, exact: bool = False) -> tuple[int, bool]:
    """(total, capped): the count up to COUNT_CAP, and whether more match (never capped when `exact`)."""
    if exact:
        return count(session, f, cap=None), False
    n = count(session, f, cap=inbox.COUNT_CAP + 1)
    return min(n, inbox.COUNT_CAP), n > inbox.COUNT_CAP


def filter_for(text: str, *, base: InboxFilter | None = None, everywhere: bool = True,
               me: str | None = None) -> InboxFilter:
    """The inbox filter a search means: `base`'s choices plus the query; `everywhere` lifts status and dates."""
    f = replace(base or InboxFilter(), text=text or None, me=me or (base.me if base else None))
    if everywhere:
        f = replace(f, statuses=[], since=None, until=None, include_competitors=True)
    return f
