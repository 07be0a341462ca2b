"""Ingest: batched, idempotent upsert of collected mentions on (platform, external_id).

The source's cursor is written in the same transaction as the batch it follows, so a crash either
keeps both or neither: nothing is lost and at most one page is fetched again.
"""
from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from careline.db import dialect_insert as _insert
from careline.db import insert_many
from careline.gcpause import gc_paused
from careline.models import Author, Mention, utcnow
from careline.services import customer_ingest_counts, customer_links, customer_privacy, mention_brands
from careline.services.ingest_rows import MAX_TEXT_CHARS, Rules, clean_text, prepare, stored_posts, validate
from careline.services.priority import horizon_days
from careline.services.source_state import move_cursor
from collectors.base import RateLimit, RawMention

__all__ = ["MAX_TEXT_CHARS", "IngestResult", "Rules", "clean_text", "ingest", "validate"]

log = logging.getLogger(__name__)

_CHUNK = 500


@dataclass
class IngestResult:
    seen: int = 0
    new: int = 0
    new_ids: list[int] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def ingest(
    session: Session,
    mentions: Sequence[RawMention],
    *,
    brand_id: int | None = None,
    source: str | None = None,
    query_key: str | None = None,
    cursor: str | None = None,
    rate_limit: RateLimit | None = None,
    commit: bool = True,
    rules: Rules | None = None,
) -> IngestResult:
    """Store new mentions, ignore ones already stored, and move the cursor in the same transaction.

    Stored ones are found first (one indexed query per 500), so only new posts are prepared; each new
    post's case is decided before the insert (services/cases.py plan), so every row is written once with
    its case, and authors, customers and their counts follow from the rows as inserted. Measured with
    benchmarks/ingest_throughput.py (20,000 posts, one brand, medians of 3-6 runs at load 1.9-4.4), per
    CPU-second: first ingest SQLite 2,470 -> 3,058/s, PostgreSQL (client) 2,442 -> 2,554/s; re-ingest
    9,706 -> 52,254/s and 6,986 -> 28,291/s (docs/collectors.md says where the rest goes).

    Session 12 (the cyclic GC held off per call, statements built once, SQLite's reads and writes
    converted by column, priority summed without its dataclass), main -> this, first ingest per
    CPU-second, interleaved runs of benchmarks/ingest_throughput.py --repeat 1, load 1.0-1.4, SQLite
    medians: --direct --batch 1000 4,419 -> 6,099/s (7 pairs; ranges 3,815-5,781 vs 5,169-6,637);
    collector run, groups of 1,000: 4,837 -> 6,606/s (5 pairs); collector, --write-every 1 (pages of
    100): 2,504 -> 3,316/s (3 pairs); --direct --batch 100: 2,694-2,749 -> 3,485-3,596/s (2 pairs).
    PostgreSQL (client CPU): --direct --batch 1000 3,854-5,310 -> 5,174-6,733/s (3 pairs), groups of
    1,000 4,332 -> 6,257/s, pages of 100 2,996 -> 3,137/s (one pair each).

    session 12 (cases' open posts and the identities read through the driver, the payload's check text
    reused by the insert, stored timestamps parsed once per text, priority's zero parts unrounded, brands
    sorted only when a competitor can move), main -> this, 20,000 posts, first ingest into a new SQLite
    database: valgrind instructions per post (4,000 minus 1,000 posts, collector run) 867k -> 802-808k;
    per CPU-second, interleaved pairs in both orders, load 0.8-1.2: collector, groups of 1,000 7,802 ->
    8,479/s (medians of 22 pairs, median ratio 1.10); --direct --batch 1000 6,427 -> 6,438/s (28 pairs,
    median ratio 0.98: no change measurable on this 2-core machine, ±20% run to run). PostgreSQL client,
    groups of 1,000: 9,446 / 9,879 -> 10,015 / 12,928/s (two pairs, load 0.7-0.9)."""
    with gc_paused():
        return _ingest(session, mentions, brand_id=brand_id, source=source, query_key=query_key, cursor=cursor,
                       rate_limit=rate_limit, commit=commit, rules=rules)


