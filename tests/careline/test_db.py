"""careline/db.py: what each connection is set up with."""
from __future__ import annotations

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
