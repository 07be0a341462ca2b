"""Issue 8's storage figures: the same million mentions in SQLite and in PostgreSQL, side by side.

    python benchmarks/scale_million.py --postgres postgresql+psycopg://careline:careline@localhost/careline_test \
        [--count 1000000] [--repeat 5]

Seeds each database once with scripts/seed_mentions.py (PostgreSQL into its own schema `bench_1m`,
SQLite into var/bench/scale-1m.db), then times, through the service layer: the inbox first page, a
filtered page, 90 days of trends, and the weekly export of the last complete week; and reports each
database's size. Prints a Markdown table (median of --repeat runs after one warm-up).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from sqlmodel import Session  # noqa: E402

from careline.db import make_engine  # noqa: E402
from careline.services import inbox, themes, trends  # noqa: E402
from careline.services.inbox import InboxFilter  # noqa: E402
from careline.settings import Settings  # noqa: E402


def _timed(fn: Callable[[], object], repeat: int) -> float:
    fn()
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs) * 1000


def measure(url: str, repeat: int) -> dict[str, str]:
    from careline.reports.periods import last_complete_week
    from careline.reports.weekly import export_week

    engine = make_engine(url)
    now = datetime.now(timezone.utc)
    out: dict[str, str] = {}
    with Session(engine) as s:
        ours = [b.id for b in inbox.brands(s) if not b.competitor][:1]
        out["mentions"] = f"{s.execute(sa.text('SELECT count(*) FROM mention')).scalar_one():,}"
        out["inbox first page + count"] = f"{_timed(lambda: (inbox.list_inbox(s), inbox.count(s)), repeat):.0f} ms"
        f = InboxFilter(brand_ids=ours, sentiments=["negative"], platforms=["x"])
        out["filtered page (brand+sentiment+platform) + count"] = f"{_timed(lambda: (inbox.list_inbox(s, f), inbox.count(s, f)), repeat):.0f} ms"
        since = now - timedelta(days=90)
        out["trends 90 days (volume, share, themes, response)"] = f"{_timed(lambda: (trends.volume(s, since, now), trends.share_of_voice(s, since, now), themes.find_themes(s, since, now), trends.response_times(s, since, now, 120)), repeat):.0f} ms"
    settings = Settings(database_url=url, data_dir=Path(tempfile.mkdtemp()), _env_file=None)  # type: ignore[call-arg]
    week = last_complete_week(settings.zone, now)
    t0 = time.perf_counter()
    export_week(settings, engine, week.label, out_dir=settings.data_dir)
    out["weekly export (last complete week)"] = f"{time.perf_counter() - t0:.1f} s"
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            size = Path(url.split("///", 1)[1]).stat().st_size
        else:
            size = conn.execute(sa.text(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind = 'r'")).scalar_one()
    out["database size"] = f"{int(size) / 2**20:,.0f} MiB"
    engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--postgres", required=True)
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sqlite", default=str(ROOT / "var" / "bench" / "scale-1m.db"))
    args = ap.parse_args()
    from seed_mentions import seed

    schema = "bench_1m"
    admin = sa.create_engine(args.postgres)
    with admin.begin() as conn:
        fresh = not conn.execute(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}).first()
        conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    pg_url = f"{args.postgres}?options=-csearch_path%3D{schema}"
    Path(args.sqlite).parent.mkdir(parents=True, exist_ok=True)
    sqlite_url = f"sqlite:///{args.sqlite}"
    seeded = {}
    if not Path(args.sqlite).exists():
        seeded["sqlite"] = seed(sqlite_url, args.count)
    if fresh:
        seeded["postgres"] = seed(pg_url, args.count)
        with sa.create_engine(pg_url).connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))
    results = {"SQLite": measure(sqlite_url, args.repeat), "PostgreSQL": measure(pg_url, args.repeat)}
    print("| measure | SQLite | PostgreSQL |\n|---|---|---|")
    for key in results["SQLite"]:
        print(f"| {key} | {results['SQLite'][key]} | {results['PostgreSQL'][key]} |")
    for name, secs in seeded.items():
        print(f"\nseeding {args.count:,} into {name}: {secs:.0f} s")


if __name__ == "__main__":
    main()
