"""Event time → classified row: a real `careline worker --role stream,classify` consuming a live local replay.

    python benchmarks/stream_latency.py [--rate 25] [--seconds 90] [--hit-rate 0.05] [--model careline-minilm]

A local Jetstream stand-in (collectors/replay.py) emits generated posts at `--rate` events per second, each
stamped with the time it is sent (`time_us`, and the post's `createdAt`). A worker process (the CLI, as
deployed) consumes the stream, matches 50 brands x 10 keywords, stores matches and classifies them with the
configured model, on a fresh SQLite database in a temporary folder. Latency per post is
`classified_at - created_at`; prints p50/p95/max, the worker's peak RSS and the load average, and exits 1
if p95 exceeds `--target-p95` seconds. The real Bluesky rate is about 25 posts/s on average, peaks about 40.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlmodel import Session  # noqa: E402

from careline.db import make_engine, migrate  # noqa: E402
from careline.models import Brand  # noqa: E402
from collectors.replay import ReplayServer, synthetic_rules  # noqa: E402


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=25.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--hit-rate", type=float, default=0.05, help="share of posts that mention a brand")
    parser.add_argument("--model", default="careline-minilm")
    parser.add_argument("--target-p95", type=float, default=10.0)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="stream-latency-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(url)
    migrate(engine)
    rules = synthetic_rules(50, 10)
    with Session(engine) as session:
        for rule in rules:
            session.add(Brand(name=rule.brand, keywords=list(rule.terms), handles=list(rule.handles),
                              exclusions=list(rule.exclusions)))
        session.commit()
    with ReplayServer(live_rate=args.rate, rules=rules, hit_rate=args.hit_rate) as server:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "CARELINE_DATA_DIR": str(tmp), "CARELINE_DATABASE_URL": url,
               "CARELINE_MODEL": args.model, "CARELINE_SOURCES": "[]", "CARELINE_STREAMS": '["jetstream"]',
               "CARELINE_JETSTREAM_URLS": json.dumps([server.url]),
               "CARELINE_JETSTREAM_RESOLVE_HANDLES": "false"}  # no network: the generated DIDs are not real
        worker = subprocess.Popen([sys.executable, "-m", "careline.cli", "worker", "--role", "stream,classify"],
                                  env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = time.monotonic()
        rss = 0.0
        try:
            while time.monotonic() - started < args.seconds and worker.poll() is None:
                time.sleep(1.0)
                rss = max(rss, _rss_mb(worker.pid))
            time.sleep(5)  # let the last matches be classified
            rss = max(rss, _rss_mb(worker.pid))
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
        sent = server.sent
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT created_at, classified_at FROM mention")).all()
        skipped_first = conn.execute(sa.text("SELECT MIN(created_at) FROM mention")).scalar()
    def ts(value: object) -> float:
        from datetime import datetime, timezone

        dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()
    # the first seconds include loading the model once; a worker that has been up a while does not pay it
    warm = [ts(c) - ts(a) for a, c in rows if c is not None and ts(a) > ts(skipped_first) + 15]
    unclassified = sum(1 for _, c in rows if c is None)
    if len(warm) < 5:
        print(f"too few classified matches ({len(warm)}); raise --seconds or --hit-rate", file=sys.stderr)
        return 1
    warm.sort()
    p95 = warm[min(len(warm) - 1, int(0.95 * len(warm)))]
    print("| rate | events sent | matches (after 15 s warm-up) | p50 | p95 | max | unclassified at stop | worker peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {args.rate:g}/s | {sent:,} | {len(warm):,} | {statistics.median(warm):.2f} s | {p95:.2f} s | "
          f"{warm[-1]:.2f} s | {unclassified} | {rss:.0f} MB |")
    print(f"model {args.model}; load average: {open('/proc/loadavg').read().strip()}")
    return 0 if p95 <= args.target_p95 else 1


if __name__ == "__main__":
    sys.exit(main())
