"""Themes over 10,000 complaints and reply suggestions with 100,000 past replies, timed.

    python benchmarks/themes_suggestions.py [--complaints 10000] [--replies 100000] [--workdir /tmp/careline-bench-ts]

Seeds a fresh SQLite file: one brand; `--complaints` complaints this week and as many the week before,
texts from the demo's complaint templates, embeddings drawn around 12 topic centres plus noise (the
speed does not depend on where vectors come from; the model's own are tested in tests/classify);
`--replies` older mentions each with a sent reply. Then times:
  * `find_themes` for the week (reading, k chosen by silhouette, k-means, c-TF-IDF, previous week) in a
    fresh process, as `careline export` or a new worker pays it: Python start, importing Careline,
    scikit-learn and SciPy, reading the embeddings, clustering (wall clock of the whole child process,
    and the call alone); then, in this process, the first call and the best of 3 warm ones;
  * `suggest` for 200 different open mentions: the first call (index built from the database) and p50 /
    p95 of the rest, wall clock and CPU (each tops the index up with a query for newer replies, then ranks);
  * the index's memory. Prints the load average with the figures.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlmodel import Session  # noqa: E402

from careline.db import make_engine, migrate  # noqa: E402
from careline.models import Brand, Mention, MentionEmbedding, Reply  # noqa: E402
from careline.services import embeddings, suggestions, themes  # noqa: E402
from collectors.demo import CITIES, COMPLAINTS  # noqa: E402

NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)


def seed(url: str, complaints: int, replies: int) -> int:
    engine = make_engine(url)
    migrate(engine)
    rng, nprng = random.Random(5), np.random.default_rng(5)
    centres = nprng.normal(size=(12, 384))
    with engine.begin() as conn:
        brand = conn.execute(sa.insert(Brand).values(name="Acme Air", keywords=["acme air"], handles=[],
                                                     competitor=False).returning(Brand.id)).scalar_one()
        next_id = 1
        for start, n, answered in ((NOW - timedelta(days=7), complaints, False),
                                   (NOW - timedelta(days=14), complaints, False),
                                   (NOW - timedelta(days=400), replies, True)):
            for chunk in range(0, n, 10_000):
                size = min(10_000, n - chunk)
                topics = nprng.integers(0, 12, size)
                vecs = centres[topics] + nprng.normal(scale=1.2, size=(size, 384))
                vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
                ids = list(range(next_id, next_id + size))
                next_id += size
                span = 7 * 86400 if not answered else 380 * 86400
                conn.execute(sa.insert(Mention), [
                    {"id": i, "platform": "x", "external_id": f"b{i}", "brand_id": brand, "author_handle": f"u{i % 5000}",
                     "text": COMPLAINTS[int(t)].format(brand="Acme Air", city=rng.choice(CITIES)),
                     "created_at": start + timedelta(seconds=rng.uniform(0, span)), "collected_at": NOW,
                     "updated_at": NOW, "status": "resolved" if answered else "new", "priority": 0.0,
                     "sentiment": "negative", "intent": "complaint", "classified_at": NOW, "needs_review": False}
                    for i, t in zip(ids, topics % len(COMPLAINTS))])
                rows = []
                for i, v in zip(ids, vecs):
                    scale, blob = embeddings.encode(v)
                    rows.append({"mention_id": i, "scale": scale, "vector": blob})
                conn.execute(sa.insert(MentionEmbedding), rows)
                if answered:
                    conn.execute(sa.insert(Reply), [
                        {"mention_id": i, "platform": "x", "kind": "reply", "state": "sent", "dry_run": False,
                         "text": f"@u{i % 5000} sorry about that (answer {i % 997}), DM us your booking reference",
                         "idempotency_key": f"k{i}", "created_by": "agent", "created_at": NOW, "updated_at": NOW,
                         "attempts": 1} for i in ids])
    engine.dispose()
    return brand


def cold_child(url: str) -> None:
    """The fresh-process side of the cold figure: everything a new process pays, printed as seconds."""
    t0 = time.perf_counter()
    engine = make_engine(url)
    with Session(engine) as s:
        brand = int(s.execute(sa.select(Brand.id)).scalars().first())  # type: ignore[arg-type]
        found = themes.find_themes(s, NOW - timedelta(days=7), NOW, brand_ids=[brand])
    print(f"{time.perf_counter() - t0:.3f} {time.process_time():.3f} {found.total} {len(found.themes)}")


def cold_run(url: str) -> tuple[float, float, float]:
    """(whole fresh process wall s, find_themes + engine wall s, process CPU s) of one cold call."""
    t = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--cold-child", url], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    call, cpu, *_ = out.stdout.split()
    return wall, float(call), float(cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--complaints", type=int, default=10_000)
    ap.add_argument("--replies", type=int, default=100_000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/careline-bench-ts"))
    ap.add_argument("--reuse", action="store_true", help="time the database seeded by an earlier run")
    ap.add_argument("--cold-child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.cold_child:
        cold_child(a.cold_child)
        return
    a.workdir.mkdir(parents=True, exist_ok=True)
    db = a.workdir / "ts.db"
    url = f"sqlite:///{db}"
    if a.reuse and db.exists():  # the same seeded data again (migrated to the current schema)
        engine = make_engine(url)
        migrate(engine)
        with Session(engine) as s:
            brand = int(s.execute(sa.select(Brand.id)).scalars().first())  # type: ignore[arg-type]
    else:
        for f in a.workdir.glob("ts.db*"):
            f.unlink()
        t0 = time.perf_counter()
        brand = seed(url, a.complaints, a.replies)
        print(f"seeded in {time.perf_counter() - t0:.0f} s; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        engine = make_engine(url)
    engine.dispose()
    colds = [cold_run(url) for _ in range(3)]
    print(f"| load average | {' '.join(f'{x:.2f}' for x in os.getloadavg())} | |")
    print(f"| themes over {a.complaints:,} complaints, fresh process (start + imports + call), 3 runs | "
          + ", ".join(f"{w:.2f} s (call {c:.2f} s, CPU {u:.2f} s)" for w, c, u in colds) + " | ≤ 10 s |")
    engine = make_engine(url)
    with Session(engine) as s:
        runs = []
        for _ in range(4):
            t = time.perf_counter()
            found = themes.find_themes(s, NOW - timedelta(days=7), NOW, brand_ids=[brand])
            runs.append(time.perf_counter() - t)
        print(f"| load average | {' '.join(f'{x:.2f}' for x in os.getloadavg())} | |")
        print(f"| themes over {found.total:,} complaints ({found.method}, {len(found.themes)} themes) | cold "
              f"first call here {runs[0]:.2f} s, best of 3 warm {min(runs[1:]):.2f} s | ≤ 10 s |")
        opens = [int(i) for i in s.execute(sa.select(Mention.id).where(Mention.status == "new").limit(201)).scalars()]
        values = {"author": "@someone", "brand": "Acme Air"}
        t = time.perf_counter()
        suggestions.suggest(s, s.get(Mention, opens[0]), values)  # type: ignore[arg-type]
        first = time.perf_counter() - t
        times, cpus = [], []
        for mid in opens[1:]:
            m = s.get(Mention, mid)
            t, c = time.perf_counter(), time.process_time()
            got = suggestions.suggest(s, m, values)  # type: ignore[arg-type]
            times.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
            assert got
        times.sort()
        cpus.sort()
        idx = suggestions.index_for(s, brand)
        p95 = times[int(0.95 * len(times)) - 1]
        print(f"| suggestions with {len(idx.reply_ids):,} past replies: first call (builds the index) | {first * 1000:.0f} ms | |")
        print(f"| suggestions, next {len(times)} mentions: p50 / p95 | {statistics.median(times) * 1000:.0f} / "
              f"{p95 * 1000:.0f} ms wall; CPU {statistics.median(cpus) * 1000:.0f} / "
              f"{cpus[int(0.95 * len(cpus)) - 1] * 1000:.0f} ms | p95 ≤ 200 ms |")
        print(f"| index memory (matrix) | {idx.matrix.nbytes / 1e6:.0f} MB | |")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
