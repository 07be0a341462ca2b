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


def _case_plan(engine: Engine) -> str:
    """SQLite's plan for the lookup of a case's posts as services/cases.py issues it, after ANALYZE."""
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
        return " | ".join(r[-1] for r in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT id FROM mention WHERE case_id IN (1, 2) OR id IN (1, 2)"))


def test_0021_case_lookups_search_the_partial_index_where_most_posts_have_no_case(tmp_path) -> None:
    from careline import db

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    with engine.begin() as conn:  # 300 posts, 3 of them in a case: what a seeded or young inbox looks like
        for i in range(300):
            conn.exec_driver_sql(
                "INSERT INTO mention (platform, external_id, text, status, created_at, collected_at, updated_at, "
                "raw, tags, sentiment_scores, intent_scores, needs_review, priority, priority_boost, case_id) "
                "VALUES ('x', ?, 't', 'new', '2026-11-01 00:00:00.000000', '2026-11-01 00:00:00.000000', "
                "'2026-11-01 00:00:00.000000', '{}', '[]', '{}', '{}', 0, 0, 0, ?)", (str(i), 1 if i < 3 else None))
    plan = _case_plan(engine)
    assert "ix_mention_case_id" in plan and "SCAN mention" not in plan, plan
    db.downgrade(engine, "0020_search_state_brand")  # to before 0021 (0022 comes off too)
    assert "SCAN mention" in _case_plan(engine)  # the full index: its NULLs made every case look huge
    migrate(engine)
    assert "SCAN mention" not in _case_plan(engine)
