"""Alembic upgrade from an empty database yields exactly the models' schema, on SQLite and PostgreSQL."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import careline.models  # noqa: F401
from careline import search_index
from careline.db import make_engine, migrate


def _diff(engine: Engine) -> list:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                   "include_name": search_index.include_name})
        return compare_metadata(ctx, SQLModel.metadata)


def test_upgrade_from_empty_matches_models_sqlite(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    assert _diff(engine) == []
    migrate(engine)  # idempotent: a second upgrade is a no-op


def test_upgrade_from_empty_matches_models_postgres(pg_engine: Engine) -> None:
    migrate(pg_engine)
    assert [d for d in _diff(pg_engine) if "apscheduler" not in str(d)] == []
