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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.db import insert_rows
from careline.models import AuditEvent, Brand, Mention, Note, Reply, Status, utcnow
from careline.services.customer_counts import key_filter
from careline.services.priority import OPEN_STATUSES, score_mention
from careline.services.rows import PlainRow, load_plain, store_plain

log = logging.getLogger(__name__)
ACTOR = "cases"


def window_hours() -> float:
    from careline.settings import get_settings

    return float(get_settings().case_window_hours)


def attach(session: Session, new_ids: Sequence[int], *, window: float | None = None,
           fresh: Mapping[int, Mapping[str, Any]] | None = None) -> int:
    """Join newly stored mentions to open (or reopen resolved) cases; returns how many joined. No commit.

    `fresh`: the values ingest has just inserted, by id (services/ingest.py): those rows are not read back
    (reading them was a third of this pass; measured in benchmarks/ingest_throughput.py).

    Set-based over the batch: candidates are read as plain columns in two indexed queries (same threads;
    same authors within the window; plain INs, as a row-value IN makes SQLite scan the table) and matched
    through dicts and a sorted list per author (O(n log n) however prolific an author is); the state of
    every case the batch touches (open? owner? what waits on the customer?) is read in two queries for the
    whole batch, and the rows that change are read and written as plain columns, never ORM objects.
    Before this, three queries and an autoflush per case made ingest 345 mentions/s on
    benchmarks/ingest_throughput.py (20k posts by 5k authors within 72 h, one brand).
    """
    if not new_ids:
        return 0
    window_td = timedelta(hours=window_hours() if window is None else window)
    competitors = set(session.exec(select(Brand.id).where(col(Brand.competitor).is_(True))))
    fresh = fresh or {}
    conn: Any = session.connection()  # Core results: the ORM's result processing was a tenth of this pass
    new = [_fresh_post(i, fresh[i]) for i in set(new_ids) if i in fresh]
    for chunk in _id_chunks(sorted(set(new_ids) - set(fresh))):
        new += [_Post(*r) for r in conn.execute(sa.select(*_POST_COLUMNS).where(col(Mention.id).in_(chunk)))]
    new = [m for m in new if m.brand_id not in competitors]
    if not new:
        return 0
    new.sort(key=_order)
    threads = sorted({(m.platform, m.thread_id) for m in new if m.thread_id})
    authors = sorted({(m.platform, m.author_handle) for m in new if m.author_handle and m.brand_id is not None})
    earliest = min(m.created_at for m in new) - window_td
    first_in_thread: dict[tuple[str, str], _Post] = {}
    by_author: dict[tuple[str, str, int], list[_Post]] = {}
    posts: dict[int, _Post] = {m.id: m for m in new}  # one object per row, so matching sees one case_id
    for pairs in _chunks(threads):
        wanted = set(pairs)
        # `platform || ''`: without planner statistics SQLite would walk the (platform, status, ...) index
        stmt = sa.select(*_POST_COLUMNS).where(col(Mention.thread_id).in_(sorted({t for _, t in pairs})),
                                               col(Mention.platform).concat("").in_(sorted({p for p, _ in pairs})))
        for r in conn.execute(stmt):
            if (r.platform, r.thread_id) not in wanted:
                continue
            k = posts.setdefault(r.id, _Post(*r))
            if k.brand_id in competitors or k.thread_id is None:
                continue
            key = (k.platform, k.thread_id)
            if key not in first_in_thread or _order(k) < _order(first_in_thread[key]):
                first_in_thread[key] = k
    for pairs in _chunks(authors):
        wanted = set(pairs)
        stmt = sa.select(*_POST_COLUMNS).where(
            key_filter(col(Mention.platform), col(Mention.author_handle), pairs),
            col(Mention.created_at) >= earliest, col(Mention.brand_id).is_not(None))
        for r in conn.execute(stmt):
            if (r.platform, r.author_handle) not in wanted:
                continue
            k = posts.setdefault(r.id, _Post(*r))
            by_author.setdefault((k.platform, k.author_handle or "", k.brand_id or 0), []).append(k)
    for group in by_author.values():
        group.sort(key=_order)
    # which case each post joins, in batch order (a post that joined a case carries it to the next one)
    stored_case = {i: p.case_id for i, p in posts.items()}  # matching below moves case_id in memory
    joins: list[tuple[int, int, int]] = []  # (post, anchor, case)
    first_joiner: dict[int, int] = {}  # case -> the post whose arrival reads the case's stored state
    for m in new:
        root = _match(m, first_in_thread, by_author, window_td)
        if root is None:
            continue
        case_id = root.case_id or root.id
        root.case_id = m.case_id = case_id
        joins.append((m.id, root.id, case_id))
        first_joiner.setdefault(case_id, m.id)
    if not joins:
        return 0
    # the rows joining reads: the batch's own from `fresh`; an earlier anchor needs only the columns its
    # candidate query read (its case_id as stored); anything else is read in full
    wanted_rows = {i for j in joins for i in j[:2]}
    rows = {i: PlainRow({c: i if c == "id" else fresh[i].get(c) for c in _STATE_COLUMNS})
            for i in wanted_rows if i in fresh}
    anchors = {j[1] for j in joins} - set(rows)
    rows.update((i, PlainRow({**{c: getattr(posts[i], c) for c in _POST_NAMES}, "case_id": stored_case[i]}))
                for i in anchors if i in posts)
    rows.update(load_plain(session, wanted_rows - set(rows), _STATE_COLUMNS))
    states = _states(session, first_joiner, rows)  # adds the waiting rows: one object per row
    touched: dict[int, PlainRow] = {}
    events: list[dict[str, object]] = []
    for m_id, anchor_id, _case in joins:
        events.append(_join(rows[m_id], rows[anchor_id], states, touched))
    # one executemany each, not an ORM flush per row (a busy author's batch is thousands of joins)
    store_plain(session, touched.values(), _WRITTEN)
    stmt, params = insert_rows(session, AuditEvent, events)  # arrays on PostgreSQL (careline/db.py)
    session.connection().execute(stmt, params)
    return len(events)


