"""Saved views (issue #20): a named inbox filter and sort, personal or shared with the team.

Built-in views ("Mine", "Overdue") are rows too, marked by `builtin`, so the navigation lists one kind of
thing; careline/services/views.py creates them on first use and refuses to delete them.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from careline.models_base import json_dict, ts, utcnow


class SavedView(SQLModel, table=True):
    __tablename__ = "saved_view"
    __table_args__ = (sa.UniqueConstraint("owner", "name", name="uq_saved_view_owner_name"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=80)
    owner: str = Field(max_length=100, index=True)  # the username who made it ("system" for built-ins)
    shared: bool = False  # shared views show for everyone; personal ones only for the owner
    query: str = Field(default="", sa_type=sa.Text)  # search syntax (services/search_query.py)
    filters: dict[str, Any] = json_dict()  # InboxFilter choices beside the query (services/views.py)
    sort: str = Field(default="inbox", max_length=16)
    builtin: Optional[str] = Field(default=None, max_length=16, unique=True)
    position: int = 0
    created_at: datetime = ts(nullable=False, default=utcnow)
    updated_at: datetime = ts(nullable=False, default=utcnow)
