"""search facets: the SQLite full-text index's open/closed facet carries the brand ('open1'), and the
author handle is one token of its own

Revision ID: 0020_search_state_brand
Revises: 0019_search_facets

SQLite (careline/search_index.py): the content view and the three triggers write the state joined with the
brand id, so the open inbox of our own brands reads one short list per own brand instead of every open
mention minus the competitors', and a `handle` column (the hex of the lower-cased handle), so `from:` reads
that handle's list instead of its words'. The index objects are dropped and every stored mention is read
into the new index (17 s at 1,000,000 mentions). PostgreSQL: nothing changes.
"""
from alembic import op

from careline import search_index

revision = "0020_search_state_brand"
down_revision = "0019_search_facets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        search_index.drop(conn)
        search_index.install(conn, rebuild=True)


def _state_0019(prefix: str) -> str:
    return f"CASE WHEN {prefix}status IN ('new', 'assigned') THEN 'open' ELSE 'closed' END"


_COLS = "text, author_handle, author_name, state, platform, brand_id"


def _values_0019(p: str) -> str:
    return f"{p}text, {p}author_handle, {p}author_name, {_state_0019(p)}, {p}platform, {p}brand_id"


# 0019's objects as they were (frozen here: search_index.py now defines 0020's)
SQL_0019 = (
    f"CREATE VIEW mention_fts_content AS SELECT id, text, author_handle, author_name, {_state_0019('')} AS state, "
    "platform, brand_id FROM mention",
    f"CREATE VIRTUAL TABLE mention_fts USING fts5({_COLS}, content='mention_fts_content', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 0')",
    f"CREATE TRIGGER mention_fts_ai AFTER INSERT ON mention BEGIN INSERT INTO mention_fts(rowid, {_COLS}) "
    f"VALUES (new.id, {_values_0019('new.')}); END",
    f"CREATE TRIGGER mention_fts_ad AFTER DELETE ON mention BEGIN INSERT INTO mention_fts(mention_fts, rowid, "
    f"{_COLS}) VALUES ('delete', old.id, {_values_0019('old.')}); END",
    "CREATE TRIGGER mention_fts_au AFTER UPDATE OF text, author_handle, author_name, status, platform, brand_id "
    "ON mention WHEN old.text IS NOT new.text OR old.author_handle IS NOT new.author_handle OR old.author_name "
    "IS NOT new.author_name OR old.platform IS NOT new.platform OR old.brand_id IS NOT new.brand_id OR "
    f"{_state_0019('old.')} IS NOT {_state_0019('new.')} BEGIN "
    f"INSERT INTO mention_fts(mention_fts, rowid, {_COLS}) VALUES ('delete', old.id, {_values_0019('old.')}); "
    f"INSERT INTO mention_fts(rowid, {_COLS}) VALUES (new.id, {_values_0019('new.')}); END",
    "INSERT INTO mention_fts(mention_fts) VALUES ('rebuild')",
)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        search_index.drop(conn)
        for ddl in SQL_0019:
            conn.exec_driver_sql(ddl)
