"""Storing what the real-time streams deliver, and the stream status the Sources page and CLI show.

A stream batch (collectors/stream.py) is stored in one transaction: its matched posts through the normal
ingest upsert, its deletions, the stream's cursor (a `source_state` row, like the polling sources'
cursors) and its counters (`stream_status`). A crash before the commit loses nothing: the stream
re-reads from the stored cursor and the upsert drops what was already stored.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.models import Mention, StreamStatus, utcnow
from careline.services import brands as brand_service
from careline.services import customer_counts
from careline.services.ingest import ingest
from careline.services.source_state import get_source_state, save_source_state
from collectors.base import Query
from collectors.stream import StreamBatch, StreamStats

log = logging.getLogger(__name__)
STREAM_KEY = "stream"  # the source_state query key that holds a stream's cursor
_SOURCE_NAMES = {"jetstream": "jetstream", "mastodon": "mastodon-stream"}


def source_name(stream: str) -> str:
    """The source name a configured stream (CARELINE_STREAMS entry) records its cursor and status under."""
    return _SOURCE_NAMES.get(stream, stream)


def enabled_sources(settings_sources: list[str], settings_streams: list[str]) -> list[str]:
    """Every source name the settings turn on: polling sources and streams."""
    return list(settings_sources) + [source_name(s) for s in settings_streams]


@dataclass
class StoreResult:
    new_ids: list[int] = field(default_factory=list)
    deleted: int = 0


def brand_queries(session: Session, platform: str) -> tuple[list[Query], dict[str, int]]:
    """Every brand's queries on the stream's platform and brand ids by name, to build the matcher from."""
    pairs = brand_service.queries_for(session, platform)
    return [q for _, q in pairs], {q.brand: bid for bid, q in pairs}


def cursor(session: Session, source: str) -> str | None:
    state = get_source_state(session, source, STREAM_KEY)
    return state.cursor if state else None


def store_batch(session: Session, source: str, batch: StreamBatch, brand_ids: dict[str, int],
                stats: StreamStats, owner: str, platform: str) -> StoreResult:
    """Matched posts, deletions, cursor and counters in one transaction."""
    result = StoreResult()
    groups: dict[int | None, list] = defaultdict(list)
    for raw, names in batch.posts:
        # stored under the first brand it matched (own brands sort before competitors)
        groups[brand_ids.get(names[0]) if names else None].append(raw)
    for brand_id, raws in groups.items():
        result.new_ids.extend(ingest(session, raws, brand_id=brand_id, commit=False).new_ids)
    result.deleted = mark_deleted(session, platform, batch.deleted)
    save_source_state(session, source, STREAM_KEY, cursor=batch.cursor, healthy=True)
    status = _status(session, source)
    status.owner, status.url, status.connected, status.message = owner, stats.url, True, None
    status.events_total += batch.events
    status.bytes_total += batch.bytes
    status.matched_total += len(batch.posts)
    status.new_total += len(result.new_ids)
    status.deleted_total += result.deleted
    status.skipped_total += sum(batch.skipped.values())
    reasons = dict(status.skipped_reasons or {})
    for reason, n in batch.skipped.items():
        reasons[reason] = reasons.get(reason, 0) + n
    status.skipped_reasons = reasons
    status.events_per_minute = round(stats.per_minute(), 1)
    if batch.newest_event_s is not None:
        status.last_event_at = datetime.fromtimestamp(batch.newest_event_s, tz=timezone.utc)
    status.lag_seconds = None if stats.lag_s is None else round(stats.lag_s, 2)
    status.updated_at = utcnow()
    session.add(status)
    session.commit()
    return result


def mark_deleted(session: Session, platform: str, external_ids: list[str]) -> int:
    """Mark stored mentions deleted on the platform (kept, never removed); returns how many were marked.
    The one place a post becomes deleted: their customers' open counts, which leave deleted posts out,
    are refreshed here in the same transaction (services/customer_counts.py)."""
    if not external_ids:
        return 0
    table = Mention.__table__  # type: ignore[attr-defined]
    now = utcnow()
    done = 0
    authors: set[tuple[str, str]] = set()
    for start in range(0, len(external_ids), 500):
        chunk = external_ids[start:start + 500]
        handles = session.connection().execute(
            sa.update(table).where(table.c.platform == platform, table.c.external_id.in_(chunk),
                                   table.c.deleted_at.is_(None)).values(deleted_at=now, updated_at=now)
            .returning(table.c.author_handle)).scalars().all()
        done += len(handles)
        authors.update((platform, h) for h in handles if h)
    customer_counts.posts_deleted(session, authors)
    return done


def set_state(session: Session, source: str, owner: str, *, connected: bool, message: str | None,
              url: str | None = None, encoding: str | None = None) -> None:
    """Connected, or not with one sentence why; a stream that cannot connect marks its source failing."""
    status = _status(session, source)
    status.owner, status.connected, status.message = owner, connected, message
    if url is not None:
        status.url = url
    if encoding is not None:
        status.encoding = encoding
    if connected:
        status.connected_at = utcnow()
    status.updated_at = utcnow()
    session.add(status)
    save_source_state(session, source, STREAM_KEY, healthy=connected or message is None, error=message)
    session.commit()


def stopped(session: Session, source: str, owner: str) -> None:
    """This worker no longer consumes the stream (shut down or lost the lock)."""
    status = session.get(StreamStatus, source)
    if status is not None and status.owner == owner:
        status.connected, status.events_per_minute, status.updated_at = False, 0.0, utcnow()
        session.add(status)
        session.commit()


def statuses(session: Session) -> list[StreamStatus]:
    return list(session.exec(select(StreamStatus).order_by(col(StreamStatus.source))))


def describe(status: StreamStatus, now: datetime | None = None) -> str:
    """One line for the Sources page and `careline sources`: state, events per minute, lag."""
    now = now or utcnow()
    if not status.connected:
        state = status.message or "not connected"
    else:
        state = f"connected to {status.url or '?'}" + (f" ({status.encoding})" if status.encoding else "")
    lag = "" if status.lag_seconds is None else f", lag {status.lag_seconds:.1f} s"
    quiet = (now - status.updated_at).total_seconds() if status.updated_at else None
    stale = f", no word from its worker for {quiet:.0f} s" if quiet is not None and quiet > 120 else ""
    return (f"{state}; {status.events_per_minute:,.0f} events/min{lag}{_bandwidth(status)}; "
            f"{status.events_total:,} events, {status.matched_total:,} matched, {status.new_total:,} new, "
            f"{status.deleted_total:,} deleted, {status.skipped_total:,} skipped{stale}")


def _bandwidth(status: StreamStatus) -> str:
    """Measured bytes per event times the current rate: what a day at this rate costs in download."""
    if not status.events_total or not status.bytes_total or not status.events_per_minute:
        return ""
    per_day = status.bytes_total / status.events_total * status.events_per_minute * 1440
    return f", ~{per_day / 1e9:.2f} GB/day at this rate" if per_day >= 1e8 else f", ~{per_day / 1e6:.0f} MB/day at this rate"


def _status(session: Session, source: str) -> StreamStatus:
    status = session.get(StreamStatus, source)
    if status is None:
        status = StreamStatus(source=source)
        session.add(status)
    return status
