"""Running one source over every brand query: pages, cursors, run records, waits, pauses and health.

Pages are committed with their cursor and the run's counters in one transaction (a backfill's pages in
groups of up to 1,000 posts: PageGroup says why), so a crash between a fetch and its commit re-fetches the
pages not yet written and never skips or duplicates. Failures map to states:

- rate limited: if the reset is near (`RetryPolicy.max_wait_s`) wait for it (with jitter) and go on;
  otherwise pause every query of the source until the reset and record the budget left;
- a transient error (network, 5xx): retry with exponential backoff and jitter, then give up for this run;
- access denied (e.g. X's plan doesn't include search): pause for a day with a message naming what the
  plan allows (every query of the source when `AccessDenied.source_wide` says so);
- bad credentials: mark the source unhealthy and stop it for this run; other sources are separate jobs;
- anything else: record the error on that query and carry on with the next one.

What people do to sources (pause, resume, query options, cursors, "Run now") and how their health
reads live in careline.services.sources.
"""
from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from careline.db import rowcount
from careline.models import CollectorRun, utcnow
from careline.services import brands as brand_service
from careline.services import budgets
from careline.services.collection_pages import (
    HOLD_S,
    WRITE_EVERY,
    Calls,
    PageGroup,
    PageHook,
    RetryPolicy,
    fetch_page,
    write_group,
)
from careline.services.ingest import Rules
from careline.services.source_state import get_source_state, save_source_state
from collectors.base import (
    AccessDenied,
    AuthFailed,
    Query,
    RateLimit,
    RateLimited,
    Source,
    SourceError,
)
from collectors.ratelimit import TransientError

log = logging.getLogger(__name__)
ACCESS_PAUSE = timedelta(hours=24)
RATE_PAUSE = timedelta(minutes=15)


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
    queries: int = 0
    paused: list[tuple[str, datetime | None, str | None]] = field(default_factory=list)  # key, until, why

    def line(self) -> str:
        """One sentence for the terminal: what was read, or that the source is paused and why."""
        if self.queries and len(self.paused) == self.queries:
            _key, until, why = self.paused[0]
            return (f"{self.source}: paused until {until:%Y-%m-%d %H:%M} UTC ({why or 'no reason given'}); "
                    f"nothing collected. Resume with `careline sources resume {self.source}`.")
        text = (f"{self.source}: {self.pages} page(s), {self.seen} seen, {self.new} new, {self.skipped} skipped, "
                f"{self.api_calls} API call(s)")
        if self.paused:
            text += f"; {len(self.paused)} of {self.queries} quer{'y' if self.queries == 1 else 'ies'} paused"
        return text + "."


class _StopSource(Exception):
    def __init__(self, reason: str, paused_until: datetime | None, healthy: bool,
                 rate_limit: RateLimit | None = None) -> None:
        super().__init__(reason)
        self.reason, self.paused_until, self.healthy, self.rate_limit = reason, paused_until, healthy, rate_limit


class _OverBudget(Exception):
    """This month's read budget is used up (services/budgets.py): the source stops until the month turns."""


PLAN_CHECK_EVERY = timedelta(hours=1)


def _check_plan(engine: Engine, source: Source, budget: budgets.Budget, now: datetime) -> None:
    """Read the plan's cap and usage from the platform, at most hourly, where the source can say them."""
    plan_usage = getattr(source, "plan_usage", None)
    if plan_usage is None:
        return
    try:
        with Session(engine) as session:
            row = budgets.usage(session, budget.platform, now)
            session.commit()
            if row.plan_checked_at and now - row.plan_checked_at < PLAN_CHECK_EVERY:
                return
            plan = plan_usage()
            if plan is not None:
                budgets.record_plan(session, budget.platform, plan.cap, plan.used, plan.reset_day, now)
            else:  # the plan does not say (403): ask again in an hour, not every run
                row.plan_checked_at = utcnow()
                session.add(row)
                session.commit()
    except sa.exc.SQLAlchemyError as exc:
        log.warning("%s: could not record the plan's usage: %s", source.name, exc)


