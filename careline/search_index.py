"""The full-text index over mention text, author handle and author name, kept in step by the database.

SQLite: an FTS5 external-content table `mention_fts` (the text lives once, in `mention`; FTS5 reads it
through the view `mention_fts_content`) kept in step by three triggers, so every writer (ingest, a
correction, an erase, a script with plain SQL) updates the index in the same transaction as the row.
Beside the text it indexes four filters (FACETS below). The update trigger fires only when an
indexed value really changes, so classification, assignment and priority writes cost nothing extra.
PostgreSQL: a stored generated `tsvector` column with a GIN index: the database computes it on every
write, so nothing can forget it. A second, partial GIN index holds the open mentions only, with their
brand (PG_OPEN_INDEX below): the inbox searches them.

Both use the same word rule (careline/search_words.py: runs of anything but separators, case-folded as
FTS5 folds, no stemming, no stop words, no accent folding), so a query finds the same mentions on either
database.

Who installs it: the migration (with a rebuild for rows already stored), `create_all` through an
`after_create` listener on the mention table (tests), and `ensure()` after every `migrate()` (a later
migration that recreates the mention table in SQLite batch mode drops its triggers; ensure puts them back).
"""
from __future__ import annotations

import logging
import string
from typing import Any

import sqlalchemy as sa

from careline import search_words

log = logging.getLogger(__name__)

FTS_TABLE = "mention_fts"
CONTENT_VIEW = "mention_fts_content"
PG_COLUMN = "search_vector"
PG_INDEX = "ix_mention_search"
PG_OPEN_INDEX = "ix_mention_search_open_brand"  # migration 0023
PG_OPEN_INDEX_0022 = "ix_mention_search_open"  # the words only; replaced by 0023
TRIGGERS = ("mention_fts_ai", "mention_fts_ad", "mention_fts_au")
COLUMNS = ("text", "author_handle", "author_name")  # what a search's words are looked for in
# SQLite only: what the inbox filters on beside the words, as index columns, so FTS5 applies them while
# merging its doclists (a word in the open inbox: the 56,629 "refund" hits were intersected with the 69,770
# open mentions in SQL, ~70-110 ms at 1M; FTS5 finds the 4,056 open ones in ~4 ms). `state` is open/closed,
# not the status, so the busiest status change (new → assigned, routing's and escalation's) rewrites
# nothing; platform never changes; brand_id rarely (re-attribution), and the competitor flag stays in SQL.
# `state` is joined with the brand id ("open1", "closed2"; "open" alone when there is no brand), so the
# open inbox of our own brands is one short list per own brand: at 1M, "refund" there read 86 + 51 pages
# cold (count to 1,001, then the page's id set) as `state:(open1)` against 356 + 374 as
# `state:open NOT brand_id:(2 OR 3)`, whose competitor lists hold 400,000 rows (migration 0020).
# `handle` is the author's handle as one token, the hex of its lower-cased form ('616c65785f3132' for
# alex_12): `from:alex_12` reads the list of that handle's 619 rows at 1M, where its words "alex" and "12"
# as a phrase read the 204,000-entry "alex" list (209-245 pages cold), and the token is equal exactly when
# `lower(author_handle)` is, so FTS5 alone can count it. Words are never looked for in it.
FACETS = ("state", "platform", "brand_id", "handle")
OPEN_STATUSES = ("new", "assigned")  # priority.OPEN_STATUSES (core may not import the services)
STATES = ("open", "closed")


def _state(prefix: str) -> str:
    return (f"(CASE WHEN {prefix}status IN {OPEN_STATUSES!r} THEN 'open' ELSE 'closed' END "
            f"|| coalesce({prefix}brand_id, ''))")


def _handle(prefix: str) -> str:
    return f"hex(lower({prefix}author_handle))"


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def ascii_lower(text: str) -> str:
    """A-Z lower-cased, every other character as it is: what SQLite's lower() does, so a `from:` handle is
    compared the same way on both databases (services/search.py AsciiLower)."""
    return text.translate(_ASCII_LOWER)


def handle_token(handle: str) -> str:
    """The `handle` facet's token for a `from:` value: the same hex as the index's, of the lower-cased
    handle (SQLite's lower() folds ASCII only, and so does the search's condition, on both databases: the
    tokens are equal exactly when that condition holds; Python's lower() made "JÜRGEN_1" a token no handle
    had, so `from:JÜRGEN_1` did not find JÜRGEN_1's mentions on SQLite)."""
    return ascii_lower(handle).encode("utf-8").hex()


def _facet(column: str, prefix: str) -> str:
    return {"state": _state, "handle": _handle}.get(column, lambda p: f"{p}{column}")(prefix)


