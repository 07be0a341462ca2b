"""The demo's search, tags and saved views: a few tags on the demo mentions and two shared team views,
so the first visit shows the tag filter, the views in the navigation and a phrase search with hits.

Idempotent: running the demo again keeps the same tags and replaces the same two views.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from careline.models import Mention
from careline.services import inbox_search, tags, triage, views

ACTOR = "demo"
DEMO_VIEWS: tuple[tuple[str, str, dict[str, Any]], ...] = (  # (name, query, filters)
    ("Lost bags (all time)", '"lost bag"', {"statuses": []}),
    ("VIP complaints", "tag:vip intent:complaint", {}),
)


def prepare(engine: Engine) -> str:
    """Tag, save the views, and say in one line what to try."""
    with Session(engine, expire_on_commit=False) as session:
        bags = inbox_search.search(session, '"lost bag"', page_size=20)
        for m in bags.items:
            if "lost-bag" not in (m.tags or []):
                triage.set_tags(session, m.id, [*(m.tags or []), "lost-bag"], ACTOR)  # type: ignore[arg-type]
        loud = session.exec(select(Mention).where(col(Mention.author_followers) >= 5_000)
                            .order_by(col(Mention.author_followers).desc()).limit(15)).all()
        for m in loud:
            if "vip" not in (m.tags or []):
                triage.set_tags(session, m.id, [*(m.tags or []), "vip"], ACTOR)  # type: ignore[arg-type]
        for name, query, filters in DEMO_VIEWS:
            views.save(session, name, ACTOR, query=query, filters=filters, shared=True)
        handle = next((m.author_handle for m in bags.items if m.author_handle), None)
        n_tags = len(tags.list_tags(session))
    try_handle = f" and from:{handle} (a customer by handle)" if handle else ""
    return (f'Search demo: "lost bag" finds {bags.total} mention(s); try it in the inbox{try_handle}. '
            f"{n_tags} tag(s) and {len(DEMO_VIEWS)} shared saved views are ready.")
