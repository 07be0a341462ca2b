"""Customer counts for newly stored mentions: the ingest half of services/customer_counts.py.

Every author gets a customer the first time it is stored (ensure_customers), and an ingest batch adds what
it brings to the (author, brand) counts and to its customers' counts (after_ingest) instead of recounting
them, because recounting the open cases of every customer in a batch was a sixth of a first ingest. What
it adds is what customer_counts.refresh would give (tests/careline/test_customers.py checks the two agree);
every other change recounts there. Nothing else writes these counts.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from careline.db import (
    in_param,
    insert_many,
    is_postgres,
    read_rows,
    recordset_columns,
    write_rows,
)
from careline.models import Author, AuthorBrand, Customer, CustomerIdentity, utcnow
from careline.services.customer_counts import Key, _t, author_ids, key_filter
from careline.services.customer_keys import handle_key
from careline.services.priority import OPEN_STATUSES


def ensure_customers(session: Session, keys: Iterable[Key], now: datetime | None = None) -> None:
    """Give each author in `keys` that has no identity yet a customer of its own (two INSERT ... SELECTs)."""
    keys = sorted(set(keys))
    if not keys:
        return
    conn = session.connection()
    params = {"platforms": json.dumps(sorted({p for p, _ in keys})), "handles": json.dumps(sorted({h for _, h in keys})),
              "now": now or utcnow()}
    for stmt in _ensure_statements(conn.dialect.name):
        conn.execute(stmt, params)


@functools.cache
def _ensure_statements(dialect: str) -> tuple[Any, Any]:
    """ensure_customers' two statements, built once per dialect (building both and their cache keys took
    ~360 µs a batch, timeit at load 1.5; with the other upserts built once, ~0.9 ms a page of 100). (platform, handle) as two INs, as
    key_filter: extra pairs are authors that need a customer anyway."""
    a, c, ci = _t(Author), _t(Customer), _t(CustomerIdentity)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    in_keys = sa.and_(in_param(dialect, a.c.platform, "platforms"), in_param(dialect, a.c.handle, "handles"))
    lonely = ~sa.exists().where(ci.c.author_id == a.c.id)
    at = sa.bindparam("now", type_=c.c.created_at.type)
    pick = sa.select(a.c.id, sa.func.substr(sa.func.coalesce(a.c.display_name, a.c.handle), 1, 200), at, at,
                     sa.cast(sa.literal("[]"), sa.JSON), sa.false(), *[sa.literal(0)] * 4).where(in_keys, lonely)
    customers = insert(Customer).from_select(
        ["seed_author_id", "display_name", "created_at", "updated_at", "tags", "vip", "mention_count",
         "complaint_count", "praise_count", "open_count"], pick).on_conflict_do_nothing()
    link = sa.select(c.c.id, a.c.id, a.c.platform, a.c.handle,
                     sa.bindparam("now", type_=ci.c.touched_at.type)).select_from(
        a.join(c, c.c.seed_author_id == a.c.id)).where(in_keys, lonely)
    identities = insert(CustomerIdentity).from_select(
        ["customer_id", "author_id", "platform", "handle", "touched_at"], link).on_conflict_do_nothing()
    return customers, identities


def after_ingest(session: Session, new_rows: Sequence[Mapping[str, Any]], now: datetime,
                 known: Mapping[Key, int] | None = None, *, competitors: Collection[int] = (),
                 open_authors: Mapping[int, Iterable[Key]] | None = None) -> None:
    """Customers, per-brand counts and customer counts for newly stored mentions (`known`: the author ids
    by (platform, handle) when the caller has them, saving a lookup).

    The customer counts move by what the batch adds instead of being recounted (a recount's open count is
    a correlated count over every open post of the customer, most of this step): mentions and the last
    contact from the rows themselves; the open count by the cases the batch opens for each customer,
    where `open_authors` names, per stored case the batch joins, the authors of its stored open own-brand
    posts (services/cases.py Plan), so a case a customer already had open is not counted twice. The rows
    must carry their final status and case_id. Every other change still recounts (refresh), and
    tests/careline/test_customers.py checks the two agree."""
    per: dict[tuple[str, str, int], list[Any]] = {}
    ext_ids: dict[Key, str] = {}
    for row in new_rows:
        handle = row.get("author_handle")
        if not handle:
            continue
        k = (row["platform"], handle, row.get("brand_id") or 0)
        n_last = per.setdefault(k, [0, None])
        n_last[0] += 1
        if n_last[1] is None or row["created_at"] > n_last[1]:
            n_last[1] = row["created_at"]
        if row.get("author_external_id"):
            ext_ids[(row["platform"], handle)] = str(row["author_external_id"])[:200]
    if not per:
        return
    keys = {(p, h) for p, h, _ in per}
    ids = {k: known[k] for k in keys if k in known} if known is not None else {}
    if len(ids) < len(keys):
        ids.update(author_ids(session, keys - set(ids)))
    idents = _identities(session, ids.values())
    lonely = {k for k in keys if k in ids and ids[k] not in idents}
    if lonely:  # new authors: a customer each (the rest of a busy source's batch is known already)
        ensure_customers(session, lonely, now)
        idents.update(_identities(session, [ids[k] for k in lonely]))
    _complete_identities(session, idents.values(), {ids[k]: e for k, e in ext_ids.items() if k in ids})
    values = [{"author_id": ids[(p, h)], "brand_id": b, "mention_count": n, "praise_count": 0, "complaint_count": 0,
               "last_seen_at": last} for (p, h, b), (n, last) in sorted(per.items()) if (p, h) in ids]
    insert_many(session, AuthorBrand, values, _brand_counts_upsert)
    customer_of = {k: idents[ids[k]].customer_id for k in keys if k in ids and ids[k] in idents}
    _add_counts(session, new_rows, customer_of, set(competitors), open_authors or {}, now)


def _brand_counts_upsert(stmt: Any) -> Any:
    """after_ingest's upsert of the (author, brand) counts, on an insert_rows statement."""
    ex = stmt.excluded
    ab = _t(AuthorBrand)
    return stmt.on_conflict_do_update(
        index_elements=["author_id", "brand_id"],
        set_={"mention_count": ab.c.mention_count + ex.mention_count,
              "last_seen_at": sa.case((ab.c.last_seen_at.is_(None), ex.last_seen_at),
                                      (ex.last_seen_at > ab.c.last_seen_at, ex.last_seen_at),
                                      else_=ab.c.last_seen_at)})


