"""The ingest path as collectors call it (upsert, authors, customers and counts, cases, the full-text index):
first ingest and re-ingest.

    python benchmarks/ingest_throughput.py [--mentions 20000] [--page 100] [--url sqlite:///...] [--no-brand]
        [--direct --batch 500]

By default the mentions go through a collector run as the scheduler makes it (services/collection.py
`collect` with X's read budget): pages of --page posts (100, the most X, Reddit and Bluesky return),
fetched back to back as a backfill's are, so committed in groups of up to --write-every posts (the run's
default, 1,000 since session 12; `--write-every 1` commits page by page, as every run did before) with
their cursor, the run's counters and the budget's reads. `--direct` calls
`ingest` in batches of --batch instead, as this benchmark did up to session 7 (its figures were measured
that way: 500 a batch, one commit each, no run record).

The mentions belong to one brand (as every collected post does), so follow-ups join cases: 20,000 posts
by 5,000 authors within 39 hours, most of them follow-ups. `--no-brand` stores them without a brand (no
cases), as the figures before the care workflow were measured. Re-ingesting the same mentions must add
zero rows (ingest finds the stored ones first and writes nothing for them) and be as fast. Prints a
Markdown table; exits 1 if either rate per CPU-second is under --target (10,000 mentions/s, issue #20).

Session 6, main -> cases decided before the insert (medians of 3-6 interleaved runs, load 1.9-4.4, per
CPU-second): SQLite first ingest 2,470 -> 3,058/s, re-ingest 9,706 -> 52,254/s; PostgreSQL (client CPU)
first 2,442 -> 2,554/s, re-ingest 6,986 -> 28,291/s. Session 7, into a copy of the 1M database
(--url), main -> migration 0021 (ix_mention_case_id partial): SQLite first ingest 599-706 -> 3,916-4,390/s
(load 1.6-2.8), PostgreSQL no change beyond the spread (those SQLite copies may have been empty: see
below). Session 8, a collector run into a copy of the 1M database, main -> JSON documents on PostgreSQL:
PostgreSQL first ingest 1,518-1,527 -> 1,840-2,115/s (client CPU), SQLite 2,024-2,144 -> 2,027-2,096/s.
Session 12, into copies of the 1M masters, session start -> pages in groups, the write path's Python
trimmed (two rounds) and orjson on PostgreSQL (interleaved, load 0.6-1.1): SQLite 3,303-3,671 ->
7,272-8,691/s, PostgreSQL (client CPU) 3,767-4,749 -> 11,177-13,602/s. Ranges, loads and where the rest goes:
docs/collectors.md.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session, col, func, select  # noqa: E402

from careline.db import create_all, make_engine  # noqa: E402
from careline.models import Brand, Mention  # noqa: E402
from careline.services.budgets import Budget  # noqa: E402
from careline.services.collection import collect  # noqa: E402
from careline.services.collection_pages import WRITE_EVERY  # noqa: E402
from careline.services.ingest import ingest  # noqa: E402
from collectors.base import Batch, Query, RawMention  # noqa: E402

TEXTS = ["{b} lost my bag in Lisbon and nobody answers", "Thanks {b}, smooth flight and a lovely crew!",
         "Does {b} allow a guitar as cabin luggage?", "¿{b} perdió mi maleta? 😡", "Booked {b} to Oslo for May"]


def synthetic(n: int, seed: int = 1) -> list[RawMention]:
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    out = []
    for i in range(n):
        handle = f"user{rng.randint(1, n // 4 or 1)}"
        out.append(RawMention(
            platform="x", external_id=str(1862000000000000000 + i), text=rng.choice(TEXTS).format(b="Acme Air"),
            created_at=start + timedelta(seconds=i * 7), url=f"https://x.com/{handle}/status/{i}",
            author_handle=handle, author_name=handle.title(), author_followers=rng.randint(0, 50_000),
            author_id=str(rng.randint(1, 10**9)), language="en", thread_id=str(i),
            raw={"tweet": {"id": str(i), "public_metrics": {"like_count": rng.randint(0, 9)}}}))
    return out


class Replay:
    """A source that returns the mentions in pages, as a collector's fetch would (nothing parsed here:
    benchmarks/ingest_parse.py measures that)."""

    name = "x"

    def __init__(self, mentions: list[RawMention], page: int) -> None:
        self.mentions, self.page = mentions, page

    def fetch(self, query: Query, cursor: str | None) -> Batch:
        start = int(cursor or 0) % len(self.mentions)  # a finished run's cursor points past the end: start over
        chunk = self.mentions[start:start + self.page]
        end = start + len(chunk)
        return Batch(mentions=chunk, cursor=str(end), has_more=end < len(self.mentions), reads=len(chunk))


def _collect(engine: Engine, mentions: list[RawMention], page: int, write_every: int = WRITE_EVERY) -> int:
    """One collector run over every page (services/collection.py), as `careline worker` makes it for X."""
    budget = Budget("x")  # the settings' defaults: reads counted, no cap
    summary = collect(engine, Replay(mentions, page), max_pages=-(-len(mentions) // page), brand="Acme Air",
                      budget=budget, write_every=write_every)
    assert not summary.errors, summary.errors
    return summary.new


def run(url: str, mentions: list[RawMention], batch: int, brand: bool = True, page: int = 100,
        direct: bool = False, write_every: int = WRITE_EVERY) -> tuple[list[tuple[float, float]], int, int]:
    """((wall rate, CPU rate) for first ingest and re-ingest, new rows each time)."""
    engine = make_engine(url)
    create_all(engine)
    brand_id = None
    if brand:
        with Session(engine) as session:  # a seeded database (--url) has the brand already
            row = session.exec(select(Brand).where(Brand.name == "Acme Air")).first()
            if row is None:
                row = Brand(name="Acme Air", keywords=["acme air"], handles=[], exclusions=[])
                session.add(row)
                session.commit()
            brand_id = row.id
    if not direct and not brand:
        raise SystemExit("--no-brand needs --direct (a collector run reads a brand's query)")
    with Session(engine) as session:
        before = session.exec(select(func.count()).select_from(Mention)).one()
    print(f"{url.split('?')[0]}: {before:,} mentions stored before the first ingest")
    rates = []
    new_counts = []
    for _ in range(2):
        t0, c0 = time.perf_counter(), time.process_time()
        new = 0
        if not direct:
            new = _collect(engine, mentions, page, write_every)
        else:
            with Session(engine) as session:
                for i in range(0, len(mentions), batch):
                    res = ingest(session, mentions[i:i + batch], brand_id=brand_id, source="x", query_key="x:bench",
                                 cursor=str(i))
                    new += res.new
        if engine.dialect.name == "sqlite":  # the WAL pages written so far copied into the database, as the
            with engine.connect() as conn:  # next automatic checkpoint would: that work belongs to this run
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        rates.append((len(mentions) / (time.perf_counter() - t0), len(mentions) / (time.process_time() - c0)))
        new_counts.append(new)
    with Session(engine) as session:
        rows = session.exec(select(func.count()).select_from(Mention)
                            .where(col(Mention.external_id).in_([m.external_id for m in mentions]))).one()
    engine.dispose()
    assert rows == len(mentions), (rows, len(mentions))
    return rates, new_counts[0], new_counts[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mentions", type=int, default=20_000)
    ap.add_argument("--page", type=int, default=100, help="posts per page of the collector run")
    ap.add_argument("--write-every", type=int, default=WRITE_EVERY,
                    help="posts a collector run commits together at most (1: page by page)")
    ap.add_argument("--direct", action="store_true", help="call ingest directly in batches of --batch")
    ap.add_argument("--batch", type=int, default=500, help="with --direct: posts per ingest call")
    ap.add_argument("--url", default=None, help="database URL (default: a temporary SQLite file)")
    ap.add_argument("--target", type=float, default=10_000.0)
    ap.add_argument("--no-brand", action="store_true", help="store the mentions without a brand (no cases)")
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs (the machine is shared)")
    args = ap.parse_args()
    mentions = synthetic(args.mentions)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        if args.url:
            args.repeat = 1  # one given database: a second run would find every mention already stored
        # a database of its own per repeat only when this script made them: a given --url is used as it is
        # (up to session 8 a given sqlite:///copy.db was silently replaced by a new, empty copy0.db)
        urls = [url] if args.url else [url.replace("bench.db", f"bench{i}.db") for i in range(args.repeat)]
        runs = [run(u, mentions, args.batch, not args.no_brand, args.page, args.direct, args.write_every)
                for u in urls]
        first = (max(r[0][0][0] for r in runs), max(r[0][0][1] for r in runs))
        again = (max(r[0][1][0] for r in runs), max(r[0][1][1] for r in runs))
        new1, new2 = runs[0][1], max(r[2] for r in runs)
    print(f"| ingest on {url.split(':')[0]} ({args.mentions:,} mentions, {'no brand' if args.no_brand else 'one brand'}, "
          f"{f'direct, batches of {args.batch}' if args.direct else f'collector run, pages of {args.page} written up to {args.write_every:,} together'}, "
          f"best of {args.repeat}) "
          "| mentions/s (wall) | mentions per CPU-second | new rows |")
    print("|---|---:|---:|---:|")
    print(f"| first ingest | {first[0]:,.0f} | {first[1]:,.0f} | {new1:,} |")
    print(f"| re-ingest (same mentions) | {again[0]:,.0f} | {again[1]:,.0f} | {new2:,} |")
    print(f"\nload average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s); the CPU-second "
          "rate is what one idle core would do (single-threaded; SQLite I/O waits excluded)")
    wall_ok = first[0] >= args.target and again[0] >= args.target and new2 == 0
    cpu_ok = first[1] >= args.target and again[1] >= args.target and new2 == 0
    print(f"target ≥ {args.target:,.0f}/s with zero new rows on re-ingest: wall clock {'met' if wall_ok else 'NOT met'}, "
          f"per CPU-second {'met' if cpu_ok else 'NOT met'}")
    return 0 if cpu_ok else 1


if __name__ == "__main__":
    sys.exit(main())
