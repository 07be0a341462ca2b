"""Customers at scale: backfill, link-suggestion job (full and incremental), timeline p95, advocates, inbox flags.

    flock /work/coord/bench.lock python benchmarks/customers.py --database-url sqlite:////tmp/bench/customers-1m.db

Seeds 1,000,000 mentions with scripts/seed_mentions.py when the database is empty (about 300,000
(platform, handle) authors: its handles recur across platforms, so the same-handle rule is at its busiest),
then times:
- the migration's set-based backfill (every author gets a customer and an identity; per-brand counts);
- `customer_links.suggest` over all identities (target ≤ 5 min), then an incremental pass after 1,000
  new mentions from new authors have been ingested;
- `customer_timeline.timeline` for 300 customers (random and the busiest), after linking the busiest to a
  second identity (target p95 ≤ 200 ms);
- `advocates.top_advocates` and the inbox's per-page `row_flags`.
Prints one line per figure; note `cat /proc/loadavg` beside them.
"""
from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from careline.db import make_engine  # noqa: E402
from careline.models import Customer, CustomerIdentity  # noqa: E402
from careline.services import advocates, customer_links, customer_timeline, customers, inbox  # noqa: E402
from careline.services.ingest import ingest  # noqa: E402
from collectors.base import RawMention  # noqa: E402

CUSTOMER_TABLES = ("link_suggestion", "identity_link", "customer_change", "customer_note", "customer_identity",
                   "author_brand", "customer")


def _migration():  # type: ignore[no-untyped-def]
    path = ROOT / "careline" / "migrations" / "versions" / "0003_customers.py"
    spec = importlib.util.spec_from_file_location("m0003", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def backfill(engine: sa.Engine) -> float:
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for table in CUSTOMER_TABLES:
            conn.execute(sa.text(f"DELETE FROM {table}"))
        for statement in _migration().BACKFILL:
            conn.execute(sa.text(statement))
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - t0


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="sqlite:////tmp/bench/customers-1m.db")
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    engine = make_engine(args.database_url)
    with engine.connect() as conn:
        have = sa.inspect(conn).has_table("mention") and conn.execute(sa.text("SELECT count(*) FROM mention")).scalar()
    if not have:
        sys.path.insert(0, str(ROOT / "scripts"))
        import seed_mentions  # type: ignore[import-not-found]

        took = seed_mentions.seed(args.database_url, args.count)
        print(f"seeded {args.count:,} mentions in {took:.0f} s")
    with engine.connect() as conn:
        n_mentions = conn.execute(sa.text("SELECT count(*) FROM mention")).scalar()
        n_authors = conn.execute(sa.text("SELECT count(*) FROM author")).scalar()
    print(f"database: {n_mentions:,} mentions, {n_authors:,} authors ({engine.dialect.name})")

    print(f"backfill (migration 0003, set-based): {backfill(engine):.1f} s")

    with Session(engine, expire_on_commit=False) as s:
        t0 = time.perf_counter()
        full = customer_links.suggest(s, full=True)
        took = time.perf_counter() - t0
        print(f"suggest, full pass: {took:.1f} s ({full.keyed:,} identities keyed, {full.candidates:,} candidate pairs, "
              f"{full.new:,} suggestions; by reason {full.by_reason})")
        brand = s.exec(sa.text("SELECT id FROM brand WHERE NOT competitor LIMIT 1")).scalar()
        new = [RawMention(platform="mastodon", external_id=f"bench-new-{i}", text="Acme Air lost my bag",
                          created_at=datetime.now(timezone.utc),
                          author_handle=f"{'sam' if i % 2 else 'newbie'}_{i}@bench.social", author_name="Sam")
               for i in range(1000)]
        t0 = time.perf_counter()
        ingest(s, new, brand_id=brand)
        print(f"ingest of 1,000 new mentions with customers: {time.perf_counter() - t0:.2f} s")
        t0 = time.perf_counter()
        inc = customer_links.suggest(s)
        print(f"suggest, incremental after that: {time.perf_counter() - t0:.2f} s ({inc.keyed:,} keyed, {inc.new:,} new)")

        busiest = [c.id for c in s.exec(select(Customer).order_by(Customer.mention_count.desc()).limit(50))]  # type: ignore[attr-defined]
        # link each busy customer to a second identity, so timelines span two platforms
        for cid in busiest[:20]:
            ident = s.exec(select(CustomerIdentity).where(CustomerIdentity.customer_id == cid)).first()
            if ident is None:  # merged into an earlier one of the busiest
                continue
            twin = s.exec(select(CustomerIdentity).where(CustomerIdentity.handle == ident.handle,
                                                         CustomerIdentity.customer_id != cid)).first()
            if twin is not None:
                customers.merge(s, cid, twin.customer_id, "bench", "admin")
        max_id = s.exec(sa.text("SELECT max(id) FROM customer")).scalar()
        rng = random.Random(7)
        sample = busiest + [rng.randint(1, max_id) for _ in range(args.samples - len(busiest))]
        times, sizes = [], []
        for cid in sample:
            t0 = time.perf_counter()
            try:
                entries = customer_timeline.timeline(s, cid, limit=200)
            except Exception:  # noqa: BLE001 - an id that a merge retired is still a lookup
                entries = []
            times.append((time.perf_counter() - t0) * 1000)
            sizes.append(len(entries))
        print(f"timeline ({len(sample)} customers, up to 200 entries, mean {statistics.mean(sizes):.0f}): "
              f"p50 {_pct(times, 50):.1f} ms, p95 {_pct(times, 95):.1f} ms, max {max(times):.1f} ms "
              f"(busiest 50: p95 {_pct(times[:50], 95):.1f} ms)")
        t0 = time.perf_counter()
        ranked = advocates.top_advocates(s, limit=100)
        print(f"advocates (per customer, own brands): {(time.perf_counter() - t0) * 1000:.0f} ms, {len(ranked)} rows")
        page = inbox.list_inbox(s, inbox.InboxFilter(), page_size=50).items
        t0 = time.perf_counter()
        customer_timeline.row_flags(s, page)
        print(f"inbox row flags for a 50-row page: {(time.perf_counter() - t0) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
