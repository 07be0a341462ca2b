"""The full-text index over mention text, author handle and author name, kept in step by the database.

SQLite: an FTS5 external-content table `mention_fts` (the text lives once, in `mention`) kept in step by
three triggers, so every writer (ingest, a correction, an erase, a script with plain SQL) updates the
index in the same transaction as the row. The update trigger fires only when one of the three indexed
columns really changes, so classification and triage writes cost nothing extra.
PostgreSQL: a stored generated `tsvector` column with a GIN index: the database computes it on every
write, so nothing can forget it.

Both use the same word rules: lower-cased runs of letters and digits (`unicode61` without diacritic
folding, and PostgreSQL's `simple` configuration: no stemming, no stop words), so a query finds the same
mentions on either database.

Who installs it: the migration (with a rebuild for rows already stored), `create_all` through an
`after_create` listener on the mention table (tests), and `ensure()` after every `migrate()` (a later
migration that recreates the mention table in SQLite batch mode drops its triggers; ensure puts them back).
"""
from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

log = logging.getLogger(__name__)

FTS_TABLE = "mention_fts"
PG_COLUMN = "search_vector"
PG_INDEX = "ix_mention_search"
TRIGGERS = ("mention_fts_ai", "mention_fts_ad", "mention_fts_au")
COLUMNS = ("text", "author_handle", "author_name")

_COLS = ", ".join(COLUMNS)
_NEW = ", ".join(f"new.{c}" for c in COLUMNS)
_OLD = ", ".join(f"old.{c}" for c in COLUMNS)
_CHANGED = " OR ".join(f"old.{c} IS NOT new.{c}" for c in COLUMNS)

SQLITE_TABLE = (f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5({_COLS}, content='mention', "
                "content_rowid='id', tokenize='unicode61 remove_diacritics 0')")
SQLITE_TRIGGERS = (
    (f"CREATE TRIGGER IF NOT EXISTS mention_fts_ai AFTER INSERT ON mention BEGIN "
     f"INSERT INTO {FTS_TABLE}(rowid, {_COLS}) VALUES (new.id, {_NEW}); END"),
    (f"CREATE TRIGGER IF NOT EXISTS mention_fts_ad AFTER DELETE ON mention BEGIN "
     f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {_COLS}) VALUES ('delete', old.id, {_OLD}); END"),
    (f"CREATE TRIGGER IF NOT EXISTS mention_fts_au AFTER UPDATE OF {_COLS} ON mention WHEN {_CHANGED} BEGIN "
     f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {_COLS}) VALUES ('delete', old.id, {_OLD}); "
     f"INSERT INTO {FTS_TABLE}(rowid, {_COLS}) VALUES (new.id, {_NEW}); END"),
)
PG_VECTOR = ("to_tsvector('simple'::regconfig, coalesce(text, '') || ' ' || coalesce(author_handle, '') || ' ' "
             "|| coalesce(author_name, ''))")
POSTGRES = (
    f"ALTER TABLE mention ADD COLUMN IF NOT EXISTS {PG_COLUMN} tsvector GENERATED ALWAYS AS ({PG_VECTOR}) STORED",
    f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON mention USING gin ({PG_COLUMN})",
)


def install(conn: sa.Connection, rebuild: bool = False) -> None:
    """Create the index objects if missing; `rebuild` re-reads every stored mention into the SQLite index."""
    if conn.dialect.name == "sqlite":
        existed = _sqlite_has_table(conn)
        conn.exec_driver_sql(SQLITE_TABLE)
        for ddl in SQLITE_TRIGGERS:
            conn.exec_driver_sql(ddl)
        if rebuild or not existed:
            rebuild_index(conn)
    elif conn.dialect.name == "postgresql":
        for ddl in POSTGRES:
            conn.exec_driver_sql(ddl)  # a generated column is filled for existing rows by the ALTER itself
    else:
        log.warning("No full-text index for the %s dialect: search will find nothing", conn.dialect.name)


def ensure(conn: sa.Connection) -> None:
    """Put back whatever is missing (cheap when everything is there)."""
    if conn.dialect.name == "sqlite":
        have = {r[0] for r in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='mention'")}
        if _sqlite_has_table(conn) and have >= set(TRIGGERS):
            return
        log.warning("Full-text index objects were missing; recreating them and re-reading the mentions")
        install(conn, rebuild=True)
    else:
        install(conn)


def rebuild_index(conn: sa.Connection) -> None:
    """Re-read every mention into the index (SQLite; PostgreSQL's generated column never drifts)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")


def drop(conn: sa.Connection) -> None:
    if conn.dialect.name == "sqlite":
        for name in TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {PG_INDEX}")
        conn.exec_driver_sql(f"ALTER TABLE mention DROP COLUMN IF EXISTS {PG_COLUMN}")


def _sqlite_has_table(conn: sa.Connection) -> bool:
    return conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE name = ?", (FTS_TABLE,)).first() is not None


def include_name(name: str | None, type_: str, _parent: Any = None) -> bool:
    """For Alembic comparisons: the index objects are made here, not by the models (skip them)."""
    if not name:
        return True
    if type_ == "table":
        return not name.startswith(FTS_TABLE)
    if type_ == "column":
        return name != PG_COLUMN
    if type_ == "index":
        return name != PG_INDEX
    return True


def attach(table: sa.Table) -> None:
    """Install the index whenever `create_all` creates the mention table (the tests' fresh databases)."""
    sa.event.listen(table, "after_create", lambda _t, conn, **_kw: install(conn))
