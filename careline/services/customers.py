"""Customer profiles: find, edit, note; merge two customers and split an identity off, both reversible.

Every change a person makes here is audited in the same transaction, with ids only in the audit detail
(an erased customer's audit trail must not keep their name). Counts come from services/customer_counts.py.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from careline.errors import Conflict, InvalidInput, NotFound
from careline.models import (
    Author,
    Customer,
    CustomerChange,
    CustomerIdentity,
    CustomerNote,
    LinkSuggestion,
    Mention,
    utcnow,
)
from careline.services import audit, customer_counts, users

MAX_NOTE = 10_000


def get(session: Session, customer_id: int) -> Customer:
    c = session.get(Customer, customer_id)
    if c is None:
        raise NotFound(f"Customer {customer_id} does not exist.")
    seen = {customer_id}
    while c.merged_into_id is not None:  # an old link to a merged-away customer leads to the kept one
        nxt = session.get(Customer, c.merged_into_id)
        if nxt is None or nxt.id in seen:
            break
        seen.add(nxt.id or 0)
        c = nxt
    return c


def identities(session: Session, customer_id: int) -> list[CustomerIdentity]:
    stmt = select(CustomerIdentity).where(CustomerIdentity.customer_id == customer_id).order_by(
        col(CustomerIdentity.platform), col(CustomerIdentity.handle))
    return list(session.exec(stmt))


def for_author(session: Session, platform: str, handle: str | None) -> Customer | None:
    if not handle:
        return None
    ident = session.exec(select(CustomerIdentity).where(
        CustomerIdentity.platform == platform, CustomerIdentity.handle == handle)).first()
    return get(session, ident.customer_id) if ident else None


def for_mention(session: Session, mention: Mention) -> Customer | None:
    return for_author(session, mention.platform, mention.author_handle)


def find(session: Session, query: str = "", *, vip_only: bool = False, sort: str = "recent",
         limit: int = 50) -> list[Customer]:
    """By handle (prefix, any platform) or display name (contains); newest contact or most complaints first."""
    q = query.strip().lstrip("@").lower()
    stmt = select(Customer).where(col(Customer.merged_into_id).is_(None))
    if q:
        esc = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        by_handle = select(CustomerIdentity.customer_id).where(
            col(CustomerIdentity.handle_key) >= q, col(CustomerIdentity.handle_key) < q + "\uffff")
        stmt = stmt.where(sa.or_(col(Customer.id).in_(by_handle),
                                 col(Customer.display_name).ilike(f"%{esc}%", escape="\\")))
    if vip_only:
        stmt = stmt.where(col(Customer.vip).is_(True))
    order = {"complaints": col(Customer.complaint_count).desc(), "mentions": col(Customer.mention_count).desc()}
    stmt = stmt.order_by(order.get(sort, col(Customer.last_contact_at).desc()), col(Customer.id).desc())
    return list(session.exec(stmt.limit(max(1, min(limit, 500)))))


# -- editing ---------------------------------------------------------------------------------------------

def update_profile(session: Session, customer_id: int, actor: str, role: str, *, display_name: str | None = None,
                   vip: bool | None = None, tags: Sequence[str] | None = None, notes: str | None = None) -> Customer:
    users.require(role, "triage")
    c = _live(session, customer_id)
    changed: list[str] = []
    if display_name is not None and display_name.strip() != (c.display_name or ""):
        if not display_name.strip():
            raise InvalidInput("A customer's name cannot be empty.")
        c.display_name = display_name.strip()[:200]
        changed.append("display_name")
    if vip is not None and vip != c.vip:
        c.vip = vip
        changed.append("vip")
    if tags is not None:
        clean = sorted({t.strip().lower()[:50] for t in tags if t.strip()})
        if clean != sorted(c.tags or []):
            c.tags = clean
            changed.append("tags")
    if notes is not None and notes.strip() != (c.notes or ""):
        if len(notes) > MAX_NOTE:
            raise InvalidInput("A note can be at most 10,000 characters.")
        c.notes = notes.strip() or None
        changed.append("notes")
    if changed:
        c.updated_at = utcnow()
        session.add(c)
        audit.record(session, actor, "customer_edit", customer_id=c.id, fields=changed,
                     vip=c.vip if "vip" in changed else None)
        session.commit()
    return c


def add_note(session: Session, customer_id: int, text: str, actor: str, role: str) -> CustomerNote:
    users.require(role, "triage")
    text = text.strip()
    if not text:
        raise InvalidInput("A note cannot be empty.")
    if len(text) > MAX_NOTE:
        raise InvalidInput("A note can be at most 10,000 characters.")
    c = _live(session, customer_id)
    note = CustomerNote(customer_id=c.id or 0, author=actor, text=text)
    session.add(note)
    session.flush()
    audit.record(session, actor, "customer_note", customer_id=c.id, note_id=note.id)
    session.commit()
    return note


def notes(session: Session, customer_id: int) -> list[CustomerNote]:
    return list(session.exec(select(CustomerNote).where(CustomerNote.customer_id == customer_id)
                             .order_by(col(CustomerNote.created_at))))


def _live(session: Session, customer_id: int) -> Customer:
    c = get(session, customer_id)
    if c.erased_at is not None:
        raise Conflict(f"Customer {c.id} was erased on request; there is nothing left to change.")
    return c


# -- merge, split, undo ------------------------------------------------------------------------------------

def merge(session: Session, keep_id: int, other_id: int, actor: str, role: str, *, reason: str | None = None,
          suggestion_id: int | None = None, commit: bool = True) -> CustomerChange:
    """Move every identity (and dated note) of `other_id` onto `keep_id`; undo with `undo(change.id)`."""
    users.require(role, "triage")
    keep, other = _live(session, keep_id), _live(session, other_id)
    if keep.id == other.id:
        raise InvalidInput("Those are already the same customer.")
    moved = [i.id for i in identities(session, other.id or 0) if i.id is not None]
    note_ids = [n.id for n in notes(session, other.id or 0)]
    _move_identities(session, moved, keep.id or 0, actor)
    if note_ids:
        session.execute(sa.update(CustomerNote).where(col(CustomerNote.id).in_(note_ids)).values(customer_id=keep.id))
    keep.vip = keep.vip or other.vip
    keep.tags = sorted(set(keep.tags or []) | set(other.tags or []))
    keep.last_thanked_at = max((t for t in (keep.last_thanked_at, other.last_thanked_at) if t), default=None)
    other.merged_into_id = keep.id
    session.add_all([keep, other])
    change = CustomerChange(kind="merge", customer_id=keep.id or 0, other_customer_id=other.id or 0,
                            identity_ids=moved, actor=actor, reason=reason,
                            detail={"note_ids": note_ids, "suggestion_id": suggestion_id})
    session.add(change)
    session.flush()
    customer_counts.refresh(session, [keep.id or 0, other.id or 0])
    _settle_suggestions(session, moved + [i.id for i in identities(session, keep.id or 0) if i.id is not None], actor)
    audit.record(session, actor, "customer_merge", customer_id=keep.id, merged_customer_id=other.id,
                 identity_ids=moved, change_id=change.id, suggestion_id=suggestion_id)
    if commit:
        session.commit()
    session.refresh(keep)
    return change


def split(session: Session, identity_id: int, actor: str, role: str, *, reason: str | None = None) -> CustomerChange:
    """Give one identity a customer of its own again (it keeps the identity's posts and counts)."""
    users.require(role, "triage")
    ident = session.get(CustomerIdentity, identity_id)
    if ident is None:
        raise NotFound(f"Identity {identity_id} does not exist.")
    old = _live(session, ident.customer_id)
    if len(identities(session, old.id or 0)) < 2:
        raise Conflict("That is the customer's only identity; there is nothing to split it from.")
    author = session.get(Author, ident.author_id)
    new = Customer(display_name=(author.display_name if author else None) or ident.handle)
    session.add(new)
    session.flush()
    _move_identities(session, [identity_id], new.id or 0, actor)
    change = CustomerChange(kind="split", customer_id=old.id or 0, other_customer_id=new.id or 0,
                            identity_ids=[identity_id], actor=actor, reason=reason)
    session.add(change)
    session.flush()
    customer_counts.refresh(session, [old.id or 0, new.id or 0])
    # the pair was judged different people: don't suggest it again
    pairs = [(min(identity_id, i.id or 0), max(identity_id, i.id or 0)) for i in identities(session, old.id or 0)]
    for s in session.exec(select(LinkSuggestion).where(
            customer_counts.key_filter(LinkSuggestion.identity_a, LinkSuggestion.identity_b, pairs))):
        if (s.identity_a, s.identity_b) not in pairs:
            continue
        s.state, s.decided_by, s.decided_at = "dismissed", actor, utcnow()
        session.add(s)
    audit.record(session, actor, "customer_split", customer_id=old.id, new_customer_id=new.id,
                 identity_ids=[identity_id], change_id=change.id)
    session.commit()
    return change


def undo(session: Session, change_id: int, actor: str, role: str) -> CustomerChange:
    """Reverse a merge (the merged-away customer comes back with its identities and notes) or a split."""
    users.require(role, "triage")
    change = session.get(CustomerChange, change_id)
    if change is None:
        raise NotFound(f"Change {change_id} does not exist.")
    if change.undone_at is not None:
        raise Conflict(f"Change {change_id} was already undone by {change.undone_by}.")
    a = session.get(Customer, change.customer_id)
    b = session.get(Customer, change.other_customer_id)
    if a is None or b is None or a.erased_at or b.erased_at:
        raise Conflict("One of these customers was erased; the change cannot be undone.")
    if change.kind == "merge":
        _move_identities(session, change.identity_ids, b.id or 0, actor, only_from=a.id)
        note_ids = (change.detail or {}).get("note_ids") or []
        if note_ids:
            session.execute(sa.update(CustomerNote).where(col(CustomerNote.id).in_(note_ids),
                                                          col(CustomerNote.customer_id) == a.id).values(customer_id=b.id))
        b.merged_into_id = None
        sid = (change.detail or {}).get("suggestion_id")
        if sid and (s := session.get(LinkSuggestion, sid)) is not None:
            s.state, s.decided_by, s.decided_at = "dismissed", actor, utcnow()  # a person said: not the same
            session.add(s)
    else:
        _move_identities(session, change.identity_ids, a.id or 0, actor, only_from=b.id)
        b.merged_into_id = a.id
    change.undone_by, change.undone_at = actor, utcnow()
    session.add_all([a, b, change])
    session.flush()
    customer_counts.refresh(session, [a.id or 0, b.id or 0])
    audit.record(session, actor, f"customer_undo_{change.kind}", customer_id=a.id, other_customer_id=b.id,
                 change_id=change.id, identity_ids=change.identity_ids)
    session.commit()
    return change


def changes(session: Session, customer_id: int) -> list[CustomerChange]:
    stmt = select(CustomerChange).where(sa.or_(col(CustomerChange.customer_id) == customer_id,
                                               col(CustomerChange.other_customer_id) == customer_id))
    return list(session.exec(stmt.order_by(col(CustomerChange.at))))


def _move_identities(session: Session, identity_ids: Iterable[int], to: int, actor: str,
                     only_from: int | None = None) -> None:
    ids = [i for i in identity_ids if i is not None]
    if not ids:
        return
    stmt = sa.update(CustomerIdentity).where(col(CustomerIdentity.id).in_(ids))
    if only_from is not None:
        stmt = stmt.where(col(CustomerIdentity.customer_id) == only_from)
    session.execute(stmt.values(customer_id=to, linked_by=actor, linked_at=utcnow()))


def _settle_suggestions(session: Session, identity_ids: list[int], actor: str) -> None:
    ids = [i for i in identity_ids if i]
    stmt = select(LinkSuggestion).where(LinkSuggestion.state == "open", col(LinkSuggestion.identity_a).in_(ids),
                                        col(LinkSuggestion.identity_b).in_(ids))
    for s in session.exec(stmt):
        s.state, s.decided_by, s.decided_at = "accepted", actor, utcnow()
        session.add(s)


# -- suggestions -----------------------------------------------------------------------------------------

@dataclass
class SuggestionView:
    suggestion: LinkSuggestion
    a: CustomerIdentity
    b: CustomerIdentity
    customer_a: Customer
    customer_b: Customer


def view_suggestions(session: Session, rows: Sequence[LinkSuggestion]) -> list[SuggestionView]:
    out = []
    for s in rows:
        a, b = session.get(CustomerIdentity, s.identity_a), session.get(CustomerIdentity, s.identity_b)
        if a is None or b is None:
            continue
        out.append(SuggestionView(s, a, b, get(session, a.customer_id), get(session, b.customer_id)))
    return out


def accept_suggestion(session: Session, suggestion_id: int, actor: str, role: str, *, auto: bool = False) -> CustomerChange:
    s = session.get(LinkSuggestion, suggestion_id)
    if s is None:
        raise NotFound(f"Suggestion {suggestion_id} does not exist.")
    if s.state != "open":
        raise Conflict(f"Suggestion {suggestion_id} is already {s.state}.")
    ca = get(session, session.get(CustomerIdentity, s.identity_a).customer_id)  # type: ignore[union-attr]
    cb = get(session, session.get(CustomerIdentity, s.identity_b).customer_id)  # type: ignore[union-attr]
    keep, other = (ca, cb) if (ca.mention_count, -(ca.id or 0)) >= (cb.mention_count, -(cb.id or 0)) else (cb, ca)
    change = merge(session, keep.id or 0, other.id or 0, actor, role, reason=",".join(s.reasons or []),
                   suggestion_id=s.id, commit=False)
    s.state, s.decided_by, s.decided_at = ("auto" if auto else "accepted"), actor, utcnow()
    session.add(s)
    session.commit()
    return change


def dismiss_suggestion(session: Session, suggestion_id: int, actor: str, role: str) -> LinkSuggestion:
    users.require(role, "triage")
    s = session.get(LinkSuggestion, suggestion_id)
    if s is None:
        raise NotFound(f"Suggestion {suggestion_id} does not exist.")
    if s.state != "open":
        raise Conflict(f"Suggestion {suggestion_id} is already {s.state}.")
    s.state, s.decided_by, s.decided_at = "dismissed", actor, utcnow()
    session.add(s)
    audit.record(session, actor, "customer_dismiss_link", suggestion_id=s.id, identity_a=s.identity_a,
                 identity_b=s.identity_b)
    session.commit()
    return s


def accept_between(session: Session, a: tuple[str, str], b: tuple[str, str], actor: str, role: str) -> CustomerChange | None:
    """Accept the open suggestion linking two identities given as (platform, handle), if there is one."""
    ia, ib = (session.exec(select(CustomerIdentity).where(CustomerIdentity.platform == p, CustomerIdentity.handle == h)).first()
              for p, h in (a, b))
    if ia is None or ib is None:
        return None
    pair = (min(ia.id or 0, ib.id or 0), max(ia.id or 0, ib.id or 0))
    s = session.exec(select(LinkSuggestion).where(LinkSuggestion.identity_a == pair[0], LinkSuggestion.identity_b == pair[1],
                                                  LinkSuggestion.state == "open")).first()
    return accept_suggestion(session, s.id or 0, actor, role) if s else None
