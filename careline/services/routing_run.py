"""Running the routing rules over mentions: on first classification (a batch) and on label correction.

One pass per batch, in memory: rules compiled once, teams' members, availability and open counts read
once before anything changes (read mid-batch they autoflushed every changed row, one UPDATE each), the
changed columns written in a few executemany UPDATEs (services/rows.py) and every audit event in one.
Measured in benchmarks/care_workflow.py (the ≥ 5,000 mentions/s target includes the database writes).
Changes are made on the ORM rows; the caller commits. A status a rule sets keeps the customer's open
count (services/customer_counts.py), and an assignment notifies the agent as a person's assignment does
(services/assign_notify.py), once the caller commits.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from careline.models import AuditEvent, Mention, Team, utcnow
from careline.services import assign_notify, audit, customer_counts, priority, routing, rows, teams

log = logging.getLogger(__name__)
_ROUTED = ("team_id", "assignee", "status", "tags", "priority_boost", "priority", "updated_at")


@dataclass
class RouteResult:
    matched: int = 0  # (mention, rule) pairs that matched
    actions: int = 0
    failed_rules: int = 0
    unplaced: list[int] = field(default_factory=list)  # team action found nobody available under the cap
    assigned: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)  # agent -> (id, platform, text)
    # with write=False: the columns to write ({id: {column: value}}) and the rows whose open status moved
    changes: dict[int, dict[str, Any]] = field(default_factory=dict)
    reopened: list[Mention] = field(default_factory=list)


class _Roster:
    """Round-robin state for the batch: members, availability and open counts, kept current as we assign."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.available = teams.availability(session)
        self.members: dict[int, list[str]] = {}
        self.counts: dict[str, int] = {}
        self.horizon_start = utcnow() - timedelta(days=priority.horizon_days())

    def stale(self, m: Mention) -> bool:
        """A backlog post (older than the inbox horizon) must not use up an agent's cap."""
        return m.created_at is not None and m.created_at < self.horizon_start

    def load(self, team: Team) -> None:
        """Members and their open counts, read before the batch changes anything: read mid-batch, the query
        would autoflush every mention changed so far one UPDATE each (measured: half of a routing pass)."""
        assert team.id is not None
        if team.id not in self.members:
            self.members[team.id] = teams.member_names(self.session, team.id)
            fresh = [n for n in self.members[team.id] if n not in self.counts]
            self.counts.update(teams.open_counts(self.session, fresh))

    def pick(self, team: Team) -> str | None:
        assert team.id is not None
        self.load(team)
        agent = teams.next_agent(self.members[team.id], team.last_assigned, self.available, self.counts, team.open_cap)
        if agent is not None:
            team.last_assigned = agent  # a persistent row: the flush writes it once, however many picks
            self.took(agent)
        return agent

    def took(self, agent: str) -> None:
        """An assignment in this batch counts against the agent's cap for the rest of it."""
        if agent in self.counts:
            self.counts[agent] += 1


