"""The routing registries: the conditions and actions a rule may name, and the Context they are checked in.

A layer below services/routing.py (the built-in conditions and actions, validation, saving) and the modules
that register more (services/customer_routing.py), so those import this and not routing itself.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from careline.models import Brand, Mention, Team, User


@dataclass
class Context:
    """What rules are checked against: brands, teams and users by name, loaded once per batch."""

    session: Session
    brands: dict[str, int] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    people: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, session: Session) -> "Context":
        return cls(session=session,
                   brands={b.name.lower(): b.id for b in session.exec(select(Brand)) if b.id is not None},
                   teams={t.name.lower(): t for t in session.exec(select(Team))},
                   people=set(session.exec(select(User.username).where(col(User.active).is_(True)))))


Test = Callable[[Mention], bool]
CONDITIONS: dict[str, Callable[[Any, Context], Test]] = {}
ACTIONS: dict[str, Callable[[Any, Context], Any]] = {}


def condition(name: str) -> Callable[[Callable[[Any, Context], Test]], Callable[[Any, Context], Test]]:
    """Register a condition: fn(value from the rule, context) -> test(mention); raise InvalidInput if bad."""
    def add(fn: Callable[[Any, Context], Test]) -> Callable[[Any, Context], Test]:
        CONDITIONS[name] = fn
        return fn
    return add


def action(name: str) -> Callable[[Callable[[Any, Context], Any]], Callable[[Any, Context], Any]]:
    """Register an action: fn(value, context) -> the validated value that `_run_action` applies."""
    def add(fn: Callable[[Any, Context], Any]) -> Callable[[Any, Context], Any]:
        ACTIONS[name] = fn
        return fn
    return add
