"""Ingest: batched, idempotent upsert of collected mentions on (platform, external_id).

The source's cursor is written in the same transaction as the batch it follows, so a crash either
keeps both or neither: nothing is lost and at most one page is fetched again.
"""
from __future__ import annotations

import json
import logging
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from careline.db import dialect_insert as _insert
from careline.db import insert_rows
from careline.models import Author, Mention, SourceState, utcnow
from careline.services import customer_counts, customer_links, customer_privacy, mention_brands, sla
from careline.services.priority import score_mention
from collectors.base import RateLimit, RawMention, normalise_language

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 200_000  # well above any platform's limit; beyond this a payload is not a post
_CHUNK = 500
# Bounded text columns and their widths, read from the model so a new column is covered without a list
# here: SQLite ignores widths, PostgreSQL fails the whole statement (every row of the page) on one.
# The identity columns (platform, external_id) are never cut: an item whose id does not fit is skipped.
_WIDTHS = {c.name: c.type.length for c in Mention.__table__.columns  # type: ignore[attr-defined]
           if getattr(c.type, "length", None) and c.name not in ("platform", "external_id")}


@dataclass
class IngestResult:
    seen: int = 0
    new: int = 0
    new_ids: list[int] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def clean_text(text: str | None) -> str:
    """Keep the text as posted, minus what no database can store (NUL, lone surrogates)."""
    if text is None:
        return ""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return unicodedata.normalize("NFC", text)


def validate(raw: RawMention) -> str | None:
    """A reason to skip this item, or None when it can be stored."""
    if not isinstance(raw, RawMention):
        return f"not a mention ({type(raw).__name__})"
    if not raw.platform or not raw.external_id:
        return "missing platform or external id"
    if not isinstance(raw.platform, str) or len(raw.platform) > 20:
        return f"platform name {str(raw.platform)[:40]!r} is not one Careline knows"
    if len(raw.external_id) > 200:
        return f"external id longer than 200 characters ({raw.platform})"
    if raw.text is not None and not isinstance(raw.text, str):
        return f"{raw.platform}:{raw.external_id} text is a {type(raw.text).__name__}, not text"
    if raw.text is not None and len(raw.text) > MAX_TEXT_CHARS:
        return f"{raw.platform}:{raw.external_id} text is {len(raw.text):,} characters (limit {MAX_TEXT_CHARS:,})"
    if not isinstance(raw.created_at, datetime):
        return f"{raw.platform}:{raw.external_id} has no valid timestamp"
    return None


def _row(raw: RawMention, brand_id: int | None, now: datetime, policies: sla.PolicyBook) -> dict[str, Any]:
    row: dict[str, Any] = {
        "platform": raw.platform,
        "external_id": str(raw.external_id),
        "brand_id": brand_id,
        "url": raw.url,
        "author_handle": (raw.author_handle or None) and clean_text(raw.author_handle)[:200],
        "author_name": raw.author_name and clean_text(raw.author_name),
        "author_followers": raw.author_followers,
        "author_external_id": raw.author_id,
        "text": clean_text(raw.text),
        "language": normalise_language(raw.language),
        "created_at": raw.created_at.astimezone(timezone.utc),
        "collected_at": now,
        "parent_id": raw.parent_id,
        "thread_id": raw.thread_id,
        "raw": _raw_payload(raw.raw),
        "status": "new",
        "tags": [],
        "sentiment_scores": {},
        "intent_scores": {},
        "needs_review": False,
        "updated_at": now,
        "priority_boost": 0.0,
    }
    for name, width in _WIDTHS.items():  # never let one over-long field fail the batch
        value = row.get(name)
        if isinstance(value, str) and len(value) > width:
            row[name] = value[:width]
    row["respond_by"] = policies.respond_by(brand_id, raw.platform, None, row["created_at"])
    row["priority"] = score_mention(_Obj(row), now)
    return row


class _Obj:
    def __init__(self, d: dict[str, Any]) -> None:
        self.__dict__.update(d)


