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
import functools
import json
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.db import in_param, insert_many, read_rows
from careline.models import AuditEvent, Mention, Note, Reply, Status, utcnow
from careline.services.priority import OPEN_STATUSES, score_mention
from careline.services.rows import PlainRow, load_plain, store_plain

log = logging.getLogger(__name__)
ACTOR = "cases"


def window_hours() -> float:
    from careline.settings import get_settings

    return float(get_settings().case_window_hours)


@dataclass
class Plan:
    """What a batch of new posts does to cases, decided before the posts are stored (services/ingest.py),
    so each new row is written once, with its case.

    `changes`: per new post id, the columns to store it with (case_id; assignee, status and priority when
    it goes to the case's owner). `stored`: rows already in the database that change (a post that gets its
    first follow-up takes its own id as case_id; what waited on the customer is closed), written by
    `store`. `events`: one audit event per post that joins. `open_authors`: per stored case joined, the
    (platform, handle) of its stored open own-brand posts not deleted, for customer_counts (an open count
    counts a case once per customer)."""

    changes: dict[int, dict[str, Any]] = field(default_factory=dict)
    stored: dict[int, PlainRow] = field(default_factory=dict)
    events: list[dict[str, object]] = field(default_factory=list)
    open_authors: dict[int, set[tuple[str, str]]] = field(default_factory=dict)

    def store(self, session: Session) -> int:
        """Write the stored rows that change and the audit events (once the new posts are stored)."""
        store_plain(session, self.stored.values(), _WRITTEN)  # one executemany per set of columns
        if self.events:  # one statement: careline/db.py insert_many
            insert_many(session, AuditEvent, self.events)
        return len(self.events)


def plan(session: Session, new: Mapping[int, Mapping[str, Any]], *, competitors: Collection[int],
         window: float | None = None, now: datetime | None = None) -> Plan:
    """Which case each new post joins, before any of them is stored. `new`: the rows ingest is about to
    insert, by the id each will get (careline/services/ingest.py allocates them first). No writes.

    Candidates are the batch itself plus the stored posts of the same threads and of the same authors
    within the window, read as plain columns in two indexed queries (plain INs: a row-value IN makes
    SQLite scan the table) and matched through dicts and a sorted list per author (O(n log n) however
    prolific an author is). The stored state of every case the batch joins (open? owner? what waits on
    the customer?) is read in one query per 500 cases. A case started by a post of this batch is open and
    has no owner yet. Deciding before the insert spares the second write of every joining row (its
    case_id, status and priority) that attaching after it cost: measured with benchmarks/ingest_throughput.py
    (15,000 of its 20,000 posts join a case), SQLite first ingest 2,470 -> 3,058 mentions per CPU-second
    (medians) with the other session-6 changes; this step is still ~90 µs a post of the ~330 (load ~3).
    """
    out = Plan()
    window_td = timedelta(hours=window_hours() if window is None else window)
    mine = sorted((_Post(i, r["platform"], r.get("thread_id"), r.get("author_handle"), r.get("brand_id"),
                         r["created_at"], r.get("case_id")) for i, r in new.items()
                   if r.get("brand_id") not in competitors), key=_order)
    if not mine:
        return out
    first_in_thread: dict[tuple[str, str], _Post] = {}
    by_author: dict[tuple[str, str, int], list[_Post]] = {}
    for m in mine:  # the batch's own posts are candidates for its later ones
        if m.thread_id:
            first_in_thread.setdefault((m.platform, m.thread_id), m)  # `mine` is in order: the first stays
        if m.author_handle and m.brand_id is not None:
            by_author.setdefault((m.platform, m.author_handle, m.brand_id), []).append(m)
    _stored_candidates(session, mine, window_td, competitors, first_in_thread, by_author)
    joins: list[tuple[_Post, _Post, int]] = []  # (post, the post it follows, case)
    for m in mine:
        root = _match(m, first_in_thread, by_author, window_td)
        if root is None:
            continue
        case_id = root.case_id or root.id
        if root.case_id is None:  # its first follow-up: the post becomes its case's first post
            if root.id in new:
                out.changes.setdefault(root.id, {})["case_id"] = case_id
            else:
                out.stored[root.id] = PlainRow({"id": root.id, "case_id": None})
                out.stored[root.id].case_id = case_id
            root.case_id = case_id
        m.case_id = case_id  # a later post of the batch that follows this one joins the same case
        joins.append((m, root, case_id))
    if not joins:
        return out
    states = _states(session, sorted({c for *_, c in joins if c not in new}), out, competitors)
    states.update((c, _CaseState(open=True, owner=None, waiting=[])) for *_, c in joins if c in new)
    for m, root, case_id in joins:
        out.events.append(_join(m, root, case_id, new[m.id], states, out, now or utcnow()))
    return out


