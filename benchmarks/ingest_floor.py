"""What the database itself spends storing mention rows, before any of Careline's Python runs: the floor
under benchmarks/ingest_throughput.py.

    python benchmarks/ingest_floor.py [--mentions 20000] [--tx 100 1000] [--each]
    python benchmarks/ingest_floor.py --on m1.db --tx 1000 --without ix_mention_inbox ix_mention_priority

Ingests --mentions synthetic posts once through Careline (benchmarks/ingest_throughput.py's data), reads
the mention rows back as stored, then inserts them with plain sqlite3, 500 rows a statement as ingest does, into empty copies of
the schema, in transactions of each --tx size: with every index and the full-text trigger, with the
full-text trigger only, and with neither (the table alone). `--each` adds every secondary index alone
over the bare table. Prints microseconds of CPU per row (this process's CPU time: SQLite runs in it) and
the rate it caps ingest at. SQLite only: PostgreSQL's server CPU is another process.

Session 12 (load 1.0, 2 CPUs): every index and the trigger 112-135 µs a row in transactions of 100,
91-115 in transactions of 1,000, 75 in one of 20,000; the table alone 10-12, the FTS5 trigger +15-24; the
16 indexes alone add 0-7 µs each, ~43 summed, more together (more pages dirtied per commit).

`--on DB` inserts the rows into a copy of that database instead (e.g. the 1,000,000-mention master, as new
rows: ids above its last, external ids of their own), where each index is a deep tree and a row lands on
pages a commit has to write; `--without NAME...` adds a line with every index but those. Session 13, 1M
master, transactions of 1,000, three rounds interleaved (load 0.6-1.0; the host's speed drifted by ~1.5x
between rounds): every index and the trigger 40-69 µs a row (commit 9-14 of it); without the four indexes
that hold `priority` (ix_mention_inbox, _priority, _brand_inbox, _platform_inbox) 24-43 (commit 3.4-4.7):
new rows land at random places in them (priority is a score, 16,054 values at 1M), all the others append.
Without only _brand_inbox and _platform_inbox 48-53 against 45-63; made partial (open rows only) no
change. Those two serve the brand and platform filters of the open inbox (3-12 ms → 40-115 ms warm
without them), so all four stay.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ingest_throughput import _collect, synthetic  # noqa: E402
from sqlmodel import Session  # noqa: E402

from careline.db import create_all, make_engine  # noqa: E402
from careline.models import Brand  # noqa: E402


def _schema_and_rows(tmp: Path, n: int) -> tuple[Path, list[str], list[tuple[object, ...]], dict[str, str]]:
    empty, full = tmp / "empty.db", tmp / "full.db"
    engine = make_engine(f"sqlite:///{empty}")
    create_all(engine)
    with Session(engine) as session:
        session.add(Brand(name="Acme Air", keywords=["acme air"], handles=[], exclusions=[]))
        session.commit()
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    shutil.copy(empty, full)
    engine = make_engine(f"sqlite:///{full}")
    _collect(engine, synthetic(n), 100)
    engine.dispose()
    src = sqlite3.connect(full)
    cols = [r[1] for r in src.execute("PRAGMA table_info(mention)")]
    rows = src.execute(f"SELECT {', '.join(cols)} FROM mention ORDER BY id").fetchall()
    indexes = dict(src.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'mention' "
                               "AND sql IS NOT NULL").fetchall())
    src.close()
    return empty, cols, rows, indexes


def _as_new(on: Path, cols: list[str], rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """The rows as new to the database `on`: ids above its last, external ids no stored row has."""
    conn = sqlite3.connect(on)
    base = conn.execute("SELECT coalesce(max(id), 0) FROM mention").fetchone()[0]
    conn.close()
    at_id, at_ext = cols.index("id"), cols.index("external_id")
    return [tuple(base + v if k == at_id else f"floor-{v}" if k == at_ext else v for k, v in enumerate(row))  # type: ignore[operator]
            for row in rows]


def _trial(empty: Path, work: Path, cols: list[str], rows: list[tuple[object, ...]], tx: int,
           indexes: dict[str, str], keep: tuple[str, ...], fts: bool) -> float:
    """CPU µs per row inserting `rows` into a copy of `empty` in transactions of `tx`, keeping the indexes
    named in `keep`."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copy(empty, work)
    conn = sqlite3.connect(work, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536"):  # careline/db.py's
        conn.execute(f"PRAGMA {pragma}")
    for name in indexes:
        if name not in keep:
            conn.execute(f"DROP INDEX {name}")
    if not fts:
        conn.execute("DROP TRIGGER mention_fts_ai")
    one = f"({', '.join('?' * len(cols))})"
    per = 500  # rows a statement, as ingest writes them (services/ingest.py _CHUNK)
    t0 = time.process_time()
    for start in range(0, len(rows), tx):
        conn.execute("BEGIN IMMEDIATE")
        for at in range(start, min(start + tx, len(rows)), per):
            chunk = rows[at:min(at + per, start + tx)]
            conn.execute(f"INSERT INTO mention ({', '.join(cols)}) VALUES {', '.join([one] * len(chunk))}",
                         [v for row in chunk for v in row])
        conn.execute("COMMIT")
    spent = time.process_time() - t0
    conn.close()
    return 1e6 * spent / len(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mentions", type=int, default=20_000)
    ap.add_argument("--tx", type=int, nargs="+", default=[100, 1_000], help="rows per transaction")
    ap.add_argument("--repeat", type=int, default=2, help="best of N per figure (the machine is shared)")
    ap.add_argument("--each", action="store_true", help="also every secondary index alone")
    ap.add_argument("--on", type=Path, help="insert into a copy of this SQLite database (e.g. the 1M master)")
    ap.add_argument("--without", nargs="+", default=[], help="also a line with every index but these")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        empty, cols, rows, indexes = _schema_and_rows(tmp, args.mentions)
        if args.on is not None:
            empty, rows = args.on, _as_new(args.on, cols, rows)
        work = tmp / "work.db"

        def best(tx: int, keep: tuple[str, ...], fts: bool) -> float:
            return min(_trial(empty, work, cols, rows, tx, indexes, keep, fts) for _ in range(args.repeat))

        print(f"| mention rows inserted ({len(rows):,}, {len(indexes)} secondary indexes) | rows a transaction "
              "| CPU µs a row | caps ingest at (rows/s) |")
        print("|---|---:|---:|---:|")
        for tx in args.tx:
            lines = [("every index and the full-text trigger", tuple(indexes), True),
                     ("the full-text trigger only", (), True), ("the table alone", (), False)]
            if args.without:
                lines.insert(1, (f"every index but {', '.join(args.without)}, and the trigger",
                                 tuple(i for i in indexes if i not in args.without), True))
            for label, keep, fts in lines:
                us = best(tx, keep, fts)
                print(f"| {label} | {tx:,} | {us:.1f} | {1e6 / us:,.0f} |")
        if args.each:
            tx = args.tx[0]
            bare = best(tx, (), False)
            for index, ddl in indexes.items():
                print(f"| + {index} alone ({ddl[ddl.index(' ON ') + 4:][:60]}) | {tx:,} | "
                      f"+{best(tx, (index,), False) - bare:.1f} | |")
    print(f"\nload average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
