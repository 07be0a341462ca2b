"""Column helpers every table module uses: UTC timestamps (aware on SQLite too), JSON lists and dicts.

Below careline/models.py and the table modules it registers (models_care, models_customers, models_desk,
models_views), so those import this and never models.py itself.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def ts(nullable: bool = True, index: bool = False, default: Any = None) -> Any:
    if default is not None:
        return Field(default_factory=default, sa_type=UTCDateTime, nullable=nullable, index=index)
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def json_list() -> Any:
    return Field(default_factory=list, sa_type=sa.JSON)


def json_dict() -> Any:
    return Field(default_factory=dict, sa_type=sa.JSON)