def _stored_candidates(session: Session, mine: list[_Post], window: timedelta, competitors: Collection[int],
                       first_in_thread: dict[tuple[str, str], _Post],
                       by_author: dict[tuple[str, str, int], list[_Post]]) -> None:
    """Add the stored posts of the batch's threads (the first of each) and of its authors within the window."""
    dialect = session.get_bind().dialect.name
    threads = sorted({(m.platform, m.thread_id) for m in mine if m.thread_id})
    authors = sorted({(m.platform, m.author_handle) for m in mine if m.author_handle and m.brand_id is not None})
    earliest = mine[0].created_at - window
    stored: dict[int, _Post] = {}  # one object per row, so matching sees one case_id
    of_threads, of_authors = _candidate_queries(dialect)
    for pairs in _chunks(threads):
        wanted = set(pairs)
        for r in read_rows(session, of_threads, {"threads": json.dumps(sorted({t for _, t in pairs})),
                                             "platforms": json.dumps(sorted({p for p, _ in pairs}))}):
            if (r[1], r[2]) not in wanted or r[4] in competitors:  # (platform, thread_id), brand_id
                continue
            k = stored.get(r[0]) or stored.setdefault(r[0], _Post(*r))
            key = (k.platform, k.thread_id or "")
            if key not in first_in_thread or _order(k) < _order(first_in_thread[key]):
                first_in_thread[key] = k
    touched: set[tuple[str, str, int]] = set()
    for pairs in _chunks(authors):
        wanted = set(pairs)
        for r in read_rows(session, of_authors, {"platforms": json.dumps(sorted({p for p, _ in pairs})),
                                             "handles": json.dumps(sorted({h for _, h in pairs})),
                                             "earliest": earliest}):
            if (r[1], r[3]) not in wanted:  # (platform, author_handle)
                continue
            k = stored.get(r[0]) or stored.setdefault(r[0], _Post(*r))
            group = (k.platform, k.author_handle or "", k.brand_id or 0)
            by_author.setdefault(group, []).append(k)
            touched.add(group)
    for group in touched:
        by_author[group].sort(key=_order)


@functools.cache
def _candidate_queries(dialect: str) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """The stored posts of threads and of authors since :earliest, each statement built once (building
    them and their cache keys per batch was a third of reading the candidates)."""
    m = Mention.__table__  # type: ignore[attr-defined]
    columns = [m.c[n] for n in _POST_NAMES]
    # `platform || ''`: without planner statistics SQLite would walk the (platform, status, ...) index
    by_thread = sa.select(*columns).where(in_param(dialect, m.c.thread_id, "threads"),
                                          in_param(dialect, m.c.platform.concat(""), "platforms"))
    # (platform, handle) as two INs (customer_counts.key_filter says why); extra pairs are filtered
    by_author = sa.select(*columns).where(
        in_param(dialect, m.c.platform, "platforms"), in_param(dialect, m.c.author_handle, "handles"),
        m.c.created_at >= sa.bindparam("earliest", type_=m.c.created_at.type), m.c.brand_id.is_not(None))
    return by_thread, by_author


_POST_NAMES = ("id", "platform", "thread_id", "author_handle", "brand_id", "created_at", "case_id")


@dataclass(slots=True)
class _Post:
    """The columns matching needs, without loading the row (its JSON columns are most of the cost)."""

    id: int
    platform: str
    thread_id: str | None
    author_handle: str | None
    brand_id: int | None
    created_at: datetime
    case_id: int | None


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


# what scoring and closing a waiting row read: the JSON columns and the text stay unread (most of the cost)
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


