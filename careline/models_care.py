"""Tables of the care workflow: SLA policies, teams and availability, routing rules, escalations.

Imported by careline/models.py so there is still one metadata; the Mention columns the workflow adds
(respond_by, priority_boost, team_id, case_id, resolved_at) live on Mention itself.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from careline.models_base import json_dict, json_list, ts, utcnow


class SlaPolicy(SQLModel, table=True):
    """A brand's response target. Without a row the brand gets CARELINE_SLA_MINUTES around the clock in UTC."""

    __tablename__ = "sla_policy"
    id: Optional[int] = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", unique=True)
    first_response_minutes: int = 120
    intent_minutes: dict[str, Any] = json_dict()  # e.g. {"complaint": 60}
    platform_minutes: dict[str, Any] = json_dict()  # e.g. {"x": 30}
    timezone: str = Field(default="UTC", max_length=64)
    business_hours: dict[str, Any] = json_dict()  # {"mon": ["09:00", "17:00"], ...}; empty = around the clock
    holidays: list[str] = json_list()  # ISO dates in the brand's zone
    pause_outside_hours: bool = False  # True: the clock stops outside business hours
    escalation: list[Any] = json_list()  # steps, see careline/services/escalation.py
    updated_at: datetime = ts(nullable=False, default=utcnow)
    updated_by: Optional[str] = None


class Team(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    lead: Optional[str] = Field(default=None, max_length=100)  # username; escalation reassigns to them
    open_cap: int = 20  # round robin skips an agent holding this many open mentions
    last_assigned: Optional[str] = Field(default=None, max_length=100)  # the round-robin cursor
    created_at: datetime = ts(nullable=False, default=utcnow)


class TeamMember(SQLModel, table=True):
    __tablename__ = "team_member"
    __table_args__ = (sa.UniqueConstraint("team_id", "username", name="uq_team_member"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    username: str = Field(max_length=100)


class AgentStatus(SQLModel, table=True):
    """Available or away; an agent without a row is available."""

    __tablename__ = "agent_status"
    username: str = Field(primary_key=True, max_length=100)
    available: bool = True
    updated_at: datetime = ts(nullable=False, default=utcnow)
    updated_by: Optional[str] = None


class RoutingRule(SQLModel, table=True):
    """An ordered rule: when every condition holds, its actions run (see careline/services/routing.py)."""

    __tablename__ = "routing_rule"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    position: int = Field(default=0, index=True)
    enabled: bool = True
    stop: bool = False  # later rules are skipped for a mention this rule matched
    conditions: dict[str, Any] = json_dict()
    actions: list[Any] = json_list()
    created_by: str = Field(default="system", max_length=100)
    updated_at: datetime = ts(nullable=False, default=utcnow)


class Escalation(SQLModel, table=True):
    """One fired escalation step; the unique key makes each step fire once per mention."""

    __table_args__ = (sa.UniqueConstraint("mention_id", "step", name="uq_escalation_step"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    mention_id: int = Field(foreign_key="mention.id", index=True)
    step: int
    fired_at: datetime = ts(nullable=False, index=True, default=utcnow)
    actions: dict[str, Any] = json_dict()