def _raw_payload(value: Any) -> Any:
    """The payload as JSON can store it. Most payloads already are plain JSON (the fast, C-only check);
    the column's serializer escapes NUL and lone surrogates itself, so only other types need work."""
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return _jsonable(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return clean_text(value)
    if value is None or isinstance(value, (int, float, bool)):
        return value
    return str(value)


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
) -> IngestResult:
    """Store new mentions, ignore ones already stored, and move the cursor in the same transaction."""
    result = IngestResult(seen=len(mentions))
    now = utcnow()
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    profiles: dict[tuple[str, str], RawMention] = {}  # authors whose profile links came with the post
    mentions, erased = customer_privacy.skip_erased(session, mentions)
    result.skipped.extend(erased)
    policies = sla.book(session) if mentions else None
    brands: dict[tuple[str, str], list[int]] = {}  # every brand each post belongs to, primary first
    attr = mention_brands.attribution(session)
    attr = attr if attr.ids else None
    for raw in mentions:
        reason = validate(raw)
        if reason is None:
            try:
                key = (raw.platform, str(raw.external_id))
                if key not in rows:
                    ids = attr.brands_for(raw.text, raw.author_handle, brand_id) if attr else []
                    brands[key] = ids or ([brand_id] if brand_id is not None else [])
                    rows[key] = _row(raw, brands[key][0] if brands[key] else None, now, policies)  # type: ignore[arg-type]
                if raw.author_handle and (raw.author_url or raw.author_links):
                    profiles[(raw.platform, clean_text(raw.author_handle)[:200])] = raw
                continue
            except Exception as exc:  # noqa: BLE001 - one item's surprise never costs its neighbours
                reason = f"{raw.platform}:{raw.external_id} could not be prepared ({type(exc).__name__}: {exc})"
        result.skipped.append(reason)
        log.warning("skipped mention: %s", reason)

    values = list(rows.values())
    all_inserted: list[tuple[int, str, str]] = []
    fresh: dict[int, dict[str, Any]] = {}  # what was inserted, by id: cases need not read it back
    for start in range(0, len(values), _CHUNK):
        inserted = _insert_chunk(session, values[start : start + _CHUNK], result)
        all_inserted.extend((r[0], r[1], r[3]) for r in inserted)
        result.new_ids.extend(r[0] for r in inserted)
        fresh.update((r[0], rows[(r[1], r[3])]) for r in inserted)
        authors = _roll_up_authors(session, inserted, rows, now)
        customer_counts.after_ingest(session, [rows[(r[1], r[3])] for r in inserted], now, authors)
        customer_links.store_profiles(session, profiles, {(r[1], r[2]) for r in inserted if r[2]})
    if attr is not None:
        mention_brands.record(session, attr, brands, all_inserted)
    result.new = len(result.new_ids)
    _attach_cases(session, result.new_ids, fresh)

    if source is not None and query_key is not None:
        save_source_state(session, source, query_key, cursor=cursor, rate_limit=rate_limit, healthy=True)
    if commit:
        session.commit()
    return result


def _insert_statement(session: Session) -> Any:
    return (
        _insert(session, Mention)
        .on_conflict_do_nothing(index_elements=["platform", "external_id"])
        .returning(Mention.id, Mention.platform, Mention.author_handle, Mention.external_id)
    )


