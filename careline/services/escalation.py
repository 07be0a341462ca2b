"""Escalation: what happens as a mention nears or passes its response deadline.

A brand's SLA policy holds ordered steps (services/escalation_steps.py); each fires when `at` minutes
relative to the deadline have passed (negative = before it) for an open, unanswered mention:
    {"at": -30, "raise": 10, "notify": true}                     # 30 min before: raise urgency, tell them
    {"at": 0, "raise": 20, "reassign": "lead", "notify": true}   # breached: to the team lead, tell them

"Passed" is the deadline rule (services/deadline.py) shifted by `at`: a step fires once the mention is
overdue at `now - at`, i.e. strictly after `respond_by + at`, for every `at`, negative or not. So the step
at 0 fires exactly when the mention becomes overdue, never at the deadline itself (answering then is on
time), and the inbox, the priority and the breach counts call it breached from the same instant.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.db import dialect_insert, is_postgres
from careline.gcpause import gc_paused
from careline.models import Alert, Escalation, Mention
from careline.models_base import UTCDateTime
from careline.services import audit, deadline, mention_brands, priority, sla, teams
from careline.services.delivery import chat_safe, deliver_pending
from careline.services.escalation_steps import Step
from careline.services.rows import PlainRow, load_plain, store_plain

log = logging.getLogger(__name__)

# --- the scan ------------------------------------------------------------------------------------------

LOOKBACK = timedelta(days=1)  # a deadline missed longer ago than this (plus the last step) is not escalated
ACTOR = "escalation"
# steps one scan fires at most, most overdue first; what is left is the next call's (run() calls again at
# once). Sized for the 1 s target where writes cost most: at 1M on this 2-core machine a scan of 2,000 took
# 400-474 ms on PostgreSQL and 139-312 ms on SQLite (session 11, load 1-2; docs/care.md §7)
MAX_STEPS = 2_000
# what a fired step reads and writes: the scoring inputs (priority.SCORE_COLUMNS), the team, and updated_at
# (read so that store_plain sees it change: the live desk's stamp); the JSON columns stay unread (reading
# whole ORM rows was a third of a first scan), and so does the text: a notice quotes one mention, read alone
_READ = ("id", *priority.SCORE_COLUMNS, "priority", "assignee", "team_id", "brand_id", "updated_at")
_WRITTEN = ("assignee", "status", "priority_boost", "priority", "updated_at")


@dataclass
class ScanResult:
    mentions: int = 0  # mentions with a step fired by this scan
    fired: list[tuple[int, int]] = field(default_factory=list)  # (mention id, step index)
    notices: list[Alert] = field(default_factory=list)
    more: bool = False  # stopped at its limit: steps may still be due, scan again (run() does, at once)
    through: datetime | None = None  # deadline of the last step claimed: where a scan again at once resumes
    seconds: list[float] = field(default_factory=list)  # run(): each scan's time
    checkpoint: float = 0.0  # run() on SQLite: the one WAL checkpoint after its scans, seconds


def scan(session: Session, now: datetime | None = None, *, limit: int = MAX_STEPS,
         after: datetime | None = None, book: sla.PolicyBook | None = None) -> ScanResult:
    """Fire the due escalation steps once each, most overdue first, at most `limit` of them, audited; one
    grouped notice per team. Commits.

    Set-based: one INSERT ... SELECT into the fired-steps table claims the due (mention, step) pairs of
    every policy and step (open, unanswered, deadline come that far, not fired yet), in deadline order up to
    `limit`, ON CONFLICT DO NOTHING, RETURNING what it inserted. The unique key decides who fires a step (a
    second scheduler, a re-run after a kill), and as the claims, the mentions' changes and the audit commit
    together, a scan killed midway leaves nothing half-fired. Only claimed mentions are read (plain
    columns), rescored and written (one statement per set of changed columns). A backlog larger than
    `limit` is drained by further scans (`more`), each its own transaction; run() repeats them at once at
    the same `now`, passing `after=through` (every due step with an earlier deadline is fired by then, so
    the next scan does not re-read them), and a later scan of the same `now` adds to that scan's notices
    instead of sending new ones. `book`: the policies as run() read them once for all its scans.

    Measured with benchmarks/care_workflow.py at 1M over a day's backlog (~6,100-6,550 mentions, two steps
    each; load 1-2): the slowest scan 139-203 ms SQLite / 400-428 ms PostgreSQL, the whole backlog 1.1-1.6 s
    / 2.1 s in 7 scans, steady state 17-20 / 60-66 ms p95; where the time goes in docs/care.md §7.
    """
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    pb = book or sla.book(session)
    pairs = _claim(session, pb, now, limit, after)
    result = ScanResult(more=len(pairs) >= limit)
    if not pairs:
        return result
    claimed: dict[int, list[int]] = {}
    for mid, index in pairs:
        claimed.setdefault(mid, []).append(index)
    result.mentions = len(claimed)
    loaded = load_plain(session, claimed, _READ)
    team_cache: dict[int, Any] = {}
    groups: dict[int | None, list[tuple[PlainRow, Step, int]]] = {}
    events: list[tuple[int, dict[str, Any]]] = []
    horizon = priority.horizon_days()
    for m in sorted(loaded.values(), key=lambda r: (r.respond_by, r.id)):  # most overdue first
        steps = pb.for_brand(m.brand_id).escalation  # the policy the claim took the step from
        for index in sorted(claimed[m.id]):
            step = steps[index]
            done = _apply(session, m, step, team_cache)
            result.fired.append((m.id, index))
            if step.notify:
                groups.setdefault(m.team_id, []).append((m, step, index))
            events.append((m.id, {"step": index, "at_minutes": step.at, **done}))
        m.updated_at = now
        m.priority = priority.score_mention(m, now, horizon)
    result.through = max((r.respond_by for r in loaded.values()), default=None)
    store_plain(session, sorted(loaded.values(), key=lambda r: r.id), _WRITTEN)  # id order: heap pages in turn
    _audit(session, now, events)
    for team_id, items in groups.items():
        result.notices.append(_notice(session, team_id, items, now, team_cache))
    session.commit()
    log.info("escalation: %d step(s) fired on %d mention(s), %d notice(s)%s", len(result.fired), result.mentions,
             len(result.notices), "; more are due" if result.more else "")
    return result


def _claim(session: Session, pb: sla.PolicyBook, now: datetime, limit: int,
           after: datetime | None) -> list[tuple[int, int]]:
    """Insert the fired-step rows of the `limit` most overdue due (mention, step) pairs of every policy in
    one statement; returns those inserted.

    One branch per (policy, step): the ix_mention_due index (open, unanswered, by deadline; migration 0024)
    read alone, in deadline order, testing the brand from the index and "not fired yet" on the unique key
    row by row, stopping at `limit` rows, so a scan reads about the pairs it claims and not the whole
    backlog each time. The statuses are literals (priority.due_clause), or SQLite would not use the partial
    index. On PostgreSQL "not fired yet" is kept a per-row test (OFFSET 0 stops the planner turning it into
    an anti-join): its statistics called the fired-steps table empty and the open rows of the last day a
    few hundred, so it hash-anti-joined and sorted every candidate of the window instead of stopping at the
    limit. The sort of the branches' rows before the outer LIMIT means no branch re-reads a row the
    statement has inserted."""
    policies: list[tuple[sla.Policy, sa.ColumnElement[bool]]] = [(p, col(Mention.brand_id) == b) for b, p in pb.by_brand.items()]
    others = sa.or_(col(Mention.brand_id).is_(None), col(Mention.brand_id).not_in(list(pb.by_brand))) if pb.by_brand else sa.true()
    policies.append((pb.default, others))
    last = max((s.at for p, _ in policies for s in p.escalation), default=0)
    low = now - LOOKBACK - timedelta(minutes=max(last, 0))
    since = col(Mention.respond_by) >= after if after is not None else sa.true()
    postgres = is_postgres(session)
    branches = []
    for policy, brands in policies:
        for index, step in enumerate(policy.escalation):
            fired = sa.select(sa.literal(1)).where(col(Escalation.mention_id) == col(Mention.id), col(Escalation.step) == index)
            done = (fired.offset(0) if postgres else fired).exists()
            first = (sa.select(col(Mention.id).label("mention_id"), sa.literal(index, sa.Integer).label("step"),
                               sa.literal(step.as_json(), sa.JSON).label("actions"),
                               col(Mention.respond_by).label("due"))
                     .where(priority.due_clause())
                     .where(deadline.overdue_clause(now - timedelta(minutes=step.at)), col(Mention.respond_by) > low)
                     .where(since, mention_brands.own_brand_clause(), brands, ~done)
                     .order_by(col(Mention.respond_by), col(Mention.id)).limit(limit).subquery())
            branches.append(sa.select(*first.c))
    if not branches:
        return []
    due = sa.union_all(*branches).subquery("due")
    pick = (sa.select(due.c.mention_id, due.c.step, sa.literal(now, UTCDateTime()), due.c.actions)
            .order_by(due.c.due, due.c.mention_id, due.c.step).limit(limit))
    stmt = (dialect_insert(session, Escalation).from_select(["mention_id", "step", "fired_at", "actions"], pick)
            .on_conflict_do_nothing(index_elements=["mention_id", "step"])
            .returning(col(Escalation.mention_id), col(Escalation.step)))
    return [(mid, index) for mid, index in session.execute(stmt)]


def _audit(session: Session, now: datetime, events: list[tuple[int, dict[str, Any]]]) -> None:
    """The scan's audit rows, (mention id, what the step did) each, all at `now` by ACTOR, in one statement
    (audit.record_many: 12,800 rows as an executemany took 136-207 ms CPU on SQLite, ~40 ms this way)."""
    audit.record_many(session, now, ACTOR, "escalate", events)


def _apply(session: Session, m: PlainRow, step: Step, team_cache: dict[int, Any]) -> dict[str, Any]:
    """One step's changes on the row (the caller rescores it once for all its steps); what it did, audited."""
    done: dict[str, Any] = {}
    if step.reassign == "lead" and m.team_id is not None:
        team = _team(session, m.team_id, team_cache)
        if team is not None and team.lead and team.lead != m.assignee:
            done["reassigned"] = {"from": m.assignee, "to": team.lead}
            m.assignee = team.lead
            if m.status == "new":
                m.status = "assigned"
    if step.raise_points:
        done["raised"] = step.raise_points
        m.priority_boost = round((m.priority_boost or 0.0) + step.raise_points, 2)
    return done