STALE_AFTER = timedelta(hours=1)  # far longer than one query's run (10 pages, two short rate-limit waits)
INTERRUPTED = "interrupted: the process ended before this run finished (nothing after its last committed page was kept)"


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
    budget: budgets.Budget | None = None,
    write_every: int = WRITE_EVERY,
    hold_s: float = HOLD_S,
) -> RunSummary:
    """Fetch every brand query of `source` (or one brand's), committing pages with their cursor: a page
    is written with the pages fetched just before it, up to `write_every` posts or `hold_s` seconds after
    the first of them was fetched (PageGroup says why), and always before waiting out a rate limit or a
    retry, before a failure is handled, and when the query has no more pages. `on_page` is called for
    each page once it is committed.

    Errors don't escape: they are recorded on the run, the source state and the summary, and the next
    query is still tried (a failure that covers the whole source, like bad credentials, stops it).
    """
    summary = RunSummary(source=source.name)
    policy = policy or RetryPolicy()
    now = now or utcnow()
    try:
        sweep_stale_runs(engine, source.name, now=now)
        with Session(engine, expire_on_commit=False) as session:
            queries = brand_service.queries_for(session, source.name)
    except sa.exc.SQLAlchemyError as exc:
        log.error("collector %s: cannot read its queries: %s", source.name, exc)
        summary.errors.append(f"{source.name}: the database could not be read ({type(exc).__name__}).")
        return summary
    if brand is not None:
        queries = [(bid, q) for bid, q in queries if q.brand.lower() == brand.lower()]
    summary.queries = len(queries)
    if budget is not None:
        _check_plan(engine, source, budget, now)
    for i, (brand_id, query) in enumerate(queries):
        try:
            _collect_query(engine, source, brand_id, query, max_pages, summary, now, sleep, policy, on_page, rng,
                           budget, write_every, hold_s)
        except _StopSource as stop:
            summary.stopped = stop.reason
            rest = [q.key for _, q in queries[i + 1:]]
            if rest:
                _retrying(functools.partial(_mark, engine, source.name, rest, stop), what="mark the remaining queries")
            break
    return summary


def sweep_stale_runs(engine: Engine, source: str | None = None, *, now: datetime | None = None,
                     older_than: timedelta = STALE_AFTER) -> int:
    """Close runs a killed process left open ("running" forever): failed, with the reason. Returns how many."""
    cutoff = (now or utcnow()) - older_than
    with Session(engine) as session:
        stmt = (sa.update(CollectorRun).where(col(CollectorRun.finished_at).is_(None),
                                              col(CollectorRun.started_at) < cutoff)
                .values(finished_at=utcnow(), error=INTERRUPTED))
        if source is not None:
            stmt = stmt.where(col(CollectorRun.source) == source)
        n = rowcount(session.execute(stmt.execution_options(synchronize_session=False)))
        session.commit()
    if n:
        log.warning("closed %d collector run(s) left open by a process that ended", n)
    return int(n or 0)


