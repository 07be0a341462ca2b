"""Cases: a customer's conversation with a brand, across the posts it takes, until it is solved.

A case is identified by its first mention (`Mention.case_id` = that mention's id, on every post of it). At
ingest a new post joins a case when it is a follow-up in the same thread as a collected post, or when the
same author wrote about the same brand on the same platform within CARELINE_CASE_WINDOW_HOURS. It goes to
the case's owner (its latest assignee). If nothing in the case was still open (answered, resolved, or
waiting on the customer), the case reopens: audited as `case_reopen`, and earlier posts that were waiting
on the customer are closed (the conversation continues in the new post). Competitors' posts form no cases.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.models import Brand, Mention, Note, Reply, Status, utcnow
from careline.services import audit
from careline.services.priority import OPEN_STATUSES, score_mention

log = logging.getLogger(__name__)
ACTOR = "cases"


def window_hours() -> float:
    from careline.settings import get_settings

    return float(get_settings().case_window_hours)


def attach(session: Session, new_ids: Sequence[int], *, window: float | None = None) -> int:
    """Join newly stored mentions to open (or reopen resolved) cases; returns how many joined. No commit."""
    if not new_ids:
        return 0
    window_td = timedelta(hours=window_hours() if window is None else window)
    competitors = set(session.exec(select(Brand.id).where(col(Brand.competitor).is_(True))))
    new = [m for m in session.exec(select(Mention).where(col(Mention.id).in_(list(new_ids))))
           if m.brand_id not in competitors]
    if not new:
        return 0
    new.sort(key=lambda m: (m.created_at, m.id or 0))
    threads = {(m.platform, m.thread_id) for m in new if m.thread_id}
    authors = {(m.platform, m.author_handle) for m in new if m.author_handle}
    earliest = min(m.created_at for m in new) - window_td
    known: dict[int, Mention] = {}
    if threads:
        for m in session.exec(select(Mention).where(sa.tuple_(col(Mention.platform), col(Mention.thread_id))
                                                    .in_(sorted(threads)))):
            known[m.id or 0] = m
    if authors:
        stmt = select(Mention).where(sa.tuple_(col(Mention.platform), col(Mention.author_handle)).in_(sorted(authors)),
                                     col(Mention.created_at) >= earliest)
        for m in session.exec(stmt):
            known[m.id or 0] = m
    joined = 0
    for m in new:
        earlier = [k for k in known.values() if k.id != m.id and k.brand_id not in competitors
                   and (k.created_at, k.id or 0) < (m.created_at, m.id or 0)]
        root = _match(m, earlier, window_td)
        if root is not None:
            _join(session, m, root)
            joined += 1
    return joined


def _match(m: Mention, earlier: list[Mention], window: timedelta) -> Mention | None:
    """The earlier post whose case this one continues: same thread first, else same author and brand."""
    same_thread = [k for k in earlier if m.thread_id and k.platform == m.platform and k.thread_id == m.thread_id]
    if same_thread:
        return min(same_thread, key=lambda k: (k.created_at, k.id or 0))
    recent = [k for k in earlier if k.platform == m.platform and k.author_handle == m.author_handle
              and k.brand_id == m.brand_id and m.created_at - k.created_at <= window]
    return max(recent, key=lambda k: (k.created_at, k.id or 0)) if recent else None


def _join(session: Session, m: Mention, anchor: Mention) -> None:
    case_id = anchor.case_id or anchor.id
    assert case_id is not None
    if anchor.case_id is None:
        anchor.case_id = case_id
        session.add(anchor)
    members = list(session.exec(select(Mention).where(sa.or_(col(Mention.case_id) == case_id,
                                                             col(Mention.id) == case_id))))
    members = [x for x in members if x.id != m.id]
    still_open = any(x.status in OPEN_STATUSES for x in members)
    owned = [x for x in members if x.assignee]
    owner = max(owned, key=lambda x: (x.updated_at, x.id or 0)).assignee if owned else None
    now = utcnow()
    m.case_id = case_id
    if owner and m.assignee is None:
        m.assignee, m.status = owner, Status.assigned.value
    for x in members:  # the customer answered: what waited on them continues in this post
        if x.status == Status.waiting.value:
            x.status = Status.replied.value if x.first_response_at else Status.resolved.value
            x.resolved_at = now if x.status == Status.resolved.value else x.resolved_at
            x.priority = score_mention(x, now)
            session.add(x)
    m.priority = score_mention(m, now)
    session.add(m)
    session.flush()
    action = "case_join" if still_open else "case_reopen"
    audit.record(session, ACTOR, action, mention_id=m.id, case_id=case_id, owner=owner,
                 via="thread" if anchor.thread_id and anchor.thread_id == m.thread_id else "author")


def case_of(session: Session, m: Mention) -> list[Mention]:
    """Every post of the mention's case, oldest first (just the mention when it has no case)."""
    if m.case_id is None:
        return [m]
    stmt = (select(Mention).where(sa.or_(col(Mention.case_id) == m.case_id, col(Mention.id) == m.case_id))
            .order_by(col(Mention.created_at), col(Mention.id)))
    return list(session.exec(stmt))


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # "post" (theirs), "reply" (ours), "note" (internal)
    who: str
    text: str
    mention_id: int
    detail: str = ""


def conversation(session: Session, m: Mention, limit: int = 200) -> list[Entry]:
    """Their posts, our replies (dry runs and external replies marked) and notes, in time order."""
    posts = case_of(session, m)
    ids = [p.id for p in posts if p.id is not None]
    entries = [Entry(p.created_at, "post", f"@{p.author_handle or '?'}", p.text, p.id or 0, f"{p.platform} · {p.status}")
               for p in posts]
    for r in session.exec(select(Reply).where(col(Reply.mention_id).in_(ids))):
        how = "recorded as made outside Careline" if r.kind == "external" else r.state
        if r.dry_run:
            how = "DRY RUN: nothing was published"
        entries.append(Entry(r.sent_at or r.created_at, "reply", r.created_by, r.text, r.mention_id, how))
    for n in session.exec(select(Note).where(col(Note.mention_id).in_(ids))):
        entries.append(Entry(n.created_at, "note", n.author, n.text, n.mention_id, "internal note"))
    entries.sort(key=lambda e: (e.at, ("post", "reply", "note").index(e.kind)))
    return entries[:limit]


def sizes(session: Session, case_ids: Sequence[int]) -> dict[int, int]:
    """Posts per case, for the inbox rows of one page."""
    ids = sorted({c for c in case_ids if c})
    if not ids:
        return {}
    stmt = (select(Mention.case_id, sa.func.count()).where(col(Mention.case_id).in_(ids))
            .group_by(col(Mention.case_id)))
    return {int(c): int(n) for c, n in session.exec(stmt) if c is not None}


def resolve_case(session: Session, mention_id: int, actor: str) -> int:
    """Resolve every open or waiting post of the mention's case (audited each); returns how many."""
    from careline.services import triage

    m = session.get(Mention, mention_id)
    if m is None:
        from careline.errors import NotFound

        raise NotFound(f"Mention {mention_id} does not exist.")
    done = 0
    for x in case_of(session, m):
        if x.status in (*OPEN_STATUSES, Status.waiting.value) and x.id is not None:
            triage.set_status(session, x.id, Status.resolved.value, actor, commit=False)
            done += 1
    session.commit()
    return done