def state_tokens_sql(states: tuple[str, ...], own_brands_only: bool) -> str:
    """SQL giving the FTS5 alternatives for these states of every brand (or only of our own brands), read
    from the brand table when the statement runs: '"open1" OR "open"' ("open": no brand). Never NULL."""
    names = " UNION ALL ".join(f"SELECT '{s}' AS state" for s in states if s in STATES)  # our constants only
    own = " WHERE competitor IS NOT 1" if own_brands_only else ""
    return (f"(SELECT group_concat('\"' || s.state || b.id || '\"', ' OR ') FROM ({names}) AS s, "
            f"(SELECT id FROM brand{own} UNION ALL SELECT '') AS b)")


_ALL = COLUMNS + FACETS
_COLS = ", ".join(_ALL)
_NEW = ", ".join(_facet(c, "new.") for c in _ALL)
_OLD = ", ".join(_facet(c, "old.") for c in _ALL)
_CHANGED = " OR ".join([f"old.{c} IS NOT new.{c}" for c in COLUMNS + ("platform", "brand_id")]
                       + [f"{_state('old.')} IS NOT {_state('new.')}"])
_WATCHED = ", ".join(COLUMNS + ("status", "platform", "brand_id"))

SQLITE_VIEW = (f"CREATE VIEW IF NOT EXISTS {CONTENT_VIEW} AS SELECT id, {', '.join(COLUMNS)}, "
               f"{_state('')} AS state, platform, brand_id, {_handle('')} AS handle FROM mention")


def sqlite_table(tokenize: str = search_words.SQLITE_TOKENIZE) -> str:
    """The FTS5 table (`tokenize`: migration 0026's word rule; SQLITE_TOKENIZE_0004 before it)."""
    return (f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5({_COLS}, content='{CONTENT_VIEW}', "
            f"content_rowid='id', {tokenize_option(tokenize)})")


def tokenize_option(tokenize: str = search_words.SQLITE_TOKENIZE) -> str:
    """FTS5's `tokenize` option as SQL (FTS5 reads quoted option values in single quotes only)."""
    quoted = tokenize.replace("'", "''")
    return f"tokenize='{quoted}'"


SQLITE_TRIGGERS = (
    (f"CREATE TRIGGER IF NOT EXISTS mention_fts_ai AFTER INSERT ON mention BEGIN "
     f"INSERT INTO {FTS_TABLE}(rowid, {_COLS}) VALUES (new.id, {_NEW}); END"),
    (f"CREATE TRIGGER IF NOT EXISTS mention_fts_ad AFTER DELETE ON mention BEGIN "
     f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {_COLS}) VALUES ('delete', old.id, {_OLD}); END"),
    (f"CREATE TRIGGER IF NOT EXISTS mention_fts_au AFTER UPDATE OF {_WATCHED} ON mention WHEN {_CHANGED} BEGIN "
     f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {_COLS}) VALUES ('delete', old.id, {_OLD}); "
     f"INSERT INTO {FTS_TABLE}(rowid, {_COLS}) VALUES (new.id, {_NEW}); END"),
)
# PostgreSQL: the words as careline/search_words.py finds them, by its function (migration 0026), not by
# the text parser, whose letters are the C library's (it split at the virama and read ½ as a separator).
PG_VECTOR = f"{search_words.PG_FUNCTION}(text, author_handle, author_name)"
# migration 0025's expression (0026's downgrade puts it back): the parser, after every punctuation, symbol,
# space and control character (the locale's [:punct:]) became a space, and a final sigma the sigma
PG_SEPARATORS_0025 = "[[:punct:][:space:][:cntrl:]]+"
PG_VECTOR_0025 = ("to_tsvector('simple'::regconfig, regexp_replace(translate(coalesce(text, '') || ' ' || "
                  f"coalesce(author_handle, '') || ' ' || coalesce(author_name, ''), 'ς', 'σ'), "
                  f"'{PG_SEPARATORS_0025}', ' ', 'g'))")
# migrations 0004-0024's expression (0025's downgrade puts it back)
PG_VECTOR_0004 = ("to_tsvector('simple'::regconfig, coalesce(text, '') || ' ' || coalesce(author_handle, '') || ' ' "
                  "|| coalesce(author_name, ''))")
