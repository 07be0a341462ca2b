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
from typing import Any

from sqlmodel import Session, col, select

from careline.db import dialect_insert
from careline.models import Alert, AuditEvent, Escalation, Mention
from careline.services import mention_brands
from careline.services.escalation_steps import Step
from careline.services.rows import store_columns

log = logging.getLogger(__name__)

# --- the scan ------------------------------------------------------------------------------------------

LOOKBACK = timedelta(days=1)  # a deadline missed longer ago than this (plus the last step) is not escalated
ACTOR = "escalation"


@dataclass
class ScanResult:
    candidates: int = 0
    fired: list[tuple[int, int]] = field(default_factory=list)  # (mention id, step index)
    notices: list[Alert] = field(default_factory=list)


def scan(session: Session, now: datetime | None = None) -> ScanResult:
    """Fire every due escalation step once, audited; one grouped notice per team. Commits."""
    from careline.services import priority, sla, teams

    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    pb = sla.book(session)
    policies = [pb.default, *pb.by_brand.values()]
    lead = max((-s.at for p in policies for s in p.escalation), default=0)
    last = max((s.at for p in policies for s in p.escalation), default=0)
    # Candidates as three columns, and whole rows only for those with a step still to fire: in the steady
    # state (every minute) nearly every candidate has fired all it is due, and loading thousands of ORM
    # rows to learn that was the scan's cost (1.3 s → see benchmarks/care_workflow.py, 1M on SQLite).
    stmt = (
        select(Mention.id, Mention.respond_by, Mention.brand_id)
        .where(col(Mention.status).in_(priority.OPEN_STATUSES), col(Mention.first_response_at).is_(None))
        .where(col(Mention.respond_by) <= now + timedelta(minutes=max(lead, 0)),
               col(Mention.respond_by) > now - LOOKBACK - timedelta(minutes=max(last, 0)))
        .where(mention_brands.own_brand_clause())
        .order_by(col(Mention.respond_by))
    )
    candidates = list(session.exec(stmt))
    result = ScanResult(candidates=len(candidates))
    if not candidates:
        return result
    fired_before: dict[int, set[int]] = {}
    ids = [mid for mid, _, _ in candidates]
    for start in range(0, len(ids), 1000):
        for mid, fired in session.exec(select(Escalation.mention_id, Escalation.step)
                                       .where(col(Escalation.mention_id).in_(ids[start:start + 1000]))):
            fired_before.setdefault(mid, set()).add(fired)
    pending: list[tuple[int, int, Step]] = []
    for cid, respond_by, brand_id in candidates:
        assert respond_by is not None and cid is not None
        minutes = (now - respond_by).total_seconds() / 60
        for index, step in enumerate(pb.for_brand(brand_id).escalation):
            if step.at <= minutes and index not in fired_before.get(cid, set()):
                pending.append((cid, index, step))
    wanted = sorted({mid for mid, _, _ in pending})
    rows: dict[int, Mention] = {}
    for start in range(0, len(wanted), 1000):
        rows.update((m.id or 0, m) for m in session.exec(select(Mention).where(col(Mention.id).in_(wanted[start:start + 1000]))))
    team_cache: dict[int, Any] = {}
    due = [(rows[mid], index, step) for mid, index, step in pending if mid in rows]
    claimed = _claim(session, due, now)  # the unique key decides who fires a step, not our read above
    groups: dict[int | None, list[tuple[Mention, Step, int]]] = {}
    events: list[dict[str, Any]] = []
    touched: dict[int, Mention] = {}
    for m, index, step in due:
        if (m.id, index) not in claimed:
            continue  # another scheduler fired it first
        done = _apply(session, m, step, now, team_cache, teams)
        touched[m.id or 0] = m
        result.fired.append((m.id or 0, index))
        if step.notify:
            groups.setdefault(m.team_id, []).append((m, step, index))
        events.append({"at": now, "actor": ACTOR, "action": "escalate", "mention_id": m.id, "reply_id": None,
                       "detail": {"step": index, "at_minutes": step.at, **done}})
    store_columns(session, list(touched.values()), ("assignee", "status", "priority_boost", "priority", "updated_at"))
    if events:
        session.execute(AuditEvent.__table__.insert(), events)  # type: ignore[attr-defined]
    for team_id, items in groups.items():
        result.notices.append(_notice(session, team_id, items, now, team_cache, teams))
    session.commit()
    if result.fired:
        log.info("escalation: %d step(s) fired on %d mention(s), %d notice(s)", len(result.fired),
                 len({mid for mid, _ in result.fired}), len(result.notices))
    return result


def _claim(session: Session, due: list[tuple[Mention, int, Step]], now: datetime) -> set[tuple[int, int]]:
    """Insert the (mention, step) rows in one statement; returns those this scan inserted."""
    if not due:
        return set()
    values = [{"mention_id": m.id, "step": index, "fired_at": now, "actions": step.as_json()} for m, index, step in due]
    stmt = (dialect_insert(session, Escalation).on_conflict_do_nothing(index_elements=["mention_id", "step"])
            .returning(Escalation.mention_id, Escalation.step))
    claimed: set[tuple[int, int]] = set()
    for start in range(0, len(values), 500):
        claimed.update((r[0], r[1]) for r in session.execute(stmt, values[start:start + 500]))
    return claimed


def _apply(session: Session, m: Mention, step: Step, now: datetime, team_cache: dict[int, Any],
           teams: Any) -> dict[str, Any]:
    from careline.services import priority

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
    m.updated_at = now
    m.priority = priority.score_mention(m, now)
    return done


def _notice(session: Session, team_id: int | None, items: list[tuple[Mention, Step, int]], now: datetime,
            team_cache: dict[int, Any], teams: Any) -> Alert:
    """One notification for a team's escalations of this scan, however many (a storm is one message)."""
    from careline.services import sla
    from careline.services.delivery import chat_safe

    latest: dict[int | None, tuple[Mention, Step, int]] = {m.id: (m, s, i) for m, s, i in items}
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
