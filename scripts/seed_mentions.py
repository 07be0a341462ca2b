"""Seed a database with N realistic mentions for the benchmarks (1,000,000 in a few minutes, see below).

    python scripts/seed_mentions.py --count 1000000 --database-url sqlite:///var/bench/dashboard-1m.db

Distributions: platforms (X 45%, Reddit 25%, Bluesky 12%, Mastodon 10%, HN 8%), three brands (one a
competitor), labels with sentiment tied to intent and ~3% corrected by a person, authors drawn from a
pool with a heavy head (some people post a lot), follower counts log-normal, timestamps over the last
year with volume rising towards today, statuses by age (old ones mostly resolved), first responses for
answered ones. Priority is computed with the real scoring function. Deterministic for a given --seed.
The mention table's secondary indexes and the full-text index are dropped, the rows loaded in one
transaction (the driver's executemany on SQLite, COPY on PostgreSQL, 10,000 rows a batch) and every index
built once at the end; the author rollup is rebuilt with one INSERT ... SELECT and ANALYZE runs last.
Measured for 1,000,000 mentions: see docs/dashboard.md ("Seeding").
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from careline.db import analyze_sqlite, make_engine, migrate  # noqa: E402
from careline.models import Author, Brand, Mention  # noqa: E402
from careline.services.priority import score_mention  # noqa: E402
from collectors.demo import CITIES, COMPLAINTS, OTHER, PRAISE, QUESTIONS, _url  # noqa: E402

PLATFORMS = ("x", "reddit", "bluesky", "mastodon", "hackernews")
PLATFORM_WEIGHTS = (0.45, 0.25, 0.12, 0.10, 0.08)
BRANDS = [("Acme Air", False, 0.6), ("Skyhop", True, 0.3), ("Nimbus Jet", True, 0.1)]
INTENTS = (("complaint", 0.34, COMPLAINTS), ("praise", 0.26, PRAISE), ("question", 0.22, QUESTIONS),
           ("other", 0.18, OTHER))
SENTIMENT_FOR = {"complaint": ("negative", 0.9), "praise": ("positive", 0.92), "question": ("neutral", 0.8),
                 "other": ("neutral", 0.7)}
LANGS = (("en", 0.86), ("es", 0.05), ("de", 0.04), ("fr", 0.03), ("ja", 0.02))
BATCH = 10_000


def _weighted(rng: random.Random, items, weights):  # type: ignore[no-untyped-def]
    return rng.choices(items, weights)[0]


def _status(rng: random.Random, age_days: float) -> str:
    r = rng.random()
    if age_days > 14:
        return "resolved" if r < 0.82 else "ignored" if r < 0.93 else "replied" if r < 0.97 else "new"
    if age_days > 2:
        return "resolved" if r < 0.45 else "replied" if r < 0.6 else "ignored" if r < 0.68 else "assigned" if r < 0.8 else "new"
    return "new" if r < 0.65 else "assigned" if r < 0.8 else "replied" if r < 0.9 else "resolved"


def rows(count: int, brand_ids: list[int], seed: int, now: datetime):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    pool = max(50, count // 4)
    authors = []
    for i in range(pool):
        handle = f"{rng.choice(('sam', 'alex', 'jo', 'maria', 'li', 'omar', 'nina', 'raj', 'kate', 'leo'))}_{i}"
        authors.append((handle, handle.split("_")[0].title(), int(rng.lognormvariate(5.0, 1.8))))
    agents = ["agent", "admin", "dana", "lee"]
    intent_names = [i[0] for i in INTENTS]
    intent_weights = [i[1] for i in INTENTS]
    templates = {i[0]: i[2] for i in INTENTS}
    for n in range(count):
        platform = _weighted(rng, PLATFORMS, PLATFORM_WEIGHTS)
        b = _weighted(rng, range(len(BRANDS)), [w for _, _, w in BRANDS])
        brand_name = BRANDS[b][0]
        handle, name, followers = authors[min(pool - 1, int(pool * rng.random() ** 2.5))]
        age_days = 365 * rng.random() ** 1.4  # denser towards today
        created = now - timedelta(days=age_days)
        intent = _weighted(rng, intent_names, intent_weights)
        sentiment, conf = SENTIMENT_FOR[intent]
        if rng.random() > conf:
            sentiment = rng.choice(("negative", "neutral", "positive"))
        i_score = round(rng.uniform(0.45, 0.99), 3)
        s_score = round(rng.uniform(0.45, 0.99), 3)
        status = _status(rng, age_days)
        answered = status in ("replied", "resolved") and intent in ("complaint", "question") and rng.random() < 0.8
        first_response = created + timedelta(minutes=rng.lognormvariate(4.2, 1.1)) if answered else None
        corrected = rng.random() < 0.03
        ext = f"seed-{seed}-{n}"
        row = {
            "platform": platform, "external_id": ext, "brand_id": brand_ids[b], "url": _url(platform, ext, handle),
            "author_handle": handle, "author_name": name,
            "author_followers": followers if platform != "hackernews" else None,
            "text": rng.choice(templates[intent]).format(brand=brand_name, city=rng.choice(CITIES)),
            "language": _weighted(rng, [x for x, _ in LANGS], [w for _, w in LANGS]),
            "created_at": created, "collected_at": created + timedelta(minutes=3), "thread_id": ext,
            "raw": {}, "sentiment": sentiment, "sentiment_score": s_score, "sentiment_scores": {sentiment: s_score},
            "intent": intent, "intent_score": i_score, "intent_scores": {intent: i_score},
            "model_version": "careline-minilm-bench", "classified_at": created + timedelta(minutes=4),
            "corrected_intent": rng.choice(intent_names) if corrected else None,
            "corrected_by": "agent" if corrected else None, "needs_review": min(i_score, s_score) < 0.55,
            "status": status, "assignee": rng.choice(agents) if status == "assigned" else None,
            "tags": [], "first_response_at": first_response, "updated_at": first_response or created,
            # the default target (services/sla.py: CARELINE_SLA_MINUTES around the clock)
            "respond_by": created + timedelta(minutes=120), "priority_boost": 0.0,
            "resolved_at": (first_response or created + timedelta(hours=6)) if status == "resolved" else None,
        }
        row["priority"] = score_mention(_Row(row), now)
        yield row


class _Row:
    """Attribute access over a dict, for score_mention."""

    def __init__(self, d: dict) -> None:  # type: ignore[type-arg]
        self.__dict__.update(d)


def rebuild_authors(conn: sa.Connection) -> None:
    m = Mention.__table__
    intent = sa.func.coalesce(m.c.corrected_intent, m.c.intent)
    conn.execute(sa.delete(Author.__table__))
    select = sa.select(
        m.c.platform, m.c.author_handle, sa.func.max(m.c.author_name), sa.func.max(m.c.author_followers),
        sa.func.count(), sa.func.sum(sa.case((intent == "praise", 1), else_=0)),
        sa.func.sum(sa.case((intent == "complaint", 1), else_=0)),
        sa.func.min(m.c.created_at), sa.func.max(m.c.created_at),
    ).where(m.c.author_handle.is_not(None)).group_by(m.c.platform, m.c.author_handle)
    conn.execute(sa.insert(Author.__table__).from_select(
        ["platform", "handle", "display_name", "followers", "mention_count", "praise_count", "complaint_count",
         "first_seen_at", "last_seen_at"], select))


def _sqlite_writer():  # type: ignore[no-untyped-def]
    """The rows through the driver's executemany, with values pre-converted the way the models store
    them on SQLite (naive UTC text, JSON text): 3-4x faster than per-value type processing."""
    cols = [c.name for c in Mention.__table__.columns if c.name != "id"]
    sql = f"INSERT INTO mention ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"

    def conv(v):  # type: ignore[no-untyped-def]
        if isinstance(v, datetime):
            return v.astimezone(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
        if isinstance(v, (dict, list)):
            return json.dumps(v)
        return v

    def write(conn: sa.Connection, batch: list[dict]) -> None:  # type: ignore[type-arg]
        data = [tuple(conv(r.get(c)) for c in cols) for r in batch]
        conn.connection.driver_connection.executemany(sql, data)  # type: ignore[union-attr]

    return write


def _postgres_writer():  # type: ignore[no-untyped-def]
    """The rows through COPY (psycopg), about 10x faster than INSERT statements."""
    cols = [c.name for c in Mention.__table__.columns if c.name != "id"]
    sql = f"COPY mention ({', '.join(cols)}) FROM STDIN"

    def write(conn: sa.Connection, batch: list[dict]) -> None:  # type: ignore[type-arg]
        with conn.connection.driver_connection.cursor() as cur, cur.copy(sql) as copy:  # type: ignore[union-attr]
            for r in batch:
                copy.write_row(tuple(json.dumps(v) if isinstance(v, (dict, list)) else v
                                     for v in (r.get(c) for c in cols)))

    return write


def _drop_indexes(conn: sa.Connection) -> list[str]:
    """Drop the mention table's secondary indexes and the full-text index; returns the DDL to make them
    again. Loading into a bare table and building each index once over sorted keys is what makes 1M rows
    take minutes: row by row, 17 indexes and the FTS index took over 35 minutes under load."""
    from careline import search_index

    if conn.dialect.name == "sqlite":
        rows = list(conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'mention' AND sql IS NOT NULL"))
    else:
        rows = list(conn.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'mention' AND schemaname = current_schema() "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'mention'::regclass) "
            f"AND indexname NOT IN ('{search_index.PG_INDEX}', '{search_index.PG_OPEN_INDEX}')"))  # install() makes them
    for name, _ in rows:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    search_index.drop(conn)  # triggers and table (SQLite), generated column and GIN index (PostgreSQL)
    # PostgreSQL's indexdef of a partial index on `status IN (...)` (ix_mention_due) does not parse back to
    # the same definition: such an index is made again from the model, with the migration's own text
    from sqlalchemy.schema import CreateIndex

    model = {i.name: str(CreateIndex(i).compile(dialect=conn.dialect)) for i in Mention.__table__.indexes}
    return [model.get(r[0], r[1]) if conn.dialect.name == "postgresql" else r[1] for r in rows]


def _restore_indexes(conn: sa.Connection, ddl: list[str]) -> None:
    from careline import search_index

    # the search index first: on PostgreSQL adding the generated column rewrites the table, so the other
    # indexes are built once, over the final heap
    search_index.install(conn, rebuild=True)  # SQLite re-reads every row; PostgreSQL fills the column
    for statement in ddl:
        conn.exec_driver_sql(statement)


def seed(url: str, count: int, seed_value: int = 7, now: datetime | None = None) -> float:
    now = now or datetime.now(timezone.utc)
    engine = make_engine(url)
    migrate(engine)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        ids = []
        for name, competitor, _ in BRANDS:
            existing = conn.execute(sa.select(Brand.__table__.c.id).where(Brand.__table__.c.name == name)).scalar()
            if existing is None:
                existing = conn.execute(sa.insert(Brand.__table__).values(
                    name=name, keywords=[name.lower()], handles=[], exclusions=[], competitor=competitor,
                    created_at=now).returning(Brand.__table__.c.id)).scalar()
            ids.append(int(existing))
    sqlite = engine.dialect.name == "sqlite"
    write = _sqlite_writer() if sqlite else _postgres_writer()
    with engine.begin() as conn:
        if sqlite:  # a scratch load: a crash means seeding again, so no fsync per batch; a big cache for the sorts
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            conn.exec_driver_sql("PRAGMA cache_size=-400000")
        ddl = _drop_indexes(conn)
        batch: list[dict] = []  # type: ignore[type-arg]
        done = 0
        for row in rows(count, ids, seed_value, now):
            batch.append(row)
            if len(batch) >= BATCH:
                write(conn, batch)
                done += len(batch)
                batch = []
                if done % 100_000 == 0:
                    print(f"  {done:,} mentions ({time.perf_counter() - t0:.0f} s)", flush=True)
        if batch:
            write(conn, batch)
        print(f"  {count:,} mentions stored ({time.perf_counter() - t0:.0f} s); building the indexes", flush=True)
        _restore_indexes(conn, ddl)
        print(f"  indexes built ({time.perf_counter() - t0:.0f} s)", flush=True)
        rebuild_authors(conn)
    with engine.begin() as conn:  # planner statistics, as migrate() keeps them
        if engine.dialect.name == "sqlite":
            analyze_sqlite(conn)
        else:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="sqlite:///var/bench/dashboard-1m.db")
    parser.add_argument("--seed", type=int, default=7, help="different seeds add different mentions")
    args = parser.parse_args()
    took = seed(args.database_url, args.count, args.seed)
    print(f"Seeded {args.count:,} mentions into {args.database_url} in {took:.0f} s.")


if __name__ == "__main__":
    main()
