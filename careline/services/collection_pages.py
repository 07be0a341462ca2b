"""A collector run's pages: fetching one (waits, retries, counting every call) and writing the pages
fetched together, in groups, with their cursor, reads and run counters (services/collection.py runs them).
"""
from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from careline.models import CollectorRun, utcnow
from careline.services import budgets
from careline.services.ingest import Rules, ingest
from careline.settings import Settings
from collectors.base import Batch, Query, RateLimited, Source
from collectors.ratelimit import TransientError, backoff_delay, wait_until

log = logging.getLogger(__name__)

# posts a collector run writes in one transaction at most (PageGroup): the setting's default, its one home
WRITE_EVERY: int = Settings.model_fields["collect_write_every"].default
HOLD_S = 2.0  # a group is written once a fetch ends this long after its first page arrived


@dataclass
class RetryPolicy:
    max_wait_s: float = 90.0  # wait inline for a reset this close; further away, pause until it
    max_rate_waits: int = 2
    transient_retries: int = 3
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 60.0


@dataclass
class Calls:
    """API calls made for pages that were never committed (failed, retried): counted all the same."""

    uncommitted: int = 0


PageHook = Callable[[str, int, Batch], None]


@dataclass
class PageGroup:
    """Pages a collector run has fetched and not written yet: written together, in one transaction with
    the last page's cursor, so a crash keeps all of them or none (none: the next run fetches them again
    from the stored cursor; nothing is lost or stored twice).

    Why groups: a commit writes every database page the transaction dirtied (the mention table, its 16
    indexes, the full-text index, authors, customers, cases), and most of them are the same pages from
    one API page to the next. Inserting 20,000 stored mention rows alone, SQLite, per row: 104 µs in
    transactions of 100, 52 µs in transactions of 1,000 (benchmarks/ingest_floor.py, load 1.4). A whole
    collector run into a copy of the 1,000,000-mention database (benchmarks/ingest_throughput.py --url,
    20,000 posts, per CPU-second, interleaved, load 0.3-1.1, session 15): groups of 1,000 6,587 · 6,245,
    of 5,000 8,101 · 7,851, of 10,000 9,076, one group of 20,000 9,018; PostgreSQL, new databases, client
    CPU 10,727 · 10,186 at 1,000 and 13,048 · 11,833 at 5,000 (wall clock 2,593 · 2,499 -> 3,124 · 2,876).
    5,000 keeps most of the gain while a group's write holds SQLite's one write lock for ~0.6 s at most
    (a person's triage waits that long, within the busy timeout). A
    backfill reads pages of 100 back to back, so they go in groups of up to WRITE_EVERY posts, written
    once a fetch ends HOLD_S after the group's first page arrived (a live run's single page is written at
    once: it has no more), and never held across a rate-limit wait or a retry's backoff (`fetch_page`
    writes first). The price: a crash re-fetches up to WRITE_EVERY posts instead of one page's 100,
    billed again on X's pay-per-read plans; crashes are rare, backfills are not."""

    batches: list[tuple[int, Batch]] = field(default_factory=list)  # (page number, page)
    started: float = 0.0  # time.monotonic() when the first of them was fetched

    def add(self, page: int, batch: Batch) -> None:
        if not self.batches:
            self.started = time.monotonic()
        self.batches.append((page, batch))

    def full(self, write_every: int, hold_s: float) -> bool:
        return (sum(len(b.mentions) for _, b in self.batches) >= write_every
                or time.monotonic() - self.started >= hold_s)

    @property
    def reads(self) -> int:
        return sum(b.reads for _, b in self.batches)

    @property
    def cursor(self) -> str | None:
        """Where the next fetch starts: after the last page held that had a cursor (None: none held one)."""
        return next((b.cursor for _, b in reversed(self.batches) if b.cursor), None)

    def clear(self) -> None:
        self.batches.clear()