_POST_COLUMNS = (col(Mention.id), col(Mention.platform), col(Mention.thread_id), col(Mention.author_handle),
                 col(Mention.brand_id), col(Mention.created_at), col(Mention.case_id))
_POST_NAMES = ("id", "platform", "thread_id", "author_handle", "brand_id", "created_at", "case_id")


@dataclass
class _Post:
    """The columns matching needs, without loading the row (its JSON columns are most of the cost)."""

    id: int
    platform: str
    thread_id: str | None
    author_handle: str | None
    brand_id: int | None
    created_at: datetime
    case_id: int | None


def _fresh_post(mention_id: int, values: Mapping[str, Any]) -> _Post:
    got: list[Any] = [values.get(c) for c in _POST_NAMES[1:]]
    return _Post(mention_id, *got)


def _order(m: _Post | Mention) -> tuple[datetime, int]:
    return (m.created_at, m.id or 0)


def _chunks(items: list[tuple[str, str]], size: int = 500) -> list[list[tuple[str, str]]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _id_chunks(ids: Sequence[int], size: int = 500) -> list[list[int]]:
    return [list(ids[i:i + size]) for i in range(0, len(ids), size)]


def _match(m: _Post, first_in_thread: dict[tuple[str, str], _Post],
           by_author: dict[tuple[str, str, int], list[_Post]], window: timedelta) -> _Post | None:
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


# what joining, scoring and writing a row read: the JSON columns and the text stay unread (most of the cost)
_STATE_COLUMNS = (
    "id", "platform", "thread_id", "author_handle", "brand_id", "created_at", "case_id", "assignee", "status",
    "priority", "resolved_at", "first_response_at", "respond_by", "intent", "sentiment", "corrected_intent",
    "corrected_sentiment", "intent_score", "author_followers", "priority_boost", "needs_review", "review_reason")
_WRITTEN = ("case_id", "assignee", "status", "priority", "resolved_at")


@dataclass
class _CaseState:
    open: bool
    owner: str | None
    waiting: list[PlainRow]


def _states(session: Session, first_joiner: dict[int, int], rows: dict[int, PlainRow]) -> dict[int, _CaseState]:
    """Per case: whether anything in it is open, its owner (latest assignee) and what waits on the customer,
    as stored before the batch, leaving out the post that joins it first (two queries for the batch)."""
    open_: set[int] = set()
    owners: dict[int, tuple[datetime, int, str]] = {}
    waiting: dict[int, list[PlainRow]] = {}
    cols = (col(Mention.id), col(Mention.case_id), col(Mention.status), col(Mention.assignee),
            col(Mention.updated_at))
    for chunk in _id_chunks(sorted(first_joiner)):
        in_case = sa.or_(col(Mention.case_id).in_(chunk), col(Mention.id).in_(chunk))
        wanted = set(chunk)

        def cases_of(mid: int, case_id: int | None, wanted: set[int] = wanted) -> list[int]:
            return [c for c in {mid, case_id} if c in wanted and first_joiner[c] != mid]

        relevant = sa.or_(col(Mention.status).in_((*OPEN_STATUSES, Status.waiting.value)),
                          col(Mention.assignee).is_not(None))
        wait_ids: dict[int, int | None] = {}  # row -> its stored case_id
        conn: Any = session.connection()
        for mid, case_id, status, assignee, updated in conn.execute(
                sa.select(*cols).where(in_case, relevant)):
            for c in cases_of(mid, case_id):
                if status in OPEN_STATUSES:
                    open_.add(c)
                if assignee is not None and (c not in owners or (updated, mid) > owners[c][:2]):
                    owners[c] = (updated, mid, assignee)
                if status == Status.waiting.value:
                    wait_ids[mid] = case_id
        for i, full in load_plain(session, [i for i in wait_ids if i not in rows or rows[i].partial],
                                  _STATE_COLUMNS).items():
            if i in rows:  # an anchor read with a few columns: complete that object (one object per row)
                rows[i].complete(full)
            else:
                rows[i] = full
        for mid, case_id in wait_ids.items():
            for c in cases_of(mid, case_id):
                waiting.setdefault(c, []).append(rows[mid])
    return {c: _CaseState(open=c in open_, owner=owners[c][2] if c in owners else None, waiting=waiting.get(c, []))
            for c in first_joiner}


def _join(m: PlainRow, anchor: PlainRow, states: dict[int, _CaseState],
          touched: dict[int, PlainRow]) -> dict[str, object]:
    """Put `m` in the anchor's case (in memory; the caller writes the rows); returns its audit event."""
    case_id = anchor.case_id or anchor.id
    assert case_id is not None
    if anchor.case_id is None:
        anchor.case_id = case_id
        touched[anchor.id or 0] = anchor
    state = states[case_id]
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
