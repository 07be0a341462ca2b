"""One timeline per customer: their posts on every platform, our replies, notes, status changes, corrections
and links, in time order (newest first).

A handful of indexed queries, whatever the table sizes: the customer's mentions by (platform, handle) (the
author_handle index), then replies, notes and audit events by mention id. Measured by
benchmarks/customer_timeline.py at 1M mentions / 300k authors.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.models import AuditEvent, CustomerIdentity, Mention, Note, Reply
from careline.services import customers
from careline.services.customer_counts import is_open, key_filter
from careline.services.mention_brands import competitor_ids

# audit actions that belong on a customer's timeline (the rest is bookkeeping)
EVENT_ACTIONS = ("status", "assign", "correct", "tags", "case_join", "case_reopen")


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # post | reply | thanks | note | customer_note | status | assign | correct | tags | merge | split
    summary: str  # plain text; the page shows it as text, never markup
    platform: str | None = None
    mention_id: int | None = None
    actor: str | None = None
    status: str | None = None
    intent: str | None = None
    url: str | None = None
    case_id: int | None = None


def customer_mentions(session: Session, identities: Sequence[CustomerIdentity], limit: int = 200) -> list[Mention]:
    """The newest `limit` posts over all identities: one ordered index range scan per identity
    (ix_mention_author_timeline), merged here; an OR over identities made the database sort every post of
    a prolific author first."""
    out: list[Mention] = []
    for i in identities:
        stmt = (select(Mention).where(Mention.author_handle == i.handle, Mention.platform == i.platform)
                .order_by(col(Mention.created_at).desc()).limit(limit))
        out.extend(session.exec(stmt))
    out.sort(key=lambda m: (m.created_at, m.id or 0), reverse=True)
    return out[:limit]


def timeline(session: Session, customer_id: int, limit: int = 200) -> list[Entry]:
    c = customers.get(session, customer_id)
    mentions = customer_mentions(session, customers.identities(session, c.id or 0), limit=limit)
    by_id = {m.id: m for m in mentions}
    ids = list(by_id)
    out: list[Entry] = [
        Entry(m.created_at, "post", m.text, m.platform, m.id, m.author_handle, m.status,
              m.corrected_intent or m.intent, m.url, m.case_id or m.id) for m in mentions]
    if ids:
        for r in session.exec(select(Reply).where(col(Reply.mention_id).in_(ids))):
            state = f" ({r.state}{', dry run' if r.dry_run else ''})"
            out.append(Entry(r.sent_at or r.created_at, "thanks" if r.kind == "thanks" else "reply", r.text + state,
                             r.platform, r.mention_id, r.created_by, url=r.url))
        for n in session.exec(select(Note).where(col(Note.mention_id).in_(ids))):
            out.append(Entry(n.created_at, "note", n.text, by_id[n.mention_id].platform, n.mention_id, n.author))
        events = select(AuditEvent).where(col(AuditEvent.mention_id).in_(ids), col(AuditEvent.action).in_(EVENT_ACTIONS))
        for e in session.exec(events):
            out.append(Entry(e.at, e.action, _event_text(e), by_id[e.mention_id].platform if e.mention_id else None,
                             e.mention_id, e.actor))
    for cn in customers.notes(session, c.id or 0):
        out.append(Entry(cn.created_at, "customer_note", cn.text, actor=cn.author))
    for ch in customers.changes(session, c.id or 0):
        what = (f"merged customer {ch.other_customer_id} into {ch.customer_id}" if ch.kind == "merge"
                else f"split identity {', '.join(map(str, ch.identity_ids))} off into customer {ch.other_customer_id}")
        out.append(Entry(ch.at, ch.kind, what + (f"; undone by {ch.undone_by}" if ch.undone_at else ""), actor=ch.actor))
    out.sort(key=lambda e: (e.at, e.kind != "post"), reverse=True)
    return out[:limit]


def _event_text(e: AuditEvent) -> str:
    d = e.detail or {}
    if e.action == "correct":
        before, after = d.get("before") or {}, d.get("after") or {}
        return f"labels corrected: {before.get('intent')}/{before.get('sentiment')} → {after.get('intent')}/{after.get('sentiment')}"
    if e.action == "status":
        return f"status {d.get('before')} → {d.get('after')}"
    if e.action in ("case_join", "case_reopen"):
        verb = "joined" if e.action == "case_join" else "reopened"
        return f"{verb} case #{d.get('case_id')}" + (f", owner {d.get('owner')}" if d.get("owner") else "")
    if e.action == "assign":
        return f"assigned {d.get('before') or 'nobody'} → {d.get('after') or 'nobody'}"
    return f"tags {', '.join(d.get('after') or []) or 'cleared'}"


@dataclass(frozen=True)
class RowFlag:
    """What the inbox row says about the customer behind a mention."""

    customer_id: int
    vip: bool
    other_open: int
    complained_before: int
    platforms: int

    def text(self) -> str:
        parts = ["VIP"] if self.vip else []
        if self.other_open:
            parts.append(f"{self.other_open} other open case{'s' if self.other_open > 1 else ''}")
        if self.complained_before:
            parts.append(f"complained {self.complained_before}× before")
        if self.platforms > 1:
            parts.append(f"{self.platforms} platforms")
        return " · ".join(parts)


def row_flags(session: Session, mentions: Sequence[Mention]) -> dict[int, RowFlag]:
    """For one inbox page: per mention, the customer's other open mentions and earlier complaints (2 queries)."""
    from careline.models import Customer

    keys = {(m.platform, m.author_handle) for m in mentions if m.author_handle}
    if not keys:
        return {}
    ci = CustomerIdentity
    rows = session.exec(select(ci.platform, ci.handle, Customer).join(Customer, col(Customer.id) == ci.customer_id).where(
        key_filter(col(ci.platform), col(ci.handle), keys))).all()
    by_key = {(p, h): c for p, h, c in rows}
    cids = sorted({c.id for c in by_key.values() if c.id})
    platforms = dict(session.exec(select(ci.customer_id, sa.func.count(sa.distinct(col(ci.platform)))).where(
        col(ci.customer_id).in_(cids)).group_by(col(ci.customer_id))).all()) if cids else {}
    rivals = set(competitor_ids(session))
    out: dict[int, RowFlag] = {}
    for m in mentions:
        c = by_key.get((m.platform, m.author_handle or ""))
        if c is None or m.id is None:
            continue
        # "other": leave this post out of the counts only where they hold it: a competitor's post (the
        # inbox lists one when its brand is chosen) is in neither (customer_counts: our brands only)
        ours = m.brand_id not in rivals
        this_open = 1 if ours and is_open(m) else 0  # a deleted post is not in the open count either
        this_complaint = 1 if ours and m.classified_at and (m.corrected_intent or m.intent) == "complaint" else 0
        out[m.id] = RowFlag(c.id or 0, c.vip, max(0, c.open_count - this_open),
                            max(0, c.complaint_count - this_complaint), int(platforms.get(c.id or 0, 1)))
    return out
