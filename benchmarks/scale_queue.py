"""Classification throughput with 1 and 2 `careline worker --role classify` processes on PostgreSQL,
and the work queue's own overhead per mention (claim + store, with a no-op classifier).

    python benchmarks/scale_queue.py --url postgresql+psycopg://careline:careline@localhost/careline_test \
        --mentions 4000 [--model careline-minilm]

Prints a Markdown table. The machine bounds the scaling (2 cores here): efficiency = rate(2) / (2 * rate(1)).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from careline.db import create_all  # noqa: E402
from careline.services import queue  # noqa: E402
from careline.services.ingest import ingest  # noqa: E402
from classify.base import Labels  # noqa: E402
from collectors.demo import DemoSource  # noqa: E402


class NoOp:
    version = "noop"

    def classify(self, texts: Sequence[str]) -> list[Labels]:
        return [Labels("neutral", "other", {"neutral": 1.0}, {"other": 1.0}) for _ in texts]


def fresh_schema(url: str) -> tuple[sa.Engine, str, str]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url)
    with admin.begin() as c:
        c.execute(sa.text(f"CREATE SCHEMA {schema}"))
    eng = sa.create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    create_all(eng)
    return eng, schema, f"{url}?options=-csearch_path%3D{schema}"


def seed(engine: sa.Engine, n: int) -> None:
    demo = DemoSource(count=max(n, 100))
    items = demo.corpus("Acme Air")
    with Session(engine) as s:
        for start in range(0, n, 2000):
            batch = []
            for i in range(start, min(n, start + 2000)):
                raw = items[i % len(items)]
                raw = type(raw)(**{**raw.__dict__, "external_id": f"b{i}", "text": f"{raw.text} #{i}"})
                batch.append(raw)
            ingest(s, batch)


def drain_with_workers(url: str, workers: int, model: str, n: int, engine: sa.Engine) -> float:
    env = {**os.environ, "CARELINE_DATABASE_URL": url, "CARELINE_MODEL": model, "CARELINE_SOURCES": '["demo"]',
           "CARELINE_CLASSIFY_BATCH_SIZE": "64"}
    tmp = tempfile.mkdtemp()
    procs = [subprocess.Popen([sys.executable, "-m", "careline.cli", "worker", "--role", "classify"], cwd=tmp,
                              env={**env, "CARELINE_DATA_DIR": f"{tmp}/w{i}"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(workers)]
    # Time from the first label stored (models loaded) to the last.
    def left() -> int:
        with engine.connect() as c:
            return int(c.execute(sa.text("SELECT count(*) FROM mention WHERE classified_at IS NULL")).scalar_one())
    while left() == n:
        time.sleep(0.05)
    start, start_left = time.perf_counter(), left()
    while left():
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait()
    return start_left / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("CARELINE_TEST_POSTGRES_URL"))
    ap.add_argument("--mentions", type=int, default=4000)
    ap.add_argument("--model", default="careline-minilm")
    args = ap.parse_args()
    if not args.url:
        sys.exit("give --url postgresql+psycopg://... (or set CARELINE_TEST_POSTGRES_URL)")

    eng, schema, _ = fresh_schema(args.url)
    seed(eng, args.mentions)
    with Session(eng) as s:
        t0 = time.perf_counter()
        done = 0
        while True:
            got = queue.work_once(s, "bench", NoOp(), 256)
            if not got:
                break
            done += len(got)
        overhead_ms = (time.perf_counter() - t0) / max(done, 1) * 1000

    rates = {}
    for workers in (1, 2):
        eng2, _, url2 = fresh_schema(args.url)
        seed(eng2, args.mentions)
        rates[workers] = drain_with_workers(url2, workers, args.model, args.mentions, eng2)
    print(f"| measure ({args.mentions:,} mentions, model {args.model}) | value |\n|---|---|")
    print(f"| queue overhead per mention (claim + store, no-op model) | {overhead_ms:.2f} ms |")
    for w, r in rates.items():
        print(f"| throughput, {w} worker(s) | {r:,.0f} mentions/s |")
    print(f"| scaling efficiency 2 workers | {rates[2] / (2 * rates[1]):.0%} |")


if __name__ == "__main__":
    main()
