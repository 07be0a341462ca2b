"""Engine and session factory for SQLite (the default) and PostgreSQL.

SQLite gets WAL and a busy timeout so the dashboard, scheduler and CLI can share one file.
"""
from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, cast

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Engine, Result
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel

from careline.db_sqlite import sqlite_read, sqlite_write
from careline.errors import DatabaseError
from careline.gcpause import freeze_start_up

log = logging.getLogger(__name__)
_engines: dict[str, Engine] = {}


def _sqlite_pragmas(busy_ms: int):  # type: ignore[no-untyped-def]
    def apply(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.execute("PRAGMA foreign_keys=ON")
        # 64 MiB page cache (the default is 2 MiB): a bulk write (the first escalation scan over a backlog,
        # ~7,000 rows and their priority indexes at 1M) otherwise spills dirty pages mid-transaction and
        # re-reads index pages through the OS; measured 0.6 s of that scan's 2.1 s (benchmarks/care_workflow.py)
        cur.execute("PRAGMA cache_size=-65536")
        cur.close()

    return apply


# PostgreSQL prefetch for bitmap heap scans: with the server's default of 1 it reads one heap page at a time,
# and a search's count is ~1,000-1,700 random heap pages (one per counted row, the matches are spread over the
# table). At 1,000,000 mentions, cold (a fresh database copy, OS cache dropped), the open-inbox count of
# "refund" spent 143-751 ms reading at 1, 76 ms at 8, 50-61 at 32, 27-33 at 128 and 26-29 at 256 (EXPLAIN
# ANALYZE, track_io_timing). Only raised when the server was left at its default: a value an operator chose
# in postgresql.conf or for the role stays.
PG_IO_CONCURRENCY = 128
_PG_SESSION = ("SELECT set_config('effective_io_concurrency', %s, false) "
               "WHERE current_setting('effective_io_concurrency') = '1'")


def _pg_session(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    with dbapi_conn.cursor() as cur:
        cur.execute(_PG_SESSION, (str(PG_IO_CONCURRENCY),))
    dbapi_conn.commit()  # psycopg opened a transaction for it; the setting outlives it (not SET LOCAL)


def make_engine(url: str, busy_timeout_s: float = 10.0) -> Engine:
    """An engine for `url`; on SQLite, writers wait up to `busy_timeout_s` for a lock before failing."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_timeout_s})
        sa.event.listen(engine, "connect", _sqlite_pragmas(int(busy_timeout_s * 1000)))
    else:
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        if url.startswith("postgresql"):
            sa.event.listen(engine, "connect", _pg_session)
    return engine


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL per process."""
    if url is None:
        from careline.settings import get_settings

        url = get_settings().url
    if url not in _engines:
        _engines[url] = make_engine(url)
        freeze_start_up()  # the process has imported its work by now (careline/gcpause.py says why)
    return _engines[url]


def is_postgres(session_or_engine: Session | Engine) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "postgresql"


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched (a Session's execute types its result without `rowcount`)."""
    return cast("CursorResult[Any]", result).rowcount


def dialect_insert(session: Session, table: Any) -> Any:
    """An INSERT in this database's dialect, so `.on_conflict_do_nothing()` / `.on_conflict_do_update()`
    work on SQLite and PostgreSQL alike. The one copy: ingest, customer counts and links, erasure and
    escalation all build their upserts with it."""
    return (postgresql.insert if is_postgres(session) else sqlite.insert)(table)


def insert_rows(session: Session, model: Any, rows: list[dict[str, Any]]) -> tuple[Any, Any]:
    """(INSERT statement, parameters) for many rows with the same keys, in this database's dialect; add
    `.on_conflict_*` / `.returning` and execute it once. PostgreSQL gets the rows as one JSON document and
    `INSERT ... SELECT ... FROM json_to_recordset(...)` (recordset_columns): the same short statement for
    any number of rows, one parameter. SQLite: the plain statement, executed with the list of rows (one
    multi-row VALUES)."""
    if not is_postgres(session):
        return sqlite.insert(model), rows
    names = list(rows[0])
    picks, params = recordset_columns(session, model.__table__, names, rows)
    return postgresql.insert(model).from_select(names, sa.select(*picks)), params


def insert_many(session: Session, model: Any, rows: list[dict[str, Any]],
                finish: Callable[[Any], Any] | None = None) -> list[Any]:
    """insert_rows, `finish` (a module-level function adding the statement's ON CONFLICT / RETURNING) and
    write_rows in one call; returns the RETURNING rows. SQLite's statement is built once per (model,
    finish), since sqlite_write binds the rows per execution: building an upsert and its cache key took
    ~240 µs a call (timeit, load 1.5), 2.4 µs a post at pages of 100. PostgreSQL's names its JSON
    document, so it is built with it."""
    if is_postgres(session):
        stmt, params = insert_rows(session, model, rows)
        return write_rows(session, finish(stmt) if finish else stmt, params)
    return sqlite_write(session, _sqlite_insert(model, finish), rows)


@functools.cache
def _sqlite_insert(model: Any, finish: Callable[[Any], Any] | None) -> Any:
    stmt = sqlite.insert(model)
    return finish(stmt) if finish else stmt


def write_rows(session: Session, stmt: Any, params: Any) -> list[Any]:
    """Execute a write built with insert_rows (or an UPDATE with named binds) for its rows; returns its
    RETURNING rows. SQLite goes through sqlite_write, PostgreSQL through SQLAlchemy (one JSON document)."""
    if is_postgres(session):
        result = session.connection().execute(stmt, params)
        return list(result.all()) if result.returns_rows else []
    return sqlite_write(session, stmt, params)


def read_rows(session: Session, stmt: sa.Select[Any], params: dict[str, Any]) -> Any:
    """A SELECT's rows as tuples: on SQLite through the driver (careline/db_sqlite.py sqlite_read: each
    column converted as its type would, the timestamps by fromisoformat, not SQLAlchemy's regular
    expression), elsewhere Core rows (which unpack and index the same). For statements built once with
    named binds (in_param), as ingest's reads are. Through it, cases.plan for 1,000 new posts over 2,000
    stored, SQLite: 17.8-19.6 -> 14.3-15.7 ms (min of 25, two pairs, load 1.9, with _Post's slots). Ingest's
    other reads (cases' open posts, the identities) came here in session 12 (figures in services/ingest.py):
    their Core row processing was ~1.5% of a collector run (py-spy)."""
    if session.get_bind().dialect.name == "sqlite":
        return sqlite_read(session, stmt, params)
    return session.connection().execute(stmt, params)


def recordset_columns(session: Session, table: sa.Table, names: list[str], rows: list[dict[str, Any]],
                      types: dict[str, Any] | None = None) -> tuple[list[Any], dict[str, str]]:
    """PostgreSQL: the rows as one JSON document, read back by `json_to_recordset` with each column's type
    (`types` for names that are not columns of `table`): the columns to select (labelled by name) and the
    one parameter to bind, for insert_rows and rows.py's UPDATE ... FROM.

    One JSON text, dumped by the json module's C encoder, rather than an array per column, which psycopg
    dumps element by element in Python with a regular expression per value (its ListDumper): a tenth to a
    fifth of ingest's client CPU (docs/collectors.md). Timestamps go as ISO 8601 with their offset (naive
    ones as UTC, as UTCDateTime binds them); a JSON column's value is embedded as it is, so it is stored
    as the default serializer would write it, and None as JSON null, as the column's own bind would (the
    recordset gives SQL NULL for a JSON null, hence the coalesce). PostgreSQL refuses a NUL escape
    (\\u0000) anywhere in the document, even inside a JSON column's value, so a document with one carries
    its JSON columns as JSON text instead (cast back, as the column's own bind sends them)."""
    cols = [sa.column(name, (types or {}).get(name) or table.c[name].type) for name in names]
    default = _Once(_json_default)
    text = _document(rows, default)
    nul = "\\u0000" in text  # the recordset refuses a NUL escape anywhere, even inside a JSON value
    json_cols = [c.name for c in cols if isinstance(c.type, sa.JSON)] if nul else []
    if json_cols:  # those values as JSON text inside the document, cast back (as the column's bind would)
        text = json.dumps([{**r, **{n: json.dumps(r[n], default=default) for n in json_cols}} for r in rows],
                          default=default)
        cols = [sa.column(c.name, sa.Text) if c.name in json_cols else c for c in cols]
    doc = sa.bindparam(f"_rows_{table.name}", type_=sa.Text)
    records = sa.func.json_to_recordset(sa.cast(doc, postgresql.JSON)).table_valued(*cols).render_derived(
        name=f"_rows_{table.name}", with_types=True)
    picks: list[Any] = []
    for c in cols:
        pick: Any = records.c[c.name]
        type_ = (types or {}).get(c.name) or table.c[c.name].type
        if c.name in json_cols:
            pick = sa.cast(pick, type_)
        elif isinstance(type_, sa.JSON):
            pick = sa.func.coalesce(pick, sa.cast(sa.literal_column("'null'"), type_), type_=type_)
        picks.append(pick.label(c.name))
    return picks, {doc.key: text}


_ORJSON_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS


def _document(rows: list[dict[str, Any]], default: Any) -> str:
    """The rows as one JSON text. orjson first: 1,000 mention rows 10.6 -> 2.4 ms (timeit, load ~1), and
    dumping the documents was about a third of a PostgreSQL first ingest's client CPU (py-spy --gil,
    collector run in groups of 1,000). It writes timestamps itself as isoformat() does (naive ones as
    UTC, as _json_default), dates, and dict keys that are not text as json does. What it refuses (an
    integer wider than 64 bits, a lone surrogate) goes through the json module as before. Two
    differences, neither read back as text: non-ASCII is written as UTF-8, not escaped, and NaN as null
    (json writes NaN, which PostgreSQL refuses; ingest's payloads have none: ingest_rows._raw_payload)."""
    try:
        return orjson.dumps(rows, default=default, option=_ORJSON_OPTIONS).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(rows, default=default)


class _Once:
    """`convert` applied once per distinct object within one call (a JSON document's `default`): ingest's
    rows share a few timestamps (the batch's `now` is every row's collected_at and updated_at, every
    author's first_seen_at, every audit event's at), and formatting each timestamp was a twentieth of
    ingest's client CPU (py-spy --gil at 1M, both databases). 100 mention rows: 2.4 -> 1.6 ms to dump.
    Keyed by id(): valid only while the values are alive, i.e. within one call."""

    def __init__(self, convert: Any) -> None:
        self.convert = convert
        self.done: dict[int, Any] = {}

    def __call__(self, value: Any) -> Any:
        key = id(value)
        if key not in self.done:
            self.done[key] = self.convert(value)
        return self.done[key]


def _json_default(value: Any) -> str:
    """What json.dumps cannot write itself, as PostgreSQL reads it back (recordset_columns)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be written to a JSON recordset")


def in_values(session: Session | sa.Connection, column: Any, values: Iterable[Any]) -> Any:
    """`column IN values`. PostgreSQL: `column = ANY(ARRAY(SELECT ... FROM json_array_elements_text(:json)))`,
    the values as one JSON text: one short statement whatever the count. A plain IN of 500 values is 500
    parameters that SQLAlchemy renders and psycopg splits out of the statement on each execution (too long
    for psycopg's cache), and an array parameter is dumped element by element in Python. Client CPU for
    500 strings, measured: 1,962 µs a query as a plain IN, 576 as `= ANY(array)`, 105 as one JSON text.
    ARRAY(...) rather than `IN (SELECT ...)`: the array is computed once (an InitPlan) and `= ANY` is an
    index condition, also under an OR (BitmapOr) and for a partial index on `column IS NOT NULL`, where
    an IN subquery under an OR is a filter on every row. SQLite: `column IN (SELECT value FROM
    json_each(:json))`, also one parameter: the statement's text is the same for any count, so neither
    SQLAlchemy (expanding a plain IN's parameters on every execution) nor SQLite (preparing each new
    text) redoes it; SQLite searches the column's index once per value as for a plain IN (EXPLAIN QUERY
    PLAN: `LIST SUBQUERY`, also under an OR as MULTI-INDEX OR). The values must be JSON (ids, text)."""
    bind = session.get_bind() if isinstance(session, Session) else session
    return _in_json(bind.dialect.name, column, sa.bindparam(None, json.dumps(list(values)), type_=sa.Text))


def in_param(dialect: str, column: Any, name: str) -> Any:
    """in_values with a named parameter, for a statement built once per dialect: bind `json.dumps(values)`
    (a list) to `name` when executing it (building a statement and its cache key each time was about half
    of a small query's client CPU)."""
    return _in_json(dialect, column, sa.bindparam(name, type_=sa.Text))


def _in_json(dialect: str, column: Any, param: Any) -> Any:
    if dialect != "postgresql":
        return column.in_(sa.select(sa.func.json_each(param).table_valued("value").c.value).scalar_subquery())
    elements = sa.func.json_array_elements_text(sa.cast(param, postgresql.JSON)).table_valued("value")
    array = sa.func.array(sa.select(sa.cast(elements.c.value, column.type)).scalar_subquery(),
                          type_=postgresql.ARRAY(column.type))
    return column == sa.any_(array)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error, with database errors in one sentence."""
    session = Session(engine or get_engine(), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except OperationalError as exc:
        session.rollback()
        raise DatabaseError(describe_db_error(exc)) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def describe_db_error(exc: Exception) -> str:
    text = str(getattr(exc, "orig", exc)).lower()
    if "locked" in text:
        return "The database is locked by another process; nothing was saved, try again in a moment."
    if "could not connect" in text or "connection refused" in text or "connection failed" in text:
        return "Cannot reach the database (check CARELINE_DATABASE_URL); nothing was saved."
    if "no such table" in text or "does not exist" in text:
        return "The database is not initialised; run `careline init` first."
    return f"Database error: {str(getattr(exc, 'orig', exc)).splitlines()[0]}"


def create_all(engine: Engine) -> None:
    """Create tables straight from the models (tests); real databases go through `migrate`."""
    import careline.models  # noqa: F401  (registers the tables)

    SQLModel.metadata.create_all(engine)


def _alembic_config() -> Any:
    """Alembic's config for careline/migrations; each command sets the connection it runs on."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.attributes["connection"] = None
    return cfg


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to `revision` with Alembic (a reversal; `migrate` brings it forward again)."""
    from alembic import command

    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` with Alembic."""
    from alembic import command

    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        if revision == "head":
            from careline import search_index

            search_index.ensure(conn)  # a batch-mode table rebuild in a later migration drops triggers
    if engine.dialect.name == "sqlite":
        # Planner statistics. Without them SQLite guesses that any equality on an indexed column is
        # selective and, at 1,000,000 mentions, walked ix_mention_deadline(status, ...) for the inbox's first
        # page: 725 ms → 12 ms (count 162 → 12 ms, "new since" 41 → 2 ms) after a full ANALYZE, which takes
        # ~10 s there and milliseconds on a small database (benchmarks/live_refresh.py). PostgreSQL
        # keeps its statistics itself (autovacuum).
        with engine.begin() as conn:
            analyze_sqlite(conn)


def analyze_sqlite(conn: sa.Connection) -> None:
    """SQLite's planner statistics, complete (migrate; the benchmarks' seeder)."""
    conn.exec_driver_sql("PRAGMA analysis_limit=0")
    conn.exec_driver_sql("ANALYZE")
    _small_link_table(conn)


def _small_link_table(conn: sa.Connection) -> None:
    """ANALYZE writes no statistics for an empty table, and SQLite then guesses ~1,000,000 rows. The
    `mention_brand` link table (the other brands a post names: services/mention_brands.py) is empty for a
    team with one brand and small for everyone else; guessed large, the per-brand queries' join walked
    every mention in the range first and probed the link table for each: Trends -> Care over 90 days at
    1,000,000 mentions 5.1 s, 2.1 s with the table's real size known (benchmarks/dashboard_services.py).
    So an empty link table is recorded as one row; the next start's ANALYZE replaces that with its size."""
    exists = conn.exec_driver_sql("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'mention_brand'")
    if exists.first() is None:  # a schema migrated to a revision before the link table
        return
    has = conn.exec_driver_sql("SELECT 1 FROM sqlite_stat1 WHERE tbl = 'mention_brand'").first()
    if has is None and conn.exec_driver_sql("SELECT 1 FROM mention_brand LIMIT 1").first() is None:
        conn.exec_driver_sql("INSERT INTO sqlite_stat1(tbl, idx, stat) VALUES ('mention_brand', NULL, '1')")
        conn.exec_driver_sql("ANALYZE sqlite_schema")  # reload the statistics into this connection's planner