def _team(session: Session, team_id: int, team_cache: dict[int, Any]) -> Any:
    if team_id not in team_cache:
        team_cache[team_id] = teams.get_team(session, team_id)
    return team_cache[team_id]


def _notice(session: Session, team_id: int | None, items: list[tuple[PlainRow, Step, int]], now: datetime,
            team_cache: dict[int, Any]) -> Alert:
    """One notification for a team's escalations of this scan, however many (a storm is one message). A
    further scan at the same `now` (run() draining a backlog) adds its mentions to that notice while it
    is unsent, so a backlog drained in several scans is still one message per team."""
    latest: dict[int, tuple[PlainRow, Step, int]] = {m.id: (m, s, i) for m, s, i in items}  # most overdue first
    team = _team(session, team_id, team_cache) if team_id is not None else None
    members = teams.member_names(session, team_id) if team_id is not None else []
    key = f"escalation:{team_id or 0}:{now.isoformat(timespec='seconds')}"
    alert = session.exec(select(Alert).where(Alert.dedup_key == key)).first()
    if alert is not None and alert.delivered_at is not None:  # already sent: this is a new message
        alert, key = None, f"{key}:{next(iter(latest))}"
    before: dict[str, Any] = dict(alert.detail or {}) if alert is not None else {}
    ids: list[int] = list(before.get("mention_ids", []))
    steps: list[int] = list(before.get("steps", []))
    position = {mid: n for n, mid in enumerate(ids)}
    breached = int(before.get("breached", 0))
    for m, _step, index in latest.values():
        if m.id in position:  # its other step fired in the earlier scan: still one line for it
            steps[position[m.id]] = index
            continue
        position[m.id] = len(ids)
        ids.append(m.id)
        steps.append(index)
        breached += deadline.overdue(m.respond_by, now)
    recipients = sorted({*before.get("recipients", []), *(m.assignee for m, _, _ in latest.values() if m.assignee),
                         *members, *([team.lead] if team is not None and team.lead else [])})
    who = team.name if team is not None else "unrouted mentions"
    first = next(iter(latest.values()))[0]
    # the example, the most overdue (an earlier scan's stays), is the one text the notice quotes; read
    # before a new alert is added, or the query's autoflush would insert it unfinished and update it after
    example_id = alert.mention_id if alert is not None else first.id
    example = session.exec(select(Mention.text).where(Mention.id == example_id)).first() or ""
    if alert is None:
        alert = Alert(kind="escalation", brand_id=first.brand_id, mention_id=first.id, dedup_key=key, message="",
                      detail={}, created_at=now)
        session.add(alert)
    if len(ids) == 1:
        only = latest[ids[0]][0]
        message = (f"Escalation ({who}): mention #{only.id} is {sla.due_text(only, now) or 'due'} — "
                   f"\"{chat_safe(example, 120)}\"")
    else:
        message = (f"Escalation ({who}): {len(ids)} mentions near or past their response target "
                   f"({breached} breached), e.g. #{alert.mention_id} \"{chat_safe(example, 80)}\"")
    if recipients:
        message += " · for " + ", ".join(recipients)
    alert.message = message
    alert.detail = {"mention_ids": ids, "steps": steps, "recipients": recipients, "team_id": team_id,
                    "breached": breached}
    return alert


