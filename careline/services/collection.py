"""Running one source over every brand query: pages, cursors, run records, pauses and health."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from careline.models import CollectorRun, SourceState, utcnow
from careline.services import brands as brand_service
from careline.services.ingest import get_source_state, ingest, save_source_state
from collectors.base import AccessDenied, AuthFailed, Query, RateLimited, Source, SourceError

log = logging.getLogger(__name__)
ACCESS_PAUSE = timedelta(hours=24)


@dataclass
class RunSummary:
    source: str
    seen: int = 0
    new: int = 0
    skipped: int = 0
    api_calls: int = 0
    errors: list[str] = field(default_factory=list)
    new_ids: list[int] = field(default_factory=list)


def collect(engine: Engine, source: Source, *, max_pages: int = 10, now: datetime | None = None) -> RunSummary:
    """Fetch every brand query of `source`, committing each page with its cursor. Errors don't escape."""
    summary = RunSummary(source=source.name)
    with Session(engine, expire_on_commit=False) as session:
        queries = brand_service.queries_for(session, source.name)
    for brand_id, query in queries:
        _collect_query(engine, source, brand_id, query, max_pages, summary, now or utcnow())
    return summary


def _collect_query(
    engine: Engine, source: Source, brand_id: int, query: Query, max_pages: int, summary: RunSummary, now: datetime
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        state = get_source_state(session, source.name, query.key)
        if state and state.paused_until and state.paused_until > now:
            log.info("%s %s paused until %s: %s", source.name, query.key, state.paused_until, state.paused_reason)
            return
        cursor = state.cursor if state else None
        run = CollectorRun(source=source.name, query_key=query.key, cursor_before=cursor)
        session.add(run)
        session.commit()
        try:
            for _ in range(max_pages):
                batch = source.fetch(query, cursor)
                result = ingest(session, batch.mentions, brand_id=brand_id, source=source.name,
                                query_key=query.key, cursor=batch.cursor, rate_limit=batch.rate_limit, commit=False)
                run.items_seen += result.seen
                run.items_new += result.new
                run.items_skipped += len(result.skipped) + len(batch.skipped)
                run.api_calls += batch.api_calls
                run.cursor_after = batch.cursor or cursor
                if batch.rate_limit:
                    run.rate_limit_remaining = batch.rate_limit.remaining
                    run.rate_limit_reset_at = batch.rate_limit.reset_at
                session.add(run)
                session.commit()  # the batch, its cursor and the run counters together
                summary.new_ids.extend(result.new_ids)
                cursor = batch.cursor or cursor
                if not batch.has_more:
                    break
        except RateLimited as exc:
            _fail(session, run, source.name, query.key, str(exc), healthy=True,
                  paused_until=exc.retry_at or now + timedelta(minutes=15), reason=f"rate limited: {exc}")
            summary.errors.append(str(exc))
        except AccessDenied as exc:
            _fail(session, run, source.name, query.key, str(exc), healthy=False, paused_until=now + ACCESS_PAUSE,
                  reason=str(exc))
            summary.errors.append(str(exc))
        except AuthFailed as exc:
            _fail(session, run, source.name, query.key, str(exc), healthy=False)
            summary.errors.append(str(exc))
        except SourceError as exc:
            _fail(session, run, source.name, query.key, str(exc), healthy=False)
            summary.errors.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - a scheduled job logs and carries on
            log.exception("collector %s failed on %s", source.name, query.key)
            _fail(session, run, source.name, query.key, f"unexpected error: {exc}", healthy=False)
            summary.errors.append(f"{source.name}: unexpected error: {exc}")
        finally:
            run.finished_at = utcnow()
            session.add(run)
            session.commit()
            summary.seen += run.items_seen
            summary.new += run.items_new
            summary.skipped += run.items_skipped
            summary.api_calls += run.api_calls


def _fail(session: Session, run: CollectorRun, source: str, key: str, message: str, *, healthy: bool,
          paused_until: datetime | None = None, reason: str | None = None) -> None:
    session.rollback()
    log.warning("%s %s: %s", source, key, message)
    run.error = message
    save_source_state(session, source, key, healthy=healthy, error=message, paused_until=paused_until,
                      paused_reason=reason)


def recent_runs(session: Session, source: str | None = None, limit: int = 50) -> list[CollectorRun]:
    stmt = select(CollectorRun).order_by(col(CollectorRun.id).desc()).limit(limit)
    if source:
        stmt = stmt.where(CollectorRun.source == source)
    return list(session.exec(stmt))


def states(session: Session) -> list[SourceState]:
    return list(session.exec(select(SourceState).order_by(col(SourceState.source), col(SourceState.query_key))))


def resume(session: Session, source: str, actor: str) -> None:
    from careline.services import audit

    for st in session.exec(select(SourceState).where(SourceState.source == source)):
        st.paused_until, st.paused_reason, st.healthy = None, None, True
        session.add(st)
    audit.record(session, actor, "source_resume", source=source)
    session.commit()
