"""Escalation steps: what a brand's SLA policy says happens near or past a deadline, parsed and checked.

    {"at": -30, "raise": 10, "notify": true}                     # 30 min before: raise urgency, tell them
    {"at": 0, "raise": 20, "reassign": "lead", "notify": true}   # breached: to the team lead, tell them

Below services/sla.py (which stores a policy's steps) and services/escalation.py (which runs them), so
neither imports the other for them.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from careline.errors import InvalidInput

REASSIGN = ("lead",)


@dataclass(frozen=True)
class Step:
    at: int  # minutes relative to respond_by; negative = before the deadline; fires strictly after respond_by + at
    raise_points: float = 0.0
    reassign: str | None = None  # "lead": the mention's team lead
    notify: bool = True

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"at": self.at, "notify": self.notify}
        if self.raise_points:
            out["raise"] = self.raise_points
        if self.reassign:
            out["reassign"] = self.reassign
        return out


DEFAULT_STEPS: tuple[Step, ...] = (Step(at=-30, raise_points=10, notify=True),
                                   Step(at=0, raise_points=20, reassign="lead", notify=True))


def parse_steps(raw: Iterable[Any] | None) -> list[Step]:
    """Steps from JSON, validated; one sentence naming what is wrong otherwise."""
    steps = []
    for i, item in enumerate(raw or (), start=1):
        if isinstance(item, Step):
            steps.append(item)
            continue
        if not isinstance(item, dict):
            raise InvalidInput(f"Escalation step {i} must be an object like {{\"at\": -30, \"notify\": true}}.")
        unknown = set(item) - {"at", "raise", "reassign", "notify"}
        if unknown:
            raise InvalidInput(f"Escalation step {i} has unknown field(s) {', '.join(sorted(unknown))}; "
                               "use at, raise, reassign, notify.")
        try:
            at = int(item.get("at", 0))
            points = float(item.get("raise", 0) or 0)
        except (TypeError, ValueError):
            raise InvalidInput(f"Escalation step {i}: 'at' must be minutes and 'raise' a number.") from None
        if not -7 * 1440 <= at <= 30 * 1440:
            raise InvalidInput(f"Escalation step {i}: 'at' must be within a week before to 30 days after the deadline.")
        reassign = item.get("reassign") or None
        if reassign is not None and reassign not in REASSIGN:
            raise InvalidInput(f"Escalation step {i}: reassign can only be \"lead\" (the team lead).")
        steps.append(Step(at=at, raise_points=points, reassign=reassign, notify=bool(item.get("notify", True))))
    ats = [s.at for s in steps]
    if ats != sorted(ats) or len(set(ats)) != len(ats):
        raise InvalidInput("Escalation steps must be in order of 'at', each at a different time.")
    return steps


def steps_to_json(steps: Iterable[Step]) -> list[dict[str, Any]]:
    return [s.as_json() for s in steps]
