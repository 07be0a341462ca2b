"""Alembic environment: runs on the connection handed in by careline.db.migrate, or on the settings URL."""
from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import careline.models  # noqa: F401
from careline import search_index

target_metadata = SQLModel.metadata
config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from careline.db import get_engine

        with get_engine().begin() as conn:
            _run_on(conn)
    else:
        _run_on(connection)


def _run_on(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=search_index.include_name,  # the full-text index is made by careline/search_index.py
    )
    with context.begin_transaction():
        context.run_migrations()


run()
