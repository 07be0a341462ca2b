"""The right of access and erasure: export everything about a customer; erase it so it stays erased.

Erasure anonymises rather than deletes the customer's mentions: the rows stay (text, author, link and
payload blanked) so trends and the customer's aggregate counts don't change, while nothing in them says who
wrote them. Identities lose their handle and links, notes are deleted, and one audit entry records the
erasure by customer id and counts only.

An erased identity stays erased: a tombstone holds the platform and a hash of the handle (and of the
platform's account id). Ingest checks it and **skips** posts by that person, logging and counting each
skip on the tombstone (shown by `careline customer erased`), instead of collecting them into a new
profile. Skipping was chosen over collecting-and-anonymising because an anonymised post still carries
their words; the count is the notice that they are still writing about the brand.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.cells import csv_safe
from careline.db import dialect_insert
from careline.errors import Conflict
from careline.models import (
    Alert,
    AuditEvent,
    Author,
    Customer,
    CustomerNote,
    ErasureTombstone,
    IdentityLink,
    LinkSuggestion,
    Mention,
    Note,
    Reply,
    utcnow,
)
from careline.services import audit
from collectors.base import RawMention

log = logging.getLogger(__name__)
_SALT = "careline-erasure-v1:"


def id_hash(platform: str, value: str) -> str:
    """A stable hash of a handle or account id (case-insensitive), so the tombstone holds no identifier."""
    return hashlib.sha256(f"{_SALT}{platform}:{value.strip().lstrip('@').lower()}".encode()).hexdigest()


_ANY_TOMBSTONE = sa.select(col(ErasureTombstone.id)).limit(1)  # every page asks: built once, Core result


def skip_erased(session: Session, mentions: Sequence[RawMention]) -> tuple[list[RawMention], list[str]]:
    """The mentions not written by an erased identity, and one reason per skipped one (no handle in it)."""
    if not mentions or session.connection().execute(_ANY_TOMBSTONE).first() is None:
        return list(mentions), []
    hashes: dict[int, set[tuple[str, str]]] = {}
    for i, raw in enumerate(mentions):
        keys = {(raw.platform, id_hash(raw.platform, v)) for v in (raw.author_handle, raw.author_id) if v}
        if keys:
            hashes[i] = keys
    wanted = sorted({k for ks in hashes.values() for k in ks})
    hit: set[tuple[str, str]] = set()
    for start in range(0, len(wanted), 400):
        hit.update((p, h) for p, h in session.exec(select(ErasureTombstone.platform, ErasureTombstone.id_hash).where(
            sa.tuple_(col(ErasureTombstone.platform), col(ErasureTombstone.id_hash)).in_(wanted[start:start + 400]))))
    if not hit:
        return list(mentions), []
    kept, reasons = [], []
    counts: dict[tuple[str, str], int] = {}
    for i, raw in enumerate(mentions):
        matched = hashes.get(i, set()) & hit
        if matched:
            for key in matched:
                counts[key] = counts.get(key, 0) + 1
            reasons.append(f"{raw.platform}: a post by an erased customer, not collected")
        else:
            kept.append(raw)
    now = utcnow()
    for (platform, h), n in counts.items():
        session.execute(sa.update(ErasureTombstone).where(
            col(ErasureTombstone.platform) == platform, col(ErasureTombstone.id_hash) == h).values(
            skipped_count=ErasureTombstone.skipped_count + n, last_skipped_at=now))
    log.info("ingest: skipped %d post(s) by erased customers", len(reasons))
    return kept, reasons


# -- the right of access -------------------------------------------------------------------------------------

def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export(session: Session, customer_id: int, actor: str, role: str, *, fmt: str = "json") -> bytes:
    """Everything held about the customer: profile, identities, links, every post, our replies, notes."""
    from careline.services import customers, users
    from careline.services.customer_timeline import customer_mentions

    users.require(role, "export")
    c = customers.get(session, customer_id)
    idents = customers.identities(session, c.id or 0)
    mentions = customer_mentions(session, idents, limit=1_000_000)
    ids = [m.id for m in mentions]
    replies = list(session.exec(select(Reply).where(col(Reply.mention_id).in_(ids)))) if ids else []
    notes = list(session.exec(select(Note).where(col(Note.mention_id).in_(ids)))) if ids else []
    links = list(session.exec(select(IdentityLink).where(col(IdentityLink.identity_id).in_([i.id for i in idents]))))
    audit.record(session, actor, "customer_export", customer_id=c.id, format=fmt, mentions=len(mentions))
    session.commit()
    if fmt == "csv":
        return _csv(mentions, replies, notes)
    data: dict[str, Any] = {
        "exported_at": utcnow().isoformat(),
        "customer": {"id": c.id, "display_name": c.display_name, "notes": c.notes, "tags": c.tags, "vip": c.vip,
                     "mentions": c.mention_count, "complaints": c.complaint_count, "praise": c.praise_count,
                     "last_contact_at": _iso(c.last_contact_at), "last_thanked_at": _iso(c.last_thanked_at),
                     "erased_at": _iso(c.erased_at)},
        "identities": [{"id": i.id, "platform": i.platform, "handle": i.handle, "account_id": i.external_id,
                        "profile_url": i.profile_url} for i in idents],
        "profile_links": [{"identity_id": link.identity_id, "url": link.url, "verified": link.verified} for link in links],
        "mentions": [{"id": m.id, "platform": m.platform, "post_id": m.external_id, "url": m.url, "created_at": _iso(m.created_at),
                      "author_handle": m.author_handle, "author_name": m.author_name, "text": m.text,
                      "language": m.language, "sentiment": m.corrected_sentiment or m.sentiment,
                      "intent": m.corrected_intent or m.intent, "status": m.status} for m in mentions],
        "our_replies": [{"mention_id": r.mention_id, "kind": r.kind, "text": r.text, "state": r.state,
                         "url": r.url, "created_at": _iso(r.created_at), "sent_at": _iso(r.sent_at)} for r in replies],
        "notes": [{"mention_id": n.mention_id, "by": n.author, "text": n.text, "at": _iso(n.created_at)} for n in notes]
        + [{"customer_id": n.customer_id, "by": n.author, "text": n.text, "at": _iso(n.created_at)}
           for n in customers.notes(session, c.id or 0)],
    }
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


def _csv(mentions: Sequence[Mention], replies: Sequence[Reply], notes: Sequence[Note]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["kind", "at_utc", "platform", "handle", "mention_id", "text", "url", "status_or_state"])
    rows = [("post", m.created_at, m.platform, m.author_handle or "", m.id, m.text, m.url or "", m.status) for m in mentions]
    rows += [(r.kind, r.sent_at or r.created_at, r.platform, "", r.mention_id, r.text, r.url or "", r.state) for r in replies]
    rows += [("note", n.created_at, "", "", n.mention_id, n.text, "", "") for n in notes]
    for kind, at, platform, handle, mid, text, url, state in sorted(rows, key=lambda r: r[1]):
        w.writerow([kind, at.isoformat(), platform, csv_safe(handle), mid, csv_safe(text), url, state])
    return buf.getvalue().encode("utf-8")


# -- the right of erasure --------------------------------------------------------------------------------------

ERASED_TEXT = "[erased on request]"
_SCRUB_KEYS = ("text", "handle", "url", "before", "after", "name")


def erase(session: Session, customer_id: int, actor: str, role: str) -> dict[str, int]:
    """Anonymise the customer's posts and our replies to them, remove identities and notes, keep the counts."""
    from careline.services import customers, users
    from careline.services.customer_timeline import customer_mentions

    users.require(role, "settings")  # admins only: it cannot be undone
    c = customers.get(session, customer_id)
    if c.erased_at is not None:
        raise Conflict(f"Customer {c.id} was already erased.")
    idents = customers.identities(session, c.id or 0)
    mention_ids = [m.id for m in customer_mentions(session, idents, limit=10_000_000) if m.id is not None]
    now = utcnow()
    for start in range(0, len(mention_ids), 500):
        chunk = mention_ids[start:start + 500]
        session.execute(sa.update(Mention).where(col(Mention.id).in_(chunk)).values(
            text=ERASED_TEXT, url=None, author_handle=None, author_name=None, author_followers=None,
            author_external_id=None, raw={}, external_id=sa.literal("erased:") + sa.cast(Mention.id, sa.String),
            updated_at=now))
        session.execute(sa.update(Reply).where(col(Reply.mention_id).in_(chunk)).values(text=ERASED_TEXT, url=None))
        session.execute(sa.delete(Note).where(col(Note.mention_id).in_(chunk)))
        session.execute(sa.update(Alert).where(col(Alert.mention_id).in_(chunk)).values(message=ERASED_TEXT, detail={}))
        for e in session.exec(select(AuditEvent).where(col(AuditEvent.mention_id).in_(chunk))):
            if any(k in (e.detail or {}) for k in _SCRUB_KEYS):
                e.detail = {k: v for k, v in e.detail.items() if k not in _SCRUB_KEYS}
                session.add(e)
    for i in idents:
        for value in (i.handle, i.external_id):
            if value:
                session.execute(dialect_insert(session, ErasureTombstone).values(
                    platform=i.platform, id_hash=id_hash(i.platform, value), erased_at=now, skipped_count=0
                ).on_conflict_do_nothing())
        anon = f"erased-{id_hash(i.platform, i.handle)[:16]}"
        session.execute(sa.update(Author).where(col(Author.id) == i.author_id).values(
            handle=anon, display_name=None, followers=None))
        session.execute(sa.delete(IdentityLink).where(col(IdentityLink.identity_id) == i.id))
        session.execute(sa.delete(LinkSuggestion).where(sa.or_(col(LinkSuggestion.identity_a) == i.id,
                                                               col(LinkSuggestion.identity_b) == i.id)))
        i.handle, i.external_id, i.profile_url = anon, None, None
        i.handle_key = i.name_key = i.profile_key = None
        i.keyed_at = now
        session.add(i)
    n_notes = len(customers.notes(session, c.id or 0))
    session.execute(sa.delete(CustomerNote).where(col(CustomerNote.customer_id) == c.id))
    for who in [c, *session.exec(select(Customer).where(Customer.merged_into_id == c.id))]:
        who.display_name, who.notes, who.tags, who.vip, who.erased_at = "Erased customer", None, [], False, now
        session.add(who)
    summary = {"mentions": len(mention_ids), "identities": len(idents), "notes": n_notes}
    audit.record(session, actor, "customer_erase", customer_id=c.id, **summary)  # ids and counts only
    session.commit()
    log.info("customer %s erased by %s: %s", c.id, actor, summary)
    return summary


def tombstones(session: Session) -> list[ErasureTombstone]:
    return list(session.exec(select(ErasureTombstone).order_by(col(ErasureTombstone.erased_at).desc())))
