"""`careline classify` against the database: throughput with labels (and embeddings) stored, and the
disk the embeddings take.

    python benchmarks/classify_store.py [--mentions 5000] [--workdir /tmp/i17-bench]

Seeds --mentions unclassified demo-like mentions into a fresh SQLite file, builds the model cache once
(not timed), then times the real `careline classify` command in a child process (start-up, model
load, the leased work queue, ONNX int8, language detection, labels + embeddings written). Prints
mentions/s, and, where the schema has a mention_embedding table, its bytes per row measured with
SQLite's dbstat (and the projection to 1,000,000 mentions).
"""
from __future__ import annotations

import argparse
import os
import random
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from careline.db import make_engine, migrate  # noqa: E402
from careline.models import Brand, Mention  # noqa: E402
from collectors.demo import CITIES, COMPLAINTS, OTHER, PRAISE, QUESTIONS  # noqa: E402


def seed(url: str, n: int) -> None:
    engine = make_engine(url)
    migrate(engine)
    rng = random.Random(11)
    now = datetime.now(timezone.utc)
    pools = COMPLAINTS + PRAISE + QUESTIONS + OTHER
    with engine.begin() as conn:
        brand_id = conn.execute(sa.insert(Brand).values(name="Acme Air", keywords=["acme"], handles=[],
                                                        competitor=False).returning(Brand.id)).scalar_one()
        rows = [{"platform": "x", "external_id": f"b{i}", "brand_id": brand_id, "author_handle": f"u{i % 997}",
                 "text": rng.choice(pools).format(brand="Acme Air", city=rng.choice(CITIES)) + f" #{i}",
                 "created_at": now - timedelta(minutes=i), "collected_at": now, "updated_at": now,
                 "status": "new", "priority": 0.0, "needs_review": False} for i in range(n)]
        conn.execute(sa.insert(Mention), rows)
    engine.dispose()


def embedding_bytes(path: Path) -> tuple[int, int] | None:
    """(bytes on disk for the mention_embedding table, rows) via dbstat, or None without the table."""
    con = sqlite3.connect(path)
    try:
        if not con.execute("select 1 from sqlite_master where name='mention_embedding'").fetchone():
            return None
        size = con.execute("select sum(pgsize) from dbstat where name like '%mention_embedding%'").fetchone()[0]
        rows = con.execute("select count(*) from mention_embedding").fetchone()[0]
        return int(size or 0), int(rows)
    finally:
        con.close()


def postgres_bytes(url: str, rows: int = 20_000) -> float:
    """Bytes a row of mention_embedding takes on PostgreSQL (table + index + TOAST), on `rows` vectors
    written by the real encoder (services/embeddings.encode), in a throwaway schema."""
    import uuid

    import numpy as np

    from careline.services.embeddings import encode

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        conn.execute(sa.text(f'CREATE TABLE "{schema}".mention_embedding (mention_id integer PRIMARY KEY, '
                             "scale double precision NOT NULL, vector bytea NOT NULL)"))
        vecs = np.random.default_rng(1).normal(size=(rows, 384)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        conn.execute(sa.text(f'INSERT INTO "{schema}".mention_embedding VALUES (:i, :s, :v)'),
                     [{"i": i, "s": sc, "v": blob} for i, (sc, blob) in enumerate(map(encode, vecs))])
        size = conn.execute(sa.text(f"SELECT pg_total_relation_size('\"{schema}\".mention_embedding')")).scalar_one()
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()
    return size / rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mentions", type=int, default=5000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/careline-bench-store"))
    ap.add_argument("--postgres-url", help="also measure the bytes a row takes on this PostgreSQL")
    ap.add_argument("--without-embeddings", action="store_true",
                    help="the same command with the embedding write left out (the baseline for the ≥ 90%% target)")
    a = ap.parse_args()
    if a.postgres_url:
        per = postgres_bytes(a.postgres_url)
        print(f"| PostgreSQL: mention_embedding bytes a row (table + primary key) | {per:.0f} B → "
              f"{per * 1e6 / 1e6:,.0f} MB for 1,000,000 |")
    a.workdir.mkdir(parents=True, exist_ok=True)
    db = a.workdir / "store.db"
    for f in a.workdir.glob("store.db*"):
        f.unlink()
    url = f"sqlite:///{db}"
    seed(url, a.mentions)
    env = {**os.environ, "CARELINE_MODEL_CACHE": str(a.workdir / "cache"), "HF_HUB_OFFLINE": "1",
           "CARELINE_DATABASE_URL": url, "CARELINE_DATA_DIR": str(a.workdir), "CARELINE_MODEL": "careline-minilm",
           "PYTHONPATH": str(ROOT)}
    py = sys.executable
    subprocess.run([py, "-c", "from classify import load_classifier; load_classifier('careline-minilm')"],
                   env=env, check=True)
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    # the baseline is this very release with only the embedding write taken out (comparing with an
    # older release would measure every other change since, too)
    command = ([py, "-c", "import sys; from careline.services import embeddings; "
                "embeddings.store = lambda session, pairs, version: 0; "
                "from careline.cli import main; sys.argv = ['careline', 'classify']; main()"]
               if a.without_embeddings else [py, "-m", "careline.cli", "classify"])
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status):
        raise SystemExit("careline classify failed")
    cpu = usage.ru_utime + usage.ru_stime
    load1 = os.getloadavg()
    print(f"\n## `careline classify` into SQLite ({a.mentions:,} mentions"
          f"{', embeddings not stored' if a.without_embeddings else ''})\n")
    print(f"| end to end | **{a.mentions / wall:,.0f} mentions/s** ({wall:.1f} s) |")
    # on a shared machine the wall clock measures the neighbours too; CPU time is this command's own
    print(f"| per CPU-second of the command | {a.mentions / cpu:,.0f} mentions/s ({cpu:.1f} CPU s) |")
    measured = embedding_bytes(db)
    if measured and measured[1]:
        size, rows = measured
        print(f"| mention_embedding rows / bytes on disk | {rows:,} / {size:,} ({size / max(rows, 1):.0f} B a row) |")
        print(f"| projected for 1,000,000 mentions | {size / max(rows, 1) * 1e6 / 1e6:,.0f} MB |")
    print(f"| load average before / after | {' '.join(f'{x:.2f}' for x in load0)} / "
          f"{' '.join(f'{x:.2f}' for x in load1)} |")


if __name__ == "__main__":
    main()
