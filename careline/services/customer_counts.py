"""The one place customer counts are kept (with its ingest half, services/customer_ingest_counts.py):
classification and the status changes call in here, nothing else writes them.

Status changes need no call at all: any flush (or services/rows.store_columns) that moves a mention in or
out of the open statuses refreshes its customer's open count here, whichever service made the change
(triage, replies, the outbox, routing rules, cases, escalation). A post its author deleted leaves the open
count as it leaves the inbox (`open_clause`); the one service that marks posts deleted
(services/streams.py mark_deleted, for every stream) calls `posts_deleted`.

Every author gets a customer the first time it is stored (one-to-one; linking merges them later). Counts
live per (author, brand) in `author_brand`; a customer's counts are recomputed from its identities' rows
for the brands that are not competitors, so a merge, a split or a correction can never make them drift.
Ingest is the exception: it adds what its batch brings (services/customer_ingest_counts.py after_ingest),
which a recount would give too (tested), because recounting every customer's open cases was a sixth of a
first ingest; that module also gives each new author its customer.
All of it is set-based: a few statements per ingest batch, whatever its size.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm.attributes import PASSIVE_NO_INITIALIZE, get_history
from sqlmodel import Session

from careline.db import dialect_insert as _insert
from careline.db import (
    in_values,
)
from careline.models import Author, AuthorBrand, Customer, CustomerIdentity, Mention, utcnow
from careline.services.mention_brands import competitor_ids
from careline.services.priority import OPEN_STATUSES

Key = tuple[str, str]  # (platform, handle)


def _t(model: Any) -> sa.Table:
    return model.__table__  # type: ignore[no-any-return]


def key_filter(platform_col: Any, handle_col: Any, keys: Iterable[tuple[Any, Any]],
               session: Session | sa.Connection | None = None) -> Any:
    """(platform, handle) in keys as two plain INs: SQLite scans the whole table for a row-value IN, but
    uses the (platform, handle) index for this. It may match a few extra pairs; callers filter or don't mind.
    With `session`, each list is one parameter on PostgreSQL (careline/db.py in_values)."""
    keys = list(keys)
    platforms, handles = sorted({p for p, _ in keys}), sorted({h for _, h in keys})
    if session is None:
        return sa.and_(platform_col.in_(platforms), handle_col.in_(handles))
    return sa.and_(in_values(session, platform_col, platforms), in_values(session, handle_col, handles))


def _ids_where(session: Session, out_col: Any, in_col: Any, values: Iterable[Any], *where: Any) -> set[Any]:
    """`out_col` of the rows whose `in_col` is among `values` and that meet `where` (500 values a query)."""
    values = sorted(set(values))
    found: set[Any] = set()
    for start in range(0, len(values), 500):
        found.update(session.connection().execute(
            sa.select(out_col).where(in_values(session, in_col, values[start:start + 500]), *where)).scalars())
    return found


def author_ids(session: Session, keys: Iterable[Key]) -> dict[Key, int]:
    keys = list(set(keys))
    out: dict[Key, int] = {}
    a = _t(Author)
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        wanted = set(chunk)
        rows = session.connection().execute(
            sa.select(a.c.platform, a.c.handle, a.c.id).where(key_filter(a.c.platform, a.c.handle, chunk, session)))
        out.update({(p, h): i for p, h, i in rows if (p, h) in wanted})
    return out


def apply_intent_deltas(session: Session, deltas: Mapping[tuple[str, str, int], Sequence[int]]) -> None:
    """Praise/complaint changes per (platform, handle, brand) from classification or a correction."""
    changed = {k: d for k, d in deltas.items() if d[0] or d[1]}
    if not changed:
        return
    ids = author_ids(session, {(p, h) for p, h, _ in changed})
    rows = [{"author_id": ids[(p, h)], "brand_id": b or 0, "mention_count": 0, "praise_count": dp,
             "complaint_count": dc, "last_seen_at": None}
            for (p, h, b), (dp, dc) in changed.items() if (p, h) in ids]
    if not rows:
        return
    stmt = _insert(session, AuthorBrand)
    ab = _t(AuthorBrand)
    session.connection().execute(stmt.on_conflict_do_update(
        index_elements=["author_id", "brand_id"],
        set_={"praise_count": ab.c.praise_count + stmt.excluded.praise_count,
              "complaint_count": ab.c.complaint_count + stmt.excluded.complaint_count}), rows)
    refresh_authors(session, [r["author_id"] for r in rows])


def refresh_authors(session: Session, author_ids_: Iterable[int], only: Sequence[str] | None = None) -> None:
    ci = _t(CustomerIdentity)
    refresh(session, _ids_where(session, ci.c.customer_id, ci.c.author_id, author_ids_), only)


def opens_or_closes(m: Mention) -> bool:
    """Whether the pending status change moves `m` in or out of the open statuses (the open count's input).
    An unloaded old value counts as a change: refreshing once too often is cheaper than drifting."""
    history = get_history(m, "status", passive=PASSIVE_NO_INITIALIZE)  # not inspect(m).attrs: that builds every attribute's view
    if not history.has_changes():
        return False
    return not history.deleted or ((history.deleted[0] in OPEN_STATUSES) != (m.status in OPEN_STATUSES))


def open_clause(m: sa.Table) -> sa.ColumnElement[bool]:
    """A post of the mention table `m` that counts as its customer's open case: new or assigned, and not
    deleted by its author (the inbox leaves those out too, services/inbox.py hides_deleted). The count
    below and the routing condition (services/customer_routing.py) both read it. `status || ''` keeps
    SQLite off the (platform, status, ...) inbox index, which without planner statistics it prefers to the
    author's own rows: a scan of every open post per customer, quadratic in ingest (20k posts did not
    finish in 4 minutes); the author index makes it a few rows each."""
    return sa.and_(m.c.status.concat("").in_(OPEN_STATUSES), m.c.deleted_at.is_(None))


def is_open(m: Any) -> bool:
    """`open_clause` for a row in hand (a Mention, or any object with its status and deleted_at)."""
    return m.status in OPEN_STATUSES and m.deleted_at is None


def status_changed(session: Session, mentions: Iterable[Mention]) -> None:
    """The customers of these mentions get their open count again. Called by the two write paths every
    status change takes (the ORM flush hook below, and services/rows.store_columns), never by a service."""
    keys = {(m.platform, m.author_handle) for m in mentions if m.author_handle}
    if keys:
        refresh_authors(session, author_ids(session, keys).values())


def posts_deleted(session: Session, keys: Iterable[Key]) -> None:
    """The customers of these (platform, handle) authors, whose posts were just marked deleted, get their
    open count again (the only count a deletion moves: their mentions still count, they were posted)."""
    keys = {k for k in keys if k[1]}
    if keys:
        refresh_authors(session, author_ids(session, keys).values(), only=("open_count",))


_PENDING = "careline.customer_counts.pending"


@sa.event.listens_for(OrmSession, "before_flush")
def _note_status_changes(session: OrmSession, _ctx: Any, _instances: Any) -> None:
    pending = [m for m in session.dirty if isinstance(m, Mention) and opens_or_closes(m)]
    if pending:
        session.info.setdefault(_PENDING, []).extend(pending)


@sa.event.listens_for(OrmSession, "after_flush_postexec")
def _refresh_after_flush(session: OrmSession, _ctx: Any) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:  # still inside the flush: Core statements only, no autoflush
        status_changed(session, pending)  # type: ignore[arg-type]


def count_columns(competitors: Sequence[int]) -> dict[str, Any]:
    """The correlated subqueries that compute a customer's counts (also used for a full recount)."""
    c, ci, ab, a, m = _t(Customer), _t(CustomerIdentity), _t(AuthorBrand), _t(Author), _t(Mention)
    own = ab.c.brand_id.not_in(list(competitors)) if competitors else sa.true()

    def brand_sum(column: sa.Column) -> Any:
        return sa.select(sa.func.coalesce(sa.func.sum(column), 0)).select_from(
            ab.join(ci, ci.c.author_id == ab.c.author_id)).where(ci.c.customer_id == c.c.id, own).scalar_subquery()

    own_m = sa.or_(m.c.brand_id.is_(None), m.c.brand_id.not_in(list(competitors))) if competitors else sa.true()
    return {
        "mention_count": brand_sum(ab.c.mention_count),
        "praise_count": brand_sum(ab.c.praise_count),
        "complaint_count": brand_sum(ab.c.complaint_count),
        "last_contact_at": sa.select(sa.func.max(a.c.last_seen_at)).select_from(
            a.join(ci, ci.c.author_id == a.c.id)).where(ci.c.customer_id == c.c.id).scalar_subquery(),
        # open cases: a case (i14's Mention.case_id) counts once however many of its posts are open
        "open_count": sa.select(sa.func.count(sa.distinct(sa.func.coalesce(m.c.case_id, m.c.id)))).select_from(
            m.join(ci, sa.and_(m.c.platform == ci.c.platform, m.c.author_handle == ci.c.handle))).where(
            ci.c.customer_id == c.c.id, open_clause(m), own_m).scalar_subquery(),
    }


def refresh(session: Session, customer_ids: Iterable[int], only: Sequence[str] | None = None) -> None:
    """Recount these customers (`only`: just those counts; each is a correlated subquery per customer)."""
    ids = sorted(set(customer_ids))
    if not ids:
        return
    c = _t(Customer)
    values = count_columns(competitor_ids(session))
    if only is not None:
        values = {k: v for k, v in values.items() if k in only}
    values["updated_at"] = utcnow()
    for start in range(0, len(ids), 500):
        session.connection().execute(sa.update(c).where(c.c.id.in_(ids[start:start + 500])).values(**values))


def refresh_everyone(session: Session) -> int:
    """A full recount (after a brand becomes a competitor, or by `careline customer recount`)."""
    c = _t(Customer)
    values = count_columns(competitor_ids(session))
    return session.connection().execute(sa.update(c).where(c.c.merged_into_id.is_(None)).values(**values)).rowcount