def _ingest(session: Session, mentions: Sequence[RawMention], *, brand_id: int | None, source: str | None,
            query_key: str | None, cursor: str | None, rate_limit: RateLimit | None, commit: bool,
            rules: Rules | None) -> IngestResult:
    result = IngestResult(seen=len(mentions))
    now = utcnow()
    profiles: dict[tuple[str, str], RawMention] = {}  # authors whose profile links came with the post
    mentions, erased = customer_privacy.skip_erased(session, mentions)
    result.skipped.extend(erased)
    brands: dict[tuple[str, str], list[int]] = {}  # every brand each post belongs to, primary first
    rules = rules or Rules()  # a collector run passes its own: read once per run
    attr = rules.attribution(session)
    valid: dict[tuple[str, str], RawMention] = {}
    for raw in mentions:
        reason = validate(raw)
        if reason is None:
            try:
                key = (raw.platform, str(raw.external_id))
                if key not in valid:
                    ids = attr.brands_for(raw.text, raw.author_handle, brand_id) if attr else []
                    brands[key] = ids or ([brand_id] if brand_id is not None else [])
                    valid[key] = raw
                if raw.author_handle and (raw.author_url or raw.author_links):
                    profiles[(raw.platform, clean_text(raw.author_handle)[:200])] = raw
                continue
            except Exception as exc:  # noqa: BLE001 - one item's surprise never costs its neighbours
                reason = f"{raw.platform}:{raw.external_id} could not be prepared ({type(exc).__name__}: {exc})"
        result.skipped.append(reason)
        log.warning("skipped mention: %s", reason)

    _begin(session)  # the write lock first: ids are allocated and cases decided from what is stored now
    stored = stored_posts(session, list(valid))
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    policies = rules.policies(session) if len(stored) < len(valid) else None
    horizon = horizon_days()  # once for the batch, not per row (score_mention)
    for key, raw in valid.items():
        if key in stored:
            continue
        try:
            rows[key] = prepare(raw, brands[key][0] if brands[key] else None, now, policies,  # type: ignore[arg-type]
                                horizon)
        except Exception as exc:  # noqa: BLE001
            reason = f"{raw.platform}:{raw.external_id} could not be prepared ({type(exc).__name__}: {exc})"
            result.skipped.append(reason)
            log.warning("skipped mention: %s", reason)
    competitors = attr.competitors if attr else frozenset()
    inserted, plan = _store(session, rows, stored, result, competitors)
    result.new_ids = list(inserted)
    result.new = len(result.new_ids)
    if inserted:
        values = list(inserted.values())
        authors = _roll_up_authors(session, values, now)
        customer_ingest_counts.after_ingest(session, values, now, authors, competitors=competitors,
                                     open_authors=plan.open_authors)
        customer_links.store_profiles(session, profiles, {(r["platform"], r["author_handle"]) for r in values
                                                          if r["author_handle"]})
        _store_cases(session, plan)
    if attr is not None:
        mention_brands.record(session, attr, brands, [(i, r["platform"], r["external_id"]) for i, r in inserted.items()],
                              stored=stored)

    if source is not None and query_key is not None:
        move_cursor(session, source, query_key, cursor, rate_limit)
    if commit:
        session.commit()
    return result