def write_group(session: Session, group: PageGroup, source: str, brand_id: int, key: str, run_id: int | None,
                 cursor: str | None, calls: Calls, rules: Rules, budget: budgets.Budget | None, now: datetime,
                 summary: Any, on_page: PageHook | None) -> str | None:
    """The held pages in one transaction: their posts (one ingest), the last page's cursor and rate
    limit, their reads and the run's counters. Returns the cursor stored (the run's position now)."""
    batches = [b for _, b in group.batches]
    rate_limit = next((b.rate_limit for b in reversed(batches) if b.rate_limit is not None), None)
    new_cursor = group.cursor or cursor
    if budget is not None:  # counted in the pages' transaction: exact however a run ends
        budgets.record_reads(session, budget, group.reads, sum(b.api_calls for b in batches), now)
    mentions = [m for b in batches for m in b.mentions]
    result = ingest(session, mentions, brand_id=brand_id, source=source, query_key=key, cursor=new_cursor,
                    rate_limit=rate_limit, commit=False, rules=rules)
    session.connection().execute(_count_page(rate_limit is not None), {
        "rid": run_id, "n_seen": result.seen, "n_new": result.new,
        "n_skipped": len(result.skipped) + sum(len(b.skipped) for b in batches), "n_calls": calls.uncommitted,
        "cur": new_cursor,
        **({"rl_left": rate_limit.remaining, "rl_reset": rate_limit.reset_at} if rate_limit else {})})
    session.commit()  # the pages, their cursor and the run counters together
    calls.uncommitted = 0
    summary.new_ids.extend(result.new_ids)
    summary.pages += len(batches)
    held = list(group.batches)
    group.clear()
    if on_page is not None:
        for page, batch in held:
            on_page(key, page, batch)
    return new_cursor


@functools.cache
def _count_page(rate_limit: bool) -> sa.Update:
    """A committed page's counters on its run, built once (the ORM's flush of the run row, and building
    the statement each page, were ~2% of a collector run's CPU at 1M)."""
    t = CollectorRun.__table__  # type: ignore[attr-defined]
    values = {"items_seen": t.c.items_seen + sa.bindparam("n_seen"), "items_new": t.c.items_new + sa.bindparam("n_new"),
              "items_skipped": t.c.items_skipped + sa.bindparam("n_skipped"),
              "api_calls": t.c.api_calls + sa.bindparam("n_calls"),
              "cursor_after": sa.bindparam("cur", type_=t.c.cursor_after.type)}
    if rate_limit:
        values.update(rate_limit_remaining=sa.bindparam("rl_left", type_=t.c.rate_limit_remaining.type),
                      rate_limit_reset_at=sa.bindparam("rl_reset", type_=t.c.rate_limit_reset_at.type))
    return sa.update(t).where(t.c.id == sa.bindparam("rid")).values(**values)


def fetch_page(source: Source, query: Query, cursor: str | None, sleep: Callable[[float], None], policy: RetryPolicy,
           rng: random.Random | None, calls: Calls, before_wait: Callable[[], None] | None = None) -> Batch:
    """One page, waiting out a near rate-limit reset and retrying transient errors with backoff.

    Every call that failed counts in `calls` (the platform counted it against our budget all the same).
    `before_wait` runs before each wait: the collector writes the pages it holds, so none waits with it;
    if it raises, the fetch ends with that error.
    """
    rate_waits = transient = 0
    while True:
        try:
            return source.fetch(query, cursor)
        except RateLimited as exc:
            calls.uncommitted += getattr(exc, "api_calls", 1)
            if exc.retry_at is None or rate_waits >= policy.max_rate_waits:
                raise
            delay = wait_until(exc.retry_at, utcnow(), rng)
            if delay > policy.max_wait_s:
                raise
            rate_waits += 1
            log.info("%s rate limited on %s; waiting %.1fs for the reset", source.name, query.key, delay)
            if before_wait is not None:
                before_wait()
            sleep(delay)
        except TransientError as exc:
            calls.uncommitted += getattr(exc, "api_calls", 1)
            if transient >= policy.transient_retries:
                raise
            delay = backoff_delay(transient, policy.backoff_base_s, policy.backoff_cap_s, rng)
            transient += 1
            log.info("%s: %s; retry %d in %.1fs", source.name, exc, transient, delay)
            if before_wait is not None:
                before_wait()
            sleep(delay)
        except Exception as exc:
            calls.uncommitted += getattr(exc, "api_calls", 1)
            raise
