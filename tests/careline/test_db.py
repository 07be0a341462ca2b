"""careline/db.py: what each connection is set up with."""
from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from careline import db
from tests.conftest import POSTGRES_URL


@pytest.mark.postgres
def test_postgres_connections_prefetch_unless_the_server_chose_a_value() -> None:
    if not POSTGRES_URL:
        pytest.fail("CARELINE_TEST_POSTGRES_URL is not set; run the suite with `make test`")
    engine = db.make_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            boot = conn.execute(sa.text("SELECT boot_val FROM pg_settings WHERE name = 'effective_io_concurrency'"))
            assert boot.scalar_one() == "1"  # the test server runs with the default
            now = conn.execute(sa.text("SELECT current_setting('effective_io_concurrency')")).scalar_one()
            assert now == str(db.PG_IO_CONCURRENCY)
            conn.rollback()  # set for the connection, not for one transaction
            assert conn.execute(sa.text("SELECT current_setting('effective_io_concurrency')")).scalar_one() == now
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_leaves_a_value_the_operator_set() -> None:
    if not POSTGRES_URL:
        pytest.fail("CARELINE_TEST_POSTGRES_URL is not set; run the suite with `make test`")
    engine = db.make_engine(POSTGRES_URL.replace("/careline_test", "/careline_test?options=-ceffective_io_concurrency%3D7"))
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_setting('effective_io_concurrency')")).scalar_one() == "7"
    finally:
        engine.dispose()


def _link_join_plan(conn: sa.Connection) -> str:
    """The plan of the per-brand 'other brands' join over a time range, as Trends and the care metrics run it."""
    rows = conn.exec_driver_sql(
        "EXPLAIN QUERY PLAN SELECT mention_brand.brand_id, count(*) FROM mention JOIN mention_brand "
        "ON mention_brand.mention_id = mention.id WHERE mention.created_at >= '2026-01-01' "
        "GROUP BY mention_brand.brand_id").all()
    return " | ".join(r[3] for r in rows)


def test_an_empty_brand_link_table_is_planned_as_small(tmp_path: Path) -> None:
    """ANALYZE leaves an empty mention_brand without statistics, which SQLite guesses as ~1M rows: the
    join then walked every mention in the range. migrate records it as small, so the join starts from it,
    and a later ANALYZE of a filled table replaces the row with the real count."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    db.migrate(engine)
    with engine.connect() as conn:
        stat = conn.exec_driver_sql("SELECT stat FROM sqlite_stat1 WHERE tbl = 'mention_brand'").all()
        plan = _link_join_plan(conn)
    assert stat == [("1",)]
    assert plan.split(" | ")[0].startswith("SCAN mention_brand"), plan
    with engine.begin() as conn:  # a filled table keeps what ANALYZE measured (its index's statistics)
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.exec_driver_sql("INSERT INTO mention_brand (mention_id, brand_id) VALUES (1, 1)")
    db.migrate(engine)
    with engine.connect() as conn:
        filled = conn.exec_driver_sql("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'mention_brand'").all()
    assert filled and all(idx is not None and stat.startswith("1 ") for idx, stat in filled), filled
    engine.dispose()
