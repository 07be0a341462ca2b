"""Service-layer timings behind the dashboard, on a database of a million mentions.

    python scripts/seed_mentions.py --count 1000000                  # once: var/bench/dashboard-1m.db
    python benchmarks/dashboard_services.py [--database-url URL] [--repeat 7]

Targets (issue 5): inbox first page ≤ 1 s, filtering ≤ 1 s, trends over 90 days ≤ 2 s; the foundation's
inbox query target is p95 ≤ 100 ms with two filters on SQLite. Each case runs once to warm the cache,
then `--repeat` times; the table shows median and p95 (of the repeats) in milliseconds. A case is the
whole set of calls the page makes (e.g. the inbox page = list_inbox + count).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlmodel import Session, func, select  # noqa: E402

from careline.db import make_engine  # noqa: E402
from careline.models import Mention  # noqa: E402
from careline.services import advocates, inbox, themes, trends  # noqa: E402
from careline.services.inbox import InboxFilter  # noqa: E402


def cases(session: Session) -> list[tuple[str, float, Callable[[], object]]]:
    brands = inbox.brands(session)
    ours = [b.id for b in brands if not b.competitor][:1]
    now = datetime.now(timezone.utc)
    since90, until = now - timedelta(days=90), now + timedelta(minutes=1)

    def page(f: InboxFilter) -> Callable[[], object]:
        return lambda: (inbox.list_inbox(session, f, page=1, page_size=50), inbox.count(session, f))

    def trends_page(since: datetime, until: datetime) -> object:
        """What the Trends page computes on its default view (see dashboard/pages/trends.py)."""
        volume = trends.volume(session, since, until)
        return (volume, trends.share_from_volume(session, volume), themes.find_themes(session, since, until),
                trends.response_times(session, since, until, 120))

    def query_only(f: InboxFilter) -> Callable[[], object]:
        return lambda: inbox.list_inbox(session, f, page=1, page_size=50)

    return [
        ("inbox first page (open, by priority) + count", 1000, page(InboxFilter())),
        ("inbox query only, two filters (brand + sentiment)", 100,
         query_only(InboxFilter(brand_ids=ours, sentiments=["negative"]))),
        ("inbox query only, two filters (platform + intent)", 100,
         query_only(InboxFilter(platforms=["reddit"], intents=["question"]))),
        ("filter: brand + sentiment + count", 1000, page(InboxFilter(brand_ids=ours, sentiments=["negative"]))),
        ("filter: platform + intent + count", 1000, page(InboxFilter(platforms=["reddit"], intents=["question"]))),
        ("filter: assignee (mine) + count", 1000, page(InboxFilter(assignee="agent"))),
        ("filter: last 7 days + count", 1000, page(InboxFilter(since=now - timedelta(days=7)))),
        ("filter: text search 'refund' + count", 1000, page(InboxFilter(text="refund"))),
        ("filter: all statuses, page 20", 1000,
         lambda: inbox.list_inbox(session, InboxFilter(statuses=[]), page=20, page_size=50)),
        ("trends 90 days: sentiment per day", 2000, lambda: trends.volume(session, since90, until)),
        ("trends 90 days: whole page (volume, share, themes, response)", 2000, lambda: trends_page(since90, until)),
        ("trends 90 days: share of voice alone", 2000, lambda: trends.share_of_voice(session, since90, until)),
        ("trends 90 days per week by intent", 2000,
         lambda: trends.volume(session, since90, until, by="intent", granularity="week")),
        ("advocates top 100", 1000, lambda: advocates.top_advocates(session, limit=100)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="sqlite:///var/bench/dashboard-1m.db")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    engine = make_engine(args.database_url)
    with Session(engine) as session:
        total = session.exec(select(func.count()).select_from(Mention)).one()
        print(f"{total:,} mentions in {engine.url.render_as_string(hide_password=True)}")
        print(f"{'case':<66} {'median ms':>10} {'p95 ms':>8} {'target':>8}")
        failed = 0
        for name, target, fn in cases(session):
            fn()  # warm
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            ok = p95 <= target
            failed += not ok
            print(f"{name:<66} {statistics.median(times):>10.1f} {p95:>8.1f} {target:>7}{'' if ok else ' MISSED'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