_Identity = NamedTuple("_Identity", [("id", int), ("author_id", int), ("customer_id", int), ("platform", str),
                                     ("handle", str), ("external_id", str | None), ("handle_key", str | None)])


def _identities(session: Session, author_ids_: Iterable[int]) -> dict[int, _Identity]:
    """The identity rows of these authors, by author id (one query per 500, its statement built once), as
    named tuples: read through the driver on SQLite (careline/db.py read_rows), where a Core row's
    processing and its attribute lookups were ~1.5% of a collector run (py-spy; services/ingest.py)."""
    ids = sorted(set(author_ids_))
    out: dict[int, _Identity] = {}
    stmt = _identities_query(session.get_bind().dialect.name)
    make = _Identity._make
    for start in range(0, len(ids), 500):
        for r in read_rows(session, stmt, {"ids": json.dumps(ids[start:start + 500])}):
            out[r[1]] = make(r)
    return out


@functools.cache
def _identities_query(dialect: str) -> sa.Select[Any]:
    ci = _t(CustomerIdentity)
    return sa.select(ci.c.id, ci.c.author_id, ci.c.customer_id, ci.c.platform, ci.c.handle, ci.c.external_id,
                     ci.c.handle_key).where(in_param(dialect, ci.c.author_id, "ids"))


def _complete_identities(session: Session, idents: Iterable[Any], ext_ids: Mapping[int, str]) -> None:
    """Identities without a handle key get it now, so they can be found by handle before the link job runs;
    those without an external id get the one the post carried (only those: an UPDATE per known author was
    most of this step). One executemany each (on SQLite through the driver: careline/db.py write_rows)."""
    idents = list(idents)
    keyless = [{"iid": r.id, "hk": handle_key(r.platform, r.handle)} for r in idents if r.handle_key is None]
    set_key, set_external = _identity_updates()
    if keyless:
        write_rows(session, set_key, keyless)
    missing = [{"iid": r.id, "ext": ext_ids[r.author_id]} for r in idents
               if r.external_id is None and r.author_id in ext_ids]
    if missing:
        write_rows(session, set_external, missing)