def _states(session: Session, case_ids: list[int], out: Plan, competitors: Collection[int]) -> dict[int, _CaseState]:
    """Per stored case: whether anything in it is open, its owner (latest assignee) and what waits on the
    customer, as stored before the batch; notes the authors of its open posts that are not deleted (those
    the customer's open count holds) in `out.open_authors`. Two queries per 500 cases: the open posts
    grouped by case and author (a case's posts are mostly open, and reading each one was a fifth of
    deciding cases), then the few assigned or waiting rows."""
    open_: set[int] = set()
    owners: dict[int, tuple[datetime, int, str]] = {}
    waiting: dict[int, list[PlainRow]] = {}
    conn: Any = session.connection()
    open_posts, assigned_or_waiting = _state_queries(conn.dialect.name)
    for chunk in _id_chunks(case_ids):
        wanted = set(chunk)
        params = {"cases": json.dumps(chunk)}
        for c, platform, handle, brand_id, kept in read_rows(session, open_posts, params):
            if c in wanted:
                open_.add(c)
                # a deleted post is no open case of its customer (customer_counts.open_clause)
                if handle and brand_id not in competitors and kept:
                    out.open_authors.setdefault(c, set()).add((platform, handle))
        wait_ids: dict[int, int] = {}  # row -> its case
        for mid, c, status, assignee, updated in read_rows(session, assigned_or_waiting, params):
            if c not in wanted:
                continue
            if assignee is not None and (c not in owners or (updated, mid) > owners[c][:2]):
                owners[c] = (updated, mid, assignee)
            if status == Status.waiting.value:
                wait_ids[mid] = c
        rows = out.stored
        for i, full in load_plain(session, [i for i in wait_ids if i not in rows or rows[i].partial],
                                  _STATE_COLUMNS).items():
            if i in rows:  # an anchor read with its case_id only: complete that object (one object per row)
                rows[i].complete(full)
            else:
                rows[i] = full
        for mid, c in wait_ids.items():
            waiting.setdefault(c, []).append(rows[mid])
    return {c: _CaseState(open=c in open_, owner=owners[c][2] if c in owners else None, waiting=waiting.get(c, []))
            for c in case_ids}


@functools.cache
def _state_queries(dialect: str) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """_states' two statements over the cases in :cases (a JSON list), built once."""
    m = Mention.__table__  # type: ignore[attr-defined]
    case_key = sa.func.coalesce(m.c.case_id, m.c.id)  # a case's first post may still have no case_id
    in_case = sa.or_(in_param(dialect, m.c.case_id, "cases"), in_param(dialect, m.c.id, "cases"))
    # SQLite reads it through the driver (read_rows), which takes no expanding IN: the statuses as binds
    statuses = OPEN_STATUSES if dialect == "postgresql" else [sa.literal(s) for s in OPEN_STATUSES]
    kept = sa.func.max(sa.case((m.c.deleted_at.is_(None), 1), else_=0))  # 1: one of them is not deleted
    open_posts = (sa.select(case_key, m.c.platform, m.c.author_handle, m.c.brand_id, kept)
                  .where(in_case, m.c.status.concat("").in_(statuses))  # `|| ''`: not the inbox index
                  .group_by(case_key, m.c.platform, m.c.author_handle, m.c.brand_id))
    assigned_or_waiting = sa.select(m.c.id, case_key, m.c.status, m.c.assignee, m.c.updated_at).where(
        in_case, sa.or_(m.c.status == Status.waiting.value, m.c.assignee.is_not(None)))
    return open_posts, assigned_or_waiting


def _join(m: _Post, root: _Post, case_id: int, row: Mapping[str, Any], states: dict[int, _CaseState], out: Plan,
          now: datetime) -> dict[str, object]:
    """Put new post `m` in the case (in `out.changes`; closing what waited goes to `out.stored`); returns
    its audit event."""
    state = states[case_id]
    change = out.changes.setdefault(m.id, {})
    change["case_id"] = case_id
    if state.owner and row.get("assignee") is None:
        change["assignee"], change["status"] = state.owner, Status.assigned.value
        change["priority"] = score_mention(SimpleNamespace(**{**row, **change}), now)
    for x in state.waiting:  # the customer answered: what waited on them continues in this post
        x.status = Status.replied.value if x.first_response_at else Status.resolved.value
        x.resolved_at = now if x.status == Status.resolved.value else x.resolved_at
        x.priority = score_mention(x, now)
        out.stored[x.id] = x
    # what this post changes for the next one of the batch in the same case (a new post is open)
    states[case_id] = _CaseState(open=True, owner=change.get("assignee") or state.owner, waiting=[])
    return {"at": now, "actor": ACTOR, "action": "case_join" if state.open else "case_reopen", "mention_id": m.id,
            "reply_id": None, "detail": {"case_id": case_id, "owner": state.owner,
                                         "via": "thread" if root.thread_id and root.thread_id == m.thread_id
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
