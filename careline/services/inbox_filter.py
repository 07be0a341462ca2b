"""What an inbox listing asks for: the filter every inbox, search, saved view and live count is built from.

On its own so the modules the inbox query draws on (services/search_facets.py) can read a filter without
importing the inbox itself, which imports them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from careline.services.priority import OPEN_STATUSES


@dataclass
class InboxFilter:
    brand_ids: list[int] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)
    sentiments: list[str] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=lambda: list(OPEN_STATUSES))
    assignee: str | None = None  # "" means unassigned
    languages: list[str] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None  # search syntax (services/search_query.py): words, "phrases", from:, tag:...
    tags: list[str] = field(default_factory=list)  # any of these tags
    me: str | None = None  # who is looking: `assignee:me` in a query or a saved view
    overdue: bool = False  # open, unanswered and past its response deadline (the built-in Overdue view)
    now: datetime | None = None  # the instant `overdue` is judged at; None: when the query runs
    needs_review: bool | None = None
    # Competitors are tracked for share of voice, not answered: left out unless asked for by brand.
    include_competitors: bool = False
    # only these mentions (a theme's, from services/themes.py); None means no such restriction
    mention_ids: list[int] | None = None
    reply_needed: bool | None = None  # classify/needs_reply.py's verdict; None: either
    # Posts their author deleted on the platform (a stream said so) are kept but leave the inbox; a search
    # still finds them, badged (`deleted_badge`), so nobody wonders where an answered post went.
    include_deleted: bool = False
