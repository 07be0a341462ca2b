"""Running one source over every brand query: pages, cursors, run records, waits, pauses and health.

Each page is committed with its cursor and the run's counters in one transaction, so a crash between a
fetch and its commit re-fetches that one page and never skips or duplicates. Failures map to states:

- rate limited: if the reset is near (`RetryPolicy.max_wait_s`) wait for it (with jitter) and go on;
  otherwise pause every query of the source until the reset and record the budget left;
- a transient error (network, 5xx): retry with exponential backoff and jitter, then give up for this run;
- access denied (e.g. X's plan doesn't include search): pause for a day with a message naming what the
  plan allows (every query of the source when the exception says `source_wide`);
- bad credentials: mark the source unhealthy and stop it for this run; other sources are separate jobs;
- anything else: record the error on that query and carry on with the next one.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from careline.models import Brand, BrandQuery, CollectorRun, SourceState, utcnow
from careline.services import brands as brand_service
from careline.services.ingest import get_source_state, ingest, save_source_state
from collectors.base import AccessDenied, AuthFailed, Batch, Query, RateLimit, RateLimited, Source, SourceError
from collectors.ratelimit import TransientError, backoff_delay, wait_until

log = logging.getLogger(__name__)
ACCESS_PAUSE = timedelta(hours=24)
RATE_PAUSE = timedelta(minutes=15)
FOREVER = timedelta(days=3650)


@dataclass
class RetryPolicy:
    max_wait_s: float = 90.0  # wait inline for a reset this close; further away, pause until it
    max_rate_waits: int = 2
    transient_retries: int = 3
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 60.0


@dataclass
class RunSummary:
    source: str
    seen: int = 0
    new: int = 0
    skipped: int = 0
    api_calls: int = 0
    pages: int = 0
    errors: list[str] = field(default_factory=list)
    new_ids: list[int] = field(default_factory=list)
    stopped: str | None = None  # why the source stopped early (credentials, plan, rate limit)


class _StopSource(Exception):
    def __init__(self, reason: str, paused_until: datetime | None, healthy: bool,
                 rate_limit: RateLimit | None = None) -> None:
        super().__init__(reason)
        self.reason, self.paused_until, self.healthy, self.rate_limit = reason, paused_until, healthy, rate_limit


PageHook = Callable[[str, int, Batch], None]


def collect(
    engine: Engine,
    source: Source,
    *,
    max_pages: int = 10,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
    policy: RetryPolicy | None = None,
    on_page: PageHook | None = None,
    rng: random.Random | None = None,
    brand: str | None = None,
) -> RunSummary:
    """Fetch every brand query of `source` (or one brand's), committing each page with its cursor.

    Errors don't escape: they are recorded on the run, the source state and the summary.
    """
    summary = RunSummary(source=source.name)
    policy = policy or RetryPolicy()
    now = now or utcnow()
    with Session(engine, expire_on_commit=False) as session:
        queries = brand_service.queries_for(session, source.name)
    if brand is not None:
        queries = [(bid, q) for bid, q in queries if q.brand.lower() == brand.lower()]
    for i, (brand_id, query) in enumerate(queries):
        try:
            _collect_query(engine, source, brand_id, query, max_pages, summary, now, sleep, policy, on_page, rng)
        except _StopSource as stop:
            summary.stopped = stop.reason
            rest = [q.key for _, q in queries[i + 1:]]
            if rest:
                _mark(engine, source.name, rest, stop)
            break
    return summary


def _collect_query(
    engine: Engine, source: Source, brand_id: int, query: Query, max_pages: int, summary: RunSummary,
    now: datetime, sleep: Callable[[float], None], policy: RetryPolicy, on_page: PageHook | None,
    rng: random.Random | None,
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
        stop: _StopSource | None = None
        try:
            for page in range(max_pages):
                batch = _fetch(source, query, cursor, sleep, policy, rng, run)
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
                summary.pages += 1
                cursor = batch.cursor or cursor
                if on_page is not None:
                    on_page(query.key, page, batch)
                if not batch.has_more:
                    break
        except RateLimited as exc:
            until = exc.retry_at or utcnow() + RATE_PAUSE
            _fail(session, run, source.name, query.key, str(exc), healthy=True, paused_until=until,
                  reason=f"rate limited: {exc}", rate_limit=RateLimit(remaining=0, reset_at=until))
            summary.errors.append(str(exc))
            stop = _StopSource(f"rate limited: {exc}", until, healthy=True,  # one budget per app
                               rate_limit=RateLimit(remaining=0, reset_at=until))
        except AccessDenied as exc:
            until = now + ACCESS_PAUSE
            _fail(session, run, source.name, query.key, str(exc), healthy=False, paused_until=until, reason=str(exc))
            summary.errors.append(str(exc))
            if getattr(exc, "source_wide", False):
                stop = _StopSource(str(exc), until, healthy=False)
        except AuthFailed as exc:
            _fail(session, run, source.name, query.key, str(exc), healthy=False)
            summary.errors.append(str(exc))
            stop = _StopSource(str(exc), None, healthy=False)
        except SourceError as exc:  # incl. a transient error that outlasted its retries
            _fail(session, run, source.name, query.key, str(exc), healthy=isinstance(exc, TransientError))
            summary.errors.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - a scheduled job logs and carries on
            log.exception("collector %s failed on %s", source.name, query.key)
            _fail(session, run, source.name, query.key, f"unexpected error: {exc}", healthy=False)
            summary.errors.append(f"{source.name}: unexpected error: {exc}")
        except BaseException:
            # Interrupted (Ctrl-C, shutdown) between a fetch and its commit: drop that page, cursor included.
            session.rollback()
            run.error = "interrupted"
            raise
        finally:
            run.finished_at = utcnow()
            session.add(run)
            session.commit()
            summary.seen += run.items_seen
            summary.new += run.items_new
            summary.skipped += run.items_skipped
            summary.api_calls += run.api_calls
        if stop is not None:
            raise stop


def _fetch(source: Source, query: Query, cursor: str | None, sleep: Callable[[float], None], policy: RetryPolicy,
           rng: random.Random | None, run: CollectorRun) -> Batch:
    """One page, waiting out a near rate-limit reset and retrying transient errors with backoff."""
    rate_waits = transient = 0
    while True:
        try:
            return source.fetch(query, cursor)
        except RateLimited as exc:
            run.api_calls += 1
            if exc.retry_at is None or rate_waits >= policy.max_rate_waits:
                raise
            delay = wait_until(exc.retry_at, utcnow(), rng)
            if delay > policy.max_wait_s:
                raise
            rate_waits += 1
            log.info("%s rate limited on %s; waiting %.1fs for the reset", source.name, query.key, delay)
            sleep(delay)
        except TransientError as exc:
            run.api_calls += 1
            if transient >= policy.transient_retries:
                raise
            delay = backoff_delay(transient, policy.backoff_base_s, policy.backoff_cap_s, rng)
            transient += 1
            log.info("%s: %s; retry %d in %.1fs", source.name, exc, transient, delay)
            sleep(delay)


def _fail(session: Session, run: CollectorRun, source: str, key: str, message: str, *, healthy: bool,
          paused_until: datetime | None = None, reason: str | None = None, rate_limit: RateLimit | None = None) -> None:
    session.rollback()
    log.warning("%s %s: %s", source, key, message)
    run.error = message
    if rate_limit is not None:
        run.rate_limit_remaining, run.rate_limit_reset_at = rate_limit.remaining, rate_limit.reset_at
    save_source_state(session, source, key, healthy=healthy, error=message, paused_until=paused_until,
                      paused_reason=reason, rate_limit=rate_limit)


def _mark(engine: Engine, source: str, keys: list[str], stop: _StopSource) -> None:
    """Carry a source-wide failure to the queries the run did not reach, so the dashboard shows them too."""
    with Session(engine) as session:
        for key in keys:
            save_source_state(session, source, key, healthy=stop.healthy, error=stop.reason,
                              paused_until=stop.paused_until, paused_reason=stop.reason if stop.paused_until else None,
                              rate_limit=stop.rate_limit)
        session.commit()


def record_setup_failure(engine: Engine, source: str, message: str) -> None:
    """The source could not even be built (missing credentials...): one failed run, every query unhealthy."""
    with Session(engine) as session:
        now = utcnow()
        session.add(CollectorRun(source=source, error=message, started_at=now, finished_at=now))
        for _, query in brand_service.queries_for(session, source):
            save_source_state(session, source, query.key, healthy=False, error=message)
        session.commit()


def recent_runs(session: Session, source: str | None = None, limit: int = 50) -> list[CollectorRun]:
    stmt = select(CollectorRun).order_by(col(CollectorRun.id).desc()).limit(limit)
    if source:
        stmt = stmt.where(CollectorRun.source == source)
    return list(session.exec(stmt))


def states(session: Session) -> list[SourceState]:
    return list(session.exec(select(SourceState).order_by(col(SourceState.source), col(SourceState.query_key))))


def pause(session: Session, source: str, actor: str, until: datetime | None = None, reason: str | None = None) -> int:
    """Pause every query of a source (until a time, or until resumed); returns how many."""
    from careline.services import audit

    until = until or utcnow() + FOREVER
    keys = {q.key for _, q in brand_service.queries_for(session, source)}
    keys |= {st.query_key for st in session.exec(select(SourceState).where(SourceState.source == source))}
    for key in sorted(keys):
        save_source_state(session, source, key, paused_until=until, paused_reason=reason or f"paused by {actor}")
    audit.record(session, actor, "source_pause", source=source, until=until.isoformat())
    session.commit()
    return len(keys)


def resume(session: Session, source: str, actor: str) -> None:
    from careline.services import audit

    for st in session.exec(select(SourceState).where(SourceState.source == source)):
        st.paused_until, st.paused_reason, st.healthy = None, None, True
        session.add(st)
    audit.record(session, actor, "source_resume", source=source)
    session.commit()


def set_query(session: Session, brand_name: str, platform: str, actor: str, query: str | None = None,
              options: dict[str, str] | None = None) -> BrandQuery:
    """Create or update a brand's per-platform query (a hand-written query string and/or options)."""
    from careline.errors import NotFound
    from careline.services import audit

    brand = session.exec(select(Brand).where(sa.func.lower(Brand.name) == brand_name.lower())).first()
    if brand is None:
        raise NotFound(f"No brand called {brand_name!r}; see the brands in careline.toml or the Settings page.")
    bq = session.exec(select(BrandQuery).where(BrandQuery.brand_id == brand.id, BrandQuery.platform == platform)
                      .order_by(col(BrandQuery.id))).first()
    if bq is None:
        bq = BrandQuery(brand_id=brand.id, platform=platform, query="", options={})  # type: ignore[arg-type]
    if query is not None:
        bq.query = query
    merged = dict(bq.options or {})
    for key, value in (options or {}).items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    bq.options = merged
    session.add(bq)
    session.flush()
    audit.record(session, actor, "brand_query", brand_id=brand.id, platform=platform, options=merged,
                 query=bq.query)
    session.commit()
    return bq


def reset_cursors(session: Session, source: str, actor: str) -> int:
    """Forget where each query of a source got to, so the next run starts from the newest items again."""
    from careline.services import audit

    n = 0
    for st in session.exec(select(SourceState).where(SourceState.source == source)):
        st.cursor = None
        session.add(st)
        n += 1
    audit.record(session, actor, "source_reset_cursors", source=source)
    session.commit()
    return n
