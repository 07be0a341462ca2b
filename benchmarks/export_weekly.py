"""Weekly export over a database of 1,000,000 mentions (target: ≤ 10 s, ≤ 1 GB RSS).

    python benchmarks/export_weekly.py [--mentions 1000000] [--weeks 26] [--db PATH]

Seeds a SQLite database once (a fast batched generator: sqlite3 executemany, ~1 min for 1M rows with
every index of the real schema; kept as var/bench/export-<mentions>-<weeks>w.db and reused), then runs
`export_week` for the last seeded week (a complete week) in a fresh child process and reports its wall
time and peak RSS (ru_maxrss of that process alone).
`--weeks` spreads the mentions over that many weeks: 26 gives ~38k mentions in the exported week,
`--weeks 4` a stress case of ~250k. The machine is shared: the table also gives the process's CPU
time and the load average, since wall time on two busy cores says more about the neighbours than the code.
Mentions are inserted in time order, as collection does. Classified labels (10% corrected by a person),
answered mentions and authors are all generated, deterministically (seed 7).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

END = datetime(2026, 11, 16, tzinfo=timezone.utc)  # a Monday: the last seeded week is complete
WORDS = ("lost bag delayed refund seat crew app wifi gate rude lounge boarding luggage delivery cancelled "
         "booking upgrade food friendly smooth helpful checkin rebooking voucher queue staff").split()
PLATFORMS = ("x", "reddit", "bluesky", "mastodon", "hackernews")
LABELS = [("negative", "complaint", 0.34), ("positive", "praise", 0.26), ("neutral", "question", 0.2),
          ("neutral", "other", 0.15), ("negative", "other", 0.05)]


def seed(db: Path, mentions: int, weeks: int) -> None:
    from careline.db import create_all, make_engine

    db.parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{db}")
    create_all(engine)
    engine.dispose()
    rng = random.Random(7)
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    brands = [("Acme Air", 0), ("Acme Cargo", 0), ("Acme Hotels", 0), ("Skyhop", 1), ("Jetly", 1)]
    con.executemany("INSERT INTO brand (name, keywords, handles, exclusions, competitor, created_at) "
                    "VALUES (?, '[]', '[]', '[]', ?, '2026-01-01 00:00:00.000000')", brands)
    authors = [(rng.choice(PLATFORMS), f"user{i}", int(rng.lognormvariate(5, 1.8))) for i in range(50_000)]
    con.executemany("INSERT INTO author (platform, handle, display_name, followers, mention_count, praise_count, "
                    "complaint_count) VALUES (?, ?, ?, ?, 0, 0, 0)", [(p, h, h.title(), f) for p, h, f in authors])
    span = weeks * 7 * 86400
    start = END - timedelta(seconds=span)
    weights = [w for *_, w in LABELS]
    sql = ("INSERT INTO mention (platform, external_id, brand_id, url, author_handle, author_followers, text, "
           "created_at, collected_at, raw, sentiment, intent, sentiment_scores, intent_scores, classified_at, "
           "corrected_sentiment, corrected_intent, needs_review, status, priority, priority_boost, tags, "
           "first_response_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,'{}',?,?,'{}','{}',?,?,?,0,'new',0.5,0,'[]',?,?)")
    batch, t0 = [], time.perf_counter()
    # Chronological, as collection inserts them (rowid order follows time, as in a real database).
    offsets = sorted(rng.random() * span for _ in range(mentions))
    for i, offset in enumerate(offsets):
        at = start + timedelta(seconds=offset)
        stamp = at.strftime("%Y-%m-%d %H:%M:%S.%f")
        platform, handle, followers = authors[rng.randrange(len(authors))]
        sentiment, intent, _ = rng.choices(LABELS, weights)[0]
        corrected = rng.random() < 0.1
        answered = intent in ("complaint", "question") and rng.random() < 0.4
        reply = (at + timedelta(minutes=rng.expovariate(1 / 90))).strftime("%Y-%m-%d %H:%M:%S.%f") if answered else None
        text = f"Acme Air {' '.join(rng.choices(WORDS, k=12))} #{i}"
        if i % 1000 == 0:
            text = "=HYPERLINK(\"http://example.invalid\",\"click\") " + text
        batch.append((platform, f"b{i}", rng.choice((1, 1, 1, 2, 3, 4, 5)), f"https://example.invalid/{i}", handle,
                      followers, text, stamp, stamp, sentiment, intent, stamp,
                      "negative" if corrected else None, "complaint" if corrected else None, reply, stamp))
        if len(batch) == 50_000:
            con.executemany(sql, batch)
            con.commit()
            batch.clear()
            print(f"  seeded {i + 1:,} mentions ({time.perf_counter() - t0:.0f} s)", flush=True)
    if batch:
        con.executemany(sql, batch)
    con.commit()
    con.execute("ANALYZE")
    con.close()


def measure(db: Path, week: str, out: Path) -> None:
    from careline.db import make_engine
    from careline.reports.weekly import export_week
    from careline.settings import Settings

    settings = Settings(data_dir=out, database_url=f"sqlite:///{db}", timezone="Europe/Berlin",
                        _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(settings.url)
    t0, c0 = time.perf_counter(), time.process_time()
    paths = export_week(settings, engine, week, out_dir=out)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = sum(p.stat().st_size for p in paths)
    print(json.dumps({"week": week, "seconds": round(elapsed, 2), "cpu_seconds": round(cpu, 2),
                      "load": round(os.getloadavg()[0], 1), "peak_rss_mb": round(rss_mb),
                      "files": len(paths), "bytes": size}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--measure", nargs=2, metavar=("DB", "WEEK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(Path(args.measure[0]), args.measure[1], Path(tempfile.mkdtemp(prefix="careline-bench-")))
        return
    db = args.db or ROOT / "var" / "bench" / f"export-{args.mentions}-{args.weeks}w.db"
    if not db.exists():
        print(f"Seeding {args.mentions:,} mentions over {args.weeks} weeks into {db} ...", flush=True)
        seed(db, args.mentions, args.weeks)
    con = sqlite3.connect(db)
    total = con.execute("SELECT count(*) FROM mention").fetchone()[0]
    con.close()
    last = END - timedelta(days=7)
    year, week, _ = last.isocalendar()
    label = f"{year}-W{week:02d}"
    print(f"Database: {total:,} mentions. Exporting {label} (Europe/Berlin) in a fresh process ...", flush=True)
    proc = subprocess.run([sys.executable, __file__, "--measure", str(db), label], capture_output=True, text=True)
    if proc.returncode:
        sys.exit(proc.stderr)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    ok = result["seconds"] <= 10 and result["peak_rss_mb"] <= 1024
    print("| mentions in DB | week | mentions in week | wall s | CPU s | load avg | peak RSS | target |\n"
          "|---|---|---|---|---|---|---|---|\n"
          f"| {total:,} | {label} | ~{total // args.weeks:,} | {result['seconds']} | {result['cpu_seconds']} | "
          f"{result['load']} | {result['peak_rss_mb']} MB | {'met' if ok else 'MISSED'} (≤ 10 s, ≤ 1 GB) |")


if __name__ == "__main__":
    main()