# The open inbox's words and each open mention's primary brand and platform (migration 0023; 0022's index
# had the words only). The inbox asks for `status IN ('new', 'assigned')` beside the words, which implies
# the predicate, so the planner reads this index alone instead of ANDing the word's whole-table list with a
# status index (0022: at 1,000,000 mentions, cold, the "refund" bitmap from 6 index pages in 1.7 ms instead
# of 302 pages and a 119 ms BitmapAnd). The brand and the platform are one extra lexeme each, 'brand 2'
# ('brand ' without a brand) and 'platform x': the words' lexemes are letters and digits only, so no word
# can be one. A query ANDs "one of our brands" (read from the brand table when the statement runs, so
# marking a brand a competitor needs no re-indexing) and the platforms asked for (services/search.py).
# Why: a condition the index cannot apply is checked after reading the row's heap page, one random page
# per candidate. Two in five open mentions are competitors': the open-inbox count of "refund" to 1,001
# read 1,649 heap pages (4,056 candidates, 673 dropped) and reads 1,015 with the brand (2,429 candidates,
# none dropped); `flight -delayed platform:x` read 2,182 with the brand alone (1,238 dropped for platform).
# A status change to resolved or ignored leaves it (the new row version is not indexed here), so it stays
# about the size of the open inbox. brand_id and platform are indexed elsewhere already, so this index
# makes no update less HOT than 0022's did.
PG_OPEN_PREDICATE = f"status IN {OPEN_STATUSES!r}"  # our constants: "status IN ('new', 'assigned')"
BRAND_LEXEME, PLATFORM_LEXEME = "brand ", "platform "  # + the id / name; the space: never a word's lexeme


def pg_open_vector(prefix: str = "") -> str:
    """The open index's expression (`prefix`: "mention." in a query, so no joined table's column is meant)."""
    return (f"({prefix}{PG_COLUMN} || array_to_tsvector(ARRAY['{BRAND_LEXEME}' || "
            f"coalesce({prefix}brand_id::text, ''), '{PLATFORM_LEXEME}' || {prefix}platform]))")


def pg_own_brands_tsquery() -> str:
    """SQL giving a tsquery for "the primary brand is one of ours, or none" over the open index's brand
    lexemes (`'brand 1' | 'brand '`), read from the brand table when the statement runs. Never NULL."""
    return (f"(SELECT string_agg(quote_literal('{BRAND_LEXEME}' || b.id), ' | ')::tsquery FROM "
            "(SELECT id::text AS id FROM brand WHERE competitor IS NOT true UNION ALL SELECT '') AS b)")


def pg_platforms_tsquery(groups: tuple[tuple[str, ...], ...]) -> str:
    """tsquery text for "each group: one of these platforms" over the open index's platform lexemes
    (`('platform x' | 'platform reddit') & ...`); '' for no groups. In a quoted lexeme a quote is doubled
    and a backslash escaped, so any platform name stays one lexeme."""
    def lexeme(name: str) -> str:
        return "'" + (PLATFORM_LEXEME + name).replace("\\", "\\\\").replace("'", "''") + "'"

    return " & ".join("(" + " | ".join(lexeme(p) for p in group) + ")" for group in groups if group)


PG_OPEN_VECTOR = pg_open_vector()
PG_OPEN_DDL = (f"CREATE INDEX IF NOT EXISTS {PG_OPEN_INDEX} ON mention USING gin ({PG_OPEN_VECTOR}) "
               f"WHERE {PG_OPEN_PREDICATE}")
# 0022's index as it was made: migration 0022 creates it, 0023's downgrade puts it back
PG_OPEN_DDL_0022 = (f"CREATE INDEX IF NOT EXISTS {PG_OPEN_INDEX_0022} ON mention USING gin ({PG_COLUMN}) "
                    f"WHERE {PG_OPEN_PREDICATE}")
POSTGRES = (
    f"ALTER TABLE mention ADD COLUMN IF NOT EXISTS {PG_COLUMN} tsvector GENERATED ALWAYS AS ({PG_VECTOR}) STORED",
    f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON mention USING gin ({PG_COLUMN})",
    PG_OPEN_DDL,
)


def pg_rebuild_vector(conn: sa.Connection, vector: str = PG_VECTOR) -> None:
    """PostgreSQL: the generated column again with `vector` as its expression, and its indexes (every row's
    vector is recomputed: a table rewrite)."""
    conn.exec_driver_sql(search_words.pg_function_ddl())
    conn.exec_driver_sql(f"DROP INDEX IF EXISTS {PG_OPEN_INDEX}")
    conn.exec_driver_sql(f"DROP INDEX IF EXISTS {PG_INDEX}")
    conn.exec_driver_sql(f"ALTER TABLE mention DROP COLUMN IF EXISTS {PG_COLUMN}")
    conn.exec_driver_sql(f"ALTER TABLE mention ADD COLUMN {PG_COLUMN} tsvector GENERATED ALWAYS AS ({vector}) STORED")
    conn.exec_driver_sql(POSTGRES[1])
    conn.exec_driver_sql(PG_OPEN_DDL)


