"""Running a search: the parsed query (services/search.py) as an inbox listing with its exact total.

Above both the inbox query and the search conditions (the inbox applies `search.conditions()`), so neither
imports the other: the search box, `careline search` and the demo call `search()` here.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from sqlmodel import Session

from careline.models import Mention
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
) -> SearchResult:
    """Mentions matching `text` (search syntax), ordered as the inbox orders them or by relevance,
    with the exact total. `everywhere` searches every status and date; otherwise `base`'s choices hold."""
    q = parse(text)
    f = filter_for(text, base=base, everywhere=everywhere, me=me)
    listing = list_inbox(session, f, page=page, page_size=page_size, order=order)
    total = count(session, f, cap=None)
    return SearchResult(listing.items, total, listing.page, listing.page_size, listing.has_next, q)


def filter_for(text: str, *, base: InboxFilter | None = None, everywhere: bool = True,
               me: str | None = None) -> InboxFilter:
    """The inbox filter a search means: `base`'s choices plus the query; `everywhere` lifts status and dates."""
    f = replace(base or InboxFilter(), text=text or None, me=me or (base.me if base else None))
    if everywhere:
        f = replace(f, statuses=[], since=None, until=None, include_competitors=True)
    return f