@functools.cache
def _identity_updates() -> tuple[sa.Update, sa.Update]:
    ci = _t(CustomerIdentity)
    set_key = sa.update(ci).where(ci.c.id == sa.bindparam("iid")).values(handle_key=sa.bindparam("hk"))
    set_external = (sa.update(ci).where(ci.c.id == sa.bindparam("iid"), ci.c.external_id.is_(None))
                    .values(external_id=sa.bindparam("ext")))
    return set_key, set_external


def _add_counts(session: Session, new_rows: Sequence[Mapping[str, Any]], customer_of: Mapping[Key, int],
                competitors: set[int], open_authors: Mapping[int, Iterable[Key]], now: datetime) -> None:
    """customer.mention_count, open_count and last_contact_at moved by the new rows, as a recount would
    move them (count_columns): own-brand mentions, the distinct open cases (coalesce(case_id, id)) a
    customer did not have open yet, the latest post of any brand."""
    stored_authors = {a for group in open_authors.values() for a in group}
    owner = dict(customer_of)
    if stored_authors - set(owner):  # another author's open post in a case this batch joins (a thread)
        ci = _t(CustomerIdentity)
        wanted = stored_authors - set(owner)
        owner.update(((p, h), c) for p, h, c in session.connection().execute(
            sa.select(ci.c.platform, ci.c.handle, ci.c.customer_id).where(
                key_filter(ci.c.platform, ci.c.handle, wanted, session))) if (p, h) in wanted)
    counted = {(owner[a], case) for case, group in open_authors.items() for a in group if a in owner}
    delta: dict[int, list[Any]] = {}  # customer -> [mentions, open cases, last contact]
    for row in new_rows:
        key = (row["platform"], row.get("author_handle"))
        if key not in customer_of:
            continue
        cid = customer_of[key]  # type: ignore[index]
        d = delta.setdefault(cid, [0, 0, row["created_at"]])
        d[2] = max(d[2], row["created_at"])
        if row.get("brand_id") in competitors:
            continue
        d[0] += 1
        case = row.get("case_id") or row["id"]
        if row["status"] in OPEN_STATUSES and (cid, case) not in counted:
            counted.add((cid, case))
            d[1] += 1
    if delta:
        _increment(session, [{"cid": c, "dm": m, "do": o, "last": t} for c, (m, o, t) in sorted(delta.items())], now)


def _increment(session: Session, deltas: list[dict[str, Any]], now: datetime) -> None:
    """One statement for all the customers: each count plus its delta, the later last contact."""
    c = _t(Customer)
    for d in deltas:
        d["now"] = now
    if is_postgres(session):  # one JSON recordset (careline/db.py), not a statement per customer
        picks, params = recordset_columns(session, c, ["cid", "dm", "do", "last", "now"], deltas,
                                       types={"cid": sa.Integer(), "dm": sa.Integer(), "do": sa.Integer(),
                                              "last": c.c.last_contact_at.type, "now": c.c.updated_at.type})
        v = sa.select(*picks).subquery("d")
        write_rows(session, _increment_statement(c.c.id == v.c.cid, v.c.dm, v.c.do, v.c.last, v.c.now), params)
    else:  # one executemany through the driver (careline/db.py sqlite_write), its statement built once
        write_rows(session, _sqlite_increment(), deltas)


def _increment_statement(where: Any, dm: Any, do: Any, last: Any, at: Any) -> sa.Update:
    c = _t(Customer)
    return sa.update(c).where(where).values(
        mention_count=c.c.mention_count + dm, open_count=c.c.open_count + do, updated_at=at,
        last_contact_at=sa.case((c.c.last_contact_at.is_(None), last), (last > c.c.last_contact_at, last),
                                else_=c.c.last_contact_at))


@functools.cache
def _sqlite_increment() -> sa.Update:
    c = _t(Customer)
    return _increment_statement(c.c.id == sa.bindparam("cid"), sa.bindparam("dm"), sa.bindparam("do"),
                                sa.bindparam("last", type_=c.c.last_contact_at.type),
                                sa.bindparam("now", type_=c.c.updated_at.type))
