"""Cases: a customer's conversation with a brand, across the posts it takes, until it is solved.

A case is identified by its first mention (`Mention.case_id` = that mention's id, on every post of it). At
ingest a new post joins a case when it is a follow-up in the same thread as a collected post, or when the
same author wrote about the same brand on the same platform within CARELINE_CASE_WINDOW_HOURS. It goes to
the case's owner (its latest assignee). If nothing in the case was still open (answered, resolved, or
waiting on the customer), the case reopens: audited as `case_reopen`, and earlier posts that were waiting
on the customer are closed (the conversation continues in the new post). Competitors' posts form no cases.
"""
from __future__ import annotations

import bisect
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.models import AuditEvent, Brand, Mention, Note, Reply, Status, utcnow
from careline.services.priority import OPEN_STATUSES, score_mention
from careline.services.rows import store_columns

log = logging.getLogger(__name__)
ACTOR = "cases"


def window_hours() -> float:
    from careline.settings import get_settings

    return float(get_settings().case_window_hours)


def attach(session: Session, new_ids: Sequence[int], *, window: float | None = None) -> int:
    """Join newly stored mentions to open (or reopen resolved) cases; returns how many joined. No commit.

    Candidates are read in two indexed queries (same threads; same authors within the window) and
    looked up through dicts and a sorted list per author, so a batch costs O(n log n) however prolific
    an author is; each case's state (open? owner?) is read once per batch.
    """
    if not new_ids:
        return 0
    window_td = timedelta(hours=window_hours() if window is None else window)
    competitors = set(session.exec(select(Brand.id).where(col(Brand.competitor).is_(True))))
    new = [m for m in session.exec(select(Mention).where(col(Mention.id).in_(list(new_ids))))
           if m.brand_id not in competitors]
    if not new:
        return 0
    new.sort(key=_order)
    threads = sorted({(m.platform, m.thread_id) for m in new if m.thread_id})
    authors = sorted({(m.platform, m.author_handle) for m in new if m.author_handle and m.brand_id is not None})
    earliest = min(m.created_at for m in new) - window_td
    first_in_thread: dict[tuple[str, str], Mention] = {}
    by_author: dict[tuple[str, str, int], list[Mention]] = {}
    for chunk in _chunks(threads):
        for k in session.exec(select(Mention).where(sa.tuple_(col(Mention.platform), col(Mention.thread_id)).in_(chunk))):
            if k.brand_id in competitors or k.thread_id is None:
                continue
            key = (k.platform, k.thread_id)
            if key not in first_in_thread or _order(k) < _order(first_in_thread[key]):
                first_in_thread[key] = k
    for chunk in _chunks(authors):
        stmt = select(Mention).where(sa.tuple_(col(Mention.platform), col(Mention.author_handle)).in_(chunk),
                                     col(Mention.created_at) >= earliest, col(Mention.brand_id).is_not(None))
        for k in session.exec(stmt):
            by_author.setdefault((k.platform, k.author_handle or "", k.brand_id or 0), []).append(k)
    for posts in by_author.values():
        posts.sort(key=_order)
    states: dict[int, _CaseState] = {}
    touched: dict[int, Mention] = {}
    events: list[dict[str, object]] = []
    for m in new:
        root = _match(m, first_in_thread, by_author, window_td)
        if root is not None:
            events.append(_join(session, m, root, states, touched))
    # one executemany each, not an ORM flush per row (a busy author's batch is thousands of joins)
    store_columns(session, list(touched.values()), ("case_id", "assignee", "status", "priority", "resolved_at"))
    if events:
        session.execute(AuditEvent.__table__.insert(), events)  # type: ignore[attr-defined]
    return len(events)


def _order(m: Mention) -> tuple[datetime, int]:
    return (m.created_at, m.id or 0)


def _chunks(items: list[tuple[str, str]], size: int = 500) -> list[list[tuple[str, str]]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _match(m: Mention, first_in_thread: dict[tuple[str, str], Mention],
           by_author: dict[tuple[str, str, int], list[Mention]], window: timedelta) -> Mention | None:
    """The earlier post whose case this one continues: same thread first, else same author and brand."""
    if m.thread_id:
        first = first_in_thread.get((m.platform, m.thread_id))
        if first is not None and _order(first) < _order(m):
            return first
    if m.author_handle and m.brand_id is not None:
        posts = by_author.get((m.platform, m.author_handle, m.brand_id), [])
        i = bisect.bisect_left(posts, _order(m), key=_order) - 1  # the latest post before this one
        if i >= 0 and m.created_at - posts[i].created_at <= window:
            return posts[i]
    return None


@dataclass
class _CaseState:
    open: bool
    owner: str | None
    waiting: list[Mention]


def _state(session: Session, case_id: int, exclude: int | None) -> _CaseState:
    """Whether anything in the case is open, its owner (latest assignee) and what waits on the customer."""
    in_case = sa.or_(col(Mention.case_id) == case_id, col(Mention.id) == case_id)
    not_me = col(Mention.id) != exclude
    still_open = session.exec(select(Mention.id).where(in_case, not_me, col(Mention.status).in_(OPEN_STATUSES))
                              .limit(1)).first() is not None
    owner = session.exec(select(Mention.assignee).where(in_case, not_me, col(Mention.assignee).is_not(None))
                         .order_by(col(Mention.updated_at).desc(), col(Mention.id).desc()).limit(1)).first()
    waiting = list(session.exec(select(Mention).where(in_case, not_me, Mention.status == Status.waiting.value)))
    return _CaseState(open=still_open, owner=owner, waiting=waiting)


def _join(session: Session, m: Mention, anchor: Mention, states: dict[int, _CaseState],
          touched: dict[int, Mention]) -> dict[str, object]:
    """Put `m` in the anchor's case (in memory; the caller writes the rows); returns its audit event."""
    case_id = anchor.case_id or anchor.id
    assert case_id is not None
    if anchor.case_id is None:
        anchor.case_id = case_id
        touched[anchor.id or 0] = anchor
    state = states.get(case_id) or _state(session, case_id, m.id)
    now = utcnow()
    m.case_id = case_id
    if state.owner and m.assignee is None:
        m.assignee, m.status = state.owner, Status.assigned.value
    for x in state.waiting:  # the customer answered: what waited on them continues in this post
        x.status = Status.replied.value if x.first_response_at else Status.resolved.value
        x.resolved_at = now if x.status == Status.resolved.value else x.resolved_at
        x.priority = score_mention(x, now)
        touched[x.id or 0] = x
    m.priority = score_mention(m, now)
    touched[m.id or 0] = m
    # what this post changes for the next one of the batch in the same case
    states[case_id] = _CaseState(open=state.open or m.status in OPEN_STATUSES, owner=m.assignee or state.owner,
                                 waiting=[])
    return {"at": now, "actor": ACTOR, "action": "case_join" if state.open else "case_reopen", "mention_id": m.id,
            "reply_id": None, "detail": {"case_id": case_id, "owner": state.owner,
                                         "via": "thread" if anchor.thread_id and anchor.thread_id == m.thread_id
                                         else "author"}}


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