def install(conn: sa.Connection, rebuild: bool = False, open_index: bool = True,
            tokenize: str = search_words.SQLITE_TOKENIZE) -> None:
    """Create the index objects if missing; `rebuild` re-reads every stored mention into the SQLite index.
    `open_index=False` (migration 0004, before the brand column existed): PostgreSQL's whole-table index
    only, the open one is 0022's and 0023's. `tokenize`: SQLite's word rule (an older one in a downgrade)."""
    if conn.dialect.name == "sqlite":
        existed = _sqlite_has_table(conn)
        conn.exec_driver_sql(SQLITE_VIEW)
        conn.exec_driver_sql(sqlite_table(tokenize))
        for ddl in SQLITE_TRIGGERS:
            conn.exec_driver_sql(ddl)
        if rebuild or not existed:
            rebuild_index(conn)
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(search_words.pg_function_ddl())  # (CREATE OR REPLACE) before the column uses it
        for ddl in POSTGRES if open_index else POSTGRES[:2]:
            conn.exec_driver_sql(ddl)  # a generated column is filled for existing rows by the ALTER itself
    else:
        log.warning("No full-text index for the %s dialect: search will find nothing", conn.dialect.name)


def ensure(conn: sa.Connection) -> None:
    """Put back whatever is missing (cheap when everything is there)."""
    if conn.dialect.name == "sqlite":
        have = {r[0] for r in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='mention'")}
        if (_sqlite_has_table(conn) and have >= set(TRIGGERS) and _sqlite_columns(conn) == _ALL
                and _state("") in _sqlite_view(conn) and _handle("") in _sqlite_view(conn)
                and _sqlite_sql(conn, FTS_TABLE).endswith(tokenize_option() + ")")):
            return
        log.warning("Full-text index objects were missing or out of date; recreating them and re-reading "
                    "the mentions")
        drop(conn)
        install(conn, rebuild=True)
    else:
        install(conn)


def rebuild_index(conn: sa.Connection) -> None:
    """Re-read every mention into the index (SQLite; PostgreSQL's generated column never drifts).

    Then merged into one segment ('optimize': 6 s at 1,000,000 mentions, after a 10-17 s rebuild): the
    rebuild leaves several, and a word's list is read in every one of them; cold, the open-inbox "refund"
    read 54 + 53 pages from one segment against 86 + 51 from seven. Later writes add segments again, which
    FTS5's automatic merging keeps few."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
        conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')")


def drop(conn: sa.Connection) -> None:
    if conn.dialect.name == "sqlite":
        for name in TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")
        conn.exec_driver_sql(f"DROP VIEW IF EXISTS {CONTENT_VIEW}")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {PG_OPEN_INDEX}")
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {PG_OPEN_INDEX_0022}")
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {PG_INDEX}")
        conn.exec_driver_sql(f"ALTER TABLE mention DROP COLUMN IF EXISTS {PG_COLUMN}")
        conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {search_words.PG_FUNCTION}(text, text, text)")


def _sqlite_has_table(conn: sa.Connection) -> bool:
    return conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE name = ?", (FTS_TABLE,)).first() is not None


def _sqlite_view(conn: sa.Connection) -> str:
    """The content view's definition ('' when missing): an older one writes other facet values."""
    return _sqlite_sql(conn, CONTENT_VIEW)


def _sqlite_sql(conn: sa.Connection, name: str) -> str:
    """An object's CREATE statement ('' when missing; the FTS table's names its tokenizer)."""
    row = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).first()
    return str(row[0]) if row else ""


def _sqlite_columns(conn: sa.Connection) -> tuple[str, ...]:
    return tuple(r[1] for r in conn.exec_driver_sql(f"PRAGMA table_info({FTS_TABLE})"))


def include_name(name: str | None, type_: str, _parent: Any = None) -> bool:
    """For Alembic comparisons: the index objects are made here, not by the models (skip them)."""
    if not name:
        return True
    if type_ == "table":
        return not name.startswith(FTS_TABLE)
    if type_ == "column":
        return name != PG_COLUMN
    if type_ == "index":
        return name not in (PG_INDEX, PG_OPEN_INDEX, PG_OPEN_INDEX_0022)
    return True


def attach(table: sa.Table) -> None:
    """Install the index whenever `create_all` creates the mention table (the tests' fresh databases)."""
    sa.event.listen(table, "after_create", lambda _t, conn, **_kw: install(conn))