def _collect_query(
    engine: Engine, source: Source, brand_id: int, query: Query, max_pages: int, summary: RunSummary,
    now: datetime, sleep: Callable[[float], None], policy: RetryPolicy, on_page: PageHook | None,
    rng: random.Random | None, budget: budgets.Budget | None = None, write_every: int = WRITE_EVERY,
    hold_s: float = HOLD_S,
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        state = get_source_state(session, source.name, query.key)
        if state and state.paused_until and state.paused_until > now:
            log.info("%s %s paused until %s: %s", source.name, query.key, state.paused_until, state.paused_reason)
            summary.paused.append((query.key, state.paused_until, state.paused_reason))
            return
        cursor = state.cursor if state else None
        run = CollectorRun(source=source.name, query_key=query.key, cursor_before=cursor)
        session.add(run)
        session.commit()
    run_id = run.id
    calls = Calls()
    stop: _StopSource | None = None
    failure: dict[str, Any] | None = None
    rules = Rules()  # brands and SLA policies: read on the first page, kept for the run's pages
    with Session(engine, expire_on_commit=False) as session:
        group = PageGroup()

        def write() -> None:
            nonlocal cursor
            if group.batches:
                cursor = write_group(session, group, source.name, brand_id, query.key, run_id, cursor, calls, rules,
                                      budget, now, summary, on_page)

        def write_kept() -> None:
            """Before a fetch failure is handled: the pages fetched until then are written, not thrown
            away (their reads are billed); if that write fails too, the fetch failure is the one reported
            and the next run fetches those pages again (the cursor did not move)."""
            try:
                write()
            except sa.exc.SQLAlchemyError:
                log.warning("collector %s: the %d page(s) fetched before a failure on %s could not be stored; "
                            "the next run fetches them again", source.name, len(group.batches), query.key,
                            exc_info=True)
                _safe_rollback(session)
                group.clear()

        try:
            for page in range(max_pages):
                over = budgets.exhausted(session, budget, now, group.reads) if budget is not None else None
                if over:
                    write()
                    raise _OverBudget(over)
                try:
                    # before a wait the held pages are written; if that write fails, the fetch stops and
                    # the run fails with it (carrying on would store later pages past the dropped ones)
                    batch = fetch_page(source, query, group.cursor or cursor, sleep, policy, rng, calls,
                                       before_wait=write)
                except Exception:
                    write_kept()
                    raise
                calls.uncommitted += batch.api_calls
                group.add(page, batch)
                if not batch.has_more or group.full(write_every, hold_s):
                    write()
                if not batch.has_more:
                    break
            write()
        except _OverBudget as exc:
            until = budgets.next_month(now)
            failure = dict(message=str(exc), healthy=True, paused_until=until, reason=str(exc))
            stop = _StopSource(str(exc), until, healthy=True)
        except RateLimited as exc:
            until = exc.retry_at or utcnow() + RATE_PAUSE
            limit = RateLimit(remaining=0, reset_at=until)
            failure = dict(message=str(exc), healthy=True, paused_until=until, reason=f"rate limited: {exc}",
                           rate_limit=limit)
            stop = _StopSource(f"rate limited: {exc}", until, healthy=True, rate_limit=limit)  # one budget per app
        except AccessDenied as exc:
            until = now + ACCESS_PAUSE
            failure = dict(message=str(exc), healthy=False, paused_until=until, reason=str(exc))
            if exc.source_wide:
                stop = _StopSource(str(exc), until, healthy=False)
        except AuthFailed as exc:
            failure = dict(message=str(exc), healthy=False)
            stop = _StopSource(str(exc), None, healthy=False)
        except SourceError as exc:  # incl. a transient error that outlasted its retries
            failure = dict(message=str(exc), healthy=isinstance(exc, TransientError))
        except sa.exc.SQLAlchemyError as exc:  # a lock or a lost connection between fetch and commit
            log.warning("collector %s: database error on %s", source.name, query.key, exc_info=True)
            from careline.db import describe_db_error

            failure = dict(message=f"{describe_db_error(exc)} (the page was not stored; the next run "
                                   "fetches it again)", healthy=True)
        except Exception as exc:  # noqa: BLE001 - a scheduled job logs and carries on
            log.exception("collector %s failed on %s", source.name, query.key)
            failure = dict(message=f"unexpected error: {exc}", healthy=False)
            summary.errors.append(f"{source.name}: unexpected error: {exc}")
        except BaseException:
            # Interrupted (Ctrl-C, shutdown) between a fetch and its commit: drop that page, cursor included.
            _safe_rollback(session)
            _retrying(lambda: _finish_run(engine, run_id, "interrupted", calls.uncommitted), what="close the run")
            raise
        _safe_rollback(session)
    # Counters of committed pages are in the database whatever happened after them; read them back there.
    if failure is not None:
        log.warning("%s %s: %s", source.name, query.key, failure["message"])
        if not failure["message"].startswith("unexpected error"):
            summary.errors.append(failure["message"])
        _retrying(lambda: _record_failure(engine, source.name, query.key, failure), what="record the failure")
    _retrying(lambda: _finish_run(engine, run_id, failure["message"] if failure else None, calls.uncommitted),
              what="close the run")
    try:
        with Session(engine) as session:
            done = session.get(CollectorRun, run_id)
            if done is not None:
                summary.seen += done.items_seen
                summary.new += done.items_new
                summary.skipped += done.items_skipped
                summary.api_calls += done.api_calls
    except sa.exc.SQLAlchemyError:
        log.warning("could not read back run %s's counters", run_id, exc_info=True)
    if stop is not None:
        raise stop


def _safe_rollback(session: Session) -> None:
    try:
        session.rollback()
    except Exception:  # noqa: BLE001 - a dead connection: the session is discarded anyway
        log.warning("rollback failed", exc_info=True)


def _retrying(fn: Callable[[], None], *, what: str, attempts: int = 4) -> bool:
    """Run a small bookkeeping transaction, retrying a moment later while the database is locked."""
    for i in range(attempts):
        try:
            fn()
            return True
        except sa.exc.SQLAlchemyError as exc:
            if i == attempts - 1:
                log.error("could not %s: %s (the stale-run sweep closes it later)", what, exc)
                return False
            time.sleep(0.25 * 2**i)
    return False


def _finish_run(engine: Engine, run_id: int | None, error: str | None, uncommitted_calls: int) -> None:
    with Session(engine) as session:
        values: dict[str, Any] = {"finished_at": utcnow(), "api_calls": CollectorRun.api_calls + uncommitted_calls}
        if error is not None:
            values["error"] = error
        session.execute(sa.update(CollectorRun).where(col(CollectorRun.id) == run_id).values(**values)
                        .execution_options(synchronize_session=False))
        session.commit()


def _record_failure(engine: Engine, source: str, key: str, failure: dict[str, Any]) -> None:
    with Session(engine) as session:
        limit = failure.get("rate_limit")
        if limit is not None:
            session.execute(sa.update(CollectorRun).where(col(CollectorRun.source) == source,
                                                          col(CollectorRun.query_key) == key,
                                                          col(CollectorRun.finished_at).is_(None))
                            .values(rate_limit_remaining=limit.remaining, rate_limit_reset_at=limit.reset_at)
                            .execution_options(synchronize_session=False))
        save_source_state(session, source, key, healthy=failure["healthy"], error=failure["message"],
                          paused_until=failure.get("paused_until"), paused_reason=failure.get("reason"),
                          rate_limit=limit)
        session.commit()


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
