"""Triage actions: status, assignment, notes, tags. Each writes an AuditEvent in the same transaction."""
from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from careline.errors import InvalidInput, NotFound
from careline.models import Mention, Note, Status, utcnow
from careline.services import assign_notify, audit
from careline.services.priority import score_mention
from careline.services.tags import normalise as normalise_tags

STATUSES = tuple(s.value for s in Status)


def _get(session: Session, mention_id: int) -> Mention:
    m = session.get(Mention, mention_id)
    if m is None:
        raise NotFound(f"Mention {mention_id} does not exist.")
    return m


def set_status(session: Session, mention_id: int, status: str, actor: str, *, commit: bool = True) -> Mention:
    if status not in STATUSES:
        raise InvalidInput(f"Unknown status {status!r}; use one of {', '.join(STATUSES)}.")
    m = _get(session, mention_id)
    before = m.status
    m.status, m.updated_at = status, utcnow()
    if status == Status.resolved.value:
        m.resolved_at = m.resolved_at if before == status else m.updated_at
    elif status != Status.ignored.value:
        m.resolved_at = None  # reopened: time to resolution counts to the next resolve
    m.priority = score_mention(m)
    session.add(m)
    audit.record(session, actor, "status", mention_id=m.id, before=before, after=status)
    session.flush()  # the customer's open count follows in the flush (services/customer_counts.py)
    if commit:
        session.commit()
    return m


def assign(session: Session, mention_id: int, assignee: str | None, actor: str, *, commit: bool = True) -> Mention:
    m = _get(session, mention_id)
    before = m.assignee
    m.assignee = assignee or None
    if assignee and m.status == Status.new.value:
        m.status = Status.assigned.value
    if not assignee and m.status == Status.assigned.value:
        m.status = Status.new.value
    m.updated_at = utcnow()
    m.priority = score_mention(m)
    session.add(m)
    audit.record(session, actor, "assign", mention_id=m.id, before=before, after=m.assignee)
    if commit:
        session.commit()
        if m.assignee and m.assignee != before:
            assign_notify.assigned(m.assignee, actor, [(m.id, m.platform, m.text)])  # type: ignore[list-item]
    return m


def add_note(session: Session, mention_id: int, text: str, actor: str) -> Note:
    text = text.strip()
    if not text:
        raise InvalidInput("A note cannot be empty.")
    if len(text) > 10_000:
        raise InvalidInput("A note can be at most 10,000 characters.")
    _get(session, mention_id)
    note = Note(mention_id=mention_id, author=actor, text=text)
    session.add(note)
    audit.record(session, actor, "note", mention_id=mention_id, text=text[:200])
    session.commit()
    return note


def notes(session: Session, mention_id: int) -> list[Note]:
    return list(session.exec(select(Note).where(Note.mention_id == mention_id).order_by(col(Note.created_at))))


def set_tags(session: Session, mention_id: int, tags: Sequence[str], actor: str) -> Mention:
    clean = normalise_tags(tags)
    m = _get(session, mention_id)
    before = list(m.tags or [])
    m.tags, m.updated_at = clean, utcnow()
    session.add(m)
    audit.record(session, actor, "tags", mention_id=m.id, before=before, after=clean)
    session.commit()
    return m


def bulk(session: Session, mention_ids: Sequence[int], action: str, actor: str, value: str | None = None) -> int:
    """Assign, resolve or ignore many mentions in one transaction."""
    newly: list[tuple[int, str, str]] = []
    for mid in mention_ids:
        if action == "assign":
            before = _get(session, mid).assignee
            m = assign(session, mid, value, actor, commit=False)
            if m.assignee and m.assignee != before:
                newly.append((m.id, m.platform, m.text))  # type: ignore[arg-type]
        elif action in ("resolve", "ignore"):
            set_status(session, mid, "resolved" if action == "resolve" else "ignored", actor, commit=False)
        elif action == "status" and value:
            set_status(session, mid, value, actor, commit=False)
        else:
            raise InvalidInput(f"Unknown bulk action {action!r}.")
    session.commit()
    if newly:
        assign_notify.assigned(value, actor, newly)  # one notification for the batch
    return len(mention_ids)
