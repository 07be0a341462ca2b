"""Escalation: what happens as a mention nears or passes its response deadline.

A brand's SLA policy holds ordered steps (services/escalation_steps.py); each fires when `at` minutes
relative to the deadline have come (negative = before it) for an open, unanswered mention:
    {"at": -30, "raise": 10, "notify": true}                     # 30 min before: raise urgency, tell them
    {"at": 0, "raise": 20, "reassign": "lead", "notify": true}   # breached: to the team lead, tell them
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.db import dialect_insert
from careline.models import Alert, AuditEvent, Escalation, Mention
from careline.models_base import UTCDateTime
from careline.services import mention_brands, priority
from careline.services.escalation_steps import Step
from careline.services.rows import PlainRow, load_plain, store_plain

if TYPE_CHECKING:
    from careline.services.sla import Policy

log = logging.getLogger(__name__)

# --- the scan ------------------------------------------------------------------------------------------

LOOKBACK = timedelta(days=1)  # a deadline missed longer ago than this (plus the last step) is not escalated
ACTOR = "escalation"
# what a fired step reads and writes: the scoring inputs (priority.SCORE_COLUMNS), the team, and the text
# for the notice; the JSON columns stay unread (reading whole ORM rows was a third of a first scan)
_READ = ("id", *priority.SCORE_COLUMNS, "priority", "assignee", "team_id", "brand_id", "text")
_WRITTEN = ("assignee", "status", "priority_boost", "priority", "updated_at")


@dataclass
class ScanResult:
    mentions: int = 0  # mentions with a step fired by this scan
    fired: list[tuple[int, int]] = field(default_factory=list)  # (mention id, step index)
    notices: list[Alert] = field(default_factory=list)


def scan(session: Session, now: datetime | None = None) -> ScanResult:
    """Fire every due escalation step once, audited; one grouped notice per team. Commits.

    Set-based: each (policy, step) is one INSERT ... SELECT into the fired-steps table that picks the open,
    unanswered mentions whose deadline has come that far and that have not fired the step, ON CONFLICT DO
    NOTHING, RETURNING what it inserted. The unique key decides who fires a step (a second scheduler, a
    re-run after a kill), and as the claims, the mentions' changes and the audit commit together, a scan
    killed midway leaves nothing half-fired. Only claimed mentions are read (plain columns), changed and
    written (one statement per set of changed columns). Measured with benchmarks/care_workflow.py at 1M
    (~13,900 steps due on ~6,900 mentions): first scan PostgreSQL 8.9 s (load 6) -> 4.0 s (load 2),
    SQLite 3.7 s (load 6) -> 1.25 s (load 1, with db.py's page cache); steady state ~300 -> 124 ms and
    ~270 -> 67 ms (docs/care.md §7). What is left is the row writes themselves (each changed row's index
    entries) and, on SQLite, the WAL checkpoint after the commit.
    """
    from careline.services import sla, teams

    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    pb = sla.book(session)
    policies: list[tuple[Policy, sa.ColumnElement[bool]]] = [(p, col(Mention.brand_id) == b) for b, p in pb.by_brand.items()]
    others = sa.or_(col(Mention.brand_id).is_(None), col(Mention.brand_id).not_in(list(pb.by_brand))) if pb.by_brand else sa.true()
    policies.append((pb.default, others))
    last = max((s.at for p, _ in policies for s in p.escalation), default=0)
    low = now - LOOKBACK - timedelta(minutes=max(last, 0))
    claimed: dict[int, list[tuple[int, Step]]] = {}
    for policy, brands in policies:
        for index, step in enumerate(policy.escalation):
            for mid in _claim(session, brands, index, step, now, low):
                claimed.setdefault(mid, []).append((index, step))
    result = ScanResult(mentions=len(claimed))
    if not claimed:
        return result
    loaded = load_plain(session, claimed, _READ)
    team_cache: dict[int, Any] = {}
    groups: dict[int | None, list[tuple[PlainRow, Step, int]]] = {}
    events: list[dict[str, Any]] = []
    for m in sorted(loaded.values(), key=lambda r: (r.respond_by, r.id)):  # most overdue first
        for index, step in sorted(claimed[m.id], key=lambda c: c[0]):
            done = _apply(session, m, step, team_cache, teams)
            result.fired.append((m.id, index))
            if step.notify:
                groups.setdefault(m.team_id, []).append((m, step, index))
            events.append({"at": now, "actor": ACTOR, "action": "escalate", "mention_id": m.id, "reply_id": None,
                           "detail": {"step": index, "at_minutes": step.at, **done}})
        m.updated_at = now
        m.priority = priority.score_mention(m, now)
    store_plain(session, sorted(loaded.values(), key=lambda r: r.id), _WRITTEN)  # id order: heap pages in turn
    session.execute(AuditEvent.__table__.insert(), events)  # type: ignore[attr-defined]
    for team_id, items in groups.items():
        result.notices.append(_notice(session, team_id, items, now, team_cache, teams))
    session.commit()
    log.info("escalation: %d step(s) fired on %d mention(s), %d notice(s)", len(result.fired), result.mentions,
             len(result.notices))
    return result


def _claim(session: Session, brands: sa.ColumnElement[bool], index: int, step: Step, now: datetime,
           low: datetime) -> list[int]:
    """Insert the fired-step rows of one step for every mention it is due on; returns those inserted."""
    done = sa.exists().where(col(Escalation.mention_id) == col(Mention.id), col(Escalation.step) == index)
    due = (
        sa.select(col(Mention.id), sa.literal(index, sa.Integer), sa.literal(now, UTCDateTime()),
                  sa.literal(step.as_json(), sa.JSON))
        .where(col(Mention.status).in_(priority.OPEN_STATUSES), col(Mention.first_response_at).is_(None))
        .where(col(Mention.respond_by) <= now - timedelta(minutes=step.at), col(Mention.respond_by) > low)
        .where(mention_brands.own_brand_clause(), brands, ~done)
    )
    stmt = (dialect_insert(session, Escalation).from_select(["mention_id", "step", "fired_at", "actions"], due)
            .on_conflict_do_nothing(index_elements=["mention_id", "step"]).returning(col(Escalation.mention_id)))
    return list(session.execute(stmt).scalars())


def _apply(session: Session, m: PlainRow, step: Step, team_cache: dict[int, Any], teams: Any) -> dict[str, Any]:
    """One step's changes on the row (the caller rescores it once for all its steps); what it did, audited."""
    done: dict[str, Any] = {}
    if step.reassign == "lead" and m.team_id is not None:
        team = team_cache.setdefault(m.team_id, teams.get_team(session, m.team_id))
        if team is not None and team.lead and team.lead != m.assignee:
            done["reassigned"] = {"from": m.assignee, "to": team.lead}
            m.assignee = team.lead
            if m.status == "new":
                m.status = "assigned"
    if step.raise_points:
        done["raised"] = step.raise_points
        m.priority_boost = round((m.priority_boost or 0.0) + step.raise_points, 2)
    return done


def _notice(session: Session, team_id: int | None, items: list[tuple[PlainRow, Step, int]], now: datetime,
            team_cache: dict[int, Any], teams: Any) -> Alert:
    """One notification for a team's escalations of this scan, however many (a storm is one message)."""
    from careline.services import sla
    from careline.services.delivery import chat_safe

    latest: dict[int, tuple[PlainRow, Step, int]] = {m.id: (m, s, i) for m, s, i in items}
    items = list(latest.values())  # two steps due at once for a mention: one line for it
    team = team_cache.get(team_id) if team_id is not None else None
    if team_id is not None and team is None:
        team = team_cache.setdefault(team_id, teams.get_team(session, team_id))
    members = teams.member_names(session, team_id) if team_id is not None else []
    recipients = sorted({*(m.assignee for m, _, _ in items if m.assignee), *members,
                         *([team.lead] if team is not None and team.lead else [])})
    breached = sum(1 for m, _, _ in items if m.respond_by is not None and m.respond_by <= now)
    who = team.name if team is not None else "unrouted mentions"
    first = items[0][0]
    if len(items) == 1:
        message = (f"Escalation ({who}): mention #{first.id} is {sla.due_text(first, now) or 'due'} — "
                   f"\"{chat_safe(first.text, 120)}\"")
    else:
        message = (f"Escalation ({who}): {len(items)} mentions near or past their response target "
                   f"({breached} breached), e.g. #{first.id} \"{chat_safe(first.text, 80)}\"")
    if recipients:
        message += " · for " + ", ".join(recipients)
    alert = Alert(kind="escalation", brand_id=first.brand_id, mention_id=first.id,
                  dedup_key=f"escalation:{team_id or 0}:{now.isoformat(timespec='seconds')}", message=message,
                  detail={"mention_ids": [m.id for m, _, _ in items], "steps": [i for _, _, i in items],
                          "recipients": recipients, "team_id": team_id, "breached": breached}, created_at=now)
    session.add(alert)
    return alert


def run(settings: Any, engine: Any, now: datetime | None = None, notifier: Any = None) -> ScanResult:
    """The scheduler's job: scan, then hand new notices to apprise (careline.services.delivery)."""
    from careline.services.delivery import deliver_pending

    with Session(engine, expire_on_commit=False) as session:
        result = scan(session, now)
        urls = [u.get_secret_value() for u in settings.alert_urls]
        if result.notices and urls:
            deliver_pending(session, urls, now or datetime.now(timezone.utc), notifier=notifier)
    return result


def notices_for(session: Session, username: str, limit: int = 20, since_hours: int = 48,
                now: datetime | None = None) -> list[Alert]:
    """Unacknowledged escalation notices naming this person (assignee, team member or lead), newest first."""
    since = (now or datetime.now(timezone.utc)) - timedelta(hours=since_hours)
    rows = session.exec(select(Alert).where(Alert.kind == "escalation", col(Alert.acknowledged_by).is_(None),
                                            col(Alert.created_at) >= since)
                        .order_by(col(Alert.id).desc()).limit(200))
    return [a for a in rows if username in (a.detail or {}).get("recipients", [])][:limit]


def fired_steps(session: Session, mention_id: int) -> list[Escalation]:
    return list(session.exec(select(Escalation).where(Escalation.mention_id == mention_id)
                             .order_by(col(Escalation.step))))
