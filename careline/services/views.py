"""Saved views: a named search + filters + sort, personal or shared, listed in the navigation with a count.

A view is stored as the search syntax (`query`) plus the inbox choices the syntax has no word for
(`filters`, a small dict of InboxFilter fields). Relative choices stay relative: "assignee: me" means the
person looking, "days: 7" the last seven days from now, so one shared view works for everyone, every day.
Built-in views are rows too (Mine: assigned to me; Overdue: past the SLA deadline, oldest first), made on
first use.
Every save and delete is audited.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from careline.errors import InvalidInput, NotFound
from careline.models import utcnow
from careline.models_views import SavedView
from careline.services import audit, inbox
from careline.services.priority import OPEN_STATUSES
from careline.services.search_query import parse

log = logging.getLogger(__name__)

LIST_FILTERS = ("brand_ids", "platforms", "sentiments", "intents", "statuses", "languages", "tags")
FILTER_KEYS = (*LIST_FILTERS, "assignee", "needs_review", "days", "overdue")
SYSTEM = "system"


@dataclass(frozen=True)
class Builtin:
    key: str
    name: str
    query: str = ""
    filters: dict[str, Any] = field(default_factory=dict)
    sort: str = "inbox"


BUILTINS = (
    Builtin("mine", "Mine", filters={"assignee": "me", "statuses": list(OPEN_STATUSES)}),
    Builtin("overdue", "Overdue", filters={"overdue": True, "statuses": list(OPEN_STATUSES)}, sort="oldest"),
)


def ensure_builtins(session: Session) -> None:
    have = set(session.exec(select(SavedView.builtin).where(col(SavedView.builtin).is_not(None))))
    missing = [b for b in BUILTINS if b.key not in have]
    for i, b in enumerate(BUILTINS):
        if b in missing:
            session.add(SavedView(name=b.name, owner=SYSTEM, shared=True, query=b.query, filters=dict(b.filters),
                                  sort=b.sort, builtin=b.key, position=i))
    if missing:
        try:
            session.commit()
        except IntegrityError:  # another process made them at the same moment
            session.rollback()


def visible(session: Session, username: str) -> list[SavedView]:
    """Built-ins, then shared views, then this person's own, each group by position and name, then by
    age: two people's shared "Bags" and "bags" otherwise kept the order the rows were read in, which on
    PostgreSQL changes when one is saved again (the updated row moves)."""
    ensure_builtins(session)
    stmt = select(SavedView).where(sa.or_(col(SavedView.shared).is_(True), col(SavedView.owner) == username))
    rows = list(session.exec(stmt))
    return sorted(rows, key=lambda v: (v.builtin is None, not v.shared, v.position, v.name.lower(), v.id or 0))


def get(session: Session, view_id: int, username: str) -> SavedView:
    view = session.get(SavedView, view_id)
    if view is None or not (view.shared or view.owner == username):
        raise NotFound(f"Saved view {view_id} does not exist (or is someone else's personal view).")
    return view


def clean_filters(filters: dict[str, Any]) -> dict[str, Any]:
    """Only the keys a view can hold, with empty choices left out; anything else is one sentence."""
    unknown = sorted(set(filters) - set(FILTER_KEYS))
    if unknown:
        raise InvalidInput(f"A saved view cannot hold {', '.join(unknown)}; it holds {', '.join(FILTER_KEYS)}.")
    out: dict[str, Any] = {}
    for key in LIST_FILTERS:
        if filters.get(key):
            out[key] = list(filters[key])
    if filters.get("assignee") is not None:
        out["assignee"] = str(filters["assignee"])
    if filters.get("needs_review") is not None:
        out["needs_review"] = bool(filters["needs_review"])
    if filters.get("days"):
        out["days"] = int(filters["days"])
    if filters.get("overdue"):
        out["overdue"] = True
    return out


def save(session: Session, name: str, actor: str, *, query: str = "", filters: dict[str, Any] | None = None,
         sort: str = "inbox", shared: bool = False) -> SavedView:
    """Create or replace the actor's view called `name`."""
    name = " ".join((name or "").split())
    if not name or len(name) > 80:
        raise InvalidInput("A saved view needs a name of 1 to 80 characters.")
    if sort not in inbox.ORDERS:
        raise InvalidInput(f"Sort by one of {', '.join(inbox.ORDERS)}.")
    parse(query)  # refuses an over-long query now rather than every time the view is opened
    cleaned = clean_filters(filters or {})
    if any(v.name.lower() == name.lower() and v.builtin for v in visible(session, actor)):
        raise InvalidInput(f"{name!r} is a built-in view; pick another name.")
    view = session.exec(select(SavedView).where(SavedView.owner == actor, SavedView.name == name)).first()
    before = None if view is None else {"query": view.query, "filters": view.filters, "sort": view.sort,
                                        "shared": view.shared}
    view = view or SavedView(name=name, owner=actor)
    view.query, view.filters, view.sort, view.shared, view.updated_at = query.strip(), cleaned, sort, shared, utcnow()
    session.add(view)
    session.flush()
    audit.record(session, actor, "view_save", view_id=view.id, name=name, query=view.query, filters=cleaned,
                 sort=sort, shared=shared, before=before)
    session.commit()
    return view


def delete(session: Session, view_id: int, actor: str, *, is_admin: bool = False) -> None:
    view = get(session, view_id, actor)
    if view.builtin:
        raise InvalidInput(f"{view.name!r} is built in and cannot be deleted.")
    if view.owner != actor and not is_admin:
        raise InvalidInput(f"{view.name!r} belongs to {view.owner}; only they or an admin can delete it.")
    audit.record(session, actor, "view_delete", view_id=view.id, name=view.name, owner=view.owner,
                 query=view.query, filters=view.filters)
    session.delete(view)
    session.commit()


def to_filter(view: SavedView, me: str, now: datetime | None = None) -> inbox.InboxFilter:
    """The inbox filter the view means for `me`, now."""
    f = dict(view.filters or {})
    days = f.pop("days", None)
    assignee = f.pop("assignee", None)
    overdue = bool(f.pop("overdue", False))
    now = now or datetime.now(timezone.utc)
    kwargs: dict[str, Any] = {k: list(f.get(k) or []) for k in LIST_FILTERS}
    return inbox.InboxFilter(
        **kwargs, text=view.query or None, me=me, assignee=me if assignee == "me" else assignee,
        needs_review=f.get("needs_review"), since=now - timedelta(days=days) if days else None,
        overdue=overdue)


def count(session: Session, view: SavedView, me: str, cap: int = inbox.COUNT_CAP) -> int:
    return inbox.count(session, to_filter(view, me), cap=cap)


def capped_count(session: Session, view: SavedView, me: str, cap: int = inbox.COUNT_CAP) -> tuple[int, bool]:
    """(total, capped): how many the view holds up to `cap`, and whether more do, the listing's own rule
    (inbox.capped: a view of exactly `cap` reads "1,000", not "1,000+")."""
    return inbox.count_capped(session, to_filter(view, me), cap)


def counts(session: Session, username: str, cap: int = inbox.COUNT_CAP) -> list[tuple[SavedView, int, bool]]:
    """Every view this person sees, with how many mentions each holds now and whether more than `cap` do
    (counted up to `cap`; shown as "1,000+" when capped)."""
    return [(v, *capped_count(session, v, username, cap)) for v in visible(session, username)]
