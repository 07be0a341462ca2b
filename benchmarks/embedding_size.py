"""The disk that stored sentence embeddings take at 1,000,000 mentions, on SQLite and PostgreSQL.

    python benchmarks/embedding_size.py [--rows 1000000] [--workdir /tmp/careline-bench-emb]
        [--postgres-url postgresql+psycopg://careline:careline@localhost:5432/careline_test]

Writes `--rows` embeddings exactly as Careline stores them (services/embeddings.encode: int8, 384
values, one scale) into a table with mention_embedding's own columns and types (models.MentionEmbedding;
without its foreign key, which takes no space, so no million mentions are needed), then measures it:
SQLite with dbstat (the table and its primary key), PostgreSQL with pg_total_relation_size (heap,
TOAST, primary key, free-space and visibility maps) in a scratch schema dropped afterwards.
Prints bytes per mention and the total, with the load average.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from careline.models import MentionEmbedding  # noqa: E402
from careline.services.embeddings import encode  # noqa: E402

SOURCE = MentionEmbedding.__table__  # type: ignore[attr-defined]
CHUNK = 20_000


def table(metadata: sa.MetaData, schema: str | None = None) -> sa.Table:
    """mention_embedding's columns and types, without the foreign key to mention."""
    cols = [sa.Column(c.name, c.type, primary_key=c.primary_key, autoincrement=False, nullable=c.nullable)
            for c in SOURCE.columns]
    return sa.Table("mention_embedding", metadata, *cols, schema=schema)


def fill(engine: sa.Engine, t: sa.Table, rows: int) -> None:
    rng = np.random.default_rng(1)
    for start in range(0, rows, CHUNK):
        vecs = rng.normal(size=(min(CHUNK, rows - start), 384)).astype(np.float32)
        batch = []
        for i, v in enumerate(vecs):
            scale, blob = encode(v)
            batch.append({"mention_id": start + i + 1, "scale": scale, "vector": blob})
        with engine.begin() as conn:
            conn.execute(sa.insert(t), batch)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def sqlite_size(workdir: Path, rows: int) -> int:
    db = workdir / "emb.db"
    for f in workdir.glob("emb.db*"):
        f.unlink()
    engine = sa.create_engine(f"sqlite:///{db}")
    meta = sa.MetaData()
    t = table(meta)
    meta.create_all(engine)
    fill(engine, t, rows)
    engine.dispose()
    con = sqlite3.connect(db)
    try:
        # the table and any index of it (sqlite_autoindex_mention_embedding_…)
        return int(con.execute("select sum(pgsize) from dbstat where name like '%mention_embedding%'").fetchone()[0])
    finally:
        con.close()


def postgres_size(url: str, rows: int) -> int:
    schema = f"emb_size_{os.getpid()}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        meta = sa.MetaData()
        t = table(meta, schema)
        meta.create_all(engine)
        fill(engine, t, rows)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'VACUUM ANALYZE "{schema}".mention_embedding'))  # maps as a live table has them
            return int(conn.execute(sa.text(f"SELECT pg_total_relation_size('\"{schema}\".mention_embedding')")).scalar_one())
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/careline-bench-emb"))
    ap.add_argument("--postgres-url")
    a = ap.parse_args()
    a.workdir.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {load()}", flush=True)
    targets = [("SQLite", lambda: sqlite_size(a.workdir, a.rows))]
    if a.postgres_url:
        targets.append(("PostgreSQL", lambda: postgres_size(a.postgres_url, a.rows)))
    for name, measure in targets:
        t = time.perf_counter()
        size = measure()
        print(f"| embeddings of {a.rows:,} mentions, {name} | {size / 1e6:.0f} MB ({size / a.rows:.0f} B a mention; "
              f"written in {time.perf_counter() - t:.0f} s) | ≤ 500 MB |")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