def run(settings: Any, engine: Any, now: datetime | None = None, notifier: Any = None, *,
        limit: int = MAX_STEPS) -> ScanResult:
    """The scheduler's job: scan until nothing more is due (a backlog over MAX_STEPS takes a few scans in a
    row, each its own transaction, all at the same `now` so their notices merge), then hand new notices to
    apprise (careline.services.delivery). The result's `seconds` holds each scan's time, `checkpoint` the
    SQLite WAL checkpoint's (_one_checkpoint)."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    total, after = ScanResult(), None
    with engine.connect() as conn, _one_checkpoint(conn, total):
        with Session(bind=conn, expire_on_commit=False) as session, gc_paused(collect_after=1):
            book = sla.book(session)  # once for all the scans: they share one `now` (7 reads were ~40 ms)
            while True:
                t0 = time.perf_counter()
                part = scan(session, now, limit=limit, after=after, book=book)
                total.seconds.append(time.perf_counter() - t0)
                after = part.through
                total.fired += part.fired
                total.notices += [a for a in part.notices if all(a is not b for b in total.notices)]
                if not part.more:
                    break
            total.mentions = len({mid for mid, _ in total.fired})
            urls = [u.get_secret_value() for u in settings.alert_urls]
            if total.notices and urls:
                deliver_pending(session, urls, now, notifier=notifier)
    if len(total.seconds) > 1:
        log.info("escalation: %d step(s) in %d scans, %.0f ms (slowest %.0f ms), WAL checkpoint %.0f ms",
                 len(total.fired), len(total.seconds), sum(total.seconds) * 1000, max(total.seconds) * 1000,
                 total.checkpoint * 1000)
    return total


@contextmanager
def _one_checkpoint(conn: sa.Connection, result: ScanResult) -> Iterator[None]:
    """SQLite: the WAL copied into the database once, after all of run()'s scans, instead of after each of
    their commits (the automatic checkpoint of every commit past 1,000 WAL pages): the pages that several
    scans write (the priority indexes, the fired-steps and audit tables) are copied once, and no scan's
    commit waits for it. PASSIVE: readers and writers go on meanwhile. The run's one connection carries the
    setting (a connection of its own), so nothing else changes. PostgreSQL: nothing."""
    if conn.dialect.name != "sqlite":
        yield
        return
    every = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
    conn.commit()
    try:
        yield
    finally:
        conn.rollback()
        t0 = time.perf_counter()
        conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={int(every or 1000)}")
        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        conn.commit()
        result.checkpoint = time.perf_counter() - t0


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