def route(session: Session, mentions: Sequence[Mention], *, trigger: str = "classified",
          rules: list[routing.Compiled] | None = None, write: bool = True) -> RouteResult:
    """Apply the rules in order to each mention; audited per action. The caller commits.

    write=False: the changed columns come back in `result.changes` (the rows marked clean) for the caller
    to write in the UPDATE it makes anyway, and it passes `result.reopened` to
    customer_counts.status_changed after writing. Classification does this on first labels on PostgreSQL
    (rows.one_write_per_row), where a second UPDATE of a row is a second row version in every mention
    index (no HOT update: priority is indexed), which was most of a routing pass."""
    result = RouteResult()
    if not mentions:
        return result
    ctx = None
    if rules is None:
        rules, ctx = routing.rules_and_context(session)
    if not rules:
        return result
    ctx = ctx or routing.Context.load(session)
    roster = _Roster(session)
    for rule in rules:
        for kind, value in rule.actions:
            if kind == "team":
                roster.load(ctx.teams[value.lower()])
    now = utcnow()
    events: list[tuple[int | None, dict[str, Any]]] = []
    changed: list[Mention] = []
    for m in mentions:
        touched = False
        for rule in rules:
            try:
                if not rule.matches(m):
                    continue
                result.matched += 1
                for kind, value in rule.actions:
                    done = _apply(m, kind, value, ctx, roster, result)
                    if done is not None:
                        touched = True
                        result.actions += 1
                        events.append((m.id, {"rule": rule.name, "rule_id": rule.rule_id, "trigger": trigger,
                                              **done}))
            except Exception:  # noqa: BLE001 - one broken rule must not cost the mention its labels
                result.failed_rules += 1
                log.exception("routing rule %r failed on mention %s; skipped", rule.name, m.id)
                continue
            if rule.stop:
                break
        if touched:
            m.updated_at = now
            m.priority = priority.score_mention(m, now)
            changed.append(m)
    result.changes, result.reopened = rows.take_changes(changed, _ROUTED)
    if write:
        rows.store_changes(session, result.changes)
        customer_counts.status_changed(session, result.reopened)
        result.changes, result.reopened = {}, []  # written: nothing left for the caller
    else:  # every routed row carries all routed columns: the labels' UPDATE stays a few key sets, not 16
        result.changes = {m.id: {k: getattr(m, k) for k in _ROUTED} for m in changed if m.id in result.changes}
    audit.record_many(session, now, routing.ACTOR, "route", events)
    for agent, items in result.assigned.items():  # as a person's assignment does, once the caller commits
        assign_notify.after_commit(session, agent, routing.ACTOR, items)
    return result


def _apply(m: Mention, kind: str, value: Any, ctx: routing.Context, roster: _Roster,
           result: RouteResult) -> dict[str, Any] | None:
    """One action on one mention; returns what changed (for the audit) or None when nothing did."""
    if kind == "team":
        team = ctx.teams[value.lower()]
        changed: dict[str, Any] = {}
        if m.team_id != team.id:
            changed["team"] = value
            m.team_id = team.id
        if m.assignee is None and m.status in priority.OPEN_STATUSES and roster.stale(m):
            changed["unassigned"] = "older than the inbox horizon: left with the team, not handed to an agent"
        elif m.assignee is None and m.status in priority.OPEN_STATUSES:
            agent = roster.pick(team)
            if agent is None:
                result.unplaced.append(m.id or 0)
                changed["unassigned"] = "nobody in the team is available under the cap"
            else:
                changed["assigned"] = agent
                m.assignee, m.status = agent, "assigned"
                result.assigned.setdefault(agent, []).append((m.id or 0, m.platform, m.text))
        return changed or None
    if kind == "assign":
        if m.assignee is not None or m.status not in priority.OPEN_STATUSES:
            return None
        m.assignee, m.status = value, "assigned"
        roster.took(value)
        result.assigned.setdefault(value, []).append((m.id or 0, m.platform, m.text))
        return {"assigned": value}
    if kind == "tag":
        if value in (m.tags or []):
            return None
        m.tags = sorted({*(m.tags or []), value})
        return {"tag": value}
    if kind == "status":
        if m.status == value or m.status not in priority.OPEN_STATUSES:
            return None  # a rule never reopens what a person closed
        before, m.status = m.status, value
        return {"status": value, "status_before": before}
    if kind == "priority":
        m.priority_boost = round((m.priority_boost or 0.0) + value, 2)
        return {"priority": value}
    raise ValueError(f"no handler for routing action {kind!r}")


def reroute_after_correction(session: Session, m: Mention) -> RouteResult:
    """Labels changed: take back routing's own priority points, then run the rules again. Caller commits."""
    if m.id is not None:
        prev = routing.previous_boost(session, m.id)
        if prev:  # audited as a route event too, so the events always sum to routing's current points
            m.priority_boost = round((m.priority_boost or 0.0) - prev, 2)
            session.add(AuditEvent(actor=routing.ACTOR, action="route", mention_id=m.id,
                                   detail={"rule": "(labels corrected: earlier rule points taken back)",
                                           "trigger": "corrected", "priority": -prev}))
            session.flush()
    return route(session, [m], trigger="corrected")