def _begin_for_savepoint(session: Session) -> None:
    """pysqlite only BEGINs before a DML statement; a SAVEPOINT issued first would be the outermost one,
    and releasing it would commit the page early. Open the real transaction first."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        dbapi = conn.connection.dbapi_connection
        if dbapi is not None and not dbapi.in_transaction:
            conn.exec_driver_sql("BEGIN")


def _insert_chunk(session: Session, chunk: list[dict[str, Any]], result: IngestResult) -> list[Any]:
    """One multi-row INSERT in a savepoint; if the database refuses it (a value it cannot store), the rows
    go one by one, so the refused row is skipped with its reason and the rest of the page is stored.

    Core, not the ORM's bulk insert: one statement per chunk (the ORM splits rows into a statement per run
    of rows with the same fields set, dozens per page) and no per-row ORM work. A lock or a lost
    connection (OperationalError) is not a row's fault and propagates: the caller rolls the page back.
    """
    _begin_for_savepoint(session)
    try:
        with session.begin_nested():
            return _insert_many(session, chunk)
    except sa.exc.OperationalError:
        raise
    except sa.exc.DBAPIError as exc:
        log.warning("a batch of %d mentions was refused (%s); storing them one by one", len(chunk),
                    str(exc.orig).splitlines()[0] if exc.orig else exc)
    inserted: list[Any] = []
    for row in chunk:
        try:
            with session.begin_nested():
                inserted.extend(session.connection().execute(_insert_statement(session), [row]).all())
        except sa.exc.OperationalError:
            raise
        except sa.exc.DBAPIError as exc:
            reason = (f"{row['platform']}:{row['external_id']} refused by the database "
                      f"({str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__})")
            result.skipped.append(reason)
            log.warning("skipped mention: %s", reason)
    return inserted


def _insert_many(session: Session, chunk: list[dict[str, Any]]) -> list[Any]:
    """The chunk in one statement (one array per column on PostgreSQL: careline/db.py insert_rows)."""
    stmt, params = insert_rows(session, Mention, chunk)
    stmt = (stmt.on_conflict_do_nothing(index_elements=["platform", "external_id"])
            .returning(Mention.id, Mention.platform, Mention.author_handle, Mention.external_id))
    return list(session.connection().execute(stmt, params).all())


def _attach_cases(session: Session, new_ids: list[int], fresh: dict[int, dict[str, Any]]) -> None:
    """Follow-ups join their case (services/cases.py) in a savepoint: a failure there is logged and the
    mentions are stored anyway, never lost to it."""
    from careline.services import cases

    if not new_ids:
        return
    try:
        with session.begin_nested():
            cases.attach(session, new_ids, fresh=fresh)
    except Exception:  # noqa: BLE001
        log.exception("joining %d new mention(s) to cases failed; they are stored without a case", len(new_ids))


def _roll_up_authors(
    session: Session, inserted: Sequence[Any], rows: dict[tuple[str, str], dict[str, Any]], now: datetime
) -> dict[tuple[str, str], int]:
    """Upsert the authors of newly stored mentions; returns their ids by (platform, handle)."""
    counts: dict[tuple[str, str], int] = {}
    for _id, platform, handle, *_ in inserted:
        if handle:
            counts[(platform, handle)] = counts.get((platform, handle), 0) + 1
    if not counts:
        return {}
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows.values():
        key = (row["platform"], row["author_handle"])
        if key in counts:
            latest[key] = row
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
            "last_seen_at": latest[(p, h)]["created_at"],
        }
        for (p, h), n in sorted(counts.items())
    ]
    stmt, params = insert_rows(session, Author, values)
    excluded = stmt.excluded
    stmt = stmt.on_conflict_do_update(
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
    return {(p, h): i for i, p, h in session.connection().execute(stmt, params)}


def get_source_state(session: Session, source: str, query_key: str) -> SourceState | None:
    stmt = select(SourceState).where(SourceState.source == source, SourceState.query_key == query_key)
    return session.exec(stmt).first()


def save_source_state(
    session: Session,
    source: str,
    query_key: str,
    *,
    cursor: str | None = None,
    rate_limit: RateLimit | None = None,
    healthy: bool | None = None,
    error: str | None = None,
    paused_until: datetime | None = None,
    paused_reason: str | None = None,
    keep_cursor: bool = False,
) -> SourceState:
    state = get_source_state(session, source, query_key)
    if state is None:
        state = SourceState(source=source, query_key=query_key)
        session.add(state)
    if not keep_cursor and cursor is not None:
        state.cursor = cursor
    if rate_limit is not None:
        state.rate_limit_remaining = rate_limit.remaining
        state.rate_limit_limit = rate_limit.limit
        state.rate_limit_reset_at = rate_limit.reset_at
    if healthy is not None:
        state.healthy = healthy
    if healthy:
        state.last_error = None
    if error is not None:
        state.last_error = error
    if paused_until is not None or paused_reason is not None:
        state.paused_until = paused_until
        state.paused_reason = paused_reason
    state.updated_at = utcnow()
    session.flush()
    return state