def _begin(session: Session) -> None:
    """Open the transaction. SQLite: BEGIN IMMEDIATE, the write lock now (waiting up to the busy timeout)
    rather than at the first write, since the ids and cases are decided from what is stored: a deferred
    transaction that read first could not write after another writer's commit (SQLITE_BUSY_SNAPSHOT).
    It also keeps a savepoint from being the outermost transaction (pysqlite only BEGINs before a DML
    statement, and releasing that savepoint would commit the page early)."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        dbapi = conn.connection.dbapi_connection
        if dbapi is not None and not dbapi.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def _store(session: Session, rows: dict[tuple[str, str], dict[str, Any]],
           stored: dict[tuple[str, str], tuple[int, int | None]], result: IngestResult,
           competitors: Collection[int]) -> tuple[dict[int, dict[str, Any]], Any]:
    """Insert the new rows with ids allocated first and their cases decided (cases.plan); returns the rows
    as inserted, by id, and the plan. All or nothing in a savepoint: if a row is refused (its reason goes
    to `result.skipped`) or was stored meanwhile by another writer (PostgreSQL), a case decided from it
    would be wrong, so the savepoint is rolled back and the rest planned and inserted again."""
    from careline.services import cases

    pending = dict(rows)
    while True:
        by_id = dict(zip(_allocate_ids(session, len(pending)), pending.values()))
        try:
            with _guard(session):
                plan = cases.plan(session, by_id, competitors=competitors)
        except sa.exc.OperationalError:
            raise
        except Exception:  # noqa: BLE001 - a failure deciding cases never costs the mentions
            log.exception("deciding the cases of %d new mention(s) failed; they are stored without a case",
                          len(by_id))
            plan = cases.Plan()
        values = {i: {**r, "id": i, **plan.changes.get(i, {})} for i, r in by_id.items()}
        if not values:
            return {}, plan
        chunks = list(values.values())
        savepoint = session.begin_nested()
        try:
            got: set[int] = set()
            for start in range(0, len(chunks), _CHUNK):
                got.update(_insert_chunk(session, chunks[start:start + _CHUNK], result))
        except BaseException:
            if savepoint.is_active:
                savepoint.rollback()
            raise
        if len(got) == len(values):
            savepoint.commit()
            return values, plan
        savepoint.rollback()
        lost = {(r["platform"], r["external_id"]) for i, r in values.items() if i not in got}
        stored.update(stored_posts(session, list(lost)))  # stored meanwhile; the others were refused
        pending = {k: r for k, r in pending.items() if k not in lost}


def _guard(session: Session) -> Any:
    """Around one statement (or reads) whose failure must leave the page usable: PostgreSQL aborts the
    whole transaction on a failed statement, so a savepoint; SQLite undoes a failed statement by itself
    and keeps the transaction (a constraint's ABORT, its default; the FTS triggers raise nothing), so
    none: there it would be two statements for nothing."""
    return session.begin_nested() if session.get_bind().dialect.name == "postgresql" else nullcontext()


def _allocate_ids(session: Session, n: int) -> list[int]:
    """Ids for `n` new mentions, ascending (the order of the batch). SQLite: after the largest, under the
    write lock _begin took; PostgreSQL: from the id sequence (unique however many writers)."""
    if n == 0:
        return []
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        return sorted(conn.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence('mention', 'id')) FROM generate_series(1, %(n)s)",
            {"n": n}).scalars())
    top = conn.exec_driver_sql("SELECT max(id) FROM mention").scalar() or 0
    return list(range(top + 1, top + 1 + n))


def _store_cases(session: Session, plan: Any) -> None:
    """Write what the new posts changed in stored cases and the audit events, in a savepoint: a failure
    there is logged and the mentions are stored anyway, never lost to it."""
    try:
        with session.begin_nested():
            plan.store(session)
    except sa.exc.OperationalError:
        raise
    except Exception:  # noqa: BLE001
        log.exception("updating the cases %d new mention(s) joined failed; they are stored with their case",
                      len(plan.events))


def _insert_statement(session: Session) -> Any:
    return (
        _insert(session, Mention)
        .on_conflict_do_nothing(index_elements=["platform", "external_id"])
        .returning(Mention.id)
    )


def _insert_chunk(session: Session, chunk: list[dict[str, Any]], result: IngestResult) -> list[int]:
    """One multi-row INSERT (in _guard); if the database refuses it (a value it cannot store), the rows go
    one by one, so the refused row is skipped with its reason and the rest of the page is stored. A chunk
    is one statement on SQLite too (sqlite_write splits at 32,000 parameters: 1,185 rows of 27 values), so
    a refused chunk left nothing behind there. On PostgreSQL a page of one chunk pays this savepoint inside
    _store's: ~65 µs of client CPU, ~0.1% of a page of 100 (timed 2,000 times, load 1.7).

    Core, not the ORM's bulk insert: one statement per chunk (the ORM splits rows into a statement per run
    of rows with the same fields set, dozens per page) and no per-row ORM work. A lock or a lost
    connection (OperationalError) is not a row's fault and propagates: the caller rolls the page back.
    """
    try:
        with _guard(session):
            return _insert_many(session, chunk)
    except sa.exc.OperationalError:
        raise
    except sa.exc.DBAPIError as exc:
        log.warning("a batch of %d mentions was refused (%s); storing them one by one", len(chunk),
                    str(exc.orig).splitlines()[0] if exc.orig else exc)
    return _one_by_one(session, chunk, result)


def _one_by_one(session: Session, chunk: list[dict[str, Any]], result: IngestResult) -> list[int]:
    """Each row in _guard: a refused row is skipped with its reason, the rest stored."""
    inserted: list[int] = []
    for row in chunk:
        try:
            with _guard(session):
                inserted.extend(session.connection().execute(_insert_statement(session), [row]).scalars())
        except sa.exc.OperationalError:
            raise
        except sa.exc.DBAPIError as exc:
            reason = (f"{row['platform']}:{row['external_id']} refused by the database "
                      f"({str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__})")
            result.skipped.append(reason)
            log.warning("skipped mention: %s", reason)
    return inserted


def _insert_many(session: Session, chunk: list[dict[str, Any]]) -> list[int]:
    """The chunk in one statement (careline/db.py insert_many: one JSON recordset on PostgreSQL; SQLite
    through the driver, its statement built once)."""
    return [r[0] for r in insert_many(session, Mention, chunk, _mention_insert)]


def _mention_insert(stmt: Any) -> Any:
    return stmt.on_conflict_do_nothing(index_elements=["platform", "external_id"]).returning(Mention.id)


def _roll_up_authors(session: Session, rows: Sequence[dict[str, Any]], now: datetime) -> dict[tuple[str, str], int]:
    """Upsert the authors of newly stored mentions; returns their ids by (platform, handle)."""
    counts: dict[tuple[str, str], int] = {}
    latest: dict[tuple[str, str], dict[str, Any]] = {}  # the batch's last post of the author: name, followers
    seen: dict[tuple[str, str], datetime] = {}  # its newest post (customer_ingest_counts adds the same instant)
    for row in rows:
        if row["author_handle"]:
            key = (row["platform"], row["author_handle"])
            counts[key] = counts.get(key, 0) + 1
            latest[key] = row
            seen[key] = max(seen.get(key, row["created_at"]), row["created_at"])
    if not counts:
        return {}
    values = [
        {
            "platform": p,
            "handle": h,
            "display_name": latest[(p, h)]["author_name"],
            "followers": latest[(p, h)]["author_followers"],
            "mention_count": n,
            "praise_count": 0,
            "complaint_count": 0,
            "first_seen_at": now,
            "last_seen_at": seen[(p, h)],
        }
        for (p, h), n in sorted(counts.items())
    ]
    return {(p, h): i for i, p, h in insert_many(session, Author, values, _author_upsert)}


def _author_upsert(stmt: Any) -> Any:
    """_roll_up_authors' upsert on an insert_rows statement: counts add up, the newer profile and post win."""
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=["platform", "handle"],
        set_={
            "mention_count": Author.mention_count + excluded.mention_count,
            "followers": sa.func.coalesce(excluded.followers, Author.followers),
            "display_name": sa.func.coalesce(excluded.display_name, Author.display_name),
            "last_seen_at": sa.case(
                (Author.last_seen_at.is_(None), excluded.last_seen_at),  # type: ignore[union-attr]
                (excluded.last_seen_at > Author.last_seen_at, excluded.last_seen_at),
                else_=Author.last_seen_at,
            ),
        },
    ).returning(Author.id, Author.platform, Author.handle)
